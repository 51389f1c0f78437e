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
from interop import jvm_dotnet_cases as table
from interop.generated_clients import mono_build, run_mono

STACK = "mono"
CSHARP = {"xs:string": "string", "xs:int": "int", "xs:long": "long", "xs:boolean": "bool", "xs:double": "double",
          "xs:dateTime": "System.DateTime"}
VALUE_TYPES = {"xs:int", "xs:long", "xs:boolean", "xs:double", "xs:dateTime"}
FLAG = "[System.Xml.Serialization.XmlIgnoreAttribute()] bool {}Specified"


def csharp_params(operation: str, element: table.Element) -> list[str]:
    """The parameter(s) wsdl should generate for one element."""
    kind = CSHARP.get(element.type, element.type)
    if element.repeated:
        return [f'[System.Xml.Serialization.XmlElementAttribute("{element.name}")] {kind}[] {element.name}']
    if element.required or element.type not in VALUE_TYPES:
        return [f"{kind} {element.name}"]
    if element.default is not None:
        value = element.default if element.type != "xs:boolean" else element.default.lower()
        return [f"[System.ComponentModel.DefaultValueAttribute({value})] {kind} {element.name}"]
    assert (operation, element.name) in table.NO_DEFAULT, \
        f"{operation}.{element.name}: optional without a default: declare default= in xsd/ (or list it in NO_DEFAULT)"
    return [f"{kind} {element.name}", FLAG.format(element.name)]


def split_parameters(text: str) -> list[str]:
    parts, depth, current = [], 0, ""
    for char in text:
        depth += char in "[(" and 1 or (char in "])" and -1 or 0)
        if char == "," and depth == 0:
            parts.append(current.strip())
            current = ""
        else:
            current += char
    return [p for p in [*parts, current.strip()] if p]


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
    return mono_build(live, target)


@pytest.fixture(scope="module")
def run(live, target, build, request):
    """Every case of the service, both SOAP versions, in one mono process: (cases, answers by key)."""
    return table.run_all(live, target, STACK, request, lambda cases: run_mono(build, live, target, [
        {"id": c.key, "version": c.version, "operation": c.operation, "args": c.args, "auth": c.auth,
         "retry": c.retry} for c in cases]))


@pytest.mark.parametrize("version", ["1.1", "1.2"])
def test_every_case(run, version):
    problems = table.problems(run, version)
    assert not problems, "\n".join(problems)


def test_each_request_is_of_its_soap_version(run):
    cases, answers = run
    for case in cases:
        out = answers[case.key]
        expected = table.CONTENT_TYPES[case.version]
        assert (out.get("request_content_type") or "").startswith(expected), (case.key, out)
        assert (out.get("response_content_type") or "").startswith(expected), (case.key, out)


def test_every_operation_has_a_success_and_a_failure_case(run, build):
    table.each_operation_succeeds_and_fails(
        run, set(re.findall(r"SoapDocumentMethodAttribute\(\"(\w+)\"", (build / "proxy.cs").read_text())))


def test_generated_signatures_are_natural(build, target):
    """Each operation's method on the generated proxy, e.g.

        public string AddLink(string id, ..., string host, [DefaultValue(false)] bool activeCall)
        public int GetEWTByServiceID(int serviceQueueID, int companyID, string password)

    has the authored parameters in order, typed as the xsd/ says (xs:int int, xs:long long,
    xs:boolean bool), an optional parameter with a server default a plain value with its
    [DefaultValue], and an xSpecified flag only where left out means "not given"
    (NO_DEFAULT); it answers the result's type."""
    source = (build / "proxy.cs").read_text()
    flags = set()
    for operation, (params, result) in table.operations(target.name).items():
        method = re.search(rf"public ([\w.\[\]]+) {operation}\((.*?)\) {{", source, re.S)
        assert method, f"no method for {operation}"
        expected = [text for p in params for text in csharp_params(operation, p)]
        generated = split_parameters(" ".join(method.group(2).split()))
        assert generated == expected, f"{operation}: {method.group(0)}"
        flags |= {(operation, p.name) for p in params if FLAG.format(p.name) in expected}
        # (an ArrayOf... wrapper is an array of its items in .NET)
        answer = f"{result.items}[]" if result.items else CSHARP.get(result.type, result.type)
        assert method.group(1) == answer, f"{operation} answers {method.group(1)}"
    assert flags == {entry for entry in table.NO_DEFAULT if entry[0] in table.operations(target.name)}
