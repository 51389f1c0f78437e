"""Ids beyond what an id column holds (32 bits on PostgreSQL) are no call, never a driver
overflow: found by schemathesis on PostgreSQL (connectcalls with call1=399006754880612544)."""
import requests


def token_of(live) -> str:
    r = requests.post(live.url("/webservices/services/token"), json={"username": "alice", "password": "demo-alice-pw"})
    return r.json()["Data"]["TokenKey"]


def test_a_call_id_beyond_32_bits_in_a_query_is_refused_as_input(live):
    r = requests.get(live.url("/webservices/services/telephony/connectcalls/user/7"),
                     params={"call1": str(2 ** 40), "call2": "1", "resultcode1": "S", "resultcode2": "S"},
                     cookies={"TokenKey": token_of(live)})
    assert r.status_code == 400, r.text
    assert "call1 is out of range" in r.text


def test_a_call_id_beyond_32_bits_in_a_path_is_no_such_call(live):
    r = requests.get(live.url(f"/webservices/services/telephony/hangup/user/7/call/{2 ** 40}"),
                     cookies={"TokenKey": token_of(live)})
    assert r.status_code < 500, r.text
    assert "ResponseCode" in r.text
