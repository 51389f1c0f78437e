"""The authored WSDL/XSD files in wsdl/ and xsd/ are the contract; this module serves them.

The WSDL is served as written, with two mechanical changes a client needs: the schemas it
imports from xsd/ are inlined (so one fetch gives the whole contract, which strict
clients such as PHP SoapClient and Mono's wsdl want) and the service address is the one
the client used.
"""
from __future__ import annotations

import threading
from functools import cached_property
from pathlib import Path

from lxml import etree

WSDL_NS = "http://schemas.xmlsoap.org/wsdl/"
XS_NS = "http://www.w3.org/2001/XMLSchema"
SOAP11_BINDING_NS = "http://schemas.xmlsoap.org/wsdl/soap/"
SOAP12_BINDING_NS = "http://schemas.xmlsoap.org/wsdl/soap12/"

_SAFE_PARSER = etree.XMLParser(resolve_entities=False, no_network=True, load_dtd=False)


class AuthoredContract:
    def __init__(self, wsdl_path: Path) -> None:
        self.wsdl_path = wsdl_path
        self._documents: dict[str, bytes] = {}
        self._lock = threading.Lock()

    @cached_property
    def tree(self) -> etree._ElementTree:
        return etree.parse(str(self.wsdl_path), _SAFE_PARSER)

    @cached_property
    def target_namespace(self) -> str:
        return self.tree.getroot().get("targetNamespace")

    @cached_property
    def schema_paths(self) -> list[Path]:
        paths = []
        for imp in self.tree.iter(f"{{{XS_NS}}}import"):
            location = imp.get("schemaLocation")
            if location:
                paths.append((self.wsdl_path.parent / location).resolve())
        return paths

    @cached_property
    def inlined(self) -> etree._Element:
        root = etree.fromstring(etree.tostring(self.tree))
        types = root.find(f"{{{WSDL_NS}}}types")
        for wrapper in list(types):
            types.remove(wrapper)
        for path in self.schema_paths:
            schema = etree.parse(str(path), _SAFE_PARSER).getroot()
            types.append(schema)
        return root

    def document_for(self, address: str) -> bytes:
        """The WSDL with the schemas inlined and every port at `address`."""
        with self._lock:
            cached = self._documents.get(address)
            if cached is not None:
                return cached
            root = etree.fromstring(etree.tostring(self.inlined))
            for ns in (SOAP11_BINDING_NS, SOAP12_BINDING_NS):
                for element in root.iter(f"{{{ns}}}address"):
                    element.set("location", address)
            document = etree.tostring(root, xml_declaration=True, encoding="UTF-8")
            if len(self._documents) < 64:  # a handful of host names reach one server
                self._documents[address] = document
            return document

    def operations(self) -> list[str]:
        return [op.get("name") for op in self.tree.getroot().iter(f"{{{WSDL_NS}}}portType")
                for op in op.iter(f"{{{WSDL_NS}}}operation")]
