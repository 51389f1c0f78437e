"""Clients generated from a served WSDL by the two compiled stacks, JAX-WS (wsimport + javac)
and Mono (`wsdl` + `mcs`, the classic .NET ASMX proxy), built once per WSDL and cached.

The build reads the WSDL the live server serves at ?wsdl (its address replaced by a fixed
one, so that the same contract gives the same build on every run), generates the typed
client, and compiles it with the stack's driver (jaxws/Driver.java, mono/Driver.cs). The
cache key is the SHA-256 of that WSDL, the driver's source and the tool versions: a
changed contract or driver rebuilds, anything else reuses
~/.cache/callsuite-tests/<stack>/<service>-<key> (CALLSUITE_TEST_CACHE moves it). A build
is made in a private directory and renamed into place, so parallel runs never see half
of one. The driver then runs every case of a service in one process (see the drivers).
"""
from __future__ import annotations

import functools
import hashlib
import json
import os
import re
import shutil
import subprocess
import uuid
from dataclasses import dataclass
from pathlib import Path

import pytest
import requests

HERE = Path(__file__).parent
CACHE = Path(os.environ.get("CALLSUITE_TEST_CACHE", Path.home() / ".cache" / "callsuite-tests"))
FIXED_BASE = "http://callsuite.invalid"  # the address a cached build was generated with
JAXWS_RUNTIME = Path("/usr/share/java/jaxws-rt.jar")  # Debian jaxws: its manifest names the rest
JAVA_DRIVER = HERE / "jaxws" / "Driver.java"
MONO_DRIVER = HERE / "mono" / "Driver.cs"
MONO_CONFIG = HERE / "mono" / "driver.exe.config"  # works around a Mono serializer bug (see it)
# The proxy's GetWebResponse, so the driver sees each request's and answer's Content-Type.
MONO_HOOK = """namespace {namespace} {{
    public partial class {proxy} {{
        protected override System.Net.WebResponse GetWebResponse(System.Net.WebRequest request) {{
            return Driver.Seen(request, base.GetWebResponse);
        }}
    }}
}}
"""


@dataclass(frozen=True)
class Target:
    """One served WSDL."""
    name: str          # recording, calldata, ...
    path: str          # its SOAP address on the server
    service: str       # <wsdl:service name=...>
    ports: dict        # SOAP version -> <wsdl:port name=...>

    @property
    def package(self) -> str:
        return f"callsuite.{self.name}"

    @property
    def namespace(self) -> str:
        return f"Callsuite.{self.name.capitalize()}"


def tool(name: str, package: str) -> str:
    path = shutil.which(name)
    if path is None:
        pytest.fail(f"{name} not found: install the Debian package {package} (.ci/run installs "
                    "default-jdk-headless jaxws mono-devel)")
    return path


def run(args, cwd, timeout=300) -> str:
    proc = subprocess.run([str(a) for a in args], cwd=cwd, capture_output=True, text=True, timeout=timeout)
    assert proc.returncode == 0, f"{args[0]} exited {proc.returncode}:\n{proc.stdout}\n{proc.stderr}"
    return proc.stdout + proc.stderr


def served_wsdl(live, target: Target) -> str:
    r = requests.get(live.url(target.path + "?wsdl"), timeout=10)
    assert r.status_code == 200, r.text[:300]
    text = r.text
    assert live.base_url in text, "the served WSDL does not carry the server's own address"
    return text.replace(live.base_url, FIXED_BASE)


@functools.lru_cache(maxsize=None)
def _version(*args) -> str:
    proc = subprocess.run(args, capture_output=True, text=True, timeout=60)
    return (proc.stdout + proc.stderr).strip().splitlines()[0] if (proc.stdout + proc.stderr).strip() else ""


def _cached(stack: str, target: Target, wsdl: str, inputs: list, build) -> Path:
    digest = hashlib.sha256(wsdl.encode())
    for item in inputs:
        digest.update(b"\0" + (item.read_bytes() if isinstance(item, Path) else item.encode()))
    final = CACHE / stack / f"{target.name}-{digest.hexdigest()[:16]}"
    if (final / "BUILT").is_file():
        return final
    work = final.with_name(f"{final.name}.tmp-{os.getpid()}-{uuid.uuid4().hex[:8]}")
    work.mkdir(parents=True)
    try:
        (work / "service.wsdl").write_text(wsdl, encoding="utf-8")
        build(work)
        (work / "BUILT").write_text("")
        try:
            work.rename(final)
        except OSError:  # another run built it first
            pass
    finally:
        shutil.rmtree(work, ignore_errors=True)
    assert (final / "BUILT").is_file(), f"no build in {final}"
    return final


