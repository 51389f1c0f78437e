"""JAX-WS (wsimport + javac, JDK 17) accepts every WSDL the server serves and calls every
operation through the generated typed port, SOAP 1.1 and SOAP 1.2, over real HTTP.

Per service: one wsimport and one javac (cached, see generated_clients.py), then one JVM
runs jaxws/Driver.java over all the service's cases of jvm_dotnet_cases.py for both
ports. Acceptance: each case answers as the table says (results, faults with their SOAP
1.1 faultcode or SOAP 1.2 subcode, 401 challenges), every message the port sent and read
was of its binding's SOAP version, and the generated Java signatures are the natural ones.
"""
import re

import pytest
from helpers.server import start_server
from interop import jvm_dotnet_cases as table
from interop.generated_clients import jaxws_build, run_jaxws

STACK = "jaxws"


@pytest.fixture(scope="module")
def live(tmp_path_factory):
    server = start_server(tmp_path_factory.mktemp("jaxws"), agent_answer_after_s=0.0)
    yield server
    server.stop()


@pytest.fixture(scope="module", params=sorted(table.TARGETS))
def target(request):
    return table.TARGETS[request.param]


@pytest.fixture(scope="module")
def build(live, target):
    return jaxws_build(live, target)


@pytest.fixture(scope="module")
def run(live, target, build, request):
    """Every case of the service, both SOAP versions, in one JVM: (cases, answers by key)."""
    state = table.prepare(live, target.name, STACK, request)
    cases = [case for version in ("1.1", "1.2") for case in table.cases(target.name, version, state)]
    wire = [{"id": c.key, "port": target.ports[c.version], "operation": c.operation, "args": c.args,
             "auth": c.auth, "retry": c.retry} for c in cases]
    answers = run_jaxws(build, live, target, wire)
    table.hang_up_everything(live)
    return cases, answers


@pytest.mark.parametrize("version", ["1.1", "1.2"])
def test_every_case(run, version):
    cases, answers = run
    problems = [p for case in cases if case.version == version for p in table.failures(case, answers[case.key])]
    assert not problems, "\n".join(problems)


def test_each_port_speaks_its_soap_version(run):
    cases, answers = run
    for case in cases:
        out = answers[case.key]
        assert out["request_envelope"] == table.ENVELOPES[case.version], (case.key, out)
        if out.get("transport") is None:  # a 401 has no envelope the port would read
            assert out["response_envelope"] == table.ENVELOPES[case.version], (case.key, out)


def test_every_operation_has_a_success_and_a_failure_case(run, build):
    cases, _ = run
    port = (build / "src").rglob("*Soap.java")
    operations = {m for f in port for m in re.findall(r'@WebMethod\(operationName = "(\w+)"', f.read_text())}
    assert operations
    for version in ("1.1", "1.2"):
        mine = [c for c in cases if c.version == version]
        assert {c.operation for c in mine if not c.failure} == operations
        assert {c.operation for c in mine if c.failure} == operations
