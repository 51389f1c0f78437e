"""One SOAP service over HTTP: SOAP 1.1 and 1.2 on one address, its authored WSDL at
?wsdl, and the same operations over GET with JSON or JSONP answers."""
from __future__ import annotations

import io
import logging
import re
import threading
from typing import Any, Callable, Iterable, Sequence
from urllib.parse import parse_qsl, urlencode

import spyne.const
from lxml import etree
from spyne import Application
from spyne.protocol.http import HttpRpc
from spyne.protocol.json import JsonDocument
from spyne.protocol.soap import Soap11, Soap12
from spyne.protocol.xml import SchemaValidationError
from spyne.server.wsgi import WsgiApplication
from werkzeug.http import parse_options_header

from services.core.errors import Unauthorized
from services.core.throttle import TooManyAttempts
from services.http.auth import challenge, retry_after
from services.http.jsonp import BAD_CALLBACK, JAVASCRIPT, valid_callback, wrap_jsonp
from services.http.logs import bound_logged_text
from services.http.wsgi import BadXmlEncoding, base_url, plain_response, read_body, xml_has_dtd

from .contracts import AuthoredContract
from .faults import REFUSAL

# Client faults are the caller's business, not an operator's: Spyne would log each one
# at ERROR with a traceback. Server faults stay logged.
# Spyne runs a full gc.collect() after a request at most once a second, to close the files
# of its own upload contexts (which these services do not use). On a server's heap that is
# ~90 ms with the GIL held, once a second: every request in flight, SOAP or not, waits.
spyne.const.MIN_GC_INTERVAL = float("inf")
logging.getLogger("spyne.application.client").setLevel(logging.CRITICAL + 1)
logging.getLogger("spyne.server._base").setLevel(logging.CRITICAL + 1)
logging.getLogger("spyne.protocol").setLevel(logging.ERROR)
# Spyne logs the whole request body with every malformed one: keep an excerpt only.
# The WSGI server logs every GET binding's invalid argument (its value whole) at ERROR.
bound_logged_text(logging.getLogger("spyne.protocol.soap.soap11.invalid"),
                  logging.getLogger("spyne.protocol.xml.invalid"), logging.getLogger("spyne.server.wsgi"))

_SPYNE_CLASS_REPR = re.compile(rb"<class '[\w.]+\.(\w+)'>")
SOAP11_ENV = "http://schemas.xmlsoap.org/soap/envelope/"
SOAP12_ENV = "http://www.w3.org/2003/05/soap-envelope"


def _fault_envelope(soap12: bool, code: str, message: str) -> bytes:
    from xml.sax.saxutils import escape
    if soap12:
        return (f'<?xml version="1.0" encoding="UTF-8"?><env:Envelope xmlns:env="{SOAP12_ENV}"><env:Body>'
                f'<env:Fault><env:Code><env:Value>env:{"Sender" if code == "Client" else "Receiver"}</env:Value>'
                f'</env:Code><env:Reason><env:Text xml:lang="en">{escape(message)}</env:Text></env:Reason>'
                f'</env:Fault></env:Body></env:Envelope>').encode()
    return (f'<?xml version="1.0" encoding="UTF-8"?><soap:Envelope xmlns:soap="{SOAP11_ENV}"><soap:Body>'
            f'<soap:Fault><faultcode>soap:{code}</faultcode><faultstring>{escape(message)}</faultstring>'
            f'</soap:Fault></soap:Body></soap:Envelope>').encode()


FAULT_NS = "urn:callsuite:fault:1"  # not a service namespace: lxml would merge it into tns


def _drop_empty(document, tag: str) -> None:
    """Spyne writes every fault with an actor/role element, empty when there is none."""
    for element in list(document.iter(tag)):
        if len(element) == 0 and not (element.text or "").strip():
            element.getparent().remove(element)


class CallsuiteSoap11(Soap11):
    """SOAP 1.1 faults without an empty <faultactor/>."""

    def serialize(self, ctx, message):
        result = super().serialize(ctx, message)
        if ctx.out_document is not None and ctx.out_error is not None:
            _drop_empty(ctx.out_document, "faultactor")
        return result


