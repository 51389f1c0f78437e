"""The agent API's token as the SOAP plumbing reads it (services/soap/access.py), in process:
the TokenKey element when the request has one, else the seed URLs' `Cookie: TokenKey=`."""
import pytest

from services.soap.access import token_key


@pytest.mark.parametrize("environ, element, expected", [
    ({"HTTP_COOKIE": "TokenKey=from-cookie"}, "from-element", "from-element"),
    ({"HTTP_COOKIE": "a=1; TokenKey=from-cookie; b=2"}, None, "from-cookie"),
    ({"HTTP_COOKIE": "TokenKey=from-cookie"}, "", "from-cookie"),  # an empty element is no token
    ({"HTTP_COOKIE": "tokenkey=wrong-case"}, None, None),
    ({"HTTP_COOKIE": "TokenKey="}, None, None),
    ({"HTTP_COOKIE": "garbage;;=="}, None, None),
    ({}, None, None),
])
def test_the_element_then_the_cookie(environ, element, expected):
    assert token_key(environ, element) == expected