def jaxws_build(live, target: Target) -> Path:
    """wsimport (with -extension: JAX-WS calls a SOAP 1.2 binding non-standard) and javac."""
    wsimport, javac = tool("wsimport", "jaxws"), tool("javac", "default-jdk-headless")
    if not JAXWS_RUNTIME.is_file():
        pytest.fail(f"{JAXWS_RUNTIME} missing: install the Debian package jaxws (.ci/run does)")

    def build(work: Path) -> None:
        (work / "src").mkdir()
        generated = run([wsimport, "-extension", "-keep", "-Xnocompile", "-d", "src", "-p", target.package,
                         "service.wsdl"], work)
        # The only warning wsimport may give: that the SOAP 1.2 port needs -extension.
        warnings = [w for w in re.findall(r"\[(?:WARNING|ERROR)\][^\n]*", generated)
                    if "non-standard SOAP 1.2 binding" not in w]
        assert not warnings, generated
        sources = sorted(str(p.relative_to(work)) for p in (work / "src").rglob("*.java"))
        run([javac, "-nowarn", "-encoding", "UTF-8", "-cp", JAXWS_RUNTIME, "-d", "classes", *sources, JAVA_DRIVER],
            work)

    return _cached("jaxws", target, served_wsdl(live, target),
                   [JAVA_DRIVER, _version(javac, "-version"), _version(wsimport, "-version")], build)


def mono_build(live, target: Target) -> Path:
    """Mono's wsdl (the ASMX proxy) and mcs, with the driver and its hook."""
    wsdl, mcs = tool("wsdl", "mono-devel"), tool("mcs", "mono-devel")

    def build(work: Path) -> None:
        generated = run([wsdl, "-nologo", f"-namespace:{target.namespace}", "-out:proxy.cs", "service.wsdl"], work)
        assert generated.strip().splitlines() == ["Writing file 'proxy.cs'"], generated
        proxy = re.search(r"public partial class (\w+) : System\.Web\.Services\.Protocols\.SoapHttpClientProtocol",
                          (work / "proxy.cs").read_text())
        assert proxy, "no SoapHttpClientProtocol proxy generated"
        (work / "proxy-class").write_text(f"{target.namespace}.{proxy.group(1)}")
        (work / "Hook.cs").write_text(MONO_HOOK.format(namespace=target.namespace, proxy=proxy.group(1)))
        run([mcs, "-nologo", "-out:driver.exe", "-r:System.Web.Services", "-r:System.Web.Extensions",
             "-r:System.Xml", "proxy.cs", "Hook.cs", MONO_DRIVER], work)
        shutil.copyfile(MONO_CONFIG, work / "driver.exe.config")

    return _cached("mono", target, served_wsdl(live, target),
                   [MONO_DRIVER, MONO_CONFIG, MONO_HOOK, _version(mcs, "--version")], build)


def run_cases(command: list, cases: list[dict], timeout: int = 180) -> dict:
    """Feeds the cases to a driver; returns its answer line per case id."""
    proc = subprocess.run([str(c) for c in command], input="".join(json.dumps(c) + "\n" for c in cases),
                          capture_output=True, text=True, timeout=timeout)
    assert proc.returncode == 0, f"driver exited {proc.returncode}:\n{proc.stdout}\n{proc.stderr[-4000:]}"
    outputs = {}
    for line in proc.stdout.splitlines():
        out = json.loads(line)
        outputs[out["id"]] = out
    assert sorted(outputs) == sorted(c["id"] for c in cases), proc.stderr[-4000:]
    return outputs


def run_jaxws(build: Path, live, target: Target, cases: list[dict]) -> dict:
    java = tool("java", "default-jdk-headless")
    return run_cases([java, "-cp", f"{build / 'classes'}:{JAXWS_RUNTIME}", "Driver",
                      live.url(target.path + "?wsdl"), f"{target.package}.{target.service}"], cases)


def run_mono(build: Path, live, target: Target, cases: list[dict]) -> dict:
    mono = tool("mono", "mono-devel")
    return run_cases([mono, build / "driver.exe", (build / "proxy-class").read_text(), live.url(target.path)], cases)
