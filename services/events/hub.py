"""The hub `NotifyMe` of the seed's page: server method Subscribe(confirmationCode);
client methods updateStatus(confcode, status) and closeConnection(). Blocking functions:
the server runs them on its database thread pool."""
from __future__ import annotations

import logging
from dataclasses import dataclass
from typing import Any, Optional

from sqlalchemy.exc import IntegrityError

from services.core import callback_status
from services.core.errors import CallsuiteError
from services.core.throttle import TooManyAttempts
from services.http.errors import DATABASE_UNAVAILABLE, note_unavailable
from storage.database import unavailable

log = logging.getLogger(__name__)

HUB_NAME = "NotifyMe"
THROTTLE_SURFACE = "notifyme"  # Subscribe guesses, counted per connection and address


def too_many(refused: TooManyAttempts) -> str:
    return f"Too many unknown confirmation codes: try again in {refused.retry_after_s} seconds."


def invocation(method: str, *args: Any) -> dict:
    """A client hub invocation as the server sends it: {H, M, A}."""
    return {"H": HUB_NAME, "M": method, "A": list(args)}


@dataclass
class Batch:
    messages: list[dict]
    positions: dict[int, int]


def pending_messages(database, connection_id: str, positions: dict[int, int]) -> Batch:
    """What the connection has not received yet: for every request it subscribed to, the
    statuses after its position (all of them for a new subscription), oldest first; then
    closeConnection() if this batch brought the last open request to its end."""
    with database.read_session() as session:
        request_ids = callback_status.subscribed_request_ids(session, connection_id)
        current = {request_id: positions.get(request_id, 0) for request_id in request_ids}
        statuses = callback_status.statuses_after(session, current)
        ended = (callback_status.final_request_ids(session, request_ids)
                 if any(status.final for status in statuses) else set())
    messages = [invocation("updateStatus", s.confirmation_code, s.status) for s in statuses]
    for status in statuses:
        current[status.request_id] = status.event_id
    if ended and ended >= set(request_ids):
        messages.append(invocation("closeConnection"))
    return Batch(messages, current)


class HubError(CallsuiteError):
    """Sent back to the caller as the hub result's `E`."""


class NotifyMe:
    def __init__(self, database, throttle) -> None:
        self.database = database
        self.throttle = throttle  # system.throttle: an unknown code counts as a failed sign-in

    def invoke(self, connection_id: str, address: Optional[str], call: Any) -> tuple[dict, bool]:
        """Run one hub invocation {H, M, A, I}; the hub result {I} or {I, E}, and whether
        the connection's subscriptions changed."""
        if not isinstance(call, dict) or not isinstance(call.get("A", []), list):
            raise ValueError("a hub invocation is a JSON object {H, M, A, I}")
        result: dict = {"I": str(call.get("I", "0"))}
        try:
            hub, method = str(call.get("H", "")), str(call.get("M", ""))
            if hub.lower() != HUB_NAME.lower():
                raise HubError(f"'{hub}' Hub could not be resolved.")
            arguments = call.get("A") or []
            if method.lower() != "subscribe" or len(arguments) != 1:
                raise HubError(f"'{method}' method could not be resolved.")
            changed = self.subscribe(connection_id, address, arguments[0])
        except HubError as error:
            result["E"] = str(error)
            return result, False
        except Exception as exc:
            if not unavailable(exc):
                raise
            # The hub's own error form: the page's invocation fails with the reason and may
            # Subscribe again (an HTTP error would leave the jQuery client's promise unsettled).
            note_unavailable(log, f"{HUB_NAME}.{method}", exc)
            result["E"] = str(DATABASE_UNAVAILABLE)
            return result, False
        return result, changed

    def subscribe(self, connection_id: str, address: Optional[str], code: Any) -> bool:
        if isinstance(code, int) and not isinstance(code, bool):
            code = f"{code:010d}"  # a page may pass the digits as a number
        if not isinstance(code, str):
            raise HubError("The confirmation code must be a string of 10 digits.")
        with self.database.read_session() as session:
            try:
                self.throttle.check(session, THROTTLE_SURFACE, connection_id, address)
            except TooManyAttempts as refused:
                raise HubError(too_many(refused)) from None
        try:
            with self.database.session() as session:
                request = callback_status.find_request(session, code)
                if request is None:
                    self.throttle.failed(session, THROTTLE_SURFACE, connection_id, address)
                else:
                    changed = callback_status.subscribe(session, connection_id, request)
        except IntegrityError:
            return False  # the same Subscribe twice at once: one of them won
        except CallsuiteError as error:
            raise HubError(str(error)) from None
        if request is None:
            raise HubError("Unknown confirmation code.")
        return changed

    def forget(self, connection_id: str) -> None:
        """abort: the client stopped; its subscriptions end with it."""
        with self.database.session() as session:
            callback_status.unsubscribe_all(session, connection_id)
