"""Jusan Recall's JSONP URL (seed 003), exactly as its CRMs call it:

GET /RecallIPInterfaceWS/JSONP/Recording.aspx/RetrieveRecFile?sExtension=&sPhoneNumber=
    &dtCallDateTime=%22yyyy-MM-dd HH:mm:ss%22&bDeletionProtected=&format=json[&callback=]

Answers use the ASP.NET wrapper {"d": "..."}.
"""
from __future__ import annotations

from datetime import timedelta

from werkzeug.wrappers import Request, Response

from services.core import linking, recordings
from services.core.errors import Forbidden, InvalidInput, Unauthorized
from services.core.throttle import TooManyAttempts
from services.http.auth import challenge, listener_unless_from, retry_after
from services.http.jsonp import json_answer, valid_callback
from services.http.openapi import CALLBACK, JS, JSON, TEXT, Operation, Param, obj
from services.http.routing import Route

from .bluebutler import REALM  # one realm for the recording service's credentials
from .wire import parse_recall_datetime


def _refused(response: Response, status: int, headers) -> Response:
    response.status_code = status
    response.headers.extend(headers)
    return response


_MESSAGE = {JSON: obj({"Message": {"type": "string"}}, ["Message"]), JS: {"type": "string"}}
RETRIEVE_REC_FILE = Operation(
    "RetrieveRecFile: the recording of the call on an extension at a date-time (seed 003)", tag="Recall",
    params=(Param("sExtension", required=True), Param("sPhoneNumber"),
            Param("dtCallDateTime", required=True, example='"2011-10-10 18:52:00"',
                  description='yyyy-MM-dd HH:mm:ss in the server\'s zone, JSON-quoted or not'),
            Param("bDeletionProtected", schema={"type": "string", "enum": ["true", "false"]}),
            Param("format", schema={"type": "string", "enum": ["json"]}),
            Param("callback", schema=CALLBACK)),
    responses={200: {JSON: obj({"d": {"type": "string"}}, ["d"]), JS: {"type": "string"}},
               400: {**_MESSAGE, TEXT: {"type": "string"}}, 401: _MESSAGE, 403: _MESSAGE, 429: _MESSAGE},
    security=("listener", ""),
    description="Answered without credentials to clients in recall_allowed_networks.")


class Recall:
    def __init__(self, system) -> None:
        self.system = system

    def routes(self) -> list[Route]:
        return [Route("/RecallIPInterfaceWS/JSONP/Recording.aspx/RetrieveRecFile", self.retrieve_rec_file,
                      api=(RETRIEVE_REC_FILE,))]

    def retrieve_rec_file(self, request: Request) -> Response:
        args = request.args
        callback = args.get("callback")
        if callback is not None and not valid_callback(callback):
            return json_answer(None, callback)  # refused before any work is done
        settings = self.system.settings
        status = 200
        try:
            # The same rule as the SOAP operation: Recall's CRMs on the allowed networks, or Basic.
            user = listener_unless_from(self.system, request.environ, settings.recall_allowed_networks)
            recordings.may_ask_for_extension(user, args.get("sExtension", ""))
        except TooManyAttempts as exc:
            return _refused(json_answer({"Message": str(exc)}, callback), 429, retry_after(exc.retry_after_s))
        except Unauthorized as exc:
            # 401 even for JSONP: the challenge makes the browser ask for the credentials.
            return _refused(json_answer({"Message": str(exc)}, callback), 401, challenge(REALM))
        except Forbidden as exc:
            return json_answer({"Message": str(exc)}, callback, 403)
        try:
            when = parse_recall_datetime(args.get("dtCallDateTime", ""), settings.timezone)
            protect = linking.parse_bool(args.get("bDeletionProtected"), "bDeletionProtected")
            path = recordings.retrieve_rec_file(
                self.system.database, self.system.store, extension=args.get("sExtension", ""), when=when,
                phone=args.get("sPhoneNumber") or None, protect=protect,
                tolerance=timedelta(seconds=settings.recall_tolerance_s))
            payload = {"d": path}
        except InvalidInput as exc:
            status, payload = 400, {"Message": str(exc)}
        return json_answer(payload, callback, status)
