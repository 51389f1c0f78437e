"""Describe a WSDL as plain data (operations, message elements, field names and types,
occurrence, namespaces, soapAction), so an authored WSDL and Spyne's view of the same
service can be compared field by field, ignoring only naming Spyne cannot control
(binding/port names, extra global elements)."""
from __future__ import annotations

from typing import Any

from lxml import etree

WSDL = "http://schemas.xmlsoap.org/wsdl/"
XS = "http://www.w3.org/2001/XMLSchema"
SOAP_BINDINGS = {"http://schemas.xmlsoap.org/wsdl/soap/": "soap11", "http://schemas.xmlsoap.org/wsdl/soap12/": "soap12"}


def _q(element: etree._Element, prefixed: str) -> etree.QName:
    prefix, _, local = prefixed.rpartition(":")
    return etree.QName(element.nsmap.get(prefix or None), local)


class _Schemas:
    def __init__(self, root: etree._Element) -> None:
        self.elements: dict[etree.QName, tuple[etree._Element, str, bool]] = {}
        self.types: dict[etree.QName, tuple[etree._Element, str, bool]] = {}
        for schema in root.iter(f"{{{XS}}}schema"):
            tns = schema.get("targetNamespace")
            qualified = schema.get("elementFormDefault") == "qualified"
            for child in schema:
                name = child.get("name")
                if name is None:
                    continue
                key = etree.QName(tns, name)
                if child.tag == f"{{{XS}}}element":
                    self.elements[key] = (child, tns, qualified)
                elif child.tag in (f"{{{XS}}}complexType", f"{{{XS}}}simpleType"):
                    self.types[key] = (child, tns, qualified)

    def element(self, qname: etree.QName) -> Any:
        node, tns, qualified = self.elements[qname]
        return {"element": qname.text, "nillable": node.get("nillable", "false"),
                "type": self._type_of(node, tns, qualified, set())}

    def _type_of(self, node, tns, qualified, seen) -> Any:
        if node.get("type"):
            return self._named(_q(node, node.get("type")), seen)
        inline = node.find(f"{{{XS}}}complexType")
        if inline is not None:
            return self._complex(inline, tns, qualified, seen)
        inline = node.find(f"{{{XS}}}simpleType")
        if inline is not None:
            return self._simple(inline)
        return "xs:anyType"

    def _named(self, qname: etree.QName, seen) -> Any:
        if qname.namespace == XS:
            return f"xs:{qname.localname}"
        node, tns, qualified = self.types[qname]
        if node.tag == f"{{{XS}}}simpleType":
            return self._simple(node)
        if qname in seen:
            return f"recursive {qname.localname}"
        return self._complex(node, tns, qualified, seen | {qname})

    def _simple(self, node) -> Any:
        restriction = node.find(f"{{{XS}}}restriction")
        if restriction is None:
            return "simple"
        facets = sorted((etree.QName(f).localname, f.get("value")) for f in restriction)
        return {"base": self._named(_q(restriction, restriction.get("base")), set()), "facets": facets}

    def _complex(self, node, tns, qualified, seen) -> Any:
        fields = []
        for particle in node.iter(f"{{{XS}}}element"):
            if particle.get("ref"):
                ref = _q(particle, particle.get("ref"))
                target, rtns, _ = self.elements[ref]
                name, namespace = ref.localname, rtns
                type_ = self._type_of(target, rtns, qualified, seen)
                nillable = target.get("nillable", "false")
            else:
                name, namespace = particle.get("name"), tns if qualified else None
                type_ = self._type_of(particle, tns, qualified, seen)
                nillable = particle.get("nillable", "false")
            fields.append({"name": etree.QName(namespace, name).text, "type": type_,
                           "minOccurs": particle.get("minOccurs", "1"),
                           "maxOccurs": particle.get("maxOccurs", "1"), "nillable": nillable})
        attributes = [{"name": a.get("name"), "type": self._named(_q(a, a.get("type")), seen) if a.get("type") else "simple",
                       "use": a.get("use", "optional")} for a in node.iter(f"{{{XS}}}attribute")]
        return {"fields": fields, "attributes": attributes}


