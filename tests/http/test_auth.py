"""Reading credentials from a request (services/http/auth.py), in-process."""
import base64

from services.http.auth import basic_credentials, bearer_token, challenge


def basic(raw: bytes) -> dict:
    return {"HTTP_AUTHORIZATION": "Basic " + base64.b64encode(raw).decode()}


def test_basic_credentials():
    assert basic_credentials(basic(b"alice:pa:ss")) == ("alice", "pa:ss")  # a password may hold ':'
    assert basic_credentials(basic("jörg:pw".encode())) == ("jörg", "pw")
    assert basic_credentials(basic("jörg:pw".encode("latin-1"))) == ("jörg", "pw")
    assert basic_credentials({"HTTP_AUTHORIZATION": "basic " + base64.b64encode(b"a:b").decode()}) == ("a", "b")
    for environ in ({}, basic(b"no-colon"), {"HTTP_AUTHORIZATION": "Basic %%%"},
                    {"HTTP_AUTHORIZATION": "Bearer abc"}, {"HTTP_AUTHORIZATION": "Basic"},
                    {"HTTP_AUTHORIZATION": "Basic " + "A" * 10_000}):
        assert basic_credentials(environ) is None


def test_bearer_tokens():
    assert bearer_token({"HTTP_AUTHORIZATION": "Bearer  tok-1 "}) == "tok-1"
    assert bearer_token({"HTTP_AUTHORIZATION": "Basic tok-1"}) is None
    assert bearer_token({"HTTP_AUTHORIZATION": "Bearer " + "x" * 5000}) is None


def test_challenge():
    assert challenge("blueButler") == [("WWW-Authenticate", 'Basic realm="blueButler", charset="UTF-8"')]
