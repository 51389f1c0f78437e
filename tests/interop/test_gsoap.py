"""gSOAP accepts the WSDL each SOAP service serves (recording, call-data): wsdl2h reads it
from the live ?wsdl URL, soapcpp2 generates a proxy per port, g++ compiles the service's
client (clients/gsoap/<service>.cpp, sharing clients/gsoap/driver.h) against them, and the
compiled client calls the server with SOAP 1.1 and SOAP 1.2.

Acceptance means: wsdl2h and soapcpp2 finish without a warning, the generated code
declares both ports at the address the server filled in with the schema's required and
optional elements as written, the program compiles, and, run in SOAP_XML_STRICT mode
(gSOAP rejects answers that break the schema), gets the expected results and faults.
Everything is built once per service per module in pytest's temporary directory, never
in the repo; the translation units of a build compile in parallel.
"""
import itertools
import json
import re
import shutil
import subprocess
from pathlib import Path

import pytest

CLIENTS = Path(__file__).parent / "clients" / "gsoap"
GSOAP_IMPORT = Path("/usr/share/gsoap/import")
GSOAP_TYPEMAP = Path("/usr/share/gsoap/WS/typemap.dat")
FAULT_NS = "urn:callsuite:fault:1"
recording_only = pytest.mark.parametrize("service", ["recording"], indirect=True)
calldata_only = pytest.mark.parametrize("service", ["calldata"], indirect=True)
callback_only = pytest.mark.parametrize("service", ["callback"], indirect=True)
info_only = pytest.mark.parametrize("service", ["info"], indirect=True)
ids = itertools.count(1)

# Members of the generated classes, as the authored schema has them: required elements
# (1), optional ones (0, a pointer; "= value" where the schema declares a default),
# repeated ones (a vector).
GENERATED_MEMBERS = {
    "recording": {
        "_rec__AddLink": [r"std::string\s+id\s+1;", r"bool\*\s+activeCall\s+0 = false;"],
        "rec__RecordingInfo": [r"LONG64\s+CallId\s+1;", r"rec__ArrayOfGap\*\s+Gaps\s+1;"],
    },
    "calldata": {
        "_cd__GetCallDetails": [r"std::string\s+username\s+1;", r"std::string\s+password\s+1;",
                                r"std::vector<std::string\s*>\s+clientCode\s+1;", r"time_t\*\s+startDate\s+0;",
                                r"time_t\*\s+endDate\s+0;", r"bool\*\s+includeStatus\s+0 = false;"],
        "_cd__GetCallDetailsResponse": [r"cd__CallDetailsReport\*\s+GetCallDetailsResult\s+1;"],
        "cd__CallDetailsReport": [r"std::string\s+Username\s+1;", r"cd__ArrayOfClient\*\s+Clients\s+1;"],
        "cd__ArrayOfClient": [r"std::vector<cd__Client\*\s*>\s+Client\s+0;"],
        "cd__Client": [r"std::string\s+ClientCode\s+1;", r"cd__ArrayOfCall\*\s+Calls\s+1;"],
        "cd__ArrayOfCall": [r"std::vector<cd__Call\*\s*>\s+Call\s+0;"],
        "cd__Call": [r"std::string\s+ID\s+1;", r"time_t\s+StartTime\s+1;", r"std::string\*\s+DID\s+0;",
                     r"int\*\s+Duration\s+0;", r"cd__Address\*\s+Address\s+0;"],
        "cd__Address": [r"std::string\s+ZIP4\s+1;"],
    },
    "callback": {
        "_cb__RequestCallWhenAvailable": [r"std::string\s+phoneNo\s+1;", r"int\s+serviceQueue\s+1;",
                                          r"std::string\*\s+region\s+0;", r"std::string\*\s+field10\s+0;"],
        "_cb__GetAvailableTimes": [r"time_t\s+requestedDate\s+1;"],
        "cb__ArrayOfTimeSlot": [r"std::vector<cb__TimeSlot\*\s*>\s+TimeSlot\s+0;"],
        "cb__TimeSlot": [r"int\s+TimeSlotID\s+1;", r"std::string\s+TimeFrom\s+1;", r"bool\s+Available\s+1;"],
        "cb__ResponseMessage": [r"std::string\s+ConfirmationCode\s+1;", r"int\s+ResultCode\s+1;"],
    },
    "info": {
        "_info__GetCallDataByPinResponse": [r"info__PinCallData\*\s+GetCallDataByPinResult\s+0;"],
        "info__PinCallData": [r"int\s+serviceQueue\s+1;", r"std::string\*\s+field1\s+0;",
                              r"std::string\s+TimeCalled\s+1;"],
        "info__CallData": [r"std::string\s+serviceQueueName\s+1;", r"std::string\s+ScheduledTime\s+1;"],
    },
}


def run(args, cwd, timeout=120) -> subprocess.CompletedProcess:
    proc = subprocess.run(args, cwd=cwd, capture_output=True, text=True, timeout=timeout)
    assert proc.returncode == 0, f"{args[0]} exited {proc.returncode}:\n{proc.stdout}\n{proc.stderr}"
    return proc