def describe(wsdl: bytes | etree._Element) -> dict:
    root = etree.fromstring(wsdl) if isinstance(wsdl, bytes) else wsdl
    schemas = _Schemas(root)
    messages = {m.get("name"): m for m in root.findall(f"{{{WSDL}}}message")}

    def message_element(op, direction):
        msg = messages[_q(op.find(f"{{{WSDL}}}{direction}"), op.find(f"{{{WSDL}}}{direction}").get("message")).localname]
        parts = msg.findall(f"{{{WSDL}}}part")
        assert len(parts) == 1, "document/literal wrapped has one part per message"
        return schemas.element(_q(parts[0], parts[0].get("element")))

    operations = {}
    for port_type in root.findall(f"{{{WSDL}}}portType"):
        for op in port_type.findall(f"{{{WSDL}}}operation"):
            operations[op.get("name")] = {"input": message_element(op, "input"),
                                          "output": message_element(op, "output")}
    bindings: dict[str, dict] = {}
    for binding in root.findall(f"{{{WSDL}}}binding"):
        for ns, protocol in SOAP_BINDINGS.items():
            soap_binding = binding.find(f"{{{ns}}}binding")
            if soap_binding is None:
                continue
            ops = {}
            for op in binding.findall(f"{{{WSDL}}}operation"):
                soap_op = op.find(f"{{{ns}}}operation")
                body_in = op.find(f"{{{WSDL}}}input/{{{ns}}}body")
                body_out = op.find(f"{{{WSDL}}}output/{{{ns}}}body")
                ops[op.get("name")] = {"soapAction": soap_op.get("soapAction"),
                                       "style": soap_op.get("style") or soap_binding.get("style"),
                                       "use": (body_in.get("use"), body_out.get("use"))}
            bindings[protocol] = {"transport": soap_binding.get("transport"), "operations": ops}
    return {"targetNamespace": root.get("targetNamespace"), "operations": operations, "bindings": bindings}


def differences(expected: Any, actual: Any, path: str = "") -> list[str]:
    """Every place where `actual` differs from `expected`, as readable lines."""
    if isinstance(expected, dict) and isinstance(actual, dict):
        out = []
        for key in sorted(set(expected) | set(actual), key=str):
            if key not in actual:
                out.append(f"{path}/{key}: missing in Spyne's view")
            elif key not in expected:
                out.append(f"{path}/{key}: not in the authored contract")
            else:
                out.extend(differences(expected[key], actual[key], f"{path}/{key}"))
        return out
    if isinstance(expected, list) and isinstance(actual, list):
        if len(expected) != len(actual):
            return [f"{path}: {len(expected)} items authored, {len(actual)} in Spyne's view: "
                    f"{[e.get('name') if isinstance(e, dict) else e for e in expected]} vs "
                    f"{[a.get('name') if isinstance(a, dict) else a for a in actual]}"]
        out = []
        for index, (e, a) in enumerate(zip(expected, actual, strict=True)):
            out.extend(differences(e, a, f"{path}[{index}]"))
        return out
    return [] if expected == actual else [f"{path}: authored {expected!r}, Spyne {actual!r}"]


def spyne_view(app, address: str = "http://localhost:8000/") -> dict:
    """What Spyne itself would publish for `app`, described like an authored WSDL."""
    from spyne.interface.wsdl import Wsdl11

    wsdl = Wsdl11(app.interface)
    wsdl.build_interface_document(address)
    return describe(wsdl.get_interface_document())


def drift(soap, protocol: str, authored_root=None) -> list[str]:
    """Differences between a SoapService's authored contract and its Spyne application for
    one protocol ("soap11" or "soap12"); empty when they agree."""
    authored = describe(authored_root if authored_root is not None else soap.contract.inlined)
    spyne = spyne_view(soap.soap11_app if protocol == "soap11" else soap.soap12_app)
    found = differences(authored["operations"], spyne["operations"])
    found += differences(authored["bindings"].get(protocol), spyne["bindings"].get(protocol), f"/{protocol}")
    if authored["targetNamespace"] != spyne["targetNamespace"]:
        found.append(f"targetNamespace: authored {authored['targetNamespace']}, Spyne {spyne['targetNamespace']}")
    return found
