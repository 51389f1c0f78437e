"""The operating interface as an operator uses it: the `callsuite` command in a shell."""
import re
import signal
import socket
import subprocess
import sys
import time

import requests
from helpers.server import DEMO_SITE, REPO


def callsuite(*args, **kwargs):
    return subprocess.run([sys.executable, "-m", "services.cli", *map(str, args)], cwd=REPO,
                          capture_output=True, text=True, timeout=120, **kwargs)


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def test_provision_is_idempotent(tmp_path):
    first = callsuite("provision", "--data-dir", tmp_path, DEMO_SITE)
    assert first.returncode == 0, first.stderr
    assert "created   company 1" in first.stdout
    assert "created   partner partner1" in first.stdout
    second = callsuite("provision", "--data-dir", tmp_path, DEMO_SITE)
    assert second.returncode == 0, second.stderr
    assert second.stdout.strip().splitlines()[-1].startswith("0 created, 0 changed,")
    assert "created" not in "\n".join(second.stdout.splitlines()[:-1])


def test_provision_reports_a_change_and_reads_yaml(tmp_path):
    callsuite("provision", "--data-dir", tmp_path, DEMO_SITE)
    site = tmp_path / "site.yaml"
    site.write_text("users:\n  - {id: 7, username: alice, full_name: Alice A. Agent, password: demo-alice-pw,"
                    " extension: '201', company: 1}\n")
    result = callsuite("provision", "--data-dir", tmp_path, site)
    assert result.returncode == 0, result.stderr
    assert "changed   user 7" in result.stdout


def test_provision_refuses_a_bad_file_and_keeps_data(tmp_path):
    callsuite("provision", "--data-dir", tmp_path, DEMO_SITE)
    bad = tmp_path / "bad.json"
    bad.write_text('{"companies": [{"id": 2}], "users": [{"id": 99, "username": "x", "password": "p"}]}')
    result = callsuite("provision", "--data-dir", tmp_path, bad)
    assert result.returncode == 2
    assert "companies[0] lacks 'name'" in result.stderr
    assert "Traceback" not in result.stderr
    again = callsuite("provision", "--data-dir", tmp_path, DEMO_SITE)
    assert again.stdout.strip().splitlines()[-1].startswith("0 created, 0 changed,")


def test_serve_starts_and_stops_cleanly(tmp_path):
    port = free_port()
    config = tmp_path / "callsuite.toml"
    config.write_text('[callsuite]\nhost = "127.0.0.1"\ncti_token = "a-long-enough-cti-token"\nevents_port = 0\n')
    process = subprocess.Popen([sys.executable, "-m", "services.cli", "serve", "--data-dir", str(tmp_path / "data"),
                                "--config", str(config), "--port", str(port)], cwd=REPO,
                               stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)
    keep_alive = requests.Session()  # an idle keep-alive connection must not hold the server up
    try:
        deadline = time.monotonic() + 30
        while True:
            try:
                response = keep_alive.get(f"http://127.0.0.1:{port}/health", timeout=1)
                break
            except requests.ConnectionError:
                assert process.poll() is None, process.stdout.read()
                assert time.monotonic() < deadline, "server did not start"
                time.sleep(0.1)
        assert response.status_code == 200
        assert response.json()["status"] == "ok"
        assert (tmp_path / "data" / "callsuite.db").exists()
    finally:
        process.send_signal(signal.SIGTERM)
        output, _ = process.communicate(timeout=10)
        keep_alive.close()
    assert process.returncode == 0, output
    assert "Callsuite listening on http://127.0.0.1:" in output


def test_bad_config_is_a_clear_error(tmp_path):
    config = tmp_path / "bad.toml"
    config.write_text('[callsuite]\nport = "eighty"\n')
    result = callsuite("serve", "--config", config, "--data-dir", tmp_path)
    assert result.returncode == 2
    assert "option 'port'" in result.stderr


def test_provision_refuses_a_bad_allowed_ip(tmp_path):
    site = tmp_path / "site.json"
    site.write_text('{"partners": [{"username": "p2", "password": "pw", "allowed_ips": ["10.0.0.0/8", "not-an-ip"]}]}')
    result = callsuite("provision", "--data-dir", tmp_path, site)
    assert result.returncode == 2
    assert "'not-an-ip' is not an IP address or network" in result.stderr


def test_check_reports_what_serve_would_meet(tmp_path):
    fresh = callsuite("check", "--data-dir", tmp_path / "data")
    assert fresh.returncode == 0, fresh.stdout + fresh.stderr
    assert re.search(r"warning: \d+ migration\(s\) to apply at start: 0001, ", fresh.stdout + ", "), fresh.stdout
    assert callsuite("migrate", "--data-dir", tmp_path / "data").returncode == 0
    ready = callsuite("check", "--data-dir", tmp_path / "data")
    assert ready.returncode == 0 and "ok: database reachable, schema up to date" in ready.stdout
    assert "warning: cti_token is not set" in ready.stdout
    secret = "pw-" + "s" * 12
    unreachable = callsuite("check", "--data-dir", tmp_path / "data", "--database-url",
                            f"postgresql+psycopg://callsuite:{secret}@127.0.0.1:{free_port()}/none")
    assert unreachable.returncode == 1
    assert "error: database unreachable" in unreachable.stdout and secret not in unreachable.stdout
    (tmp_path / "bad.toml").write_text('no_such_option = 1\n')
    invalid = callsuite("check", "--config", tmp_path / "bad.toml")
    assert invalid.returncode == 2 and "unknown option 'no_such_option'" in invalid.stderr
