"""Recordings over HTTP: the one way every edge sends an MP3 file (Range, ETag,
Last-Modified and conditional requests through werkzeug)."""
from __future__ import annotations

from datetime import datetime
from pathlib import Path
from typing import Optional

from werkzeug.http import parse_range_header
from werkzeug.utils import send_file
from werkzeug.wrappers import Request, Response


def send_mp3(request: Request, path: Path, *, download_name: str, last_modified: Optional[datetime]) -> Response:
    environ = request.environ
    requested = parse_range_header(environ.get("HTTP_RANGE"))
    if requested is not None and len(requested.ranges) > 1:
        # werkzeug cannot send multipart/byteranges and would answer 416; a server may
        # ignore Range (RFC 9110 §14.2), so a multi-range request gets the whole file.
        environ = {key: value for key, value in environ.items() if key != "HTTP_RANGE"}
    elif requested is not None and requested.units == "bytes" and requested.ranges[0][0] < 0 \
            and -requested.ranges[0][0] > path.stat().st_size:
        # A suffix longer than the file selects all of it (RFC 9110 §14.1.3); werkzeug answers 416.
        environ = {**environ, "HTTP_RANGE": "bytes=0-"}
    response = send_file(path, environ, mimetype="audio/mpeg", conditional=True, etag=True,
                         last_modified=last_modified, max_age=0, download_name=download_name, as_attachment=False)
    if response.status_code == 206 and environ.get("REQUEST_METHOD") == "GET" and "wsgi.file_wrapper" in environ:
        _send_range_through_server(response, path, environ["wsgi.file_wrapper"])
    response.headers["Accept-Ranges"] = "bytes"
    response.headers["Cache-Control"] = "private, no-cache"
    response.headers["X-Content-Type-Options"] = "nosniff"
    return response


def _send_range_through_server(response: Response, path: Path, file_wrapper) -> None:
    """werkzeug sends a range by iterating the file in Python (8 KiB writes handed one by one
    to the server's thread); the server's file_wrapper, given the file positioned at the
    range's start, sends it itself, no more than the Content-Length werkzeug set (waitress
    sends a file_wrapper from its position, Content-Length bytes)."""
    span = response.content_range
    handle = open(path, "rb")
    try:
        handle.seek(span.start)
    except BaseException:
        handle.close()
        raise
    response.response.close()  # werkzeug's own handle of the file
    response.response = file_wrapper(handle, 64 * 1024)
