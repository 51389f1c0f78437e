"""gSOAP accepts the recording WSDL the running server serves: wsdl2h reads it from the
live ?wsdl URL, soapcpp2 generates a proxy per port, g++ compiles clients/gsoap_client.cpp
against them, and the compiled client calls the server with SOAP 1.1 and SOAP 1.2.

Acceptance means: wsdl2h and soapcpp2 finish without a warning, the generated code
declares both ports at the address the server filled in with the schema's required and
optional elements as written, the program compiles, and, run in SOAP_XML_STRICT mode
(gSOAP rejects answers that break the schema), gets the expected results and faults.
Everything is built once per module in pytest's temporary directory, never in the repo.
"""
import itertools
import json
import re
import shutil
import subprocess
from pathlib import Path

import pytest

CLIENT_SOURCE = Path(__file__).parent / "clients" / "gsoap_client.cpp"
GSOAP_IMPORT = Path("/usr/share/gsoap/import")
GSOAP_TYPEMAP = Path("/usr/share/gsoap/WS/typemap.dat")
TNS = "urn:callsuite:recording:1"
ids = itertools.count(1)


def run(args, cwd, timeout=120) -> subprocess.CompletedProcess:
    proc = subprocess.run(args, cwd=cwd, capture_output=True, text=True, timeout=timeout)
    assert proc.returncode == 0, f"{args[0]} exited {proc.returncode}:\n{proc.stdout}\n{proc.stderr}"
    return proc


def tool(name: str, package: str) -> str:
    path = shutil.which(name)
    if path is None:
        pytest.fail(f"{name} not found: install the Debian package {package} (.ci/run installs "
                    f"gsoap libgsoap-dev g++)")
    return path


@pytest.fixture(scope="module")
def build(live, tmp_path_factory):
    """wsdl2h + soapcpp2 + g++ against the live WSDL; returns the build directory."""
    wsdl2h = tool("wsdl2h", "gsoap")
    soapcpp2 = tool("soapcpp2", "gsoap")
    gxx = tool("g++", "g++")
    if not (GSOAP_IMPORT / "soap12.h").is_file() or not Path("/usr/include/stdsoap2.h").is_file():
        pytest.fail("gSOAP headers not found: install the Debian package libgsoap-dev (.ci/run does)")
    work = tmp_path_factory.mktemp("gsoap")
    # The default type map plus a fixed prefix for the service's schema namespace.
    typemap = work / "typemap.dat"
    typemap.write_text(GSOAP_TYPEMAP.read_text() + f'\nrec = "{TNS}"\n')
    wsdl_url = live.url("/soap/recording?wsdl")
    # -Nsvc: one service (and one proxy class) per binding instead of both merged into one.
    generated = run([wsdl2h, "-Nsvc", "-t", str(typemap), "-o", "recording.h", wsdl_url], work)
    generation = generated.stdout + generated.stderr
    assert "Done reading" in generation, generation
    # wsdl2h reports what it cannot map (unknown types, unresolved references) as
    # warnings or errors but still exits 0: a clean WSDL gives none.
    assert not re.search(r"(?i)warning|error|unknown|undefined|not found", generation), generation
    compiled = run([soapcpp2, "-j", "-C", "-x", f"-I{GSOAP_IMPORT}", "recording.h"], work)
    assert "Compilation successful" in compiled.stdout + compiled.stderr
    assert not re.search(r"(?i)warning|error", compiled.stdout + compiled.stderr), compiled.stderr
    run([gxx, "-O0", "-w", "-o", "gsoap_client", str(CLIENT_SOURCE), "soapC.cpp",
         "soapRecordingServiceSoapProxy.cpp", "soapRecordingServiceSoap12Proxy.cpp", "-I.", "-lgsoap++"],
        work, timeout=300)
    return work


@pytest.fixture(params=["1.1", "1.2"], ids=lambda v: f"soap{v}")
def call(request, build):
    version = request.param

    def call(operation: str, **args) -> dict:
        proc = subprocess.run([str(build / "gsoap_client"), version, operation,
                               *(f"{k}={v}" for k, v in args.items())],
                              capture_output=True, text=True, timeout=30)
        assert proc.returncode == 0, f"gSOAP client exited {proc.returncode}:\n{proc.stdout}\n{proc.stderr}"
        out = json.loads(proc.stdout)
        # The server answers in the version it was asked in: the response proves the request's.
        assert out["soap_version"] == int(version[-1]), out
        return out

    call.version = version
    return call


def test_generated_header_declares_both_ports(build, live):
    header = (build / "recording.h").read_text()
    address = live.url("/soap/recording")
    for port in ("RecordingServiceSoap", "RecordingServiceSoap12"):
        assert re.search(rf"//gsoap \w+ +service name:\s+{port}\s*$", header, re.M), f"no service {port}"
    assert len(re.findall(rf"//gsoap \w+ +service port:\s+{re.escape(address)}\s*$", header, re.M)) == 2
    assert '#import "soap12.h"' in header
    for operation in ("AddLink", "PlayByPhone", "LinkRecording", "GetRecordingInfo", "RetrieveRecFile"):
        assert len(re.findall(rf"^int __svc\d*__{operation}\(", header, re.M)) == 2, operation
        assert len(re.findall(rf"service method-style:\s+{operation} document\s*$", header, re.M)) == 2
        assert len(re.findall(rf"service method-encoding:\s+{operation} literal\s*$", header, re.M)) == 2
        assert len(re.findall(rf"service method-input-action:\s+{operation} {operation}\s*$", header, re.M)) == 2
    # Required and optional elements come through as written in xsd/recording.xsd.
    add_link = re.search(r"class _rec__AddLink\n\{(.*?)\n\};", header, re.S).group(1)
    assert re.search(r"std::string\s+id\s+1;", add_link)
    assert re.search(r"bool\*\s+activeCall\s+0;", add_link)
    info = re.search(r"class rec__RecordingInfo\n\{(.*?)\n\};", header, re.S).group(1)
    assert re.search(r"LONG64\s+CallId\s+1;", info)
    assert re.search(r"rec__ArrayOfGap\*\s+Gaps\s+1;", info)


def test_add_link_with_no_active_call(call):
    out = call("AddLink", id=f"GSOAP-{call.version}-{next(ids)}", host="WS-ALICE", activeCall="true")
    assert out["ok"], out
    assert out["present"] and out["result"] == "No Active Call"


def test_add_link_pending_is_null(call):
    out = call("AddLink", id=f"GSOAP-{call.version}-{next(ids)}", host="WS-ALICE")
    assert out["ok"], out
    assert not out["present"] and out["result"] is None


def test_get_recording_info_fault(call):
    out = call("GetRecordingInfo", refNum="0000000000")
    assert not out["ok"] and out["fault"], out
    assert "no recording" in out["string"]
    assert ("Client" if call.version == "1.1" else "Sender") in out["code"]


def test_retrieve_rec_file_empty_string(call):
    out = call("RetrieveRecFile", sExtension="201", dtCallDateTime="2011-10-10 18:52:00")
    assert out["ok"], out
    assert out["present"] and out["result"] == ""
