"""Signing a Callbutton partner in, the same on every binding (XML service, recording
URL, SOAP, GET): credentials and address allow-list (services/core/calldetails.py) behind
the sign-in rate limit."""
from __future__ import annotations

from typing import Optional

from services.core import calldetails

SURFACE = "callbutton"
REALM = "Callbutton"


def authenticate_partner(system, username: Optional[str], password: Optional[str],
                         client_ip: Optional[str]) -> calldetails.Partner:
    """Raises Unauthorized, Forbidden (address not allowed) or TooManyAttempts."""
    return system.throttle.authenticate(
        system.database, SURFACE, username, client_ip,
        lambda session: calldetails.partner_account(session, username),
        lambda row: calldetails.verified_partner(row, username, password, client_ip))
