"""Routes: each edge contributes a list; the router matches by path (werkzeug rules)."""
from __future__ import annotations

from dataclasses import dataclass
from typing import Callable, Iterable, Optional, Sequence

from werkzeug.exceptions import HTTPException, MethodNotAllowed, NotFound
from werkzeug.routing import IntegerConverter, Map, PathConverter, Rule
from werkzeug.wrappers import Request, Response

from storage.models import ID_MAX

Handler = Callable[..., Response]


@dataclass(frozen=True)
class Route:
    """`rule` is a werkzeug rule (`/bluebutler/service/MP3/<ref>`).

    A `handler` takes (request, **path values) and returns a Response; a `wsgi` app is
    called as is, with SCRIPT_NAME/PATH_INFO split at `mount_depth` path segments.
    """

    rule: str
    handler: Optional[Handler] = None
    wsgi: Optional[Callable] = None
    methods: Sequence[str] = ("GET",)
    mount_depth: Optional[int] = None
    max_body_bytes: Optional[int] = None  # a larger (or smaller) limit than the server's
    name: str = ""
    api: tuple = ()  # its OpenAPI description: services/http/openapi.py Operation, one or more
    soap: bool = False  # a SOAP endpoint: described by its WSDL, not in /openapi.json


class IdConverter(IntegerConverter):
    """`<int:...>` path values are row ids: a number no id column can hold is no such page
    (404), not an overflow in the database driver. Up to 19 digits match; those beyond
    ID_MAX become 0, an id no row has (refusing them in the converter would make werkzeug
    answer 405 for a route that has other methods)."""

    regex = r"\d{1,19}"

    def to_python(self, value: str) -> int:
        number = int(value)
        return number if number <= ID_MAX else 0


class AnyPathConverter(PathConverter):
    """`<path:...>` values with any character: werkzeug's `.*?` stops at a line break, so a
    %0A in an AddLink id or an agent API path fell through to a bare 404."""

    regex = "[^/](?s:.*?)"


class Router:
    def __init__(self, routes: Iterable[Route], *, max_body_bytes: int) -> None:
        self._routes: list[Route] = list(routes)
        rules = []
        for index, route in enumerate(self._routes):
            methods = None if route.wsgi is not None else list(route.methods) + (["HEAD"] if "GET" in route.methods else [])
            rules.append(Rule(route.rule, endpoint=index, methods=methods, strict_slashes=False,
                              merge_slashes=False))
        # Bound once: no rule looks at the host, scheme or subdomain, and none redirects
        # (strict_slashes off), so binding to each request's environ (its Host parsed, IDNA
        # and all: a third of the routing time) would only repeat the same answer.
        self._matcher = Map(rules, converters={"int": IdConverter, "path": AnyPathConverter}).bind("callsuite")
        self._max_body = max_body_bytes

    def __call__(self, environ: dict, start_response):
        # PATH_INFO as WSGI gives it (latin-1 for bytes) decoded as UTF-8, as werkzeug's own binding does.
        path = environ.get("PATH_INFO", "").encode("latin-1").decode("utf-8", "replace")
        try:
            index, values = self._matcher.match(path or "/", environ.get("REQUEST_METHOD", "GET"))
        except (NotFound, MethodNotAllowed) as exc:
            return _plain(exc.code, exc.description or exc.name, exc)(environ, start_response)
        # No id, reference, name or parameter holds a NUL (PostgreSQL cannot store one).
        if any(isinstance(value, str) and "\x00" in value for value in values.values()):
            return _plain(404, "no such resource (the path holds a NUL character)", None)(environ, start_response)
        if "%00" in environ.get("QUERY_STRING", ""):
            return _plain(400, "a query parameter holds a NUL character (%00)", None)(environ, start_response)
        route = self._routes[index]
        limit = route.max_body_bytes or self._max_body
        environ["callsuite.max_body_bytes"] = limit
        environ["callsuite.route"] = route.rule
        if int(environ.get("CONTENT_LENGTH") or 0) > limit:
            return _plain(413, f"request body over {limit} bytes", exc=None)(environ, start_response)
        if route.wsgi is not None:
            if route.mount_depth is not None:
                _split_path(environ, route.mount_depth)
            return route.wsgi(environ, start_response)
        request = Request(environ)
        request.max_content_length = limit
        try:
            response = route.handler(request, **values)
        except HTTPException as exc:
            response = _plain(exc.code, exc.description or exc.name, exc)
        return response(environ, start_response)


def _plain(code: int, text: str, exc: Optional[HTTPException]) -> Response:
    """The error as plain text, with the headers it carries (Allow on a 405,
    `Content-Range: bytes */<length>` on a 416)."""
    response = Response(text.rstrip("\n") + "\n", status=code, content_type="text/plain; charset=utf-8")
    for name, value in exc.get_headers() if exc is not None else []:
        if name.lower() not in ("content-type", "content-length"):
            response.headers[name] = value
    return response


def _split_path(environ: dict, depth: int) -> None:
    path = environ.get("PATH_INFO", "")
    parts = path.split("/")
    head, tail = parts[: depth + 1], parts[depth + 1:]
    environ["SCRIPT_NAME"] = environ.get("SCRIPT_NAME", "") + "/".join(head)
    environ["PATH_INFO"] = "/" + "/".join(tail) if tail else ""