def run_parallel(commands, cwd, timeout=300) -> None:
    procs = [(args, subprocess.Popen(args, cwd=cwd, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True))
             for args in commands]
    for args, proc in procs:
        out, _ = proc.communicate(timeout=timeout)
        assert proc.returncode == 0, f"{' '.join(args)} exited {proc.returncode}:\n{out}"


def tool(name: str, package: str) -> str:
    path = shutil.which(name)
    if path is None:
        pytest.fail(f"{name} not found: install the Debian package {package} (.ci/run installs "
                    f"gsoap libgsoap-dev g++)")
    return path


@pytest.fixture(scope="module")
def build(live, service, tmp_path_factory):
    """wsdl2h + soapcpp2 + g++ against the service's live WSDL; returns the build directory."""
    wsdl2h = tool("wsdl2h", "gsoap")
    soapcpp2 = tool("soapcpp2", "gsoap")
    gxx = tool("g++", "g++")
    if not (GSOAP_IMPORT / "soap12.h").is_file() or not Path("/usr/include/stdsoap2.h").is_file():
        pytest.fail("gSOAP headers not found: install the Debian package libgsoap-dev (.ci/run does)")
    work = tmp_path_factory.mktemp(f"gsoap-{service.name}")
    # The default type map plus a fixed prefix for the service's schema namespace.
    typemap = work / "typemap.dat"
    typemap.write_text(GSOAP_TYPEMAP.read_text() + f'\n{service.prefix} = "{service.tns}"\n')
    # -Nsvc: one service (and one proxy class) per binding instead of both merged into one.
    generated = run([wsdl2h, "-Nsvc", "-t", str(typemap), "-o", f"{service.name}.h", service.wsdl_url(live)], work)
    generation = generated.stdout + generated.stderr
    assert "Done reading" in generation, generation
    # wsdl2h reports what it cannot map (unknown types, unresolved references) as
    # warnings or errors but still exits 0: a clean WSDL gives none.
    assert not re.search(r"(?i)warning|error|unknown|undefined|not found", generation), generation
    compiled = run([soapcpp2, "-j", "-C", "-x", f"-I{GSOAP_IMPORT}", f"{service.name}.h"], work)
    assert "Compilation successful" in compiled.stdout + compiled.stderr
    assert not re.search(r"(?i)warning|error", compiled.stdout + compiled.stderr), compiled.stderr
    sources = [str(CLIENTS / f"{service.name}.cpp"), "soapC.cpp",
               *(f"soap{port}Proxy.cpp" for port in service.ports.values())]
    objects = [f"{Path(source).stem}.o" for source in sources]
    run_parallel([[gxx, "-O0", "-w", "-c", "-I.", f"-I{CLIENTS}", "-o", obj, source]
                  for source, obj in zip(sources, objects, strict=True)], work)
    run([gxx, "-o", "gsoap_client", *objects, "-lgsoap++"], work)
    return work


@pytest.fixture(params=["1.1", "1.2"], ids=lambda v: f"soap{v}")
def call(request, build):
    version = request.param

    def call(operation: str, **args) -> dict:
        def text(value):
            return str(value).lower() if isinstance(value, bool) else str(value)

        argv = [f"{k}={text(item)}" for k, v in args.items() for item in (v if isinstance(v, list) else [v])]
        proc = subprocess.run([str(build / "gsoap_client"), version, operation, *argv],
                              capture_output=True, text=True, timeout=30)
        assert proc.returncode == 0, f"gSOAP client exited {proc.returncode}:\n{proc.stdout}\n{proc.stderr}"
        out = json.loads(proc.stdout)
        # The server answers in the version it was asked in: the response proves the request's.
        assert out["soap_version"] == int(version[-1]), out
        return out

    call.version = version
    return call


# -- every service ------------------------------------------------------------------------

def test_generated_header_declares_both_ports(build, live, service):
    header = (build / f"{service.name}.h").read_text()
    address = service.address(live)
    for port in service.ports.values():
        assert re.search(rf"//gsoap \w+ +service name:\s+{port}\s*$", header, re.M), f"no service {port}"
    assert len(re.findall(rf"//gsoap \w+ +service port:\s+{re.escape(address)}\s*$", header, re.M)) == 2
    assert '#import "soap12.h"' in header
    for operation in service.operations:
        assert len(re.findall(rf"^int __svc\d*__{operation}\(", header, re.M)) == 2, operation
        assert len(re.findall(rf"service method-style:\s+{operation} document\s*$", header, re.M)) == 2
        assert len(re.findall(rf"service method-encoding:\s+{operation} literal\s*$", header, re.M)) == 2
        assert len(re.findall(rf"service method-input-action:\s+{operation} {operation}\s*$", header, re.M)) == 2
    # Required, optional and repeated elements come through as written in xsd/<service>.xsd.
    for cls, members in GENERATED_MEMBERS[service.name].items():
        body = re.search(rf"class {cls}\n\{{(.*?)\n\}};", header, re.S)
        assert body, f"no class {cls}"
        for member in members:
            assert re.search(member, body.group(1)), f"{cls}: no {member}"


