"""Small WSGI helpers shared by every edge."""
from __future__ import annotations

import re
from typing import Iterable, Optional

# Anywhere in the prolog; entity declarations only appear inside a DOCTYPE.
_DTD = re.compile(rb"<!DOCTYPE|<!ENTITY", re.IGNORECASE)


class BodyTooLarge(Exception):
    pass


def xml_has_dtd(body: bytes) -> bool:
    return _DTD.search(body) is not None


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
