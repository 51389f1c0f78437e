"""The OpenAPI operations of a SOAP service's GET/JSON(P) binding (`/rest/{service}/{Operation}`),
read from its Spyne methods: the arguments are the query parameters (required where the
contract says minOccurs=1), the answer is the operation's result as Spyne's JSON writes it,
and a fault is `{"faultcode", "faultstring"}`."""
from __future__ import annotations

from typing import Any

from spyne.model.binary import ByteArray
from spyne.model.complex import Array, ComplexModelBase
from spyne.model.primitive import Boolean, Date, DateTime, Decimal, Double, Float, Integer, Time

from services.http.openapi import CALLBACK, JS, JSON, TEXT, Operation, Param, Schema, array, nullable, obj

FAULT = obj({"faultcode": {"type": "string"}, "faultstring": {"type": "string"}}, ["faultcode", "faultstring"])


def schema_of(cls: Any) -> Schema:
    """JSON Schema of a Spyne type as spyne.protocol.json.JsonDocument writes it."""
    if isinstance(cls, type) and issubclass(cls, Array):
        (item,) = cls._type_info.values()
        return array(schema_of(item))
    if isinstance(cls, type) and issubclass(cls, ComplexModelBase):
        properties = {}
        for name, member in cls.get_flat_type_info(cls).items():
            one = nullable(schema_of(member))
            properties[name] = array(schema_of(member)) if (member.Attributes.max_occurs or 1) > 1 else one
        return obj(properties)
    if issubclass(cls, Boolean):
        return {"type": "boolean"}
    if issubclass(cls, Integer):
        return {"type": "integer"}
    if issubclass(cls, (Double, Float, Decimal)):
        return {"type": "number"}
    if issubclass(cls, DateTime):
        return {"type": "string", "format": "date-time"}
    if issubclass(cls, (Date, Time, ByteArray)):
        return {"type": "string"}
    return {"type": "string"}


def _query_schema(cls: Any) -> Schema:
    if issubclass(cls, Boolean):
        return {"type": "boolean"}
    if issubclass(cls, Integer):
        low, high = getattr(cls.Attributes, "ge", None), getattr(cls.Attributes, "le", None)
        schema: Schema = {"type": "integer"}
        if isinstance(low, int) and low > -2 ** 63:
            schema["minimum"] = low
        if isinstance(high, int) and high < 2 ** 63:
            schema["maximum"] = high
        return schema
    if issubclass(cls, DateTime):
        return {"type": "string", "format": "date-time"}
    return {"type": "string"}


def rest_operations(service_classes, prefix: str, *, tag: str, refusals: dict[str, tuple[int, ...]],
                    security: dict[str, tuple[str, ...]]) -> tuple[Operation, ...]:
    """One GET operation per Spyne method at `{prefix}/{Name}`. `refusals` names the extra
    statuses an operation answers (401/429 for credentials, 403), `security` its schemes."""
    out = []
    for service in service_classes:
        for name, method in sorted(service.public_methods.items()):
            params = [Param(arg, schema=_query_schema(kind), required=(kind.Attributes.min_occurs or 0) >= 1)
                      for arg, kind in method.in_message._type_info.items()]
            params.append(Param("callback", schema=CALLBACK, description="answer as JSONP: callback(<json>);"))
            results = list(method.out_message._type_info.values())
            result = nullable(schema_of(results[0])) if results else {"type": "null"}
            # 400: a fault, or (plain text) a callback name that is not an identifier path; 429
            # after too many failed sign-ins, whatever carries the credentials.
            responses: dict[int, dict[str, Schema]] = {200: {JSON: result, JS: {"type": "string"}},
                                                       400: {JSON: FAULT, JS: {"type": "string"},
                                                             TEXT: {"type": "string"}},
                                                       429: {JSON: FAULT, JS: {"type": "string"}}}
            for status in refusals.get(name, ()):
                responses[status] = {JSON: FAULT, JS: {"type": "string"}}
            out.append(Operation(summary=f"{name} (the SOAP operation over GET; JSON or JSONP)", method="GET",
                                 path=f"{prefix}/{name}", params=tuple(params), responses=responses, tag=tag,
                                 security=security.get(name, ())))
    return tuple(out)
