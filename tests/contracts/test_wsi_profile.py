"""WS-I Basic Profile habits of the five served WSDLs, read from the live ?wsdl: document/
literal wrapped (one `parameters` part naming an element called after the operation, and
<Op>Response holding <Op>Result), one target namespace per service, and a soapAction per
operation that is its name on both bindings - which the server accepts, and which it
ignores consistently when wrong: it routes by the body's element (as Spyne does), so the
same request answers the same with the right soapAction, a wrong one, or another
operation's (the SOAP 1.1 SOAPAction header; SOAP 1.2's action parameter)."""
from __future__ import annotations

from datetime import datetime

import pytest
import requests
import zeep
from helpers.agent import token as agent_token
from helpers.server import start_server
from helpers.soap import BMS, soap_body
from interop.jvm_dotnet_cases import TARGETS, operations
from lxml import etree

WSDL = "http://schemas.xmlsoap.org/wsdl/"
XS = "http://www.w3.org/2001/XMLSchema"
BINDINGS = {"1.1": "http://schemas.xmlsoap.org/wsdl/soap/", "1.2": "http://schemas.xmlsoap.org/wsdl/soap12/"}
CONTENT_TYPES = {"1.1": "text/xml; charset=utf-8", "1.2": "application/soap+xml; charset=utf-8"}
# Faults an operation raises itself: the request reached it (a schema or routing fault would not).
OPERATION_FAULTS = ("Unauthorized", "Forbidden", "NotFound", "InvalidInput", "Conflict")
# A schema-valid value per type, for the required parameters; credentials where named.
VALUES = {"xs:string": "WSI-1", "xs:int": 1, "xs:long": 1, "xs:boolean": False,
          "xs:dateTime": datetime(2030, 1, 7, 9, 0), "xs:double": 1.0}
NAMED = {"clientCode": ["8005551234"], "UserID": 7, "CallID": 999_999, "password": "demo-company-pw"}


@pytest.fixture(scope="module")
def live(tmp_path_factory):
    # Some of the generated requests carry a wrong password on purpose, many times over.
    server = start_server(tmp_path_factory.mktemp("wsi"), signin_max_failures=10_000,
                          signin_max_address_failures=10_000)
    yield server
    server.stop()


@pytest.fixture(scope="module")
def documents(live) -> dict:
    found = {}
    for name, target in TARGETS.items():
        r = requests.get(live.url(target.path + "?wsdl"), timeout=10)
        assert r.status_code == 200
        found[name] = etree.fromstring(r.content)
    return found


def q(element, prefixed: str) -> etree.QName:
    prefix, _, local = prefixed.rpartition(":")
    return etree.QName(element.nsmap.get(prefix or None), local)


@pytest.mark.parametrize("service", sorted(TARGETS))
def test_document_literal_wrapped(documents, service):
    root = documents[service]
    tns = root.get("targetNamespace")
    elements = {e.get("name"): e for schema in root.iter(f"{{{XS}}}schema") for e in schema.iterfind(f"{{{XS}}}element")}
    messages = {m.get("name"): m for m in root.iterfind(f"{{{WSDL}}}message")}
    for op in root.iterfind(f"{{{WSDL}}}portType/{{{WSDL}}}operation"):
        name = op.get("name")
        for direction, element_name in (("input", name), ("output", f"{name}Response")):
            message = messages[q(op, op.find(f"{{{WSDL}}}{direction}").get("message")).localname]
            (part,) = message.iterfind(f"{{{WSDL}}}part")
            assert (part.get("name"), part.get("type")) == ("parameters", None), f"{name} {direction}"
            assert q(part, part.get("element")) == etree.QName(tns, element_name), f"{name} {direction}"
        (result,) = elements[f"{name}Response"].iterfind(f"{{{XS}}}complexType/{{{XS}}}sequence/{{{XS}}}element")
        assert result.get("name") == f"{name}Result"
    for binding in root.iterfind(f"{{{WSDL}}}binding"):
        for op in binding.iterfind(f"{{{WSDL}}}operation"):
            for body in op.iter(*(f"{{{ns}}}body" for ns in BINDINGS.values())):
                assert body.get("use") == "literal" and body.get("parts") is None and body.get("encodingStyle") is None
            (soap_op,) = op.iter(*(f"{{{ns}}}operation" for ns in BINDINGS.values()))
            soap_binding = binding.find(f"{{{etree.QName(soap_op).namespace}}}binding")
            assert (soap_op.get("style") or soap_binding.get("style")) == "document", op.get("name")


