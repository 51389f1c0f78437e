"""Phone numbers: E.164 in the ledger, via the phonenumbers library."""
from __future__ import annotations

from typing import Iterable, Optional

import phonenumbers

from .errors import InvalidInput


def to_e164(number: str, region: Optional[str] = None) -> str:
    """Strict: the number must be valid (E.164 as given, or valid in `region`)."""
    try:
        parsed = phonenumbers.parse(number, None if number.strip().startswith("+") else region)
    except phonenumbers.NumberParseException as exc:
        raise InvalidInput(f"invalid phone number {number!r}: {exc}") from None
    if not phonenumbers.is_valid_number(parsed):
        raise InvalidInput(f"invalid phone number {number!r}")
    return phonenumbers.format_number(parsed, phonenumbers.PhoneNumberFormat.E164)


def normalize_party(number: Optional[str], default_region: str) -> Optional[str]:
    """Lenient, for what a switch reports: E.164 when it parses as a possible number,
    otherwise the digits as given (extensions, withheld numbers, short codes)."""
    if number is None:
        return None
    text = number.strip()
    if not text:
        return None
    try:
        parsed = phonenumbers.parse(text, None if text.startswith("+") else default_region)
        if phonenumbers.is_possible_number(parsed) and len(text.lstrip("+")) > 6:
            return phonenumbers.format_number(parsed, phonenumbers.PhoneNumberFormat.E164)
    except phonenumbers.NumberParseException:
        pass
    return text


def phone_variants(number: str, default_region: str) -> Iterable[str]:
    """Forms under which a number given by a client may be stored."""
    seen = {number.strip()}
    normalized = normalize_party(number, default_region)
    if normalized:
        seen.add(normalized)
    return seen
