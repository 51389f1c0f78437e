"""schemathesis against the live server, from the served /openapi.json: no 5xx, and every
answer's status, media type and (JSON) body as described. The demo credentials are given
per security scheme, so the authenticated operations are exercised too.

Reproduce by hand against `callsuite serve` (demo site):
    SCHEMATHESIS_HOOKS=st_hooks PYTHONPATH=tests/openapi .venv/bin/st --config-file schemathesis.toml \
        run http://127.0.0.1:8000/openapi.json --checks not_a_server_error,response_schema_conformance,\
        status_code_conformance,content_type_conformance --max-examples 8 --phases examples,fuzzing
(schemathesis.toml: [auth.openapi.listener] username/password, [auth.openapi.partner], [auth.openapi.cti]
bearer, [auth.openapi.agentToken] and [auth.openapi.console] api_key, as below.)
"""
import os
import re
import subprocess
import sys
from pathlib import Path

import pytest
from helpers.agent import token
from helpers.console import signed_in
from helpers.server import CTI_TOKEN, start_server

CHECKS = "not_a_server_error,response_schema_conformance,status_code_conformance,content_type_conformance"
EXAMPLES = 5  # per operation: about 550 requests, 20-40 s on an idle machine


@pytest.fixture(scope="module")
def live(tmp_path_factory):
    # Short simulated calls: generated ones must not keep the switch busy for minutes.
    server = start_server(tmp_path_factory.mktemp("callsuite-data"), agent_answer_after_s=0.2)
    yield server
    server.stop()


def test_schemathesis_finds_nothing(live, tmp_path):
    recorded = live.recorded_call()
    session, _ = signed_in(live, "bms", "demo-bms-pw")
    agent_token = token(live, "alice")
    config = tmp_path / "schemathesis.toml"
    config.write_text(f"""
[auth.openapi.listener]
username = "bms"
password = "demo-bms-pw"
[auth.openapi.partner]
username = "partner1"
password = "demo-partner-pw"
[auth.openapi.cti]
bearer = "{CTI_TOKEN}"
[auth.openapi.agentToken]
api_key = "{agent_token}"
[auth.openapi.console]
api_key = "{session.cookies.get('callsuite_console')}"
""")
    st = Path(sys.executable).with_name("st")
    command = [str(st), "--config-file", str(config), "--no-color", "run", live.url("/openapi.json"), "--checks", CHECKS,
               "--max-examples", str(EXAMPLES), "--seed", "15", "--workers", "2", "--phases", "examples,fuzzing",
               "--request-timeout", "20", "--max-redirects", "0", "--suppress-health-check", "all"]
    # The hooks module teaches schemathesis to send an audio/mpeg body (CTI's recording upload).
    env = {**os.environ, "SCHEMATHESIS_TELEMETRY": "false", "SCHEMATHESIS_HOOKS": "st_hooks",
           "PYTHONPATH": str(Path(__file__).parent)}
    result = subprocess.run(command, capture_output=True, text=True, timeout=300, env=env, cwd=tmp_path)
    print(result.stdout[-20000:])
    assert result.returncode == 0, result.stdout[-15000:] + result.stderr[-3000:]
    summary = re.search(r"(\d+) generated, (\d+) passed", result.stdout)
    assert summary and int(summary.group(1)) == int(summary.group(2)) > 300, result.stdout[-3000:]
    # The operations behind a header credential were reached with the demo credentials, not only
    # refused: none is in the warning's list (operations named in its other warnings don't count).
    refused_only = re.search(r"Authentication failed:.*?💡", result.stdout, re.S)
    refused_only = refused_only.group(0) if refused_only else ""
    for reached in ("/rest/recording/", "/rest/agent/", "/cti/v1/", "/bluebutler/", "/webservices/services/telephony/"):
        assert reached not in refused_only, refused_only
    assert recorded.reference
