"""The agent remote-control API (seed 004) from tests: a token, then the seed's GET URLs
with `Cookie: TokenKey=...`, each answer parsed from XML (validated against
xsd/agent.xsd) or JSON into the same plain dict."""
from __future__ import annotations

import time
from dataclasses import dataclass
from functools import lru_cache
from typing import Any, Optional

import requests
import xmlschema
from lxml import etree

from storage.models import Call

from .soap import REPO, schema

BASE = "/webservices/services/telephony"
NS = "{urn:callsuite:agent:1}"
PASSWORDS = {"alice": "demo-alice-pw", "bob": "demo-bob-pw", "sam": "demo-sam-pw"}


@lru_cache(maxsize=1)
def _schema() -> xmlschema.XMLSchema:
    return xmlschema.XMLSchema(str(REPO / "xsd" / "agent.xsd"))


def canon(value: Any) -> Any:
    """XML and JSON side by side: empties (None, "", {}, []) are one thing, and an XML list
    (<ReadyUsers><Item>7</Item></ReadyUsers>) is the JSON array [7]."""
    if isinstance(value, dict):
        if set(value) == {"Item"}:
            return [canon(v) for v in value["Item"]] or None
        return {k: canon(v) for k, v in value.items()} or None
    if isinstance(value, list):
        return [canon(v) for v in value] or None
    return None if value == "" else value


@dataclass
class Answer:
    status: int
    body: dict  # Success, Data, ResponseCode, ResponseDetail, as sent (JSON) or decoded (XML)
    entities: list  # Data as a list of entity dicts, canonical (see canon)
    response: requests.Response

    @property
    def ok(self) -> bool:
        return self.status == 200 and self.body["Success"] is True and self.body["ResponseCode"] == 0

    @property
    def one(self) -> dict:
        assert len(self.entities) == 1, self.entities
        return self.entities[0]

    @property
    def code(self) -> int:
        return self.body["ResponseCode"]


def parse_xml(content: bytes) -> tuple[dict, list]:
    """A CallActionResponse; raises if it does not validate against xsd/agent.xsd."""
    validator = schema("agent.xsd")
    root = etree.fromstring(content)
    if not validator.validate(root):
        raise AssertionError(f"not valid against xsd/agent.xsd: {validator.error_log}\n{content[:2000]!r}")
    body = _schema().to_dict(content, strip_namespaces=True)
    entities = [canon(e) or {} for items in (body["Data"] or {}).values()
                for e in (items if isinstance(items, list) else [items])]
    return body, entities


def json_entities(data: Any) -> list:
    if data is None:
        return []
    return [canon(e) or {} for e in (data if isinstance(data, list) else [data])]


def token(live, username: str, password: Optional[str] = None, *, as_json: bool = True) -> str:
    password = PASSWORDS[username] if password is None else password
    url = live.url("/webservices/services/token")
    if as_json:
        r = requests.post(url, json={"username": username, "password": password}, timeout=10)
    else:
        r = requests.post(url, data={"username": username, "password": password}, timeout=10)
    assert r.status_code == 200, r.text
    return answer_of(r, as_json).one["TokenKey"]


def answer_of(r: requests.Response, as_json: bool) -> Answer:
    if as_json:
        assert r.headers["Content-Type"].startswith("application/json"), r.text
        body = r.json()
        assert list(body) == ["Success", "Data", "ResponseCode", "ResponseDetail"], body
        return Answer(r.status_code, body, json_entities(body["Data"]), r)
    assert r.headers["Content-Type"].startswith("application/xml"), r.text
    body, entities = parse_xml(r.content)
    return Answer(r.status_code, body, entities, r)


class AgentClient:
    """One agent's token; `get` calls a seed URL in XML (default) or JSON."""

    def __init__(self, live, username: str, user_id: int, token_key: Optional[str] = None) -> None:
        self.live = live
        self.user_id = user_id
        self.token = token_key if token_key is not None else token(live, username)

    def get(self, path: str, *, as_json: bool = False, token_key: Optional[str] = None, header: str = "Accept",
            **params) -> Answer:
        key = self.token if token_key is None else token_key
        headers = {"Cookie": f"TokenKey={key}"} if key else {}
        if as_json:
            headers[header] = "application/json"
        r = requests.get(self.live.url(BASE + path), params=params or None, headers=headers, timeout=30)
        return answer_of(r, as_json)

    def do(self, method: str, tail: str = "", *, as_json: bool = False, **params) -> Answer:
        """`method/user/{me}{tail}`."""
        return self.get(f"/{method}/user/{self.user_id}{tail}", as_json=as_json, **params)

    def call(self, method: str, call_id: int, **kw) -> Answer:
        return self.do(method, f"/call/{call_id}", **kw)


def wait_answered(live, call_id: int) -> None:
    """Wait (up to 10 s) until the ledger shows the call answered."""
    deadline = time.monotonic() + 10
    while time.monotonic() < deadline:
        with live.db.read_session() as session:
            if session.get(Call, call_id).state == "answered":
                return
        time.sleep(0.02)
    raise AssertionError(f"call {call_id} was not answered")
