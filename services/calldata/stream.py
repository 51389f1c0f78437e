"""The Callbutton report (seed 002) streamed: chunks of the success document written as
the ledger's batches come, in bounded memory, byte-identical to render.build_report_in_memory."""
from __future__ import annotations

import io
from typing import Callable, Iterable, Iterator, Optional

from lxml import etree

from services.core.calldetails import ReportCall

from . import render
from .render import CALL_LEVEL, INDENT, XML_DECLARATION, leaf, xml_text

DEFAULT_FLUSH_EVERY = 200  # calls per chunk yielded by iter_report


def _nl(level: int) -> str:
    return "\n" + INDENT * level


# Depths of the success document, as etree.indent lays it out.
_L_ROOT, _L_SERVICE, _L_RESPONSE, _L_CLIENT, _L_CLIENT_CHILD, _L_CALL = 0, 1, 2, 3, 4, CALL_LEVEL


def iter_report(username: str, client_ip: str,
                clients: Iterable[tuple[str, bool, Iterable[ReportCall]]],
                public_base_url: str, *, flush_every: int = DEFAULT_FLUSH_EVERY,
                validate_call: Optional[Callable[[etree._Element], None]] = None) -> Iterator[bytes]:
    """Stream the GetCallDetailsResponse document in chunks.

    ``validate_call``, when given, is called with every <Call> element before it is written
    (e.g. validation.call_validator); if it raises, the stream stops there.

    ``clients`` yields ``(client_code, status_flag, calls)``; both it and each ``calls`` are
    consumed lazily, one <Call> element at a time, through ``lxml.etree.xmlfile`` writing
    into an in-memory buffer that is emptied every ``flush_every`` calls, so memory stays
    bounded however many calls there are. The bytes are identical to
    render.build_report_in_memory for the same input.
    """
    flush_every = max(1, int(flush_every))
    buf = io.BytesIO()

    def drain() -> bytes:
        data = buf.getvalue()
        buf.seek(0)
        buf.truncate()
        return data

    yield XML_DECLARATION
    with etree.xmlfile(buf, encoding="UTF-8") as xf:
        with xf.element("Callbutton", version="B"):
            xf.write(_nl(_L_ROOT + 1))
            xf.write(leaf(None, "Username", xml_text(username)))
            xf.write(_nl(_L_ROOT + 1))
            xf.write(leaf(None, "Authentication", xml_text(client_ip)))
            xf.write(_nl(_L_ROOT + 1))
            with xf.element("CallbuttonService"):
                xf.write(_nl(_L_SERVICE + 1))
                client_iter = iter(clients)
                first_client = next(client_iter, None)
                if first_client is None:
                    xf.write(etree.Element("GetCallDetailsResponse", status="OK"))
                else:
                    with xf.element("GetCallDetailsResponse", status="OK"):
                        pending = 0
                        for code, status_flag, calls in _chain_first(first_client, client_iter):
                            xf.write(_nl(_L_CLIENT))
                            with xf.element("Client"):
                                xf.write(_nl(_L_CLIENT_CHILD))
                                xf.write(leaf(None, "ClientCode", xml_text(code)))
                                xf.write(_nl(_L_CLIENT_CHILD))
                                call_iter = iter(calls)
                                first_call = next(call_iter, None)
                                if first_call is None:
                                    xf.write(etree.Element("CallDetails"))
                                else:
                                    with xf.element("CallDetails"):
                                        for call in _chain_first(first_call, call_iter):
                                            xf.write(_nl(_L_CALL))
                                            element = render.call_element(call, bool(status_flag),
                                                                    public_base_url, _L_CALL)
                                            if validate_call is not None:
                                                validate_call(element)
                                            xf.write(element)
                                            pending += 1
                                            if pending >= flush_every:
                                                pending = 0
                                                xf.flush()
                                                chunk = drain()
                                                if chunk:
                                                    yield chunk
                                        xf.write(_nl(_L_CLIENT_CHILD))
                                xf.write(_nl(_L_CLIENT))
                        xf.write(_nl(_L_RESPONSE))
                xf.write(_nl(_L_SERVICE))
            xf.write(_nl(_L_ROOT))
    chunk = drain()
    if chunk:
        yield chunk


def _chain_first(first, rest):
    yield first
    yield from rest
