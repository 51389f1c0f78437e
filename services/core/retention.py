"""Retention: recordings older than the retention period are deleted, except those
protected from deletion (Recall's bDeletionProtected)."""
from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime, timedelta, timezone
from typing import Optional

from sqlalchemy import select
from sqlalchemy.orm import Session

from storage.models import Recording

from . import events


@dataclass
class PurgeReport:
    cutoff: Optional[datetime]
    deleted: list[tuple[str, str, int]] = field(default_factory=list)  # reference, path, bytes
    protected: list[str] = field(default_factory=list)
    dry_run: bool = False

    def lines(self) -> list[str]:
        if self.cutoff is None:
            return ["retention_days is 0: recordings are kept for ever; nothing purged"]
        verb = "would delete" if self.dry_run else "deleted"
        out = [f"{verb} {ref} {path} ({size} bytes)" for ref, path, size in self.deleted]
        out += [f"kept {ref} (deletion-protected)" for ref in self.protected]
        freed = sum(size for _, _, size in self.deleted)
        out.append(f"{len(self.deleted)} {verb}, {len(self.protected)} protected kept, {freed} bytes freed"
                   f" (recordings before {self.cutoff.isoformat()})")
        return out


def purge_expired(session: Session, store, *, retention_days: int, dry_run: bool = False,
                  now: Optional[datetime] = None, batch: int = 500) -> PurgeReport:
    # Commits in steps, one per deleted file: a crash mid-purge keeps what was already freed.
    if retention_days <= 0:
        return PurgeReport(cutoff=None, dry_run=dry_run)
    cutoff = (now or datetime.now(timezone.utc)) - timedelta(days=retention_days)
    report = PurgeReport(cutoff=cutoff, dry_run=dry_run)
    last_id = 0
    while True:
        rows = session.scalars(
            select(Recording).where(Recording.id > last_id, Recording.state == "available",
                                    Recording.created_at < cutoff)
            .order_by(Recording.id).limit(batch)).all()
        if not rows:
            return report
        for recording in rows:
            last_id = recording.id
            if recording.deletion_protected:
                report.protected.append(recording.reference)
                continue
            report.deleted.append((recording.reference, recording.file_path, recording.size_bytes or 0))
            if dry_run:
                continue
            # The row is marked first: a crash between the two leaves a stray file, never
            # a row pointing at nothing.
            path = recording.file_path
            recording.state = "purged"
            recording.purged_at = datetime.now(timezone.utc)
            recording.file_path = None
            events.publish(session, events.RecordingDeleted(call_id=recording.call_id, recording_id=recording.id))
            session.commit()
            store.delete(path)
