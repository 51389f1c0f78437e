"""The SOAP stacks of tests/interop/test_every_stack.py, each turned into one callable
`call(case) -> Outcome` per service and SOAP version (tests/interop/cases.py).

zeep and suds run in this process. PHP SoapClient, Perl SOAP::Lite, node-soap and gSOAP
run as one long-lived process per stack and service (clients/*), reading one JSON request
per line on stdin - {"version", "operation", "args", "auth"} - and answering one JSON
line: {"ok", "result", "fault": {"code", "string", "subcode"}, "status", "www_authenticate",
...}. Every call a stack makes is its own: built from the served WSDL by the client
library, sent over real HTTP, decoded by the client library.
"""
from __future__ import annotations

import contextlib
import fcntl
import hashlib
import json
import os
import shutil
import subprocess
import threading
from pathlib import Path
from typing import Optional

from lxml import etree

from .cases import Case, Outcome

CLIENTS = Path(__file__).parent / "clients"
CACHE = Path(os.environ.get("CALLSUITE_TEST_CACHE", Path.home() / ".cache" / "callsuite-tests"))
WSDL = "http://schemas.xmlsoap.org/wsdl/"
SOAP11_BINDING = "http://schemas.xmlsoap.org/wsdl/soap/"
SOAP12_BINDING = "http://schemas.xmlsoap.org/wsdl/soap12/"
XS = "http://www.w3.org/2001/XMLSchema"
ENVELOPES = {"1.1": "http://schemas.xmlsoap.org/soap/envelope/", "1.2": "http://www.w3.org/2003/05/soap-envelope"}
NODE_SOAP = "1.13.0"  # the npm `soap` package tested


# -- the served WSDL, as a call table (Perl and gSOAP build their requests from it) -----------

def call_table(wsdl: bytes) -> dict:
    """{"endpoint", "tns", "operations": {name: {"action": {"1.1", "1.2"}, "element",
    "params": [[name, xs type, repeated]]}}} read from the served document: the address of
    each port, each binding's soapAction, the request wrapper's children in order."""
    root = etree.fromstring(wsdl)
    tns = root.get("targetNamespace")
    schema = root.find(f"{{{WSDL}}}types/{{{XS}}}schema")
    elements = {e.get("name"): e for e in schema.iterfind(f"{{{XS}}}element")}
    operations = {}
    for binding in root.iterfind(f"{{{WSDL}}}binding"):
        version = "1.2" if binding.find(f"{{{SOAP12_BINDING}}}binding") is not None else "1.1"
        ns = SOAP12_BINDING if version == "1.2" else SOAP11_BINDING
        for op in binding.iterfind(f"{{{WSDL}}}operation"):
            name = op.get("name")
            entry = operations.setdefault(name, {"action": {}, "element": name, "params": []})
            entry["action"][version] = op.find(f"{{{ns}}}operation").get("soapAction")
            wrapper = elements[name]
            entry["params"] = [[p.get("name"), p.get("type"), p.get("maxOccurs") not in (None, "1")]
                               for p in wrapper.iterfind(f"{{{XS}}}complexType/{{{XS}}}sequence/{{{XS}}}element")]
    endpoints = {address.get("location") for address in root.iter(f"{{{SOAP11_BINDING}}}address",
                                                                   f"{{{SOAP12_BINDING}}}address")}
    assert len(endpoints) == 1, endpoints  # one address serves both versions
    return {"endpoint": endpoints.pop(), "tns": tns, "operations": operations}


def ordered(args: dict, params: list) -> list:
    """The arguments in the wrapper's order, as [name, value] pairs (a repeated one once per value)."""
    names = [p[0] for p in params]
    unknown = set(args) - set(names)
    assert not unknown, f"not in the WSDL: {unknown}"
    return [[name, item] for name in names if name in args
            for item in (args[name] if isinstance(args[name], list) else [args[name]])]


