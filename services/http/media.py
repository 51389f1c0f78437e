"""Recordings over HTTP: the one way every edge sends an MP3 file (Range, ETag,
Last-Modified and conditional requests through werkzeug's Response)."""
from __future__ import annotations

import time
from datetime import datetime
from typing import Optional

from werkzeug.exceptions import RequestedRangeNotSatisfiable
from werkzeug.http import parse_range_header
from werkzeug.wrappers import Request, Response
from werkzeug.wsgi import wrap_file

from services.core.errors import NotFound
from storage.recordings import RecordingStore, RecordingStoreError, StoredAudio


def open_audio(store: RecordingStore, relpath: str) -> StoredAudio:
    """The recording's file, open; NotFound if it is missing (or a path the store refuses)."""
    try:
        return store.open(relpath)
    except (FileNotFoundError, NotADirectoryError, RecordingStoreError) as exc:
        raise NotFound("the recording file is missing") from exc


def send_mp3(request: Request, audio: StoredAudio, *, download_name: str,
             last_modified: Optional[datetime]) -> Response:
    """Answer with `audio` (which the response closes), as werkzeug's send_file would with
    conditional=True, etag=True, max_age=0, but from the one handle the store opened: no
    second stat or open of the file."""
    environ = request.environ
    requested = parse_range_header(environ.get("HTTP_RANGE"))
    if requested is not None and len(requested.ranges) > 1:
        # werkzeug cannot send multipart/byteranges and would answer 416; a server may
        # ignore Range (RFC 9110 §14.2), so a multi-range request gets the whole file.
        environ = {key: value for key, value in environ.items() if key != "HTTP_RANGE"}
    elif requested is not None and requested.units == "bytes" and requested.ranges[0][0] < 0 \
            and -requested.ranges[0][0] > audio.size:
        # A suffix longer than the file selects all of it (RFC 9110 §14.1.3); werkzeug answers 416.
        environ = {**environ, "HTTP_RANGE": "bytes=0-"}
    response = Response(wrap_file(environ, audio), mimetype="audio/mpeg", direct_passthrough=True)
    response.headers.set("Content-Disposition", "inline", filename=download_name)
    response.content_length = audio.size
    response.last_modified = last_modified if last_modified is not None else audio.mtime
    response.expires = time.time()  # stale at once, as send_file's max_age=0
    response.set_etag(audio.etag)
    try:
        response = response.make_conditional(environ, accept_ranges=True, complete_length=audio.size)
    except RequestedRangeNotSatisfiable:
        audio.close()
        raise
    if response.status_code == 206 and environ.get("REQUEST_METHOD") == "GET" and "wsgi.file_wrapper" in environ:
        # werkzeug sends a range by iterating the file in Python (8 KiB writes handed one by
        # one to the server's thread); the server's file_wrapper, given the file at the
        # range's start, sends Content-Length bytes from there itself.
        audio.seek(response.content_range.start)
        response.response = environ["wsgi.file_wrapper"](audio, 64 * 1024)
    response.headers["Accept-Ranges"] = "bytes"
    response.headers["Cache-Control"] = "private, no-cache"
    response.headers["X-Content-Type-Options"] = "nosniff"
    return response