class CallsuiteSoap12(Soap12):
    """SOAP 1.2 with namespace-qualified fault subcodes (JAX-WS cannot read Spyne's bare
    ones), no empty <Role/>, and 400 for Sender faults, as the SOAP 1.2 HTTP binding says."""

    def __init__(self, *args, **kwargs):
        kwargs.setdefault("cleanup_namespaces", False)
        super().__init__(*args, **kwargs)

    def generate_subcode(self, value, subcode=None):
        node = etree.Element(f"{{{self.ns_soap_env}}}Subcode")
        element = etree.SubElement(node, f"{{{self.ns_soap_env}}}Value", nsmap={"cs": FAULT_NS})
        element.text = f"cs:{value}"
        if subcode is not None and subcode is not False:
            node.append(subcode)
        return node

    def serialize(self, ctx, message):
        result = super().serialize(ctx, message)
        if ctx.out_document is not None:
            if ctx.out_error is not None:
                _drop_empty(ctx.out_document, f"{{{self.ns_soap_env}}}Role")
            etree.cleanup_namespaces(ctx.out_document, keep_ns_prefixes=["cs"])
        return result

    def fault_to_http_response_code(self, fault):
        return "400 Bad Request" if str(fault.faultcode).startswith("Client") else "500 Internal Server Error"


class AuthoredValidator:
    """Validates request bodies against the authored schema, not Spyne's generated one.

    Replaces Spyne's own lxml validator, which raises its fault with a bytes message that
    Python 3 cannot serialise. lxml schema objects keep their error log per object, so each
    thread gets its own.
    """

    def __init__(self, contract: AuthoredContract) -> None:
        self._contract = contract
        self._local = threading.local()

    def __call__(self, payload) -> None:
        schema = getattr(self._local, "schema", None)
        if schema is None:
            schema = self._local.schema = etree.XMLSchema(etree.parse(str(self._contract.schema_paths[0])))
        if not schema.validate(payload):
            raise SchemaValidationError(schema.error_log.last_error.message)