# -- zeep ------------------------------------------------------------------------------------

class ZeepStack:
    name, versions = "zeep", ("1.1", "1.2")

    def __init__(self, live, service) -> None:
        import requests
        import zeep
        from helpers.soap import ValidatingPlugin
        from zeep.transports import Transport

        self.session = requests.Session()
        self.responses = []
        self.session.hooks["response"].append(lambda r, *a, **k: self.responses.append(r))
        self.validator = ValidatingPlugin(service.xsd)
        self.client = zeep.Client(service.wsdl_url(live), settings=zeep.Settings(strict=True),
                                  transport=Transport(session=self.session), plugins=[self.validator])
        self.proxies = {v: self.client.bind(service.wsdl_service, service.ports[v]) for v in self.versions}

    def caller(self, version: str):
        import zeep
        from zeep.helpers import serialize_object
        proxy = self.proxies[version]

        def call(case: Case) -> Outcome:
            self.session.auth = case.auth
            self.responses.clear()
            try:
                result = getattr(proxy, case.operation)(**case.args)
            except zeep.exceptions.Fault as fault:
                last = self.responses[-1]
                subcode = fault.subcodes[0].text if fault.subcodes else None
                return Outcome(False, fault=(fault.code, fault.message, subcode), http_status=last.status_code,
                               challenge=last.headers.get("WWW-Authenticate"))
            except zeep.exceptions.TransportError as error:
                return Outcome(False, http_status=error.status_code,
                               challenge=self.responses[-1].headers.get("WWW-Authenticate"))
            return Outcome(True, result=serialize_object(result, dict), http_status=self.responses[-1].status_code)
        return call

    def close(self) -> None:
        self.session.close()


# -- suds (SOAP 1.1 only) --------------------------------------------------------------------

class SudsStack:
    name, versions = "suds", ("1.1",)
    fault_statuses = {500}  # suds reads a fault only from HTTP 500; other statuses raise (status, reason)

    def __init__(self, live, service) -> None:
        from suds.client import Client
        from suds.transport.http import HttpAuthenticated

        from .test_suds import Exchanges

        class Recorded(HttpAuthenticated):
            """suds' HTTP Basic transport (credentials only once challenged), keeping the
            last status and headers."""
            last = None

            def u2open(self, u2request, timeout=None):
                from urllib.error import HTTPError
                try:
                    reply = super().u2open(u2request, timeout)
                except HTTPError as error:
                    type(self).last = (error.code, {k.lower(): v for k, v in error.headers.items()})
                    raise
                type(self).last = (reply.status, {k.lower(): v for k, v in reply.headers.items()})
                return reply

        self.transport_class = Recorded
        self.exchanges = Exchanges(service.xsd)
        self.client = Client(service.wsdl_url(live), cache=None, plugins=[self.exchanges], transport=Recorded())
        self.port = self.client.service[service.ports["1.1"]]

    def caller(self, version: str):
        from suds import WebFault
        from suds.sudsobject import asdict

        def plain(value):
            if hasattr(value, "__keylist__"):
                return {k: plain(v) for k, v in asdict(value).items()}
            if isinstance(value, list):
                return [plain(v) for v in value]
            return value

        def call(case: Case) -> Outcome:
            user, password = case.auth or (None, None)
            self.client.set_options(transport=self.transport_class(username=user, password=password))
            self.transport_class.last = None
            try:
                result = getattr(self.port, case.operation)(**case.args)
            except WebFault as error:
                status, headers = self.transport_class.last
                fault = error.fault
                return Outcome(False, fault=(fault.faultcode, fault.faultstring, None), http_status=status,
                               challenge=headers.get("www-authenticate"))
            except Exception as error:  # suds raises Exception((status, reason)) for other statuses
                if isinstance(error, AssertionError) or self.transport_class.last is None \
                        or self.transport_class.last[0] in (200, 500):
                    raise
                status, headers = self.transport_class.last
                return Outcome(False, http_status=status, extra={"error": repr(error)},
                               challenge=headers.get("www-authenticate"))
            return Outcome(True, result=plain(result), http_status=self.transport_class.last[0])
        return call

    def close(self) -> None:
        pass


