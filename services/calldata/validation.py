"""The authored Callbutton schema (xsd/callbutton.xsd), compiled: xmlschema for requests
and whole documents, libxml2 for each <Call> of a streamed report and as the quick first
verdict on a request (xmlschema then explains a refusal)."""
from __future__ import annotations

import threading
from pathlib import Path
from typing import Callable

import xmlschema
from lxml import etree

from services.contracts import contracts_root

SCHEMA_PATH = contracts_root() / "xsd" / "callbutton.xsd"

_schemas: dict[Path | str, xmlschema.XMLSchema10] = {}
_schemas_lock = threading.Lock()


def get_schema(path: Path | str | None = None) -> xmlschema.XMLSchema10:
    """The compiled Callbutton schema, loaded once per file (thread-safe)."""
    asked = path or SCHEMA_PATH
    schema = _schemas.get(asked)  # by the name asked for: no path resolved per request
    if schema is None:
        with _schemas_lock:
            key = str(Path(asked).resolve())
            schema = _schemas.get(key)
            if schema is None:
                # The XSD is our own authored file; no remote fetching is ever needed.
                schema = _schemas[key] = xmlschema.XMLSchema10(key, defuse="always", allow="local")
            _schemas[asked] = schema
    return schema


class InvalidCallElement(ValueError):
    """A <Call> the writer produced does not validate against the schema's CallType."""


def _safe_parser(**options) -> etree.XMLParser:
    return etree.XMLParser(resolve_entities=False, no_network=True, load_dtd=False, **options)


_call_schema_trees: dict[str, etree._ElementTree] = {}
_call_schema_local = threading.local()


def _call_schema(key: str) -> etree.XMLSchema:
    # A compiled XMLSchema keeps its error log on the object, so each thread gets its own
    # (compiling takes a few milliseconds, once per thread and schema file).
    schemas = getattr(_call_schema_local, "schemas", None)
    if schemas is None:
        schemas = _call_schema_local.schemas = {}
    schema = schemas.get(key)
    if schema is None:
        with _schemas_lock:
            tree = _call_schema_trees.get(key)
            if tree is None:
                tree = etree.parse(key, _safe_parser())
                xs = "http://www.w3.org/2001/XMLSchema"
                etree.SubElement(tree.getroot(), f"{{{xs}}}element", name="Call", type="CallType")
                _call_schema_trees[key] = tree
            schema = schemas[key] = etree.XMLSchema(tree)
    return schema


_document_schemas = threading.local()


def _thread_local() -> dict:
    local = _document_schemas.__dict__
    if "parser" not in local:  # per thread: a parser, and a compiled schema's error log, are not shared
        # Comments and processing instructions dropped, as ElementTree's parser drops them.
        local.update(parser=_safe_parser(remove_comments=True, remove_pis=True), schemas={})
    return local


def parse_document(body: bytes) -> etree._Element:
    """A request document parsed by libxml2: no DTD loaded, no entity expanded, no network,
    its default depth and size limits; comments and processing instructions dropped.
    Raises lxml's XMLSyntaxError (or ValueError/LookupError for an unreadable encoding)."""
    return etree.fromstring(body, _thread_local()["parser"])


def libxml2_accepts(document: etree._Element, path: Path | str | None = None) -> bool:
    """libxml2's verdict on a parsed document, in microseconds where xmlschema takes a few
    hundred. It agrees with xmlschema on Callbutton documents (a property test holds them
    to it), so a document it accepts needs no second look; one it refuses goes to
    xmlschema for the reason (and, should they ever disagree, xmlschema's verdict)."""
    asked = path or SCHEMA_PATH
    local = _thread_local()
    schema = local["schemas"].get(asked)
    if schema is None:
        schema = local["schemas"][asked] = etree.XMLSchema(etree.parse(str(Path(asked).resolve()), local["parser"]))
    return schema.validate(document)


def call_validator(path: Path | str | None = None) -> Callable[[etree._Element], None]:
    """A cheap per-<Call> validator for streamed reports: libxml2 (lxml) compiles the
    same authored XSD with one extra global declaration ``<xs:element name="Call"
    type="CallType"/>`` added in memory, so a single <Call> element can be validated on
    its own (about 3-4 microseconds a call, against about 300 with xmlschema, which stays
    the validator of error documents and explains refused requests). The writer fixes
    everything around the <Call> elements, so a stream whose every <Call> passes is a
    valid document.
    The returned function raises :class:`InvalidCallElement`."""
    key = str(Path(path or SCHEMA_PATH).resolve())
    _call_schema(key)  # compile now: a broken schema fails before any response starts

    def validate(element: etree._Element) -> None:
        schema = _call_schema(key)
        if not schema.validate(element):
            raise InvalidCallElement(f"<Call ID={element.get('ID')!r}> does not validate against "
                                     f"CallType: {schema.error_log.last_error}")

    return validate
