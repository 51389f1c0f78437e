"""`callsuite` command line: serve, provision, purge, migrate, check, outbox, audit (CONTRACTS §9)."""
from __future__ import annotations

import argparse
import gc
import json
import logging
import signal
import sys
from pathlib import Path
from typing import Optional, Sequence

from services.config import ConfigError, Settings, load_settings
from services.http.logs import log_from_one_thread

log = logging.getLogger("callsuite")


def _common(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--data-dir", type=Path, help="where the SQLite database and recordings live "
                                                      "(default ./callsuite-data)")
    parser.add_argument("--database-url", help="SQLAlchemy URL, e.g. postgresql+psycopg://user:pw@host/db")
    parser.add_argument("--config", type=Path, help="a TOML configuration file")


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="callsuite", description=__doc__)
    commands = parser.add_subparsers(dest="command", required=True)

    serve = commands.add_parser("serve", help="start every service under waitress")
    _common(serve)
    serve.add_argument("--host", help="listen address (default 0.0.0.0)")
    serve.add_argument("--port", type=int, help="listen port (default 8000)")
    serve.add_argument("--events-port", type=int, help="events server port: SignalR /signalr, SSE /events "
                                                       "(default 8001; 0 = any free port)")

    provision = commands.add_parser("provision", help="load a JSON or YAML site file idempotently")
    _common(provision)
    provision.add_argument("file", type=Path)

    purge = commands.add_parser("purge", help="delete recordings past the retention period")
    _common(purge)
    purge.add_argument("--dry-run", action="store_true", help="report what would be deleted")

    migrate = commands.add_parser("migrate", help="apply database migrations and exit")
    _common(migrate)

    check = commands.add_parser("check", help="verify the configuration, database and recording store; "
                                              "exit 1 on any error")
    _common(check)

    outbox = commands.add_parser("outbox", help="outbound notifications: list them, retry dead letters")
    outbox_commands = outbox.add_subparsers(dest="outbox_command", required=True)
    listing = outbox_commands.add_parser("list", help="newest first")
    _common(listing)
    listing.add_argument("--state", action="append", choices=("pending", "sent", "failed"),
                         help="only entries in this state (repeatable); failed = dead letters")
    listing.add_argument("--limit", type=int, default=200)
    retry = outbox_commands.add_parser("retry", help="make dead letters pending again, due now")
    _common(retry)
    which = retry.add_mutually_exclusive_group(required=True)
    which.add_argument("id", nargs="?", type=int, help="the entry's id (from outbox list)")
    which.add_argument("--all-failed", action="store_true", help="every dead letter")

    audit = commands.add_parser("audit", help="who played, downloaded, linked, paused, protected or deleted "
                                              "which recording, from where (oldest first)")
    _common(audit)
    audit.add_argument("--since", help="an ISO 8601 date-time (UTC unless it names a zone), or a time ago: "
                                       "30m, 12h, 7d")
    audit.add_argument("--recording", metavar="REF", help="only this recording (its reference number)")
    audit.add_argument("--json", action="store_true", help="one JSON object a line")
    audit.add_argument("--limit", type=int, default=1000, help="at most this many (the newest), default 1000")
    return parser


def settings_from(args: argparse.Namespace) -> Settings:
    return load_settings(args.config, overrides={
        "data_dir": args.data_dir, "database_url": args.database_url,
        "host": getattr(args, "host", None), "port": getattr(args, "port", None),
        "events_port": getattr(args, "events_port", None),
    })


def main(argv: Optional[Sequence[str]] = None) -> int:
    args = build_parser().parse_args(argv)
    try:
        settings = settings_from(args)
    except ConfigError as exc:
        print(f"callsuite: {exc}", file=sys.stderr)
        return 2
    logging.basicConfig(level=settings.log_level.upper(),
                        format="%(asctime)s %(levelname)s %(name)s: %(message)s")
    # Alembic announces each of its plugins at INFO; only the migrations it runs matter.
    logging.getLogger("alembic.runtime.plugins").setLevel(logging.WARNING)
    commands = {"serve": serve, "provision": provision, "purge": purge, "migrate": migrate, "check": check,
                "outbox": outbox, "audit": audit}
    return commands[args.command](settings, args)