# -- the out-of-process stacks ---------------------------------------------------------------

class LineProcess:
    """A client process speaking JSON lines (one request, one answer)."""

    def __init__(self, args: list, cwd: Optional[Path] = None, env: Optional[dict] = None) -> None:
        self.args = args
        self.proc = subprocess.Popen(args, stdin=subprocess.PIPE, stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                                     text=True, cwd=cwd, env=env, bufsize=1)
        self.stderr: list[str] = []
        threading.Thread(target=self._drain, daemon=True).start()

    def _drain(self) -> None:
        for line in self.proc.stderr:
            self.stderr.append(line)

    def ask(self, request: dict) -> dict:
        self.proc.stdin.write(json.dumps(request) + "\n")
        self.proc.stdin.flush()
        line = self.proc.stdout.readline()
        assert line, f"{self.args[0]} ended ({self.proc.poll()}): {''.join(self.stderr)[-3000:]}"
        return json.loads(line)

    def ask_lines(self, lines: list) -> dict:
        """A request of several lines (none may contain a newline), one JSON line back."""
        assert all("\n" not in line for line in lines), lines
        self.proc.stdin.write("".join(line + "\n" for line in lines))
        self.proc.stdin.flush()
        line = self.proc.stdout.readline()
        assert line, f"{self.args[0]} ended ({self.proc.poll()}): {''.join(self.stderr)[-3000:]}"
        return json.loads(line)

    def close(self) -> None:
        self.proc.stdin.close()
        try:
            self.proc.wait(timeout=20)
        except subprocess.TimeoutExpired:
            self.proc.kill()
            self.proc.wait()


def outcome(answer: dict) -> Outcome:
    fault = answer.get("fault")
    return Outcome(bool(answer["ok"]), result=answer.get("result"),
                   fault=(fault.get("code"), fault.get("string"), fault.get("subcode")) if fault else None,
                   http_status=answer.get("status"), challenge=answer.get("www_authenticate") or None,
                   extra={k: v for k, v in answer.items() if k not in ("ok", "result", "fault")})


class ProcessStack:
    """A stack run as one LineProcess per service; `request(case, version)` is what it reads."""
    name: str
    versions: tuple

    def caller(self, version: str):
        def call(case: Case) -> Outcome:
            answer = self.process.ask(self.request(case, version))
            return self.checked(case, version, outcome(answer))
        return call

    def request(self, case: Case, version: str) -> dict:
        return {"version": version, "operation": case.operation, "args": case.args, "auth": case.auth}

    def checked(self, case: Case, version: str, result: Outcome) -> Outcome:
        return result

    def close(self) -> None:
        self.process.close()
        stderr = "".join(self.process.stderr).strip()
        assert stderr == "", f"{self.name} complained: {stderr[-3000:]}"


def tool(name: str, packages: str) -> str:
    import pytest
    path = shutil.which(name)
    if path is None:
        pytest.fail(f"{name} not found: install the Debian packages {packages} (.ci/run does)")
    return path


class PhpStack(ProcessStack):
    name, versions = "php", ("1.1", "1.2")

    def __init__(self, live, service) -> None:
        php = tool("php", "php-cli php-soap")
        self.process = LineProcess([php, str(CLIENTS / "php_stack.php"), service.wsdl_url(live)])

    def checked(self, case: Case, version: str, result: Outcome) -> Outcome:
        sent = result.extra.pop("envelope")
        assert ENVELOPES[version] in sent, f"not a SOAP {version} request: {sent}"
        return result


