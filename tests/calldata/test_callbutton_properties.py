"""Properties of the Callbutton parsers (seed 002), run as pure functions: Central Time
dates (MM/DD/YYYY HH:MM:SS, America/Chicago) and the GetCallDetailsRequest document."""
from __future__ import annotations

from datetime import datetime, timedelta, timezone
from xml.sax.saxutils import escape, quoteattr

from hypothesis import HealthCheck, event, given, settings
from hypothesis import strategies as st
from lxml import etree

from services.calldata import error_document, request, validation
from services.calldata.central_time import CENTRAL, DATE_FORMAT, from_central, to_central
from services.calldata.refusal import ReportRequestError

FAST = settings(max_examples=100, deadline=None, suppress_health_check=[HealthCheck.too_slow])
instants = st.datetimes(min_value=datetime(1971, 1, 1), max_value=datetime(2099, 12, 31),
                        timezones=st.just(timezone.utc))
wall_times = st.datetimes(min_value=datetime(1971, 1, 1), max_value=datetime(2099, 12, 31)).map(
    lambda moment: moment.replace(microsecond=0))


@FAST
@given(instants)
def test_a_rendered_instant_reads_back_as_itself_or_its_first_occurrence(moment):
    moment = moment.replace(microsecond=0)
    text = to_central(moment)
    back = from_central(datetime.strptime(text, DATE_FORMAT), "StartDate", text)
    if moment.astimezone(CENTRAL).fold == 0:
        assert back == moment
    else:  # the repeated fall-back hour: the seed's format has no offset, the first one is meant
        assert back == moment - timedelta(hours=1)
    assert to_central(back) == text


@FAST
@given(wall_times)
def test_a_wall_time_is_read_or_refused_as_never_having_happened(naive):
    text = naive.strftime(DATE_FORMAT)
    try:
        utc = from_central(naive, "StartDate", text)
    except ReportRequestError as exc:
        assert "does not exist in US Central Time" in exc.message
        # Only in the spring-forward gap: an hour later is a real time.
        assert from_central(naive + timedelta(hours=1)) is not None
        return
    assert utc.tzinfo is not None and to_central(utc) == text


# ---------------------------------------------------------------- the request document

codes = st.text(alphabet="0123456789ABCDEFGHIJKLMNOPQRSTUVWXYZ-_.", min_size=1, max_size=30)
clients = st.lists(st.tuples(codes, st.sampled_from([None, True, False])), min_size=1, max_size=6)
dates = st.one_of(st.none(), wall_times)


def document(requested, start, end, *, spaces: str = "") -> bytes:
    lines = []
    for code, status in requested:
        attribute = "" if status is None else f" status={quoteattr('true' if status else 'false')}"
        lines.append(f"<ClientCode{attribute}>{spaces}{escape(code)}{spaces}</ClientCode>")
    for name, value in (("StartDate", start), ("EndDate", end)):
        if value is not None:
            lines.append(f"<{name}>{spaces}{value.strftime(DATE_FORMAT)}{spaces}</{name}>")
    return ('<?xml version="1.0"?><Callbutton version="B"><CallbuttonService><GetCallDetailsRequest>'
            + "".join(lines) + "</GetCallDetailsRequest ></CallbuttonService></Callbutton>").encode()


def central(naive):
    try:
        return from_central(naive)
    except ReportRequestError:
        return "gap"


@FAST
@given(clients, dates, dates, st.sampled_from(["", " ", "\n  "]))
def test_a_generated_request_parses_to_what_was_generated(requested, start, end, spaces):
    start_utc, end_utc = (central(start) if start else None), (central(end) if end else None)
    body = document(requested, start, end, spaces=spaces)
    if "gap" in (start_utc, end_utc) or (start_utc and end_utc and end_utc < start_utc):
        try:
            request.parse_request(body)
        except ReportRequestError as exc:
            assert exc.message.startswith("Date range not valid")
            return
        raise AssertionError("a date in the gap or an inverted range was accepted")
    parsed = request.parse_request(body)
    assert [(c.code, c.status) for c in parsed.clients] == [(code, status is True) for code, status in requested]
    assert (parsed.start, parsed.end) == (start_utc, end_utc)
    assert parsed.all_clients is False


MUTATIONS = st.sampled_from(["drop", "duplicate", "insert", "swap"])


def mutated(body: bytes, edits) -> bytes:
    body = bytearray(body)
    for kind, where, data in edits:
        where %= max(1, len(body))
        if kind == "drop":
            del body[where:where + len(data)]
        elif kind == "duplicate":
            body[where:where] = body[where:where + len(data)]
        elif kind == "insert":
            body[where:where] = data
        else:
            body[where:where + len(data)] = data
    return bytes(body)


# Pieces of the schema's own vocabulary, put between tags and into start tags: documents
# that stay well-formed and probe what the schema allows.
ELEMENTS = st.sampled_from([b"<ClientCode>1</ClientCode>", b"<ClientCode/>", b"<StartDate></StartDate>",
                            b"<EndDate>x</EndDate>", b"<StartDate>13/01/2026 10:00:00</StartDate>",
                            b"<EndDate>01/31/2026 24:00:00</EndDate>", b"<Username>u</Username>",
                            b"<CallbuttonService/>", b"<GetCallDetailsRequest/>", b"<Other/>", b"text", b"<!-- c -->"])
ATTRIBUTES = st.sampled_from([b' status="true"', b' status="yes"', b' status=""', b' version="A"', b' version="B"',
                              b' other="1"'])


def edited(body: bytes, edits) -> bytes:
    for piece, where in edits:
        if piece.startswith(b" "):  # an attribute: into a start tag
            ends = [i for i in range(1, len(body)) if body[i] == ord(">") and body[i - 1] not in b"/?"
                    and body.rfind(b"<", 0, i) != body.rfind(b"</", 0, i)]
        else:  # an element or text: between tags
            ends = [i + 1 for i in range(len(body)) if body[i] == ord(">")]
        at = ends[where % len(ends)]
        body = body[:at] + piece + body[at:]
    return body


@settings(max_examples=300, deadline=None)
@given(clients, dates, dates, st.lists(st.tuples(st.one_of(ELEMENTS, ATTRIBUTES), st.integers(0, 100)), max_size=3))
def test_libxml2_and_xmlschema_give_every_request_document_the_same_verdict(requested, start, end, edits):
    """parse_request takes libxml2's yes without asking xmlschema: they must agree."""
    body = edited(document(requested, start, end), edits)
    try:
        root = validation.parse_document(body)  # the tree parse_request validates
    except etree.XMLSyntaxError:
        event("not well-formed")
        return
    accepted = validation.libxml2_accepts(root)
    event("valid" if accepted else "invalid")
    assert accepted == (next(validation.get_schema().iter_errors(root), None) is None)


@settings(max_examples=200, deadline=None)
@given(clients, dates, dates, st.lists(st.tuples(MUTATIONS, st.integers(0, 10_000), st.binary(min_size=1, max_size=8)),
                                       min_size=1, max_size=6))
def test_a_mutated_request_gives_a_request_or_the_error_message_never_an_exception(requested, start, end, edits):
    body = mutated(document(requested, start, end), edits)
    try:
        parsed = request.parse_request(body)
    except ReportRequestError as exc:
        assert exc.message and "Traceback" not in exc.message
        # What the client is told is a valid error document.
        failure = error_document.error_document("partner1", "127.0.0.1", "ERROR", exc.message)
        assert next(validation.get_schema().iter_errors(failure), None) is None
        return
    assert parsed.clients, "a request that parses names its clients"
