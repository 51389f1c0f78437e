"""Callbutton (seed 002): the seed's failure document (services/calldata/error_document.py).

Pure unit tests: no server, no database.
"""
from __future__ import annotations

import pytest
from lxml import etree

from services.calldata.error_document import error_document
from services.calldata.refusal import ReportRequestError
from services.calldata.request import parse_request

pytestmark = pytest.mark.usefixtures("no_network")


# ---------------------------------------------------------------- the failure document


@pytest.mark.parametrize("status", ["UNAUTHORIZED", "ERROR"])
def test_error_document(schema, status):
    raw = error_document("partner1", "198.51.100.9", status, "Date range not valid: <&> \"x\"")
    schema.validate(raw)
    assert raw.startswith(b'<?xml version="1.0" encoding="UTF-8"?>\n')
    root = etree.fromstring(raw)
    assert [c.tag for c in root] == ["Username", "Authentication", "CallbuttonService"]
    (failure,) = root.find("CallbuttonService")
    assert failure.tag == "GetCallDetailResponse"  # no "s", as the seed spells it
    assert failure.get("status") == status and failure.text == "Date range not valid: <&> \"x\""
    assert root.find(".//GetCallDetailsResponse") is None


def test_error_document_for_unknown_user(schema):
    schema.validate(error_document("", "::1", "UNAUTHORIZED", "Authentication failed"))


def test_error_document_refuses_other_status():
    with pytest.raises(ValueError):
        error_document("u", "ip", "OK", "x")


def test_request_error_round_trips_into_error_document(schema):
    with pytest.raises(ReportRequestError) as info:
        parse_request(b"<Callbutton")
    schema.validate(error_document("u", "127.0.0.1", "ERROR", info.value.message))
