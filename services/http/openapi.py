"""The OpenAPI 3.1 description of every plain-HTTP route, built from the routes themselves.

Each `Route` carries its own `api` (one `Operation` per method or per documented path), so
the document served at /openapi.json is the list of what is mounted: a route without a
description fails tests/foundation/test_openapi.py. Path parameters are read from the
werkzeug rule (`<int:id>` is an integer, `<any(a,b):x>` an enumeration); everything else
(query parameters, bodies, each status with its media types and, for JSON, its schema) is
declared next to the handler that answers it. SOAP endpoints are described by their WSDL,
not here (`Route.soap`).
"""
from __future__ import annotations

import re
from dataclasses import dataclass, field
from typing import Any, Iterable, Mapping, Optional

Schema = dict[str, Any]
Responses = Mapping[int, Mapping[str, Schema]]  # status -> {media type: schema}

STRING: Schema = {"type": "string"}
INTEGER: Schema = {"type": "integer"}
NUMBER: Schema = {"type": "number"}
BOOLEAN: Schema = {"type": "boolean"}
ANY: Schema = {}
NULL: Schema = {"type": "null"}
# A JSONP callback name (services/http/jsonp.py refuses any other with 400).
CALLBACK: Schema = {"type": "string", "pattern": r"^[A-Za-z_$][\w$]*(\.[A-Za-z_$][\w$]*)*$", "maxLength": 128}

TEXT, JSON, HTML, XML, JS, MP3 = ("text/plain", "application/json", "text/html", "text/xml",
                                  "application/javascript", "audio/mpeg")


def nullable(schema: Schema) -> Schema:
    return {"anyOf": [schema, NULL]} if schema else schema


def obj(properties: Mapping[str, Schema], required: Iterable[str] = ()) -> Schema:
    schema: Schema = {"type": "object", "properties": dict(properties)}
    required = list(required)
    if required:
        schema["required"] = required
    return schema


def array(items: Schema) -> Schema:
    return {"type": "array", "items": items}


def text(status_text: Schema = STRING) -> dict[str, Schema]:
    return {TEXT: status_text}


def json_body(schema: Schema) -> dict[str, Schema]:
    return {JSON: schema}


def json_or_jsonp(schema: Schema) -> dict[str, Schema]:
    """JSON, or (with callback=) the same as a JavaScript call."""
    return {JSON: schema, JS: STRING}


ERROR_OBJECT = obj({"error": STRING}, ["error"])
NO_BODY: dict[str, Schema] = {}  # a status answered without a body (redirects, 404 NULL)

# How each credentialed surface authenticates (OpenAPI security schemes).
SECURITY_SCHEMES: dict[str, Schema] = {
    "listener": {"type": "http", "scheme": "basic",
                 "description": "a user of the recording service (MP3 playback's Windows accounts)"},
    "partner": {"type": "http", "scheme": "basic", "description": "a Callbutton partner account"},
    "cti": {"type": "http", "scheme": "bearer", "description": "the cti_token of the configuration"},
    "agentToken": {"type": "apiKey", "in": "cookie", "name": "TokenKey",
                   "description": "a token from POST /webservices/services/token"},
    "console": {"type": "apiKey", "in": "cookie", "name": "callsuite_console",
                "description": "a console session, from POST /console/signin"},
}


@dataclass(frozen=True)
class Param:
    name: str
    where: str = "query"  # query, header, cookie (path parameters come from the rule)
    schema: Schema = field(default_factory=lambda: dict(STRING))
    required: bool = False
    description: str = ""
    example: Any = None


@dataclass(frozen=True)
class Operation:
    summary: str
    responses: Responses
    params: tuple[Param, ...] = ()
    body: Optional[Mapping[str, Schema]] = None  # media type -> schema
    body_required: bool = True
    security: tuple[str, ...] = ()  # scheme names; empty: open
    method: Optional[str] = None  # one of the route's methods (default: each of them)
    path: Optional[str] = None  # an OpenAPI path under a mounted WSGI route (/rest/...)
    tag: str = ""
    description: str = ""
    path_params: Mapping[str, Schema] = field(default_factory=dict)  # schemas beyond the rule's own


_CONVERTER = re.compile(r"<(?:(\w+)(?:\(([^)]*)\))?:)?(\w+)>")


