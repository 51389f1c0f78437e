"""Callbutton (seed 002): the authored schema (services/calldata/validation.py) against the seed's documents.

Pure unit tests: no server, no database.
"""
from __future__ import annotations

import threading
from pathlib import Path

import pytest
from helpers.callbutton import SEED_FAILURE, SEED_REQUEST, SEED_SUCCESS
from lxml import etree

from services.calldata import validation
from services.calldata.error_document import error_document

REPO = Path(__file__).resolve().parents[2]
XSD = REPO / "xsd" / "callbutton.xsd"
pytestmark = pytest.mark.usefixtures("no_network")


# ---------------------------------------------------------------- the seed's documents vs the XSD


def test_seed_response_documents_validate(schema):
    schema.validate(SEED_SUCCESS)
    schema.validate(SEED_FAILURE)
    lxml_schema = etree.XMLSchema(etree.parse(str(XSD)))  # plain XSD 1.0: libxml2 reads it too
    for doc in (SEED_REQUEST, SEED_SUCCESS, SEED_FAILURE, error_document("u", "ip", "ERROR", "x")):
        assert lxml_schema.validate(etree.fromstring(doc)), lxml_schema.error_log


@pytest.mark.parametrize("mutation", [
    (b'status="OK"', b'status="FINE"'),
    (b"<ANI>3125550100</ANI>", b"<ANI>(312) 555-0100</ANI>"),
    (b"<ANI>3125550100</ANI>", b""),
    (b"<Result>No Answer</Result>", b"<Result>Failed</Result>"),
    (b"<StartTime>01/05/2026 14:03:59</StartTime>", b"<StartTime>2026-01-05T14:03:59</StartTime>"),
    (b"<StartTime>01/05/2026 14:03:59</StartTime>", b"<StartTime>01/05/2026 2:03:59 PM</StartTime>"),
    (b"<InfoDigits>p</InfoDigits>", b"<InfoDigits>payphone</InfoDigits>"),
    (b"<ReviewedStatus>Unreviewed</ReviewedStatus>\n            <DTMF>12</DTMF>",
     b"<DTMF>12</DTMF>\n            <ReviewedStatus>Unreviewed</ReviewedStatus>"),
    (b"GetCallDetailsResponse", b"GetCallDetailResponse"),
])
def test_schema_rejects_off_contract_responses(schema, mutation):
    old, new = mutation
    assert old in SEED_SUCCESS
    assert not schema.is_valid(SEED_SUCCESS.replace(old, new))


def test_schema_rejects_misspelt_failure(schema):
    assert not schema.is_valid(SEED_FAILURE.replace(b"GetCallDetailResponse", b"GetCallDetailsResponse"))
    assert not schema.is_valid(SEED_FAILURE.replace(b"UNAUTHORIZED", b"DENIED"))


# ---------------------------------------------------------------- schema cache


def test_schema_is_loaded_once_and_thread_safe():
    validation._schemas.clear()
    results = []

    def load():
        results.append(validation.get_schema())

    threads = [threading.Thread(target=load) for _ in range(8)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert len({id(s) for s in results}) == 1
    assert validation.get_schema(XSD) is results[0]
    assert Path(validation.SCHEMA_PATH).resolve() == XSD.resolve()
