"""Occurrence helpers for Spyne types, so they declare what the authored XSD declares:
required elements are minOccurs=1 and not nillable; optional ones are minOccurs=0 and
simply absent when empty (no nillable, which strict clients turn into wrapper types)."""


def required(cls):
    return cls.customize(min_occurs=1, nillable=False)


def optional(cls):
    return cls.customize(min_occurs=0, nillable=False)