class PerlStack(ProcessStack):
    """SOAP::Lite: the call built from the WSDL's table (SOAP::Lite's service() cannot do
    document/literal); credentials only once the server challenges (LWP)."""
    name, versions = "perl", ("1.1", "1.2")

    def __init__(self, live, service, table: dict) -> None:
        perl = tool("perl", "libsoap-lite-perl")
        self.table = table
        self.process = LineProcess([perl, str(CLIENTS / "soap_lite.pl"), json.dumps(table)])

    def request(self, case: Case, version: str) -> dict:
        params = self.table["operations"][case.operation]["params"]
        return {**super().request(case, version), "args": ordered(case.args, params)}

    def checked(self, case: Case, version: str, result: Outcome) -> Outcome:
        # LWP sent no credentials until challenged: the first answer was a 401 with Basic.
        chain, asked = result.extra.get("chain", []), result.extra.get("asked", 0)
        if case.auth is not None:
            assert chain and chain[0][0] == 401 and chain[0][1].startswith("Basic realm="), (case.label, chain)
            # answered the challenge: the retry's answer follows, or (refused again) LWP asked twice
            assert asked >= 1 and (len(chain) >= 2 or asked >= 2), (
                f"{case.label}: SOAP::Lite did not answer the challenge: {chain}, asked {asked}")
        else:
            assert asked == 0 or not result.ok, (case.label, asked)
        return result


def node_soap() -> Path:
    """The npm `soap` package at NODE_SOAP, installed once into the test cache."""
    prefix = CACHE / "npm" / f"soap-{NODE_SOAP}"
    with cache_lock(CACHE / "npm" / f"soap-{NODE_SOAP}.lock"):
        if not (prefix / "node_modules" / "soap" / "package.json").is_file():
            npm = tool("npm", "nodejs npm")
            prefix.mkdir(parents=True, exist_ok=True)
            subprocess.run([npm, "install", "--no-audit", "--no-fund", "--prefix", str(prefix), f"soap@{NODE_SOAP}"],
                           check=True, capture_output=True, timeout=300)
    return prefix / "node_modules"


class NodeStack(ProcessStack):
    name, versions = "node-soap", ("1.1", "1.2")

    def __init__(self, live, service, table: dict) -> None:
        node = tool("node", "nodejs npm")
        self.table = table
        self.process = LineProcess([node, str(CLIENTS / "node_soap.js"), service.wsdl_url(live), service.wsdl_service,
                                    service.ports["1.1"], service.ports["1.2"]],
                                   env={**os.environ, "NODE_PATH": str(node_soap())})

    def request(self, case: Case, version: str) -> dict:
        # node-soap writes an object's keys in their order: the WSDL's.
        params = self.table["operations"][case.operation]["params"]
        pairs = ordered(case.args, params)
        args = {}
        for name, value in pairs:
            args.setdefault(name, []).append(value)
        repeated = {p[0] for p in params if p[2]}
        args = {k: v if k in repeated else v[0] for k, v in args.items()}
        return {**super().request(case, version), "args": args}

    def checked(self, case: Case, version: str, result: Outcome) -> Outcome:
        sent = result.extra.pop("envelope", None) or ""
        assert ENVELOPES[version] in sent, f"{case.label}: not a SOAP {version} request: {sent} {result}"
        return result


# -- gSOAP -----------------------------------------------------------------------------------

GSOAP_IMPORT = Path("/usr/share/gsoap/import")
GSOAP_TYPEMAP = Path("/usr/share/gsoap/WS/typemap.dat")
GSOAP_CLIENTS = CLIENTS / "gsoap"
PLACEHOLDER_ADDRESS = "http://127.0.0.1/callsuite-interop"


