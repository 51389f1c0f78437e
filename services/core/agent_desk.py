"""The agent API's unit of work (seed 004): every agent operation as the edges call it,
each as its transactions around the switch action (agents.py holds the rules)."""
from __future__ import annotations

from contextlib import nullcontext
from datetime import datetime, timedelta
from typing import Optional, Protocol

from storage.models import User

from .agent_errors import BadInput, SignInFailed, SwitchDown, SwitchRefused, TokenInvalid
from .agents import (
    TOKEN_TTL,
    AgentView,
    CallRef,
    CallView,
    Disposition,
    agent_view,
    authorize,
    change_lead,
    check_connect,
    check_dispose,
    check_hangup,
    check_hold,
    check_recording,
    check_retrieve,
    create_new_lead,
    get_calls,
    issue_token,
    plan_dial,
    record_connect,
    record_dial,
    record_disposition,
    release_dial,
    set_held,
    user_for_token,
    view_of,
)
from .errors import Unauthorized
from .recordings import authenticate


class CallControl(Protocol):
    """What the agent API needs of the switch; errors are the ones above (SwitchRefused,
    SwitchDown, NoSuchThing). `source` is the ledger source of the calls it places."""

    source: str

    def place_call(self, *, extension: Optional[str], number: str, ani: Optional[str], did: Optional[str],
                   answer_after_s: Optional[float], record: bool) -> str: ...

    def hangup(self, call_id: str) -> None: ...

    def hold(self, call_id: str) -> None: ...

    def retrieve(self, call_id: str) -> None: ...

    def bridge(self, call_a: str, call_b: str) -> None: ...

    def pause_recording(self, call_id: str) -> None: ...

    def resume_recording(self, call_id: str) -> None: ...