def serve(settings: Settings, args) -> int:
    from services.system import System, create_server

    system = System(settings).start()
    server = create_server(system, host=settings.host, port=settings.port)

    def stop(signum, frame):
        # waitress's run() ends on SystemExit and then shuts its worker threads down;
        # closing only the listening socket would leave it serving keep-alive connections.
        log.info("stopping (signal %s)", signum)
        raise SystemExit(0)

    signal.signal(signal.SIGTERM, stop)
    signal.signal(signal.SIGINT, stop)
    settle_heap()
    log.info("Callsuite listening on http://%s:%s (database %s, switch %s)", settings.host, server.effective_port,
             "sqlite" if system.database.is_sqlite else "external", settings.switch)
    log.info("Callsuite events listening on http://%s:%s", settings.host, system.events_server.port)
    writer = log_from_one_thread()
    try:
        server.run()
    finally:
        server.close()
        system.close()
        writer.stop()  # writes what is queued
    return 0


def settle_heap() -> None:
    """Hide what start-up built (schemas, Spyne's and the mappers' models, ~200,000 objects
    that live as long as the process) from the garbage collector. Left in its sight, every
    full collection walks them all: ~140 ms during which no request moves, the p99 of every
    hot operation under load."""
    gc.collect()
    gc.freeze()


def _load_site(path: Path):
    text = path.read_text(encoding="utf-8")
    if path.suffix.lower() in (".yaml", ".yml"):
        import yaml
        return yaml.safe_load(text)
    return json.loads(text)


def provision(settings: Settings, args) -> int:
    from services.core.errors import InvalidInput
    from services.core.provisioning import provision as load
    from storage.database import Database

    try:
        site = _load_site(args.file)
    except (OSError, ValueError) as exc:
        print(f"callsuite: cannot read {args.file}: {exc}", file=sys.stderr)
        return 2
    settings.data_dir.mkdir(parents=True, exist_ok=True)
    database = Database(settings.effective_database_url)
    database.migrate()
    try:
        with database.session() as session:
            changes = load(session, site)
    except InvalidInput as exc:
        print(f"callsuite: {args.file}: {exc}", file=sys.stderr)
        return 2
    finally:
        database.dispose()
    for change in changes:
        print(change)
    counts = {action: sum(1 for c in changes if c.action == action) for action in ("created", "changed", "unchanged")}
    print(f"{counts['created']} created, {counts['changed']} changed, {counts['unchanged']} unchanged")
    return 0


def _audited_database(settings: Settings, command: str):
    """The database with the audit log's subscribers, and what the command's actions are
    credited to: the operating-system user, on this machine."""
    import getpass

    from services.core import audit, events
    from storage.database import Database

    bus = events.EventBus()
    audit.AuditLog().register(bus)
    try:
        user = getpass.getuser()
    except (KeyError, OSError):
        user = None
    origin = audit.Origin(user=user, address="local", surface=f"callsuite {command}", binding="cli")
    return Database(settings.effective_database_url, hooks=bus), audit.acting(lambda: origin)


def purge(settings: Settings, args) -> int:
    from services.core.retention import purge_expired
    from storage.recordings import RecordingStore

    database, acting = _audited_database(settings, "purge")
    database.migrate()
    try:
        with acting, database.session() as session:
            report = purge_expired(session, RecordingStore(settings.recordings_dir),
                                   retention_days=settings.retention_days, dry_run=args.dry_run)
    finally:
        database.dispose()
    for line in report.lines():
        print(line)
    return 0


def outbox(settings: Settings, args) -> int:
    from services.core import outbox as entries
    from services.core.errors import CallsuiteError
    from services.integrations.delivery import safe_url
    from storage.database import Database

    settings.data_dir.mkdir(parents=True, exist_ok=True)
    database = Database(settings.effective_database_url)
    database.migrate()
    try:
        with (database.read_session() if args.outbox_command == "list" else database.session()) as session:
            if args.outbox_command == "list":
                print("id\tstate\tkind\tattempts\tnext attempt / sent\tidempotency key\ttarget\tlast error")
                for entry in entries.entries(session, args.state or (), limit=args.limit):
                    when = entry.sent_at if entry.state == "sent" else entry.next_attempt_at
                    print("\t".join([str(entry.id), entry.state, entry.kind, str(entry.attempts),
                                     when.isoformat(timespec="seconds"), entry.idempotency_key or "",
                                     safe_url(entry.target), entry.last_error or ""]))
            elif args.all_failed:
                print(f"{entries.retry_all_failed(session)} failed entries are pending again")
            else:
                entry = entries.retry(session, args.id)
                print(f"outbox entry {entry.id} ({entry.kind}) is pending again")
    except CallsuiteError as exc:
        print(f"callsuite: {exc}", file=sys.stderr)
        return 1
    finally:
        database.dispose()
    return 0


