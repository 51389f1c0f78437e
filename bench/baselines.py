"""The baselines bench/run.py measures Callsuite against, each served by the same waitress
settings as `callsuite serve` (services.http.app.create_http_server, default Settings):

    python bench/baselines.py wsgi  --port 8101 --file F   # plain WSGI: /hello, /file (64 KiB of F), /full (F)
    python bench/baselines.py spyne --port 8102   # a stock Spyne Soap11 echo service

`wsgi`: GET /hello answers "hello"; GET /file answers the first 64 KiB of a file through
wsgi.file_wrapper with 206 Partial Content, the least a Range download can cost; GET /full
the whole file through wsgi.file_wrapper (the least a full download can cost).
`spyne`: POST / a Soap11 `echo(text)` from spyne's own classes, lxml-validated input as
Callsuite's SOAP endpoints use, and nothing else.
"""
from __future__ import annotations

import argparse
import sys
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO))

from services.config import load_settings  # noqa: E402
from services.http.app import create_http_server  # noqa: E402

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


def main() -> int:
    parser = argparse.ArgumentParser()
    parser.add_argument("kind", choices=("wsgi", "spyne"))
    parser.add_argument("--port", type=int, required=True)
    parser.add_argument("--file", type=Path, help="wsgi: the file /file serves (at least 64 KiB)")
    args = parser.parse_args()
    if args.kind == "wsgi":
        if args.file is None or args.file.stat().st_size < FILE_BYTES:
            parser.error("wsgi needs --file, a file of at least 64 KiB")
        app = plain_wsgi(args.file)
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