# The Database, not a session: the agent API's unit of work, as no transaction may stay open across a switch action.
class AgentDesk:
    """Every agent operation as the edges call it. Reads and checks in one transaction,
    acts on the switch outside any, writes the outcome in a second one."""

    def __init__(self, database, control: Optional[CallControl], *, default_region: str,
                 answer_after_s: Optional[float], token_ttl: timedelta = TOKEN_TTL, throttle=None,
                 audit=None) -> None:
        self.database = database
        self.control = control
        self.default_region = default_region
        self.answer_after_s = answer_after_s
        self.token_ttl = token_ttl
        self.throttle = throttle  # the server's sign-in throttle (check/failed/succeeded), if any
        self.audit = audit  # the server's AuditLog: what the switch reports for the call is the actor's

    def sign_in(self, username: Optional[str], password: Optional[str], address: str) -> tuple[str, int, datetime]:
        """A token for a user's name and password: (token, user id, expiry). Failed
        attempts count against the sign-in throttle, per account and address."""
        if not isinstance(username, str) or not isinstance(password, str) or not username:
            raise BadInput("username and password are required")
        if len(username) > 1024 or len(password) > 1024:
            raise SignInFailed("unknown user or wrong password")
        throttle, where = self.throttle, {"surface": "agent", "account": username, "address": address}
        if throttle is not None:
            with self.database.session() as session:
                throttle.check(session, **where)
        try:
            user = authenticate(self.database, username, password)
        except Unauthorized:
            if throttle is not None:
                with self.database.session() as session:
                    throttle.failed(session, **where)
            raise SignInFailed("unknown user or wrong password") from None
        with self.database.session() as session:
            if throttle is not None:
                throttle.succeeded(session, **where)
            token, expires = issue_token(session, user, ttl=self.token_ttl)
        return token, user.id, expires

    def _switch(self) -> CallControl:
        if self.control is None:
            raise SwitchDown("no switch is configured: calls cannot be placed or controlled")
        return self.control

    @property
    def source(self) -> str:
        return self.control.source if self.control is not None else "sim"

    def actor(self, token: Optional[str], address: Optional[str] = None) -> User:
        """The user of a token. A wrong token counts as a failed sign-in of its address (as
        CTI's): after too many, TooManyAttempts. Only wrong ones are counted and checked,
        so an agent with a valid token never waits."""
        try:
            with self.database.read_unit() as unit:
                return user_for_token(unit, token)
        except TokenInvalid:
            if self.throttle is not None and address is not None:
                with self.database.session() as session:
                    self.throttle.check(session, surface="agent-token", account="", address=address)
                    self.throttle.failed(session, surface="agent-token", account="", address=address)
            raise

    def run(self, operation, actor: User, *args, **kwargs):
        """An operation that needs no switch (a session change), in one transaction."""
        with self.database.session() as session:
            return operation(session, session.get(User, actor.id), *args, **kwargs)

    def read(self, listing, actor: User, *args, **kwargs):
        """A listing, in one read transaction: on SQLite it waits for no writer."""
        with self.database.read_session() as session:
            return listing(session, session.get(User, actor.id), *args, **kwargs)

    def calls(self, actor: User, user_id: int) -> list[CallView]:
        """getcalls, on every poll of a desk: prepared statements in a read unit, no ORM."""
        with self.database.read_unit() as unit:
            return get_calls(unit, actor, user_id)

    def agent(self, actor: User, user_id: int) -> AgentView:
        with self.database.session() as session:
            return agent_view(session, authorize(session, session.get(User, actor.id), user_id))

    def dial(self, actor: User, user_id: int, phone: str, lead_id: Optional[int]) -> CallView:
        control = self._switch()
        with self.database.session() as session:
            plan = plan_dial(session, session.get(User, actor.id), user_id, phone, lead_id,
                             default_region=self.default_region)
        try:
            switch_id = control.place_call(extension=plan.extension, number=plan.number, ani=plan.caller_id,
                                           did=plan.caller_id, answer_after_s=self.answer_after_s,
                                           record=plan.record)
            with self.database.session() as session:
                return record_dial(session, plan, control.source, switch_id)
        except BaseException:
            with self.database.session() as session:
                release_dial(session, plan.user_id)
            raise

    def _act(self, check, actor: User, user_id: int, call_id: int, action, *args) -> CallRef:
        with self.database.session() as session:
            ref = check(session, session.get(User, actor.id), user_id, call_id, self.source, *args)
        if action is not None:
            with self.audit.claim(ref.id) if self.audit is not None else nullcontext():
                action(self._switch(), ref)
        return ref

    def hold(self, actor: User, user_id: int, call_id: int) -> CallView:
        ref = self._act(check_hold, actor, user_id, call_id, lambda c, r: c.hold(r.external_id))
        with self.database.session() as session:
            return set_held(session, ref.id, True)

    def retrieve(self, actor: User, user_id: int, call_id: int) -> CallView:
        ref = self._act(check_retrieve, actor, user_id, call_id, lambda c, r: c.retrieve(r.external_id))
        with self.database.session() as session:
            return set_held(session, ref.id, False)

    def stop_record(self, actor: User, user_id: int, call_id: int) -> CallView:
        ref = self._act(check_recording, actor, user_id, call_id, lambda c, r: c.pause_recording(r.external_id))
        return self._view(ref)

    def start_record(self, actor: User, user_id: int, call_id: int) -> CallView:
        ref = self._act(check_recording, actor, user_id, call_id, lambda c, r: c.resume_recording(r.external_id))
        return self._view(ref)

    def hangup(self, actor: User, user_id: int, call_id: int) -> CallView:
        ref = self._act(check_hangup, actor, user_id, call_id, lambda c, r: c.hangup(r.external_id))
        with self.database.session() as session:
            return set_held(session, ref.id, False)

    def dispose(self, actor: User, user_id: int, call_id: int, disposition: Disposition) -> CallView:
        ref = self._act(check_dispose, actor, user_id, call_id, None, disposition)
        if ref.live:
            try:
                self._switch().hangup(ref.external_id)
            except SwitchRefused:
                pass  # it ended on its own in between: nothing left to hang up
        with self.database.session() as session:
            return record_disposition(session, ref.id, disposition)

    def connect(self, actor: User, user_id: int, first: tuple[int, Disposition], second: tuple[int, Disposition]
                ) -> list[CallView]:
        control = self._switch()
        with self.database.session() as session:
            a, b = check_connect(session, session.get(User, actor.id), user_id, first, second, self.source)
        control.bridge(a.external_id, b.external_id)
        with self.database.session() as session:
            return record_connect(session, first, second)

    def change_lead(self, actor: User, user_id: int, call_id: int, lead_phone_id: int) -> CallView:
        return self.run(change_lead, actor, user_id, call_id, lead_phone_id, self.source)

    def create_new_lead(self, actor: User, user_id: int, call_id: int, phone: str) -> CallView:
        return self.run(create_new_lead, actor, user_id, call_id, phone, self.source,
                         default_region=self.default_region)

    def _view(self, ref: CallRef) -> CallView:
        with self.database.read_session() as session:
            return view_of(session, ref.id)
