"""Staff console command for booking and call-back requests.

    python -m staff list [--state pending|delivered|dead] [--limit N]
    python -m staff show REF
    python -m staff retry REF        # a dead letter goes back to pending
    python -m staff purge [--days N] [--dry-run]

`purge` deletes requests (with their outbox rows) AND conversations in the
tracker store older than N days (default RETENTION_DAYS). A conversation goes
when its newest event is older than that, so a conversation still going on is
never cut in half. SMS opt-outs are kept: a STOP must keep being honoured.

Uses DATABASE_URL and TRACKER_STORE_URL like the servers (see README).
"""
from __future__ import annotations

import argparse
import sys
from datetime import datetime, timedelta, timezone
from typing import List, Optional, Sequence

import sqlalchemy as sa
from sqlalchemy.exc import SQLAlchemyError

from clinic import store
from clinic.settings import clinic_details, tracker_store_url
from staff.shared import STATES, local_time, request_fields, retry, short


def table(headers: Sequence[str], rows: Sequence[Sequence[str]]) -> str:
    """A plain fixed-width table."""
    widths = [max(len(str(cell)) for cell in column) for column in zip(headers, *rows)]
    line = lambda cells: "  ".join(str(c).ljust(w) for c, w in zip(cells, widths)).rstrip()  # noqa: E731
    return "\n".join([line(headers), line(["-" * w for w in widths]), *(line(r) for r in rows)])


# --- commands ---------------------------------------------------------------------


def cmd_list(state: Optional[str], limit: int) -> int:
    requests = store.list_requests(store.DeliveryState(state) if state else None, limit=limit)
    if not requests:
        print("No requests" + (f" in state {state}." if state else "."))
        return 0
    rows = [
        [r.reference, r.kind.value, local_time(r.created_at), r.state.value, str(r.attempts),
         short(r.last_error) if r.state is not store.DeliveryState.DELIVERED else local_time(r.delivered_at)]
        for r in requests
    ]
    print(table(["REFERENCE", "KIND", "CREATED", "STATE", "ATTEMPTS", "LAST ERROR / DELIVERED"], rows))
    counts = store.count_by_state()
    print("\n" + ", ".join(f"{counts.get(s, 0)} {s}" for s in STATES) + f" (times in {clinic_details().timezone})")
    return 0


def cmd_show(reference: str) -> int:
    request = store.get_request(reference)
    if request is None:
        print(f"No request {reference}.", file=sys.stderr)
        return 1
    fields = request_fields(request)
    width = max(len(label) for label, _ in fields)
    for label, value in fields:
        print(f"{label.ljust(width)}  {value}")
    return 0


def cmd_retry(reference: str) -> int:
    result = retry(reference)
    print(result.message, file=sys.stdout if result.ok else sys.stderr)
    return 0 if result.ok else 1


def purge_conversations(days: int, url: Optional[str] = None, now: Optional[datetime] = None,
                        dry_run: bool = False) -> int:
    """Delete tracker-store conversations whose newest event is older than `days` days."""
    cutoff = ((now or datetime.now(timezone.utc)) - timedelta(days=days)).timestamp()
    engine = sa.create_engine(url or tracker_store_url(), future=True)
    try:
        if not sa.inspect(engine).has_table("events"):
            return 0  # no conversation stored yet
        events = sa.Table("events", sa.MetaData(), sa.Column("sender_id", sa.String),
                          sa.Column("timestamp", sa.Float))
        stale = (sa.select(events.c.sender_id).group_by(events.c.sender_id)
                 .having(sa.func.max(events.c.timestamp) < cutoff))
        with engine.begin() as connection:
            senders = connection.execute(stale).scalars().all()
            if senders and not dry_run:
                for start in range(0, len(senders), 500):  # stay under SQLite's parameter limit
                    connection.execute(sa.delete(events).where(events.c.sender_id.in_(senders[start:start + 500])))
            return len(senders)
    finally:
        engine.dispose()


def cmd_purge(days: int, dry_run: bool) -> int:
    if days < 0:
        print("--days must be 0 or more.", file=sys.stderr)
        return 2
    requests = store.count_requests_older_than(days) if dry_run else store.purge_requests(days)
    conversations = purge_conversations(days, dry_run=dry_run)
    verb = "Would delete" if dry_run else "Deleted"
    print(f"{verb} {requests} request(s) and {conversations} conversation(s) older than {days} day(s).")
    return 0


# --- entry point -----------------------------------------------------------------------


def parser() -> argparse.ArgumentParser:
    main = argparse.ArgumentParser(prog="python -m staff",
                                   description="Booking and call-back requests: list, show, retry, purge.")
    commands = main.add_subparsers(dest="command", required=True)
    listing = commands.add_parser("list", help="requests with their delivery state, newest first")
    listing.add_argument("--state", choices=STATES)
    listing.add_argument("--limit", type=int, default=50)
    commands.add_parser("show", help="one request in full").add_argument("reference")
    commands.add_parser("retry", help="send a dead letter again").add_argument("reference")
    purge = commands.add_parser("purge", help="delete requests and conversations older than N days")
    purge.add_argument("--days", type=int, default=None, help="default: RETENTION_DAYS")
    purge.add_argument("--dry-run", action="store_true", help="only count what would be deleted")
    return main


def main(argv: Optional[List[str]] = None) -> int:
    args = parser().parse_args(argv)
    try:
        if args.command == "list":
            return cmd_list(args.state, args.limit)
        if args.command == "show":
            return cmd_show(args.reference)
        if args.command == "retry":
            return cmd_retry(args.reference)
        days = clinic_details().retention_days if args.days is None else args.days
        return cmd_purge(days, args.dry_run)
    except SQLAlchemyError as error:
        detail = str(getattr(error, "orig", None) or error).splitlines()[0]
        print(f"Database error ({type(error).__name__}): {detail}", file=sys.stderr)
        return 1


if __name__ == "__main__":
    sys.exit(main())
