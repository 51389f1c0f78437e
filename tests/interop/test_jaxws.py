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
from interop import jvm_dotnet_cases as table
from interop.generated_clients import jaxws_build, run_jaxws

STACK = "jaxws"
# xs: types as wsimport maps them: a required value is a primitive, an optional one its
# box (null: left out); never JAXBElement (that is what nillable optional elements give).
JAVA = {"xs:string": ("String", "String"), "xs:int": ("int", "Integer"), "xs:long": ("long", "Long"),
        "xs:boolean": ("boolean", "Boolean"), "xs:double": ("double", "Double"),
        "xs:dateTime": ("XMLGregorianCalendar", "XMLGregorianCalendar")}


def java_type(element: table.Element) -> str:
    if element.type.startswith("xs:"):
        plain = JAVA[element.type][0 if element.required else 1]
    else:
        plain = element.type[0].upper() + element.type[1:]
    return f"List<{plain}>" if element.repeated else plain


@pytest.fixture(scope="module")
def live(tmp_path_factory):
    server = table.start_live(tmp_path_factory.mktemp(STACK))
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
    return table.run_all(live, target, STACK, request, lambda cases: run_jaxws(build, live, target, [
        {"id": c.key, "port": target.ports[c.version], "operation": c.operation, "args": c.args,
         "auth": c.auth, "retry": c.retry} for c in cases]))


@pytest.mark.parametrize("version", ["1.1", "1.2"])
def test_every_case(run, version):
    problems = table.problems(run, version)
    assert not problems, "\n".join(problems)


def test_each_port_speaks_its_soap_version(run):
    cases, answers = run
    for case in cases:
        out = answers[case.key]
        assert out.get("request_envelope") == table.ENVELOPES[case.version], (case.key, out)
        if out.get("transport") is None:  # a 401 has no envelope the port would read
            assert out.get("response_envelope") == table.ENVELOPES[case.version], (case.key, out)


def test_every_operation_has_a_success_and_a_failure_case(run, build):
    port = (build / "src").rglob("*Soap.java")
    table.each_operation_succeeds_and_fails(
        run, {m for f in port for m in re.findall(r'@WebMethod\(operationName = "(\w+)"', f.read_text())})


def test_generated_signatures_are_natural(build, target):
    """Each operation's method on the generated port, e.g.

        public String addLink(String id, String type, ..., String host, Boolean activeCall);
        public int getEWTByServiceID(int serviceQueueID, int companyID, String password);

    has the authored parameters in order, typed as the xsd/ says (xs:int int, xs:long long,
    xs:boolean boolean; optional ones boxed), and answers the result's type."""
    (port,) = (build / "src").rglob(f"{target.ports['1.1']}.java")
    source = port.read_text()
    assert "JAXBElement" not in source
    for operation, (params, result) in table.operations(target.name).items():
        method = re.search(rf'@WebMethod\(operationName = "{operation}".*?public ([\w<>]+) \w+\((.*?)\);', source, re.S)
        assert method, f"no method for {operation}"
        generated = re.findall(r'@WebParam\(name = "(\w+)"[^)]*\)\s+([\w.<>]+) \w+', method.group(2))
        generated = [(name, kind.rsplit(".", 1)[-1]) for name, kind in generated]
        assert generated == [(p.name, java_type(p)) for p in params], f"{operation}: {method.group(0)}"
        assert method.group(1) == java_type(result), f"{operation} answers {method.group(1)}"
