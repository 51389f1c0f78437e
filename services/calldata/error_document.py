"""The seed's failure document (Callbutton, seed 002): what a refused request gets."""
from __future__ import annotations

from lxml import etree

from .render import INDENT, XML_DECLARATION, leaf, xml_text


def error_document(username: str, client_ip: str, status: str, message: str) -> bytes:
    """The seed's failure document: ``GetCallDetailResponse`` (no "s") with ``status``
    UNAUTHORIZED or ERROR and the message as its text."""
    if status not in ("UNAUTHORIZED", "ERROR"):
        raise ValueError(f"status must be 'UNAUTHORIZED' or 'ERROR', not {status!r}")
    root = etree.Element("Callbutton", version="B")
    leaf(root, "Username", xml_text(username))
    leaf(root, "Authentication", xml_text(client_ip))
    service = etree.SubElement(root, "CallbuttonService")
    leaf(service, "GetCallDetailResponse", xml_text(message)).set("status", status)
    etree.indent(root, space=INDENT)
    return XML_DECLARATION + etree.tostring(root, encoding="UTF-8", xml_declaration=False)
