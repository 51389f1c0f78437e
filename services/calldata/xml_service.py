"""Callbutton Data XML Services (seed 002) at the seed's own URLs:

POST /cb/main/jsp/xml/xml.jsp                               GetCallDetailsRequest -> report
GET  /cb/main/jsp/mates/cBEventCallRecordingURL.jsp?id={callID}     the call's recording

Decisions:

* Credentials: HTTP Basic (the seed names none; Basic is what every HTTP client can send)
  plus the partner's IP allow-list (services/core/calldetails.py). ``<Username>`` echoes
  the authenticated partner - or, on failure, the username the client sent -, and
  ``<Authentication>`` echoes the client's address (REMOTE_ADDR).
* Failures answer the seed's ``GetCallDetailResponse`` document (status UNAUTHORIZED or
  ERROR, a descriptive message) with HTTP 200, as the seed's JSP does, with ONE exception:
  a request carrying no credentials at all gets the same UNAUTHORIZED document with
  ``401`` and ``WWW-Authenticate: Basic``, because challenge-driven HTTP clients (.NET
  ``NetworkCredential``, Java ``Authenticator``, curl ``--anyauth``) only send credentials
  after a 401 challenge and could never authenticate otherwise. And after too many
  failed sign-ins (services/core/throttle.py) the UNAUTHORIZED document comes with ``429``
  and ``Retry-After``, without the password being checked.
  UNAUTHORIZED: missing or wrong credentials, address not allowed, client code not
  granted (also for codes that do not exist, so codes cannot be probed). ERROR:
  everything else - malformed, non-validating or hostile XML (DTDs and so XXE and entity
  expansion are refused by request.parse_request), bad dates, a body over 1 MB
  (request.DEFAULT_MAX_BYTES; the server's own limit answers 413 before this for bodies
  over ``max_body_bytes``), a database failure before the report starts.
* Checks run in that order: authentication first (an anonymous client gets nothing
  parsed), then the body, then the grants.
* The success document is streamed (stream.iter_report: lxml ``xmlfile``, chunks of 200
  calls, no Content-Length, so waitress sends it chunked) from a batched ledger query
  (calldetails.iter_calls). The first batch is read before the response starts, so a
  database failure at that point still gets the ERROR document.
* Validation at run time: the request with libxml2, xmlschema giving the reason of a
  refusal (request.parse_request); every error
  document with xmlschema before it is sent; a streamed success document per ``<Call>``
  with libxml2 against the same XSD's CallType (validation.call_validator, ~3.5 us a call,
  where xmlschema would take ~300 us a call, 30 s for 100,000 calls). The writer fixes
  everything around the calls, so valid calls make a valid document. A call that fails
  validation (a bug) stops the stream: the document is left unclosed, so the client's
  parser fails rather than silently missing calls, and the server logs the reason.
* The recording URL answers 401 (with a Basic challenge) for missing or wrong
  credentials, 403 for an address not allowed or a call of a client code not granted,
  404 for no such call or no available recording; otherwise the MP3 through werkzeug's
  send_file (Range, ETag, Last-Modified, conditional requests; HEAD too).
"""
from __future__ import annotations

import itertools
import logging
from typing import Iterator, Optional

from werkzeug.wrappers import Request, Response

from services.core import calldetails, ledger, recordings
from services.core.errors import CallsuiteError, Forbidden, NotFound, Unauthorized
from services.core.throttle import TooManyAttempts
from services.http.auth import basic_credentials, challenge, retry_after, signed_in
from services.http.media import open_audio, send_mp3
from services.http.openapi import MP3, XML, Operation, Param, text
from services.http.routing import Route
from services.http.wsgi import BodyTooLarge, base_url, read_body

from . import request as report_request
from . import stream, validation
from .access import REALM, authenticate_partner
from .error_document import error_document
from .refusal import ReportRequestError

log = logging.getLogger(__name__)

XML_PATH = "/cb/main/jsp/xml/xml.jsp"
RECORDING_PATH = "/cb/main/jsp/mates/cBEventCallRecordingURL.jsp"
CONTENT_TYPE = "text/xml; charset=UTF-8"
UNAUTHORIZED, ERROR = "UNAUTHORIZED", "ERROR"
_HEADERS = {"Cache-Control": "no-store", "X-Content-Type-Options": "nosniff"}

# A document known to validate, sent if a generated error document ever does not.
_FALLBACK = error_document("", "", ERROR, "Internal error")


_XML_DOCUMENT = {"type": "string", "description": "a document of xsd/callbutton.xsd"}
CALL_DETAILS = Operation(
    "The partner call-detail report: a GetCallDetails XML request, answered in XML (seed 002)", tag="Callbutton",
    body={"application/xml": _XML_DOCUMENT, XML: _XML_DOCUMENT},
    responses={200: {XML: _XML_DOCUMENT}, 401: {XML: _XML_DOCUMENT}, 413: text(), 429: {XML: _XML_DOCUMENT}},
    security=("partner",),
    description="Request and answers are validated against xsd/callbutton.xsd (request element GetCallDetails; "
                "answers GetCallDetailsResponse, or GetCallDetailResponse with status UNAUTHORIZED or ERROR, "
                "which is answered 200 as the seed has it).")
_AUDIO = {MP3: {"type": "string", "format": "binary"}}
RECORDING = Operation(
    "VoiceDirectory: a call's recording for the partner that may read its client code", tag="Callbutton",
    params=(Param("id", required=True, description="the call id of the report"),
            Param("Range", "header")),
    responses={200: _AUDIO, 206: _AUDIO, 304: {}, 401: text(), 403: text(), 404: text(), 416: text(),
               429: text()},
    security=("partner",))


