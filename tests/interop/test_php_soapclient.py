"""PHP's SoapClient (ext-soap) accepts the WSDL each SOAP service serves (recording,
call-data) and calls it with SOAP 1.1 and SOAP 1.2, over real HTTP.

Each call runs clients/php_call.php in a fresh `php` process: SoapClient reads the WSDL
from the live server's ?wsdl URL (no cache), builds the request from the WSDL's types
alone, posts it to the address the WSDL declares, and decodes the answer. Acceptance
means: no warning while reading the WSDL, every operation with its wrapper types,
envelopes of the requested SOAP version, and the expected results and faults decoded.
"""
import itertools
import json
import shutil
import subprocess
from pathlib import Path

import pytest

CLIENT = Path(__file__).parent / "clients" / "php_call.php"
ENVELOPES = {"1.1": "http://schemas.xmlsoap.org/soap/envelope/", "1.2": "http://www.w3.org/2003/05/soap-envelope"}
CONTENT_TYPES = {"1.1": "Content-Type: text/xml", "1.2": "Content-Type: application/soap+xml"}
recording_only = pytest.mark.parametrize("service", ["recording"], indirect=True)
calldata_only = pytest.mark.parametrize("service", ["calldata"], indirect=True)
ids = itertools.count(1)


@pytest.fixture(scope="module")
def php():
    """The php binary with ext-soap; missing is a failure (CI installs php-cli php-soap)."""
    binary = shutil.which("php")
    if binary is None:
        pytest.fail("php not found: install the Debian packages php-cli and php-soap (.ci/run does)")
    modules = subprocess.run([binary, "-m"], capture_output=True, text=True, timeout=30).stdout.split()
    if "soap" not in modules:
        pytest.fail("PHP has no SOAP extension: install the Debian package php-soap (.ci/run does)")
    return binary


@pytest.fixture(params=["1.1", "1.2"], ids=lambda v: f"soap{v}")
def call(request, php, live, service):
    version = request.param
    wsdl_url = service.wsdl_url(live)

    def run(operation: str, **args) -> dict:
        proc = subprocess.run([php, str(CLIENT), wsdl_url, operation, json.dumps(args), version],
                              capture_output=True, text=True, timeout=30)
        assert proc.returncode == 0, f"php exited {proc.returncode}: {proc.stdout}{proc.stderr}"
        # PHP prints warnings and notices (say, about a WSDL construct it skips) on stderr/stdout.
        assert proc.stderr.strip() == "", f"PHP complained: {proc.stderr}"
        out = json.loads(proc.stdout)
        assert ENVELOPES[version] in out["request"], f"not a SOAP {version} request: {out['request']}"
        assert CONTENT_TYPES[version] in out["request_headers"], out["request_headers"]
        assert f"POST {service.path} HTTP/1.1" in out["request_headers"], "not sent to the WSDL's address"
        assert ENVELOPES[version] in out["response"], f"not a SOAP {version} response: {out['response']}"
        return out

    run.version = version
    return run


# -- every service ------------------------------------------------------------------------

def test_wsdl_is_accepted_with_every_operation(call, service):
    case = service.fault
    out = call(case.operation, **case.args)
    # One entry per operation and binding: SoapClient read both ports.
    assert sorted(out["functions"]) == sorted(
        f"{name}Response {name}({name} $parameters)" for name in service.operations for _ in service.ports)
    types = "\n".join(out["types"])
    for struct in service.types:
        assert f"struct {struct} {{" in types


def test_fault_with_a_clear_reason(call, service):
    case = service.fault
    out = call(case.operation, **case.args)
    assert not out["ok"], f"a fault was expected, got {out.get('raw')}"
    assert case.reason in out["fault"]["string"]
    # A caller's mistake: SOAP 1.1 Client.<kind>; SOAP 1.2 Sender (PHP does not expose the subcode).
    if call.version == "1.1":
        assert case.soap11_code_ok(out["fault"]["code"]), out["fault"]
    else:
        assert "Sender" in out["fault"]["code"], out["fault"]


# -- recording ----------------------------------------------------------------------------

@recording_only
def test_add_link_with_no_active_call(call):
    out = call("AddLink", id=f"PHP-{call.version}-{next(ids)}", host="WS-ALICE", activeCall=True)
    assert out["ok"], out.get("fault")
    assert out["result"] == "No Active Call"
    assert "<ns1:activeCall>true</ns1:activeCall>" in out["request"]


@recording_only
def test_add_link_pending_is_null(call):
    out = call("AddLink", id=f"PHP-{call.version}-{next(ids)}", host="WS-ALICE")
    assert out["ok"], out.get("fault")
    assert out["result"] is None
    assert "activeCall" not in out["request"]


@recording_only
def test_retrieve_rec_file_empty_string(call):
    out = call("RetrieveRecFile", sExtension="201", dtCallDateTime="2011-10-10 18:52:00")
    assert out["ok"], out.get("fault")
    assert out["result_present"], f"RetrieveRecFileResult missing: {out['response']}"
    assert out["result"] == ""


# -- call data ----------------------------------------------------------------------------

@calldata_only
def test_get_call_details(call, calldata):
    out = call("GetCallDetails", **calldata.query())
    assert out["ok"], out.get("fault")
    assert f"<ns1:startDate>{calldata.start}</ns1:startDate>" in out["request"]
    report = out["result"]
    # SOAP_SINGLE_ELEMENT_ARRAYS: maxOccurs="unbounded" elements always decode as arrays.
    calldata.check({**report, "Clients": [{"ClientCode": c["ClientCode"], "Calls": c["Calls"].get("Call", [])}
                                          for c in report["Clients"]["Client"]]})


@calldata_only
def test_client_codes_are_repeated_elements(call, calldata):
    args, refused = calldata.not_granted_query()
    out = call("GetCallDetails", **args)
    assert out["request"].count("<ns1:clientCode>") == 2, out["request"]
    assert not out["ok"] and refused in out["fault"]["string"], out.get("fault")