def rule_path(rule: str) -> tuple[str, dict[str, Schema]]:
    """`/a/<int:id>/<any(x,y):what>` -> ("/a/{id}/{what}", {id: integer, what: enum})."""
    params: dict[str, Schema] = {}

    def one(match: re.Match) -> str:
        converter, arguments, name = match.groups()
        if converter == "int":
            params[name] = {"type": "integer", "minimum": 0}
        elif converter == "any":
            params[name] = {"type": "string", "enum": [a.strip().strip("'\"") for a in arguments.split(",")]}
        else:
            params[name] = {"type": "string", "minLength": 1}
            if converter != "path":
                params[name]["pattern"] = "^[^/]+$"
        return "{" + name + "}"

    return _CONVERTER.sub(one, rule), params


def _parameter(param: Param) -> Schema:
    out: Schema = {"name": param.name, "in": param.where, "required": param.required, "schema": param.schema}
    if param.description:
        out["description"] = param.description
    if param.example is not None:
        out["example"] = param.example
    return out


def _responses(responses: Responses) -> Schema:
    out: Schema = {}
    for status, media in sorted(responses.items()):
        entry: Schema = {"description": _REASONS.get(status, str(status))}
        if media:
            entry["content"] = {kind: {"schema": schema} for kind, schema in media.items()}
        out[str(status)] = entry
    return out


_REASONS = {200: "OK", 201: "Created", 204: "No content", 206: "Partial content", 303: "See other",
            304: "Not modified", 400: "Bad request", 401: "Credentials required or wrong", 403: "Forbidden",
            404: "Not found", 405: "Method not allowed", 409: "Conflict", 413: "Body too large",
            415: "Unsupported media type", 416: "Range not satisfiable", 422: "Unprocessable", 429: "Too many failed sign-ins",
            500: "SOAP 1.1 fault", 503: "Unavailable"}


def operations_of(route) -> list[tuple[str, str, Operation, dict[str, Schema]]]:
    """(OpenAPI path, method, operation, path parameter schemas) for each documented operation."""
    path, from_rule = rule_path(route.rule)
    out = []
    for op in route.api:
        op_path, params = (path, from_rule) if op.path is None else rule_path(op.path)
        methods = [op.method] if op.method else list(route.methods)
        for method in methods:
            out.append((op_path, method.lower(), op, {**params, **op.path_params}))
    return out


def document(routes: Iterable, *, title: str = "Callsuite", version: str = "1") -> Schema:
    paths: dict[str, Schema] = {}
    for route in routes:
        for path, method, op, path_params in operations_of(route):
            names = re.findall(r"{(\w+)}", path)
            parameters = [_parameter(Param(name, "path", path_params.get(name, STRING), True)) for name in names]
            parameters += [_parameter(p) for p in op.params]
            responses = dict(op.responses)
            if names:
                # The router answers a path value its converter refuses (a letter for an
                # <int:>, a control character in a <path:>) with a plain 404.
                responses[404] = {**responses.get(404, {}), TEXT: STRING}
            # The router answers any query holding a NUL character with a plain 400
            # (services/http/routing.py: no parameter may hold one).
            responses[400] = {**responses.get(400, {}), TEXT: STRING}
            entry: Schema = {"summary": op.summary, "operationId": _operation_id(method, path),
                             "parameters": parameters, "responses": _responses(responses)}
            if op.description:
                entry["description"] = op.description
            if op.tag:
                entry["tags"] = [op.tag]
            entry["security"] = [{name: []} if name else {} for name in op.security]  # "": anonymous too
            if op.body is not None:
                entry["requestBody"] = {"required": op.body_required,
                                        "content": {kind: {"schema": schema} for kind, schema in op.body.items()}}
            paths.setdefault(path, {})[method] = entry
    return {"openapi": "3.1.0",
            "info": {"title": title, "version": version,
                     "description": "Every plain-HTTP endpoint of Callsuite (SOAP services: see each ?wsdl)."},
            "paths": paths,
            "components": {"securitySchemes": SECURITY_SCHEMES}}


def _operation_id(method: str, path: str) -> str:
    return method + re.sub(r"[^A-Za-z0-9]+", "_", path).rstrip("_")
