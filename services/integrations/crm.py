"""Recall's CRM deliveries (seed 003), as the outbox worker sends them.

- crm_url: GET of the company's URL template, already rendered (values URL-encoded) when
  the entry was queued.
- crm_web_service: the call details record sent to the CRM's own web service:
  SOAP: zeep, from the CRM's WSDL, calling the configured operation with the configured
  parameter mapping {parameter: record field} (a parameter mapped to `idempotency_key`
  carries the entry's key);
  JSON: POST of the record as a JSON object, with an `idempotency_key` member;
  JSONP: GET of the URL with the record's fields, `idempotency_key` and the callback
  parameter in the query.
Every request also carries the `Idempotency-Key` header (and the signature, when
configured): services/integrations/delivery.py.
"""
from __future__ import annotations

from dataclasses import dataclass
from typing import Any
from urllib.parse import urlencode, urlsplit, urlunsplit

import requests

from .delivery import DeliveryAuth, DeliveryError, http_request, safe_url


@dataclass(frozen=True)
class Attempt:
    """What one delivery attempt needs besides the entry."""

    http: requests.Session
    timeout_s: float
    auth: DeliveryAuth


def get_target(entry, attempt: Attempt) -> None:
    """crm_url and bms_link: the target URL is the whole notice."""
    http_request(attempt.http, "GET", entry.target, attempt.timeout_s, auth=attempt.auth).close()


def _fields(entry) -> dict[str, Any]:
    return {**entry.payload["record"], "idempotency_key": entry.idempotency_key}


def _query_value(value: Any) -> str:
    return "" if value is None else str(value)


def deliver_web_service(entry, attempt: Attempt) -> None:
    payload = entry.payload or {}
    service = payload.get("service")
    if not isinstance(service, dict) or not isinstance(payload.get("record"), dict):
        raise DeliveryError(f"malformed crm_web_service entry (no service or record): {safe_url(entry.target)}")
    kind = service.get("kind")
    if kind == "json":
        http_request(attempt.http, "POST", entry.target, attempt.timeout_s, auth=attempt.auth,
                     json=_fields(entry)).close()
    elif kind == "jsonp":
        parts = urlsplit(entry.target)
        pairs = [(name, _query_value(value)) for name, value in _fields(entry).items()]
        pairs.append((service.get("callback", "callback"), "callsuiteDelivered"))
        query = "&".join(filter(None, [parts.query, urlencode(pairs)]))
        http_request(attempt.http, "GET", urlunsplit((*parts[:3], query, "")), attempt.timeout_s,
                     auth=attempt.auth).close()
    elif kind == "soap":
        _call_soap(entry, service, attempt)
    else:
        raise DeliveryError(f"unknown crm_web_service kind {kind!r}")


def _call_soap(entry, service: dict, attempt: Attempt) -> None:
    import zeep
    from zeep.exceptions import Error as ZeepError
    from zeep.exceptions import Fault, TransportError
    from zeep.transports import Transport

    session = requests.Session()  # its own: zeep's transport must sign with this entry's auth
    session.auth = attempt.auth
    fields = _fields(entry)
    arguments = {param: fields[field] for param, field in service["mapping"].items()}
    try:
        transport = Transport(session=session, timeout=attempt.timeout_s, operation_timeout=attempt.timeout_s)
        client = zeep.Client(entry.target, transport=transport)
        getattr(client.service, service["operation"])(**arguments)
    except Fault as fault:
        raise DeliveryError(f"SOAP Fault {fault.code or ''} from {safe_url(entry.target)}: "
                            f"{(fault.message or '')[:200]}") from None
    except TransportError as exc:
        raise DeliveryError(f"HTTP {exc.status_code} from SOAP {safe_url(entry.target)}") from None
    except (requests.RequestException, ZeepError, AttributeError, TypeError, ValueError) as exc:
        # zeep names a missing operation or a wrong argument in its message; no secret is in it.
        detail = str(exc)[:200] if isinstance(exc, (ZeepError, AttributeError, TypeError)) else ""
        raise DeliveryError(f"{type(exc).__name__} calling {service['operation']} at "
                            f"{safe_url(entry.target)} {detail}".rstrip()) from None
    finally:
        session.close()