def parse_since(text: str):
    """`2026-12-01T09:00` (UTC unless zoned), `2026-12-01`, or a time ago: `90s`, `30m`, `12h`, `7d`."""
    import re
    from datetime import datetime, timedelta, timezone

    ago = re.fullmatch(r"\s*(\d{1,9})\s*([smhdw])\s*", text or "")
    if ago:
        unit = {"s": "seconds", "m": "minutes", "h": "hours", "d": "days", "w": "weeks"}[ago.group(2)]
        return datetime.now(timezone.utc) - timedelta(**{unit: int(ago.group(1))})
    try:
        moment = datetime.fromisoformat(text.strip().replace("Z", "+00:00"))
    except ValueError:
        raise ValueError(f"--since {text!r}: give an ISO 8601 date-time or a time ago such as 30m, 12h, 7d") from None
    return moment if moment.tzinfo else moment.replace(tzinfo=timezone.utc)


def audit(settings: Settings, args) -> int:
    from services.core.audit import entries
    from storage.database import Database

    try:
        since = parse_since(args.since) if args.since else None
    except ValueError as exc:
        print(f"callsuite: {exc}", file=sys.stderr)
        return 2
    settings.data_dir.mkdir(parents=True, exist_ok=True)
    database = Database(settings.effective_database_url)
    database.migrate()
    try:
        with database.read_session() as session:
            rows = entries(session, since=since, reference=args.recording, limit=max(1, args.limit))
            found = [{"at": row.at.isoformat(timespec="seconds"), "action": row.action, "recording": row.reference,
                      "call_id": row.call_id, "user": row.user, "address": row.address, "surface": row.surface,
                      "binding": row.binding, "request_id": row.request_id, "detail": row.detail} for row in rows]
    finally:
        database.dispose()
    if args.json:
        for entry in found:
            print(json.dumps(entry))
        return 0
    print("at\taction\trecording\tuser\taddress\tsurface\tbinding\trequest id\tdetail")
    for entry in found:
        print("\t".join("" if entry[key] is None else str(entry[key]) for key in
                        ("at", "action", "recording", "user", "address", "surface", "binding", "request_id", "detail")))
    return 0


def migrate(settings: Settings, args) -> int:
    from storage.database import Database

    settings.data_dir.mkdir(parents=True, exist_ok=True)
    database = Database(settings.effective_database_url)
    database.migrate()
    database.dispose()
    print("database is at the newest schema")
    return 0


def check(settings: Settings, args) -> int:
    """What `serve` would meet, without starting it: each finding on a line."""
    import tempfile

    from sqlalchemy.exc import SQLAlchemyError

    from storage.database import Database

    errors = 0

    def report(level: str, text: str) -> None:
        nonlocal errors
        errors += level == "error"
        print(f"{level}: {text}")

    report("ok", "configuration read")
    settings.data_dir.mkdir(parents=True, exist_ok=True)
    database = Database(settings.effective_database_url)
    try:
        pending = database.pending_migrations()
        if pending:
            report("warning", f"{len(pending)} migration(s) to apply at start: {', '.join(pending)}")
        else:
            report("ok", "database reachable, schema up to date")
    except SQLAlchemyError as exc:
        report("error", f"database unreachable: {type(exc).__name__}: {str(exc.orig or exc).splitlines()[0]}")
    finally:
        database.dispose()
    try:
        settings.recordings_dir.mkdir(parents=True, exist_ok=True)
        with tempfile.NamedTemporaryFile(dir=settings.recordings_dir):
            pass
        report("ok", f"recording store writable: {settings.recordings_dir}")
    except OSError as exc:
        report("error", f"recording store not writable: {exc}")
    if settings.cti_token is None:
        report("warning", "cti_token is not set: CTI ingest (POST /cti/v1/events) stays closed")
    if settings.switch == "simulated":
        report("warning", "switch = simulated: no real phone will ring")
    return 1 if errors else 0


if __name__ == "__main__":
    sys.exit(main())