def test_fault_with_a_clear_reason(call, service):
    case = service.fault
    out = call(case.operation, **case.args)
    assert not out["ok"] and out["fault"], out
    assert case.reason in out["string"]
    if call.version == "1.1":
        assert case.soap11_code_ok(out["code"]), out
    else:
        # Sender, and a Subcode gSOAP resolves to the server's fault namespace (a
        # namespace-qualified QName: an unqualified one came out as "":NotFound).
        assert "Sender" in out["code"], out
        assert out["subcode"] == f'"{FAULT_NS}":{case.code}', out


# -- recording ----------------------------------------------------------------------------

@recording_only
def test_add_link_with_no_active_call(call):
    out = call("AddLink", id=f"GSOAP-{call.version}-{next(ids)}", host="WS-ALICE", activeCall="true")
    assert out["ok"], out
    assert out["present"] and out["result"] == "No Active Call"


@recording_only
def test_add_link_pending_is_null(call):
    out = call("AddLink", id=f"GSOAP-{call.version}-{next(ids)}", host="WS-ALICE")
    assert out["ok"], out
    assert not out["present"] and out["result"] is None


@recording_only
def test_retrieve_rec_file_empty_string(call):
    out = call("RetrieveRecFile", sExtension="201", dtCallDateTime="2011-10-10 18:52:00")
    assert out["ok"], out
    assert out["present"] and out["result"] == ""


# -- call data ----------------------------------------------------------------------------

@calldata_only
def test_get_call_details(call, calldata):
    # startDate/endDate are parsed and written back by gSOAP itself (time_t).
    out = call("GetCallDetails", **calldata.query())
    assert out["ok"], out
    assert out["present"], out
    calldata.check(out["result"])


@calldata_only
def test_client_codes_are_repeated_elements(call, calldata):
    args, refused = calldata.not_granted_query()
    out = call("GetCallDetails", **args)
    assert not out["ok"] and out["fault"], out
    assert refused in out["string"], out


# -- Buzzeasy callbacks and BuzzMeInfo (demo site: company 1, queue 1 Mon-Fri 08:00-18:00) --

DEMO_COMPANY = {"company": 1, "password": "demo-company-pw"}


@callback_only
def test_callback_operations(call, live):
    from datetime import datetime, timedelta
    out = call("UpdateEWTRecord", serviceQueue=1, ewt=45, **DEMO_COMPANY)
    assert out["ok"] and out["result"] is True, out
    out = call("GetEWTByServiceID", serviceQueueID=1, companyID=1, password="demo-company-pw")
    assert out["result"] == 45, out
    assert call("GetEWTByServiceID", serviceQueueID=1, companyID=1, password="wrong")["result"] == -1
    out = call("RequestCallWhenAvailable", name="gSOAP", phoneNo="+447779000999", serviceQueue=1, **DEMO_COMPANY)
    assert out["result"] == {"ConfirmationCode": "", "ResultCode": 5}, out  # the demo's black list
    day = datetime.now().date() + timedelta(days=1)
    while day.weekday() > 4 or day.isoformat() == "2026-12-25":
        day += timedelta(days=1)
    # gSOAP writes xs:dateTime in UTC: 09:30 London in winter is 09:30Z.
    out = call("GetAvailableTimes", serviceQueue=1, **DEMO_COMPANY, requestedDate=f"{day}T09:30:00Z")
    if day.month in (11, 12, 1, 2):
        assert out["result"][0] == {"TimeSlotID": 4, "TimeTo": f"{day} 10-00-00", "TimeFrom": f"{day} 09-30-00",
                                    "Available": True}, out
    assert all(s["TimeFrom"].count("-") == 4 for s in out["result"])


@info_only
def test_info_operations(call, live):
    import requests
    r = requests.post(live.url("/RequestCallbackService/Service.svc/rest/RequestCallSchedule"), timeout=10, json={
        "name": "gSOAP", "phoneNo": "+447779453115", "serviceQueue": "1", "company": "1",
        "password": "demo-company-pw", "field1": "G-1", "date": "2030-01-07 00:00:00", "timeslot": "2"})
    code = r.json()["ConfirmationCode"]
    assert code, r.text
    out = call("GetCallDataByPin", pin=code[-6:], companyId=1, password="demo-company-pw")
    assert out["result"] == {"ConfirmationCode": code, "serviceQueue": 1, "field1": "Account Number,G-1",
                             "TimeCalled": out["result"]["TimeCalled"]}, out
    out = call("GetCallDataByNumber", presentedNumber="+447779453115", companyId=1, password="demo-company-pw")
    assert out["result"]["field1"] == "Account Number | G-1" and out["result"]["ScheduledTime"] == "2030-01-07 08:30:00"
    out = call("GetCallDataByPin", pin="999999", companyId=1, password="demo-company-pw")
    assert out["ok"] and not out["present"], out
