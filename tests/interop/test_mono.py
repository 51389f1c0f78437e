"""Mono's classic .NET ASMX proxy (`wsdl` + `mcs`) accepts every WSDL the server serves and
calls every operation through the generated proxy class, SOAP 1.1 and SOAP 1.2 (the
proxy's SoapVersion), HTTP Basic through NetworkCredential (sent after the server's 401
challenge), over real HTTP.

Per service: one `wsdl` and one `mcs` (cached, see generated_clients.py), then one mono
process runs mono/Driver.cs over all the service's cases of jvm_dotnet_cases.py for both
versions. Acceptance: each case answers as the table says (results, faults with their
SOAP 1.1 faultcode or SOAP 1.2 subcode, 401 challenges with their scheme), every request
and answer was of the version asked for, and the generated C# signatures are natural.
"""
import re

import pytest
from helpers.server import start_server
from interop import jvm_dotnet_cases as table
from interop.generated_clients import mono_build, run_mono

STACK = "mono"


@pytest.fixture(scope="module")
def live(tmp_path_factory):
    server = start_server(tmp_path_factory.mktemp("mono"), agent_answer_after_s=0.0)
    yield server
    server.stop()


@pytest.fixture(scope="module", params=sorted(table.TARGETS))
def target(request):
    return table.TARGETS[request.param]


@pytest.fixture(scope="module")
def build(live, target):
    return mono_build(live, target)


@pytest.fixture(scope="module")
def run(live, target, build, request):
    """Every case of the service, both SOAP versions, in one mono process: (cases, answers by key)."""
    state = table.prepare(live, target.name, STACK, request)
    cases = [case for version in ("1.1", "1.2") for case in table.cases(target.name, version, state)]
    wire = [{"id": c.key, "version": c.version, "operation": c.operation, "args": c.args, "auth": c.auth,
             "retry": c.retry} for c in cases]
    answers = run_mono(build, live, target, wire)
    table.hang_up_everything(live)
    return cases, answers


@pytest.mark.parametrize("version", ["1.1", "1.2"])
def test_every_case(run, version):
    cases, answers = run
    problems = [p for case in cases if case.version == version for p in table.failures(case, answers[case.key])]
    assert not problems, "\n".join(problems)


def test_each_request_is_of_its_soap_version(run):
    cases, answers = run
    for case in cases:
        out = answers[case.key]
        expected = table.CONTENT_TYPES[case.version]
        assert out["request_content_type"].startswith(expected), (case.key, out)
        assert out["response_content_type"].startswith(expected), (case.key, out)


def test_every_operation_has_a_success_and_a_failure_case(run, build):
    cases, _ = run
    operations = set(re.findall(r"SoapDocumentMethodAttribute\(\"(\w+)\"", (build / "proxy.cs").read_text()))
    assert operations
    for version in ("1.1", "1.2"):
        mine = [c for c in cases if c.version == version]
        assert {c.operation for c in mine if not c.failure} == operations
        assert {c.operation for c in mine if c.failure} == operations
