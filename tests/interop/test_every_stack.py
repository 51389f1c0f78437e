"""Every SOAP stack calls every operation of every served service: the tables of
tests/interop/cases.py (success and fault cases, HTTP Basic where the operation needs it,
the answers and what is stored asserted), through zeep, suds, PHP SoapClient, Perl
SOAP::Lite, node-soap and gSOAP, on SOAP 1.1 and, where the client speaks it, SOAP 1.2.

One server for the module; one client process per stack and service running all cases of
both versions. `pytest -s` prints the count of cases x clients.
"""
from __future__ import annotations

import collections
import copy
import json
from datetime import datetime, timedelta, timezone
from pathlib import PurePath

import pytest
import requests
from helpers.server import DEMO_SITE, cheapen_passwords, start_server
from sqlalchemy import select

from storage.models import Recording

from . import cases as tables
from .cases import ALL_SERVICES, OPEN_ALL_DAY, Env, run_table
from .stacks import GsoapStack, NodeStack, PerlStack, PhpStack, SudsStack, ZeepStack, call_table

STACKS = {"zeep": ZeepStack, "suds": SudsStack, "php": PhpStack, "perl": PerlStack, "node-soap": NodeStack,
          "gsoap": GsoapStack}
COUNTS: collections.Counter = collections.Counter()


@pytest.fixture(scope="module")
def live(tmp_path_factory):
    site = json.loads(DEMO_SITE.read_text())
    queues = copy.deepcopy(site["queues"])
    # The callback requests the cases store stay open: no agent staffs the queue and no
    # EWT is short enough for an ASAP one (the engine would ring the agent the agent table
    # drives).
    queues[0].update(opening_hours=OPEN_ALL_DAY, holidays=[], slot_capacity=1000, agents=[])
    site["queues"] = queues
    # Every Basic operation needs credentials (no allowed-network exemption for Recall); the
    # cases send many wrong passwords: no sign-in throttling, cheap hashes.
    server = start_server(tmp_path_factory.mktemp("every-stack"), site=site, recall_allowed_networks=[],
                          agent_answer_after_s=0.0, callback_asap_ewt_minutes=-1, signin_max_failures=100_000,
                          signin_max_address_failures=100_000)
    cheapen_passwords(server, site)
    yield server
    server.stop()
    if COUNTS:
        total = sum(COUNTS.values())
        print(f"\ninterop cases x clients (x SOAP versions): {total} {dict(sorted(COUNTS.items()))}")


@pytest.fixture(scope="module")
def prepared(live, calldata):
    started = (datetime.now(timezone.utc) - timedelta(minutes=3)).replace(microsecond=0)
    recorded = live.recorded_call("201", started=started, talk_s=1.0)
    with live.db.read_session() as session:
        path = session.scalar(select(Recording.file_path).where(Recording.reference == recorded.reference))
    return {"reference": recorded.reference, "file_name": PurePath(path).name, "local_start": started.strftime("%Y-%m-%d %H:%M:%S"),
            "calldata": calldata}


@pytest.fixture(scope="module")
def served(live):
    """Each service's WSDL as served, and its call table."""
    documents = {name: requests.get(service.wsdl_url(live), timeout=10).content for name, service in ALL_SERVICES.items()}
    return {name: (document, call_table(document)) for name, document in documents.items()}


def make_stack(stack: str, live, service, wsdl: bytes, table: dict):
    cls = STACKS[stack]
    if cls is GsoapStack:
        return cls(live, service, table, wsdl)
    if cls in (PerlStack, NodeStack):
        return cls(live, service, table)
    return cls(live, service)


@pytest.mark.parametrize("service_name", list(ALL_SERVICES))
@pytest.mark.parametrize("stack", list(STACKS))
def test_every_operation(stack, service_name, live, prepared, served):
    service = ALL_SERVICES[service_name]
    wsdl, table = served[service_name]
    client = make_stack(stack, live, service, wsdl, table)
    try:
        kinds = collections.defaultdict(set)
        for version in client.versions:
            call = client.caller(version)

            def recorded(case, call=call):
                refused = isinstance(case.expect, (tables.Fault, tables.Challenge)) or "refused" in case.name
                kinds[case.operation].add("refused" if refused else "answered")
                return call(case)

            COUNTS[f"{stack}/{service_name}/{version}"] += run_table(service_name, Env(live, stack, version, prepared),
                                                                     recorded, getattr(client, "fault_statuses", None))
    finally:
        client.close()
    # The table walks every operation the WSDL declares, each answered and refused.
    assert set(kinds) == set(table["operations"]), sorted(kinds)
    assert all(seen == {"answered", "refused"} for seen in kinds.values()), dict(kinds)