def _dispatch_header(service, table: dict) -> str:
    """dispatch.h: the two generated proxies and one branch per operation."""
    p = service.prefix
    lines = [f'#include "soap{service.ports["1.1"]}Proxy.h"', f'#include "soap{service.ports["1.2"]}Proxy.h"',
             f'#include "{service.ports["1.1"]}.nsmap"', "#include <istream>", "#include <ostream>", "#include <string>",
             f"typedef {service.ports['1.1']}Proxy Soap11Proxy;", f"typedef {service.ports['1.2']}Proxy Soap12Proxy;",
             "template <class Proxy>",
             "int dispatch(Proxy &proxy, const std::string &operation, std::istream &in, std::ostream &out) {",
             "    struct soap *soap = proxy.soap;"]
    for op in sorted(table["operations"]):
        lines += [f'    if (operation == "{op}") {{',
                  f"        _{p}__{op} request;", f"        _{p}__{op}Response response;",
                  "        soap->is = &in;", f"        int status = soap_read__{p}__{op}(soap, &request);",
                  "        soap->is = NULL;", f"        if (status == SOAP_OK) status = proxy.{op}(&request, response);",
                  "        if (status == SOAP_OK) {", "            soap->os = &out;",
                  f"            status = soap_write__{p}__{op}Response(soap, &response);", "            soap->os = NULL;",
                  "        }", "        return status;", "    }"]
    lines += ["    return -64;", "}", ""]
    return "\n".join(lines)


def gsoap_build(service, wsdl: bytes, table: dict) -> Path:
    """The gSOAP client of a service, built once per WSDL (and client source) into the test
    cache: wsdl2h and soapcpp2 without a warning, the translation units compiled in parallel."""
    import re

    import pytest
    wsdl2h, soapcpp2, gxx = tool("wsdl2h", "gsoap"), tool("soapcpp2", "gsoap"), tool("g++", "g++")
    if not (GSOAP_IMPORT / "soap12.h").is_file() or not Path("/usr/include/stdsoap2.h").is_file():
        pytest.fail("gSOAP headers not found: install the Debian package libgsoap-dev (.ci/run does)")
    # The address is the live server's: the build does not depend on it (given at run time).
    document = wsdl.replace(table["endpoint"].encode(), PLACEHOLDER_ADDRESS.encode())
    dispatch = _dispatch_header(service, table).encode()
    sources = [(GSOAP_CLIENTS / name).read_bytes() for name in ("stack.cpp", "driver.h")]
    version = subprocess.run([wsdl2h, "-V"], capture_output=True, text=True).stdout.strip()
    key = hashlib.sha256(b"\0".join([document, dispatch, *sources, version.encode(), service.prefix.encode()]))
    target = CACHE / "gsoap" / f"{service.name}-{key.hexdigest()[:16]}"
    binary = target / "gsoap_stack"
    with cache_lock(CACHE / "gsoap" / f"{service.name}.lock"):
        if binary.is_file():
            return binary
        work = Path(tempfile_dir(CACHE / "gsoap"))
        (work / f"{service.name}.wsdl").write_bytes(document)
        (work / "dispatch.h").write_bytes(dispatch)
        (work / "typemap.dat").write_text(GSOAP_TYPEMAP.read_text() + f'\n{service.prefix} = "{service.tns}"\n')
        generated = _run([wsdl2h, "-Nsvc", "-t", "typemap.dat", "-o", f"{service.name}.h", f"{service.name}.wsdl"], work)
        # wsdl2h reports what it cannot map as warnings but exits 0: a clean WSDL gives none.
        assert "Done reading" in generated, generated
        assert not re.search(r"(?i)warning|error|unknown|undefined|not found", generated), generated
        compiled = _run([soapcpp2, "-j", "-C", "-x", f"-I{GSOAP_IMPORT}", f"{service.name}.h"], work)
        assert "Compilation successful" in compiled and not re.search(r"(?i)warning|error", compiled), compiled
        units = [str(GSOAP_CLIENTS / "stack.cpp"), "soapC.cpp", *(f"soap{port}Proxy.cpp" for port in service.ports.values())]
        objects = [f"{Path(unit).stem}.o" for unit in units]
        procs = [subprocess.Popen([gxx, "-O0", "-w", "-c", "-I.", f"-I{GSOAP_CLIENTS}", "-o", obj, unit], cwd=work,
                                  stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)
                 for unit, obj in zip(units, objects, strict=True)]
        for proc in procs:
            out, _ = proc.communicate(timeout=600)
            assert proc.returncode == 0, f"g++ failed:\n{out}"
        _run([gxx, "-o", "gsoap_stack", *objects, "-lgsoap++"], work)
        if target.exists():  # a build interrupted before its binary was linked
            shutil.rmtree(target)
        os.replace(work, target)
        return binary


