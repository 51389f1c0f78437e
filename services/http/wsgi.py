"""Small WSGI helpers shared by every edge."""
from __future__ import annotations

import codecs
import json
import math
import re
from typing import Any, Iterable, Optional

from storage.models import ID_MAX

# Anywhere in the prolog; entity declarations only appear inside a DOCTYPE.
_DTD = re.compile(r"<!DOCTYPE|<!ENTITY", re.IGNORECASE)
_XML_DECLARED_ENCODING = re.compile(rb"""^<\?xml[^>]*?encoding\s*=\s*["']([A-Za-z0-9._-]{1,40})["']""")
_BOMS = ((codecs.BOM_UTF32_LE, "utf-32"), (codecs.BOM_UTF32_BE, "utf-32"), (codecs.BOM_UTF8, "utf-8-sig"),
         (codecs.BOM_UTF16_LE, "utf-16"), (codecs.BOM_UTF16_BE, "utf-16"))
# Integers a 64-bit column can hold: anything larger is refused, never silently stored or overflowed.
INT64_MIN, INT64_MAX = -(2 ** 63), 2 ** 63 - 1
JSON_MAX_DEPTH = 32
MAX_JSON_BYTES = 1024 * 1024  # body limit of the JSON APIs (CTI events, the simulated switch): far above any real event
_JSON_STRUCTURE = re.compile(rb'[\[\]{}"]')
_JSON_STRING_REST = re.compile(rb'(?:[^"\\]|\\.)*+"')
_JSON_NUL = re.compile(rb'(?<!\\)(?:\\\\)*\\u0000')  # an escaped NUL, not an escaped backslash before "u0000"


_ID = re.compile(r"[0-9]{1,19}")


def parse_id(text: Optional[str]) -> Optional[int]:
    """A database id from a query or form value: ASCII digits an id column can hold, else None."""
    if text is None or not _ID.fullmatch(text):
        return None
    value = int(text)
    return value if 0 < value <= ID_MAX else None


class BodyTooLarge(Exception):
    pass


class BadXmlEncoding(ValueError):
    """The body cannot be read in the encoding it claims (or any it could be in)."""


class BadJson(ValueError):
    """A JSON body that is malformed, nested too deep, or holds a number out of range."""


def xml_text(body: bytes, charset: Optional[str] = None) -> str:
    """The body as text: in the transport's charset when there is one (as Spyne reads it),
    else as an XML parser would (a byte order mark, UTF-16 without a mark, the XML
    declaration, UTF-8). Raises BadXmlEncoding if it cannot be read so."""
    encoding = charset.strip().strip('"').lower() if charset else None
    if encoding is None:
        encoding = next((name for bom, name in _BOMS if body.startswith(bom)), None)
    if encoding is None and body[:2] in (b"<\x00", b"\x00<"):
        encoding = "utf-16-le" if body[:1] == b"<" else "utf-16-be"
    if encoding is None:
        declared = _XML_DECLARED_ENCODING.match(body)
        encoding = declared.group(1).decode("ascii") if declared else "utf-8"
    try:
        return body.decode(encoding)
    except LookupError:
        raise BadXmlEncoding(f"unknown character encoding {encoding!r}") from None
    except UnicodeDecodeError as exc:
        raise BadXmlEncoding(f"the body is not valid {encoding} (byte {exc.start})") from None


def xml_has_dtd(body: bytes, charset: Optional[str] = None) -> bool:
    """Whether the document declares a DTD or entities, in whatever encoding it is written
    (a UTF-16 DOCTYPE has no ASCII bytes to match). Both readings are checked: the
    transport charset's and the document's own (BOM, declaration), which lxml may follow.
    Raises BadXmlEncoding if the body cannot be read in the transport charset."""
    readings = [xml_text(body, charset)]
    if charset:
        try:
            readings.append(xml_text(body))
        except BadXmlEncoding:
            pass  # the parser cannot read it either
    return any(_DTD.search(text) for text in readings)


def _bounded_int(text: str) -> int:
    value = int(text)
    if not INT64_MIN <= value <= INT64_MAX:
        raise BadJson(f"the number {text[:30]}{'...' if len(text) > 30 else ''} is out of range "
                      f"(integers are 64-bit)")
    return value


def _no_constant(name: str) -> Any:
    raise BadJson(f"{name} is not a JSON number")


def _finite_float(text: str) -> float:
    value = float(text)
    if math.isinf(value):  # 1e999 reads as infinity: no JSON number means that
        raise BadJson(f"the number {text[:30]}{'...' if len(text) > 30 else ''} is out of range")
    return value


def parse_json(data: bytes, *, max_depth: int = JSON_MAX_DEPTH) -> Any:
    """json.loads for request bodies: nesting deeper than `max_depth` and integers beyond
    64 bits are refused (BadJson) before they can exhaust the stack or overflow a column."""
    # Fewer brackets in all than the limit (strings' included: the usual small body) cannot nest
    # beyond it, and counting is one pass in C; only a body with more is scanned for its depth.
    depth, position = 0, 0 if data.count(b"[") + data.count(b"{") > max_depth else len(data)
    while (found := _JSON_STRUCTURE.search(data, position)) is not None:
        char, position = found.group(), found.end()
        if char == b'"':  # skip the string whole: brackets in it do not count
            rest = _JSON_STRING_REST.match(data, position)
            if rest is None:
                break  # unterminated: json.loads refuses it below
            position = rest.end()
        elif char in (b"[", b"{"):
            depth += 1
            if depth > max_depth:
                raise BadJson(f"JSON nested deeper than {max_depth} levels")
        else:
            depth -= 1
    if _JSON_NUL.search(data):
        raise BadJson("a JSON string holds a NUL character (\\u0000): no text field takes one")
    try:
        return json.loads(data, parse_int=_bounded_int, parse_float=_finite_float, parse_constant=_no_constant)
    except BadJson:
        raise
    except (ValueError, UnicodeDecodeError, RecursionError) as exc:
        raise BadJson(f"malformed JSON: {exc}") from None


def read_body(environ: dict, limit: Optional[int] = None) -> bytes:
    """The whole request body, never more than `limit` (defaults to the server's limit)."""
    limit = limit if limit is not None else environ.get("callsuite.max_body_bytes", 10 * 1024 * 1024)
    stream = environ["wsgi.input"]
    try:
        length = int(environ.get("CONTENT_LENGTH") or 0)
    except ValueError:
        length = 0
    if length > limit:
        raise BodyTooLarge(f"request body over {limit} bytes")
    if length:
        return stream.read(length)
    data = stream.read(limit + 1)  # chunked upload: read up to the limit
    if len(data) > limit:
        raise BodyTooLarge(f"request body over {limit} bytes")
    return data


def base_url(environ: dict) -> str:
    configured = environ.get("callsuite.public_base_url")
    if configured:
        return configured.rstrip("/")
    host = environ.get("HTTP_HOST") or f"{environ['SERVER_NAME']}:{environ['SERVER_PORT']}"
    return f"{environ.get('wsgi.url_scheme', 'http')}://{host}"


def plain_response(start_response, status: str, body: bytes, content_type: str = "text/plain; charset=utf-8",
                   extra_headers: Iterable[tuple[str, str]] = ()) -> list[bytes]:
    headers = [("Content-Type", content_type), ("Content-Length", str(len(body))), *extra_headers]
    start_response(status, headers)
    return [body]