def _credentials(request: Request) -> tuple[Optional[str], Optional[str]]:
    return basic_credentials(request.environ) or (None, None)


class CallbuttonXmlService:
    def __init__(self, system) -> None:
        self.system = system
        self.validate_call = validation.call_validator()
        validation.get_schema()  # compile the request schema at start, not on the first request

    def routes(self) -> list[Route]:
        return [
            Route(XML_PATH, self.call_details, methods=("POST",), api=(CALL_DETAILS,)),
            Route(RECORDING_PATH, self.recording, api=(RECORDING,)),
        ]

    # -- the XML service -------------------------------------------------------------------

    def _failure(self, username: str, client_ip: str, status: str, message: str, *,
                 ask_credentials: bool = False, retry_after_s: Optional[int] = None) -> Response:
        document = error_document(username or "", client_ip or "", status, message)
        error = next(validation.get_schema().iter_errors(document), None)
        if error is not None:  # never expected: the writer only produces valid documents
            log.error("Callbutton error document does not validate (%s); sending the fallback", error.reason)
            document = _FALLBACK
        headers = list(_HEADERS.items())
        code = 200
        if ask_credentials:
            code, headers = 401, headers + challenge(REALM)
        if retry_after_s is not None:
            code, headers = 429, headers + retry_after(retry_after_s)
        return Response(document, status=code, content_type=CONTENT_TYPE, headers=headers)

    def call_details(self, request: Request) -> Response:
        client_ip = request.remote_addr or ""
        username, password = _credentials(request)
        if username is None:
            return self._failure("", client_ip, UNAUTHORIZED,
                                 "Authentication required: send the partner username and password "
                                 "with HTTP Basic authentication", ask_credentials=True)
        database = self.system.database
        try:
            partner = authenticate_partner(self.system, username, password, client_ip)
        except TooManyAttempts as exc:
            return self._failure(username, client_ip, UNAUTHORIZED, f"Authentication refused: {exc}",
                                 retry_after_s=exc.retry_after_s)
        except (Unauthorized, Forbidden) as exc:
            return self._failure(username, client_ip, UNAUTHORIZED, f"Authentication failed: {exc}")
        except Exception:
            log.exception("Callbutton: authentication failed with an internal error")
            return self._failure(username, client_ip, ERROR, "Internal error: please try again later")

        try:
            body = read_body(request.environ, limit=report_request.DEFAULT_MAX_BYTES)
        except BodyTooLarge:
            return self._failure(partner.username, client_ip, ERROR,
                                 f"Request too large: the limit is {report_request.DEFAULT_MAX_BYTES} bytes")
        try:
            parsed = report_request.parse_request(body)
        except ReportRequestError as exc:
            log.info("Callbutton %s: request refused: %s", partner.username, exc.message)
            return self._failure(partner.username, client_ip, ERROR, exc.message)

        try:
            with database.read_unit() as unit:
                clients = calldetails.resolve_clients(unit, partner, parsed.clients, parsed.all_clients)
            # Read the first batch now, while an error can still be answered properly.
            streams = [(c.code, c.status, calldetails.iter_calls(database, c.code, parsed.start, parsed.end))
                       for c in clients]
            if streams:
                code, flag, calls = streams[0]
                first = next(calls, None)
                streams[0] = (code, flag, calls if first is None else itertools.chain([first], calls))
        except Forbidden as exc:
            log.info("Callbutton %s: %s", partner.username, exc)
            return self._failure(partner.username, client_ip, UNAUTHORIZED, str(exc))
        except CallsuiteError as exc:
            return self._failure(partner.username, client_ip, ERROR, str(exc))
        except Exception:
            log.exception("Callbutton %s: the report could not start", partner.username)
            return self._failure(partner.username, client_ip, ERROR,
                                 "Internal error: the call details could not be read, please try again later")

        chunks = stream.iter_report(partner.username, client_ip, streams, base_url(request.environ),
                                    validate_call=self.validate_call)
        response = Response(_logged(chunks, partner.username), status=200, content_type=CONTENT_TYPE,
                            headers=_HEADERS, direct_passthrough=True)
        return response

    # -- the recording URL -----------------------------------------------------------------

    def recording(self, request: Request) -> Response:
        username, password = _credentials(request)
        client_ip = request.remote_addr or ""
        if username is None:
            return Response("", status=401, headers=challenge(REALM))
        try:
            partner = authenticate_partner(self.system, username, password, client_ip)
            signed_in(request.environ, f"partner:{partner.username}")
            with self.system.database.session() as session:
                found = calldetails.recording_for_partner(session, partner, request.args.get("id", ""))
                audio = open_audio(self.system.store, found.file_path)
                if request.method == "GET":  # a HEAD sends no audio
                    recordings.note_listening(session, ledger.recording_by_reference(session, found.reference),
                                              download="HTTP_RANGE" not in request.environ)
        except Unauthorized:
            return Response("", status=401, headers=challenge(REALM))
        except TooManyAttempts as exc:
            return Response(str(exc) + "\n", status=429, headers=retry_after(exc.retry_after_s))
        except Forbidden:
            return Response("", status=403)
        except NotFound:  # open_audio's too: a missing file or a path the store refuses
            return Response("", status=404)
        return send_mp3(request, audio, download_name=f"{found.call_id}.mp3", last_modified=found.available_at)


def _logged(chunks: Iterator[bytes], username: str) -> Iterator[bytes]:
    try:
        yield from chunks
    except Exception:
        # Headers are gone: the document stays unclosed so the client's parser notices.
        log.exception("Callbutton %s: the report stream stopped", username)