@contextlib.contextmanager
def cache_lock(path: Path):
    """An exclusive lock across processes (pytest-xdist workers) while one fills the cache."""
    path.parent.mkdir(parents=True, exist_ok=True)
    with open(path, "w") as handle:
        fcntl.flock(handle, fcntl.LOCK_EX)
        try:
            yield
        finally:
            fcntl.flock(handle, fcntl.LOCK_UN)


def tempfile_dir(parent: Path) -> str:
    import tempfile
    parent.mkdir(parents=True, exist_ok=True)
    return tempfile.mkdtemp(prefix="build-", dir=parent)


def _run(args: list, cwd: Path) -> str:
    proc = subprocess.run(args, cwd=cwd, capture_output=True, text=True, timeout=600)
    assert proc.returncode == 0, f"{args[0]} exited {proc.returncode}:\n{proc.stdout}\n{proc.stderr}"
    return proc.stdout + proc.stderr


XSI_NIL = "{http://www.w3.org/2001/XMLSchema-instance}nil"


def _plain(element):
    """An element gSOAP wrote back as plain values: text, or a dict of its children (a
    list where a name repeats), None when nil."""
    if element.get(XSI_NIL) in ("true", "1"):
        return None
    if len(element) == 0:
        return element.text or ""
    out = {}
    for child in element:
        name = etree.QName(child).localname
        value = _plain(child)
        if name in out:
            out[name] = (out[name] if isinstance(out[name], list) else [out[name]]) + [value]
        else:
            out[name] = value
    return out


class GsoapStack(ProcessStack):
    """gSOAP: wsdl2h + soapcpp2 proxies, strict; the request built by deserializing the
    wrapper element into the generated class, the answer read back from the generated class."""
    name, versions = "gsoap", ("1.1", "1.2")
    fault_statuses = {400, 500}

    def __init__(self, live, service, table: dict, wsdl: bytes) -> None:
        self.service, self.table = service, table
        binary = gsoap_build(service, wsdl, table)
        self.process = LineProcess([str(binary), table["endpoint"]])

    def caller(self, version: str):
        def call(case: Case) -> Outcome:
            answer = self.process.ask_lines([version, case.operation,
                                             "\t".join(case.auth) if case.auth else "-", self.request_xml(case)])
            result = outcome(answer)
            if result.ok:
                assert answer["soap_version"] == int(version[-1]), (case.label, answer)
                root = etree.fromstring(answer["xml"].encode())
                assert etree.QName(root) == etree.QName(self.table["tns"], f"{case.operation}Response"), answer["xml"]
                found = root.find(f"{{{self.table['tns']}}}{case.operation}Result")
                result.result = None if found is None else _plain(found)
            return result
        return call

    def request_xml(self, case: Case) -> str:
        tns = self.table["tns"]
        params = self.table["operations"][case.operation]["params"]
        wrapper = etree.Element(f"{{{tns}}}{case.operation}", nsmap={self.service.prefix: tns})
        for name, value in ordered(case.args, params):
            etree.SubElement(wrapper, f"{{{tns}}}{name}").text = (
                ("true" if value else "false") if isinstance(value, bool) else str(value))
        return etree.tostring(wrapper, encoding="unicode").replace("\n", "&#10;")