def test_one_target_namespace_per_service(documents):
    namespaces = {}
    for service, root in documents.items():
        tns = root.get("targetNamespace")
        schemas = list(root.iter(f"{{{XS}}}schema"))
        assert {s.get("targetNamespace") for s in schemas if s.get("targetNamespace")} == {tns}, service
        for part in root.iter(f"{{{WSDL}}}part"):
            assert q(part, part.get("element")).namespace == tns, service
        namespaces[service] = tns
    assert len(set(namespaces.values())) == len(namespaces), namespaces


@pytest.mark.parametrize("service", sorted(TARGETS))
def test_soap_action_is_the_operation_name_on_both_bindings(documents, service):
    root = documents[service]
    operations_named = sorted(op.get("name") for op in root.iterfind(f"{{{WSDL}}}portType/{{{WSDL}}}operation"))
    for version, ns in BINDINGS.items():
        actions = {op.get("name"): op.find(f"{{{ns}}}operation").get("soapAction")
                   for binding in root.iterfind(f"{{{WSDL}}}binding") if binding.find(f"{{{ns}}}binding") is not None
                   for op in binding.iterfind(f"{{{WSDL}}}operation")}
        assert sorted(actions) == operations_named, version
        assert all(action == name for name, action in actions.items()), actions


def answer_of(r: requests.Response) -> tuple:
    """What a response says, independent of incidental text (ids, times)."""
    payload = soap_body(r.content)
    if etree.QName(payload).localname == "Fault":
        code = payload.findtext("faultcode") or payload.findtext(".//{*}Subcode/{*}Value") or ""
        reason = payload.findtext("faultstring") or payload.findtext(".//{*}Text")
        return r.status_code, "Fault", code.rpartition(":")[2].rpartition(".")[2], reason
    return r.status_code, etree.QName(payload).text


@pytest.mark.parametrize("service", sorted(TARGETS))
def test_the_server_routes_by_body_whatever_the_soap_action(live, documents, service):
    target, tns = TARGETS[service], documents[service].get("targetNamespace")
    client = zeep.Client(live.url(target.path + "?wsdl"))
    named = {**NAMED, "TokenKey": agent_token(live, "alice")}
    names = sorted(operations(service))
    for version in ("1.1", "1.2"):
        proxy = client.bind(target.service, target.ports[version])
        for index, operation in enumerate(names):
            params, _ = operations(service)[operation]
            args = {p.name: named.get(p.name, VALUES.get(p.type)) for p in params if p.required or p.name in named}
            envelope = etree.tostring(client.create_message(proxy, operation, **args))
            answers = []
            for action in (operation, "urn:callsuite:no-such-action", names[index - 1]):
                headers = ({"Content-Type": f'{CONTENT_TYPES[version]}; action="{action}"'} if version == "1.2" else
                           {"Content-Type": CONTENT_TYPES[version], "SOAPAction": f'"{action}"'})
                r = requests.post(live.url(target.path), data=envelope, headers=headers, auth=BMS, timeout=30)
                answers.append(answer_of(r))
            right = answers[0]
            assert right[1] in (f"{{{tns}}}{operation}Response", "Fault"), right
            if right[1] == "Fault":
                assert right[2] in OPERATION_FAULTS, f"{operation} over SOAP {version} did not reach it: {right}"
            assert answers[1] == answers[2] == right, f"{operation} over SOAP {version}: {answers}"