class SoapService:
    """The Spyne applications of one service, one per protocol, sharing its service classes."""

    def __init__(self, name: str, services: Sequence[type], contract: AuthoredContract,
                 context: Callable[[], Any], realm: str | None = None) -> None:
        self.name = name
        self.realm = realm or name
        self.services = tuple(services)
        self.contract = contract
        tns = contract.target_namespace

        def application(suffix: str, in_protocol, out_protocol, authored_validation: bool = False) -> Application:
            app = Application(list(services), tns=tns, name=f"{name}{suffix}",
                              in_protocol=in_protocol, out_protocol=out_protocol)
            if authored_validation:
                in_protocol.validate_document = AuthoredValidator(contract)
            app.event_manager.add_listener("method_call", lambda ctx: setattr(ctx, "udc", context()))
            return app

        self.soap11_app = application("Soap11", Soap11(validator="lxml"), CallsuiteSoap11(), True)
        self.soap12_app = application("Soap12", Soap12(validator="lxml"), CallsuiteSoap12(), True)
        self.rest_app = application("Rest", HttpRpc(validator="soft"), JsonDocument())
        self.soap11 = WsgiApplication(self.soap11_app)
        self.soap12 = WsgiApplication(self.soap12_app)
        self.rest = WsgiApplication(self.rest_app)

    def access_rules(self) -> dict[str, Any]:
        """Each operation's declared access rule (`@soap_operation(access=...)`; None: none)."""
        return {name: getattr(method.function, "access", None)
                for service in self.services for name, method in service.public_methods.items()}

    def rest_api(self, prefix: str, tag: str) -> tuple:
        """The OpenAPI operations of the GET/JSON(P) binding mounted at `prefix`."""
        from .rest_api import rest_operations
        refusals, security = {}, {}
        for name, rule in self.access_rules().items():
            if getattr(rule, "http_credentials", False):
                refusals[name] = (401, 403, 429)
                # A rule open to configured networks (Recall's) also answers without credentials.
                security[name] = ("listener", "") if rule.__name__.startswith("listener_or_") else ("listener",)
            elif getattr(rule, "token", False):
                refusals[name], security[name] = (401, 403, 429), ("agentToken",)
        return rest_operations(self.services, prefix, tag=tag, refusals=refusals, security=security)

    # -- WSGI entry points -------------------------------------------------------------

    def _refusal(self, environ: dict, status: str, headers: list) -> tuple[str, list]:
        """Spyne answers every fault 500 (or 400); a refused caller gets 401 with a
        challenge (SOAP::Lite and .NET send credentials only then), or 429."""
        refusal = environ.get(REFUSAL)
        if isinstance(refusal, TooManyAttempts):
            return "429 Too Many Requests", [*headers, *retry_after(refusal.retry_after_s)]
        if isinstance(refusal, Unauthorized):
            return "401 Unauthorized", [*headers, *challenge(self.realm)]
        return status, headers

    def _spyne(self, app, environ: dict, start_response) -> Iterable[bytes]:
        def start(status, headers, exc_info=None):
            return start_response(*self._refusal(environ, status, list(headers)), exc_info)

        return app(environ, start)

    def soap_endpoint(self, environ: dict, start_response) -> Iterable[bytes]:
        method = environ["REQUEST_METHOD"]
        if method in ("GET", "HEAD"):
            if environ.get("QUERY_STRING", "").lower() in ("wsdl", "singlewsdl"):
                address = base_url(environ) + environ.get("SCRIPT_NAME", "") + environ.get("PATH_INFO", "")
                return plain_response(start_response, "200 OK", self.contract.document_for(address),
                                      "text/xml; charset=utf-8")
            return plain_response(start_response, "400 Bad Request",
                                  b"This is a SOAP endpoint: POST a SOAP envelope, or GET ?wsdl.\n")
        if method != "POST":
            return plain_response(start_response, "405 Method Not Allowed", b"POST a SOAP envelope\n",
                                  extra_headers=[("Allow", "GET, POST")])
        content_type = environ.get("CONTENT_TYPE", "")
        soap12 = content_type.lower().startswith("application/soap+xml")

        def client_fault(message: str) -> Iterable[bytes]:
            return plain_response(start_response, "400 Bad Request" if soap12 else "500 Internal Server Error",
                                  _fault_envelope(soap12, "Client", message),
                                  "application/soap+xml; charset=utf-8" if soap12 else "text/xml; charset=utf-8")

        body = read_body(environ)
        if not body.strip():
            return client_fault("the request has no SOAP envelope")
        try:
            has_dtd = xml_has_dtd(body, parse_options_header(content_type)[1].get("charset"))
        except BadXmlEncoding as exc:
            return client_fault(f"unreadable SOAP message: {exc}")
        if has_dtd:
            # SOAP forbids DTDs; refusing them outright closes XXE and entity-expansion attacks.
            return client_fault("a SOAP message must not contain a DTD")
        environ["wsgi.input"] = io.BytesIO(body)
        environ["CONTENT_LENGTH"] = str(len(body))
        environ["callsuite.binding"] = "soap12" if soap12 else "soap11"
        return self._spyne(self.soap12 if soap12 else self.soap11, environ, start_response)

    def rest_endpoint(self, environ: dict, start_response) -> Iterable[bytes]:
        """GET /rest/{service}/{Operation}?args → JSON; with callback= → JSONP."""
        pairs = parse_qsl(environ.get("QUERY_STRING", ""), keep_blank_values=True)
        callback = [v for k, v in pairs if k == "callback"]
        environ["callsuite.binding"] = "jsonp" if callback else "rest"
        if callback and not valid_callback(callback[-1]):
            return plain_response(start_response, "400 Bad Request", BAD_CALLBACK.encode())
        environ["QUERY_STRING"] = urlencode([(k, v) for k, v in pairs if k not in ("callback", "_")])
        captured: dict = {}

        def capture(status, headers, exc_info=None):
            captured["status"], captured["headers"] = status, headers
            return lambda data: None

        # Spyne names the offending parameter by its class repr; callers need only its name.
        body = _SPYNE_CLASS_REPR.sub(rb"\1", b"".join(self.rest(environ, capture)))
        status, refusal_headers = self._refusal(environ, captured["status"], [])
        if not callback:
            return plain_response(start_response, status, body, "application/json; charset=utf-8",
                                  refusal_headers)
        # JSONP must reach the script tag with 200, whatever the fault, or the callback never
        # runs - except a refusal: its 401 challenge makes the browser ask for credentials.
        return plain_response(start_response, status if refusal_headers else "200 OK",
                              wrap_jsonp(callback[-1], body), JAVASCRIPT,
                              [("X-Content-Type-Options", "nosniff"), *refusal_headers])
