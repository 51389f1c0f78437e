"""The baselines bench/run.py measures Callsuite against, each served by the same waitress
settings as `callsuite serve` (services.http.app.create_http_server, default Settings):

    python bench/baselines.py wsgi  --port 8101 --file F   # plain WSGI: /hello, /file (64 KiB of F), /full (F)
    python bench/baselines.py spyne --port 8102   # a stock Spyne Soap11 echo service
    python bench/baselines.py floor --port 8103 --database COPY.db --recordings DIR   # AddLink's and MP3's SQL, nothing else

`wsgi`: GET /hello answers "hello"; GET /file answers the first 64 KiB of a file through
wsgi.file_wrapper with 206 Partial Content, the least a Range download can cost; GET /full
the whole file through wsgi.file_wrapper (the least a full download can cost).
`spyne`: POST / a Soap11 `echo(text)` from spyne's own classes, lxml-validated input as
Callsuite's SOAP endpoints use, and nothing else.
`floor`: the least AddLink's database work costs, on a copy of Callsuite's own database
(bench/run.py copies it once the demo data are in): GET /addlink/{id} and POST /soap (the
SOAP 1.1 AddLink, parsed by lxml with a hardened parser, checked against xsd/recording.xsd,
answered with lxml) each run, straight through sqlite3, the very statements Callsuite's
AddLink runs (compiled from its own Core statements at start-up): BEGIN IMMEDIATE under a
process lock, the workstation and its active call's recording, the link INSERT, the audit
INSERT, COMMIT. No ORM session, no routing, no access log, no metrics. GET /mp3/{reference}
runs the MP3 request's one SELECT (the available recording of that reference, its file and
its call's extension) and sends the file's first 64 KiB through wsgi.file_wrapper with 206,
as `wsgi`'s /file does: no sign-in, no rights, no audit.
"""
from __future__ import annotations

import argparse
import dataclasses
import os
import sys
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO))

from services.config import load_settings  # noqa: E402
from services.http.app import create_http_server  # noqa: E402
from storage.database import sqlite_pragmas  # noqa: E402

ECHO_NS = "urn:bench:echo"
FILE_BYTES = 64 * 1024


def plain_wsgi(file_path: Path):
    hello = b"hello"

    def app(environ, start_response):
        if environ["PATH_INFO"] == "/full":
            size = file_path.stat().st_size
            start_response("200 OK", [("Content-Type", "audio/mpeg"), ("Content-Length", str(size)),
                                      ("Accept-Ranges", "bytes")])
            return environ["wsgi.file_wrapper"](open(file_path, "rb"), 64 * 1024)
        if environ["PATH_INFO"] == "/file":
            size = file_path.stat().st_size
            handle = open(file_path, "rb")
            start_response("206 Partial Content", [
                ("Content-Type", "audio/mpeg"), ("Content-Length", str(FILE_BYTES)),
                ("Content-Range", f"bytes 0-{FILE_BYTES - 1}/{size}"), ("Accept-Ranges", "bytes")])
            return environ["wsgi.file_wrapper"](handle, FILE_BYTES)
        start_response("200 OK", [("Content-Type", "text/plain"), ("Content-Length", str(len(hello)))])
        return [hello]
    return app


def spyne_echo():
    from spyne import Application, ServiceBase, Unicode, rpc
    from spyne.protocol.soap import Soap11
    from spyne.server.wsgi import WsgiApplication

    class EchoService(ServiceBase):
        @rpc(Unicode, _returns=Unicode)
        def echo(ctx, text):
            return text

    return WsgiApplication(Application([EchoService], tns=ECHO_NS, name="Echo",
                                       in_protocol=Soap11(validator="lxml"), out_protocol=Soap11()))


class _Statement:
    """One of Callsuite's Core statements as SQLite SQL, its parameters in order."""

    def __init__(self, statement) -> None:
        from sqlalchemy.dialects import sqlite
        compiled = statement.compile(dialect=sqlite.dialect())
        self.sql, self.names, self.defaults = compiled.string, compiled.positiontup, dict(compiled.params)

    def parameters(self, values: dict) -> tuple:
        given = {**self.defaults, **values}
        return tuple(given[name] for name in self.names)


def copy_for_floor(database: Path, target: Path) -> Path:
    """A copy of Callsuite's database, demo data and all, for the floor to run on."""
    import sqlite3
    from contextlib import closing

    with closing(sqlite3.connect(database)) as source, closing(sqlite3.connect(target)) as copy:
        source.backup(copy)
    return target


