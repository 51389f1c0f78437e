"""Speaking the events protocols from Python: a SignalR long-polling client as the jQuery
client sends its requests, and an event-stream parser."""
from __future__ import annotations

import json

import requests

HUBS = json.dumps([{"name": "notifyme"}])


class Connection:
    """What the jQuery client sends, long polling (the requests it makes, in order)."""

    def __init__(self, events_url: str, protocol: str = "1.5", origin: str | None = None) -> None:
        self.base = events_url + "/signalr"
        self.protocol = protocol
        self.headers = {"Origin": origin} if origin else {}
        r = requests.get(self.base + "/negotiate", params=self._params(), headers=self.headers, timeout=10)
        assert r.status_code == 200, r.text
        self.negotiated = r.json()
        self.token = self.negotiated["ConnectionToken"]
        self.message_id = None

    def _params(self, **extra) -> dict:
        return {"clientProtocol": self.protocol, "connectionData": HUBS, **extra}

    def params(self, **extra) -> dict:
        return self._params(transport="longPolling", connectionToken=self.token, **extra)

    def connect(self) -> dict:
        r = requests.post(self.base + "/connect", params=self.params(), headers=self.headers, timeout=10)
        assert r.status_code == 200, r.text
        self.message_id = r.json()["C"]
        return r.json()

    def start(self) -> dict:
        return requests.get(self.base + "/start", params=self.params(), headers=self.headers, timeout=10).json()

    def invoke(self, method: str, *args, call_id: int = 0) -> requests.Response:
        return requests.post(self.base + "/send", params=self.params(), headers=self.headers, timeout=10,
                             data={"data": json.dumps({"H": "notifyme", "M": method, "A": list(args), "I": call_id})})

    def poll(self, message_id: str | None = None) -> dict:
        r = requests.post(self.base + "/poll", params=self.params(), headers=self.headers, timeout=30,
                          data={"messageId": message_id or self.message_id})
        assert r.status_code == 200, r.text
        self.message_id = r.json()["C"]
        return r.json()


def statuses(persistent_response: dict) -> list:
    return [tuple(m["A"]) if m["M"] == "updateStatus" else m["M"] for m in persistent_response["M"]]


def events_of(response: requests.Response):
    """Parse an event stream as it arrives: dicts with id / event / data (JSON)."""
    event: dict = {}
    for line in response.iter_lines(decode_unicode=True):
        if line == "":
            if "data" in event:
                event["data"] = json.loads(event["data"])
                yield event
            event = {}
        elif not line.startswith(":"):
            field, _, value = line.partition(":")
            event[field] = value[1:] if value.startswith(" ") else value
