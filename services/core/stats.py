"""What an operator watches: counts read from the ledger at scrape time, so every process
sharing the database reports the same totals."""
from __future__ import annotations

from sqlalchemy import func, select
from sqlalchemy.orm import Session

from storage.models import Call, CallbackRequest, OutboxEntry

from .ledger import IN_PROGRESS


def counts(session: Session) -> dict[str, dict[str, int]]:
    """{"outbox": {state: n}, "callbacks": {state: n}, "calls": {"in_progress": n}}."""
    outbox = dict(session.execute(select(OutboxEntry.state, func.count()).group_by(OutboxEntry.state)).all())
    callbacks = dict(session.execute(select(CallbackRequest.state, func.count())
                                     .group_by(CallbackRequest.state)).all())
    in_progress = session.scalar(select(func.count()).select_from(Call).where(Call.state.in_(IN_PROGRESS)))
    return {"outbox": outbox, "callbacks": callbacks, "calls": {"in_progress": in_progress or 0}}