def floor(database: Path, recordings: Path):
    import threading
    import uuid
    from datetime import datetime, timezone
    from urllib.parse import parse_qsl

    from lxml import etree

    from services.core import audit, linking
    from services.core import recordings as recording_rules

    # The statements themselves, not copies: the floor follows AddLink's SQL when it changes.
    station = _Statement(linking._STATION_BY_HOST.statement)
    insert_link = _Statement(linking._INSERT_LINK.statement)
    insert_entry = _Statement(audit._INSERT_ENTRY_OF_RECORDING.statement)
    playable = _Statement(recording_rules._PLAYABLE.statement)
    file_index = [field.name for field in dataclasses.fields(recording_rules.Playable)].index("file_path")
    writer = threading.Lock()
    local = threading.local()
    parser = etree.XMLParser(resolve_entities=False, no_network=True, load_dtd=False, huge_tree=False)
    schema = etree.XMLSchema(etree.parse(str(REPO / "xsd" / "recording.xsd"), parser))
    soap, tns = "http://schemas.xmlsoap.org/soap/envelope/", "urn:callsuite:recording:1"

    def connection():
        found = getattr(local, "connection", None)
        if found is None:
            import sqlite3
            found = local.connection = sqlite3.connect(database, isolation_level=None, check_same_thread=False)
            sqlite_pragmas(found, None)
        return found

    def add_link(activity_id: str, host: str, address: str) -> str:
        now = datetime.now(timezone.utc).replace(tzinfo=None).isoformat(" ", "microseconds")
        request_id = uuid.uuid4().hex
        db = connection()
        with writer:
            db.execute("BEGIN IMMEDIATE")
            try:
                extension, recording_id, reference = db.execute(
                    station.sql, station.parameters({"host": host.lower()})).fetchone()
                db.execute(insert_link.sql, insert_link.parameters({
                    "activity_id": activity_id, "bms_type": None, "data1": None, "data2": None, "data3": None,
                    "data4": None, "data5": None, "host": host, "extension": extension, "requested_at": now,
                    "state": "linked", "recording_id": recording_id, "linked_at": now,
                    "linked_by": "AddLink"})).fetchone()
                db.execute(insert_entry.sql, insert_entry.parameters({
                    "at": now, "action": "linked", "user": None, "address": address,
                    "surface": "GET /bluebutler/service/AddLink/id=<path:activity_id>", "binding": "http",
                    "request_id": request_id, "detail": f"activity {activity_id}", "recording_id": recording_id}))
                db.execute("COMMIT")
            except BaseException:
                db.execute("ROLLBACK")
                raise
        return reference

    def mp3(environ, start_response):
        reference = environ["PATH_INFO"].rpartition("/")[2]
        row = connection().execute(playable.sql, playable.parameters({"reference": reference})).fetchone()
        path = recordings / row[file_index]
        handle = open(path, "rb")
        size = os.fstat(handle.fileno()).st_size
        start_response("206 Partial Content", [
            ("Content-Type", "audio/mpeg"), ("Content-Length", str(FILE_BYTES)),
            ("Content-Range", f"bytes 0-{FILE_BYTES - 1}/{size}"), ("Accept-Ranges", "bytes")])
        return environ["wsgi.file_wrapper"](handle, FILE_BYTES)

    def app(environ, start_response):
        if environ["PATH_INFO"].startswith("/mp3/"):
            return mp3(environ, start_response)
        if environ["PATH_INFO"] == "/soap":
            body = environ["wsgi.input"].read(int(environ.get("CONTENT_LENGTH") or 0))
            envelope = etree.fromstring(body, parser)
            request = envelope.find(f"{{{soap}}}Body")[0]
            schema.assertValid(request)
            fields = {child.tag.rpartition("}")[2]: child.text or "" for child in request}
            reference = add_link(fields["id"], fields.get("host", ""), environ["REMOTE_ADDR"])
            answer_envelope = etree.Element(f"{{{soap}}}Envelope", nsmap={"soap": soap})
            answer = etree.SubElement(etree.SubElement(answer_envelope, f"{{{soap}}}Body"),
                                      f"{{{tns}}}AddLinkResponse", nsmap={None: tns})
            etree.SubElement(answer, f"{{{tns}}}AddLinkResult").text = reference
            out = etree.tostring(answer_envelope, xml_declaration=True, encoding="utf-8")
            content_type = "text/xml; charset=utf-8"
        else:
            query = dict(parse_qsl(environ.get("QUERY_STRING", "")))
            out = add_link(environ["PATH_INFO"].rpartition("/")[2], query.get("host", ""),
                           environ["REMOTE_ADDR"]).encode()
            content_type = "text/plain; charset=utf-8"
        start_response("200 OK", [("Content-Type", content_type), ("Content-Length", str(len(out)))])
        return [out]
    return app


def main() -> int:
    parser = argparse.ArgumentParser()
    parser.add_argument("kind", choices=("wsgi", "spyne", "floor"))
    parser.add_argument("--port", type=int, required=True)
    parser.add_argument("--file", type=Path, help="wsgi: the file /file serves (at least 64 KiB)")
    parser.add_argument("--database", type=Path, help="floor: a copy of Callsuite's SQLite database")
    parser.add_argument("--recordings", type=Path, help="floor: Callsuite's recording store")
    args = parser.parse_args()
    if args.kind == "wsgi":
        if args.file is None or args.file.stat().st_size < FILE_BYTES:
            parser.error("wsgi needs --file, a file of at least 64 KiB")
        app = plain_wsgi(args.file)
    elif args.kind == "floor":
        if args.database is None or not args.database.is_file() or args.recordings is None:
            parser.error("floor needs --database, a copy of Callsuite's SQLite database, and --recordings")
        app = floor(args.database, args.recordings)
    else:
        app = spyne_echo()
    settings = load_settings(None, environ={})
    server = create_http_server(app, settings, host="127.0.0.1", port=args.port)
    try:
        server.run()
    finally:
        server.close()
    return 0


if __name__ == "__main__":
    sys.exit(main())
