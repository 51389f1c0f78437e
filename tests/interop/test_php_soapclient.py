"""PHP's SoapClient (ext-soap) accepts the recording WSDL the running server serves and
calls the deterministic operations with SOAP 1.1 and SOAP 1.2, over real HTTP.

Each call runs clients/php_call.php in a fresh `php` process: SoapClient reads the WSDL
from the live server's ?wsdl URL (no cache), builds the request from the WSDL's types
alone, posts it to the address the WSDL declares, and decodes the answer. Acceptance
means: no warning while reading the WSDL, all five operations with their wrapper types,
envelopes of the requested SOAP version, and the expected results and faults decoded.
"""
import itertools
import json
import shutil
import subprocess
from pathlib import Path

import pytest

CLIENT = Path(__file__).parent / "clients" / "php_call.php"
OPERATIONS = ["AddLink", "PlayByPhone", "LinkRecording", "GetRecordingInfo", "RetrieveRecFile"]
ENVELOPES = {"1.1": "http://schemas.xmlsoap.org/soap/envelope/", "1.2": "http://www.w3.org/2003/05/soap-envelope"}
CONTENT_TYPES = {"1.1": "Content-Type: text/xml", "1.2": "Content-Type: application/soap+xml"}
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


@pytest.fixture(scope="module")
def wsdl_url(live):
    return live.url("/soap/recording?wsdl")


@pytest.fixture(params=["1.1", "1.2"], ids=lambda v: f"soap{v}")
def call(request, php, wsdl_url):
    version = request.param

    def run(operation: str, **args) -> dict:
        proc = subprocess.run([php, str(CLIENT), wsdl_url, operation, json.dumps(args), version],
                              capture_output=True, text=True, timeout=30)
        assert proc.returncode == 0, f"php exited {proc.returncode}: {proc.stdout}{proc.stderr}"
        # PHP prints warnings and notices (say, about a WSDL construct it skips) on stderr/stdout.
        assert proc.stderr.strip() == "", f"PHP complained: {proc.stderr}"
        out = json.loads(proc.stdout)
        assert ENVELOPES[version] in out["request"], f"not a SOAP {version} request: {out['request']}"
        assert CONTENT_TYPES[version] in out["request_headers"], out["request_headers"]
        assert ENVELOPES[version] in out["response"], f"not a SOAP {version} response: {out['response']}"
        return out

    run.version = version
    return run


def test_wsdl_is_accepted_with_every_operation(call):
    out = call("AddLink", id=f"PHP-{call.version}-{next(ids)}", host="WS-ALICE", activeCall=True)
    # One entry per operation and binding: SoapClient read both ports.
    declared = sorted({f.split("(")[0].split()[-1] for f in out["functions"]})
    assert declared == sorted(OPERATIONS)
    for name in OPERATIONS:
        assert f"{name}Response {name}({name} $parameters)" in out["functions"]
    types = "\n".join(out["types"])
    for struct in ("struct AddLink {", "struct RecordingInfo {", "struct ArrayOfGap {", "struct ActivityLink {"):
        assert struct in types


def test_add_link_with_no_active_call(call):
    out = call("AddLink", id=f"PHP-{call.version}-{next(ids)}", host="WS-ALICE", activeCall=True)
    assert out["ok"], out.get("fault")
    assert out["result"] == "No Active Call"
    assert "<ns1:activeCall>true</ns1:activeCall>" in out["request"]


def test_add_link_pending_is_null(call):
    out = call("AddLink", id=f"PHP-{call.version}-{next(ids)}", host="WS-ALICE")
    assert out["ok"], out.get("fault")
    assert out["result"] is None
    assert "activeCall" not in out["request"]


def test_get_recording_info_fault(call):
    out = call("GetRecordingInfo", refNum="0000000000")
    assert not out["ok"], f"a fault was expected, got {out.get('raw')}"
    assert "no recording" in out["fault"]["string"]
    assert ("Client" if call.version == "1.1" else "Sender") in out["fault"]["code"]


def test_retrieve_rec_file_empty_string(call):
    out = call("RetrieveRecFile", sExtension="201", dtCallDateTime="2011-10-10 18:52:00")
    assert out["ok"], out.get("fault")
    assert out["result_present"], f"RetrieveRecFileResult missing: {out['response']}"
    assert out["result"] == ""
