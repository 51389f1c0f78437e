"""Wrong agent API tokens count as failed sign-ins of their address, like every other
credential: after the limit that address waits (429 with Retry-After) on the seed URLs and
the GET binding alike, while a valid token keeps working."""
import requests
from helpers.agent import token
from helpers.server import start_server

BASE = "/webservices/services/telephony"


def test_guessing_tokens_is_rate_limited(tmp_path):
    live = start_server(tmp_path / "data", signin_max_address_failures=3)
    try:
        good = token(live, "alice")  # before the guessing: signing in counts on its own surface
        seed = live.url(f"{BASE}/getcalls/user/7")
        rest = live.url("/rest/agent/GetCalls")
        answers = [requests.get(seed, headers={"Cookie": f"TokenKey=guess-{n}"}, timeout=10).status_code
                   for n in range(3)]
        assert answers == [401, 401, 401]
        refused = requests.get(seed, headers={"Cookie": "TokenKey=guess-4", "Accept": "application/json"}, timeout=10)
        assert refused.status_code == 429 and int(refused.headers["Retry-After"]) > 0
        assert refused.json()["ResponseCode"] == 13
        over = requests.get(rest, params={"UserID": 7}, headers={"Cookie": "TokenKey=guess-5"}, timeout=10)
        assert over.status_code == 429 and "Retry-After" in over.headers, over.text
        ok = requests.get(seed, headers={"Cookie": f"TokenKey={good}", "Accept": "application/json"}, timeout=10)
        assert ok.status_code == 200 and ok.json()["Success"] is True
    finally:
        live.stop()
