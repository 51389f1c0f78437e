"""Jusan Recall's JSONP URL (seed 003), exactly as its CRMs call it:

GET /RecallIPInterfaceWS/JSONP/Recording.aspx/RetrieveRecFile?sExtension=&sPhoneNumber=
    &dtCallDateTime=%22yyyy-MM-dd HH:mm:ss%22&bDeletionProtected=&format=json[&callback=]

Answers use the ASP.NET wrapper {"d": "..."}.
"""
from __future__ import annotations

from datetime import timedelta

from werkzeug.wrappers import Request, Response

from services.core import linking, recordings
from services.core.errors import InvalidInput
from services.http.jsonp import json_answer, valid_callback
from services.http.routing import Route

from .wire import parse_recall_datetime


class Recall:
    def __init__(self, system) -> None:
        self.system = system

    def routes(self) -> list[Route]:
        return [Route("/RecallIPInterfaceWS/JSONP/Recording.aspx/RetrieveRecFile", self.retrieve_rec_file)]

    def retrieve_rec_file(self, request: Request) -> Response:
        args = request.args
        callback = args.get("callback")
        if callback is not None and not valid_callback(callback):
            return json_answer(None, callback)  # refused before any work is done
        settings = self.system.settings
        status = 200
        try:
            when = parse_recall_datetime(args.get("dtCallDateTime", ""), settings.timezone)
            protect = linking.parse_bool(args.get("bDeletionProtected"), "bDeletionProtected")
            with self.system.database.session() as session:
                path = recordings.retrieve_rec_file(
                    session, self.system.store, extension=args.get("sExtension", ""), when=when,
                    phone=args.get("sPhoneNumber") or None, protect=protect,
                    tolerance=timedelta(seconds=settings.recall_tolerance_s))
            payload = {"d": path}
        except InvalidInput as exc:
            status, payload = 400, {"Message": str(exc)}
        return json_answer(payload, callback, status)
