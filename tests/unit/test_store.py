"""The request store on real databases: SQLite files, and PostgreSQL when it answers."""
from __future__ import annotations

import asyncio
import os
import re
import subprocess
import sys
import threading
import uuid
from datetime import datetime, timedelta, timezone
from pathlib import Path
from typing import Iterator, List
from zoneinfo import ZoneInfo

import pytest
import sqlalchemy as sa
from alembic.autogenerate import compare_metadata
from alembic.migration import MigrationContext

from clinic import store
from clinic.store import DeliveryState, NewRequest, RequestKind, StoreUnavailable
import staff.console.models  # noqa: F401  (its tables share the request database's schema)

ROOT = Path(__file__).resolve().parents[2]
PG_URL = os.environ.get("TEST_POSTGRES_URL", "postgresql://postgres@127.0.0.1:5432/test")
NEW_YORK = ZoneInfo("America/New_York")


def postgres_answers() -> bool:
    try:
        probe = sa.create_engine(PG_URL, future=True, connect_args={"connect_timeout": 3})
        with probe.connect():
            pass
        probe.dispose()
        return True
    except sa.exc.SQLAlchemyError:
        return False


@pytest.fixture(params=["sqlite", pytest.param("postgresql", marks=pytest.mark.production)])
def db_url(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[str]:
    """An empty, migrated request database: a SQLite file, or a PostgreSQL schema of its own."""
    if request.param == "sqlite":
        url = f"sqlite:///{tmp_path / 'requests.db'}"
        store.migrate(url)
        yield url
        store.engine(url).dispose()
        return
    if not postgres_answers():
        pytest.skip(f"PostgreSQL does not answer at {PG_URL}")
    schema = f"test_{uuid.uuid4().hex[:12]}"
    admin = sa.create_engine(PG_URL, future=True)
    with admin.begin() as connection:
        connection.execute(sa.text(f'CREATE SCHEMA "{schema}"'))
    url = f"{PG_URL}?options=-csearch_path%3D{schema}"
    try:
        store.migrate(url)
        yield url
    finally:
        store.engine(url).dispose()
        with admin.begin() as connection:
            connection.execute(sa.text(f'DROP SCHEMA "{schema}" CASCADE'))
        admin.dispose()


def booking(**changes: object) -> NewRequest:
    values = dict(
        kind=RequestKind.BOOKING, conversation_id="conv-1", channel="rest",
        full_name="Ada Testpatient", phone="+12125550143", email="ada@example.com",
        contact_method="phone",
        requested_start=datetime(2030, 3, 12, 13, 0, tzinfo=NEW_YORK),
        requested_end=datetime(2030, 3, 12, 17, 0, tzinfo=NEW_YORK),
        preferred_time_text="next Tuesday afternoon", reason="spider_vein_consultation",
        consent_version="2026-11-v1",
    )
    values.update(changes)
    return NewRequest(**values)  # type: ignore[arg-type]


def rows(url: str, sql: str) -> List[sa.Row]:
    with store.engine(url).connect() as connection:
        return connection.execute(sa.text(sql)).all()


# --- schema -------------------------------------------------------------------------


def test_migrations_from_empty_create_exactly_the_models(db_url: str) -> None:
    tables = set(sa.inspect(store.engine(db_url)).get_table_names())
    assert tables == {"alembic_version", "requests", "outbox", "sms_opt_outs",
                      "staff_accounts", "staff_sessions", "staff_sign_in_failures", "staff_audit",
                      "handovers"}
    with store.engine(db_url).connect() as connection:
        differences = compare_metadata(MigrationContext.configure(connection), store.Base.metadata)
    assert differences == []
    store.migrate(db_url)  # again: nothing to do, nothing breaks
    assert rows(db_url, "SELECT version_num FROM alembic_version") == [("0003",)]


def test_store_module_migrates_the_database_in_the_environment(tmp_path: Path) -> None:
    url = f"sqlite:///{tmp_path / 'fresh.db'}"
    env = {**os.environ, "DATABASE_URL": url, "PYTHONPATH": str(ROOT)}
    done = subprocess.run([sys.executable, "-m", "clinic.store", "migrate"], cwd=ROOT, env=env,
                          capture_output=True, text=True, timeout=120)
    assert done.returncode == 0, done.stderr
    assert {"requests", "outbox", "sms_opt_outs"} <= set(sa.inspect(store.engine(url)).get_table_names())


# --- saving -------------------------------------------------------------------------


def test_request_and_outbox_row_are_written_together(db_url: str) -> None:
    before = datetime.now(timezone.utc)
    saved = store.save_request(booking(), url=db_url)

    assert re.fullmatch(r"VC-[23456789ABCDEFGHJKMNPQRSTVWXYZ]{6}", saved.reference)
    assert uuid.UUID(saved.id).version == 4
    found = store.get_request(saved.reference, url=db_url)
    assert found is not None
    assert (found.id, found.kind, found.conversation_id, found.channel, found.consent_version) == (
        saved.id, RequestKind.BOOKING, "conv-1", "rest", "2026-11-v1")
    assert (found.full_name, found.phone, found.email) == ("Ada Testpatient", "+12125550143", "ada@example.com")
    assert found.requested_start == datetime(2030, 3, 12, 17, 0, tzinfo=timezone.utc)  # 1 pm EDT
    assert found.requested_start.tzinfo is timezone.utc
    assert before <= found.created_at <= datetime.now(timezone.utc)
    assert (found.state, found.attempts, found.delivered_at) == (DeliveryState.PENDING, 0, None)
    assert rows(db_url, "SELECT count(*) FROM outbox") == [(1,)]


def test_references_are_unique_and_lookups_ignore_case(db_url: str) -> None:
    saved = [store.save_request(booking(conversation_id=f"c{i}"), url=db_url) for i in range(60)]
    assert len({s.reference for s in saved}) == 60
    assert store.get_request(saved[0].reference.lower(), url=db_url).id == saved[0].id  # type: ignore[union-attr]
    assert store.get_request(saved[1].id, url=db_url).reference == saved[1].reference  # type: ignore[union-attr]
    assert store.get_request("VC-NOSUCH", url=db_url) is None


def test_a_failing_write_stores_nothing_half(db_url: str) -> None:
    # The request row goes in first; the outbox insert then fails inside the same transaction.
    with store.engine(db_url).begin() as connection:
        connection.execute(sa.text("ALTER TABLE outbox RENAME TO outbox_gone"))
    with pytest.raises(StoreUnavailable):
        store.save_request(booking(), url=db_url)
    assert rows(db_url, "SELECT count(*) FROM requests") == [(0,)]


def test_an_unmigrated_database_is_unavailable(tmp_path: Path) -> None:
    url = f"sqlite:///{tmp_path / 'empty.db'}"
    with pytest.raises(StoreUnavailable):
        store.save_request(booking(), url=url)


@pytest.mark.parametrize("url", [
    "sqlite:////proc/no-such-dir/requests.db",
    pytest.param("postgresql://postgres@127.0.0.1:1/test", id="postgres-refused"),
])
def test_an_unreachable_database_is_unavailable(url: str) -> None:
    with pytest.raises(StoreUnavailable):
        store.save_request(booking(), url=url)


def test_a_time_without_time_zone_is_refused(db_url: str) -> None:
    with pytest.raises(StoreUnavailable):
        store.save_request(booking(requested_start=datetime(2030, 3, 12, 13, 0)), url=db_url)
    assert rows(db_url, "SELECT count(*) FROM requests") == [(0,)]


def test_callbacks_keep_only_what_was_given(db_url: str) -> None:
    saved = store.save_request(NewRequest(
        kind=RequestKind.URGENT_CALLBACK, conversation_id="c-urgent", channel="twilio",
        full_name="Bo Caller", phone="+447700900123", consent_version="2026-11-v1",
        patient_message="my leg is swollen since yesterday",
    ), url=db_url)
    found = store.get_request(saved.reference, url=db_url)
    assert found is not None and found.kind is RequestKind.URGENT_CALLBACK
    assert (found.email, found.requested_start, found.reason) == (None, None, None)
    assert found.patient_message == "my leg is swollen since yesterday"


def test_personal_data_is_not_in_repr(db_url: str) -> None:
    new = booking()
    found = store.get_request(store.save_request(new, url=db_url).id, url=db_url)
    for text in (repr(new), repr(found)):
        for secret in ("Ada", "2125550143", "ada@example.com", "next Tuesday"):
            assert secret not in text


# --- outbox ------------------------------------------------------------------------------


def test_a_claim_is_exclusive_until_its_lease_ends(db_url: str) -> None:
    saved = store.save_request(booking(), url=db_url)
    first = store.claim_due("w1", lease_seconds=30, url=db_url)
    assert [r.id for r in first] == [saved.id]
    assert store.claim_due("w2", lease_seconds=30, url=db_url) == []

    later = datetime.now(timezone.utc) + timedelta(seconds=31)
    assert [r.id for r in store.claim_due("w2", 30, url=db_url, now=later)] == [saved.id]
    # w1's lease is gone: its late result must not overwrite w2's work.
    assert store.mark_delivered(saved.id, "w1", 200, url=db_url) is False
    assert store.mark_delivered(saved.id, "w2", 200, url=db_url) is True
    assert store.get_request(saved.id, url=db_url).state is DeliveryState.DELIVERED  # type: ignore[union-attr]


def test_delivered_is_final(db_url: str) -> None:
    saved = store.save_request(booking(), url=db_url)
    store.claim_due("w1", 30, url=db_url)
    assert store.mark_delivered(saved.id, "w1", 204, url=db_url)
    far = datetime.now(timezone.utc) + timedelta(days=3)
    assert store.claim_due("w1", 30, url=db_url, now=far) == []
    assert store.retry_dead(saved.reference, url=db_url) is False
    found = store.get_request(saved.id, url=db_url)
    assert (found.state, found.attempts, found.last_status) == (DeliveryState.DELIVERED, 1, 204)  # type: ignore[union-attr]


def test_a_retry_waits_until_it_is_due(db_url: str) -> None:
    saved = store.save_request(booking(), url=db_url)
    store.claim_due("w1", 30, url=db_url)
    due = datetime.now(timezone.utc) + timedelta(seconds=20)
    assert store.mark_retry(saved.id, "w1", "HTTP 503: busy", due, status=503, url=db_url)
    assert store.claim_due("w1", 30, url=db_url) == []
    again = store.claim_due("w1", 30, url=db_url, now=due + timedelta(seconds=1))
    assert [(r.id, r.attempts, r.last_status, r.last_error) for r in again] == [
        (saved.id, 1, 503, "HTTP 503: busy")]


def test_a_dead_letter_waits_for_staff_then_is_due_again(db_url: str) -> None:
    saved = store.save_request(booking(), url=db_url)
    store.claim_due("w1", 30, url=db_url)
    assert store.mark_dead(saved.id, "w1", "HTTP 400: bad resource", status=400, url=db_url)
    far = datetime.now(timezone.utc) + timedelta(days=3)
    assert store.claim_due("w1", 30, url=db_url, now=far) == []
    assert [r.reference for r in store.list_requests(DeliveryState.DEAD, url=db_url)] == [saved.reference]

    assert store.retry_dead(saved.reference.lower(), url=db_url) is True
    assert store.retry_dead(saved.reference, url=db_url) is False  # pending now, not dead
    assert [r.id for r in store.claim_due("w2", 30, url=db_url)] == [saved.id]


def test_concurrent_claimers_never_share_a_row(db_url: str) -> None:
    saved = {store.save_request(booking(conversation_id=f"c{i}"), url=db_url).id for i in range(40)}
    claimed: dict = {"a": [], "b": [], "c": []}

    def claim_all(name: str) -> None:
        while True:
            got = store.claim_due(name, 60, limit=2, url=db_url)
            if not got:
                return
            claimed[name].extend(r.id for r in got)

    threads = [threading.Thread(target=claim_all, args=(name,)) for name in claimed]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(60)
    everything = [request_id for ids in claimed.values() for request_id in ids]
    assert sorted(everything) == sorted(saved)  # each row claimed exactly once


def test_list_and_counts_by_state(db_url: str) -> None:
    ids = [store.save_request(booking(conversation_id=f"c{i}"), url=db_url).id for i in range(3)]
    store.claim_due("w", 30, limit=3, url=db_url)
    store.mark_delivered(ids[0], "w", 200, url=db_url)
    store.mark_dead(ids[1], "w", "HTTP 410", status=410, url=db_url)
    store.release(ids[2], "w", url=db_url)
    assert store.count_by_state(url=db_url) == {"delivered": 1, "dead": 1, "pending": 1}
    assert [r.id for r in store.list_requests(DeliveryState.PENDING, url=db_url)] == [ids[2]]
    assert len(store.list_requests(url=db_url)) == 3
    assert len(store.list_requests(limit=2, url=db_url)) == 2


# --- retention ----------------------------------------------------------------------------


def backdate(url: str, request_id: str, days: int) -> None:
    with store.engine(url).begin() as connection:
        connection.execute(
            sa.update(store.RequestRow.__table__).where(store.RequestRow.__table__.c.id == request_id)
            .values(created_at=datetime.now(timezone.utc) - timedelta(days=days))
        )


def test_purge_deletes_old_requests_with_their_outbox_rows(db_url: str) -> None:
    old = store.save_request(booking(conversation_id="old"), url=db_url)
    new = store.save_request(booking(conversation_id="new"), url=db_url)
    backdate(db_url, old.id, 31)
    assert store.count_requests_older_than(30, url=db_url) == 1
    assert store.purge_requests(30, url=db_url) == 1
    assert store.get_request(old.id, url=db_url) is None
    assert store.get_request(new.id, url=db_url) is not None
    assert rows(db_url, "SELECT request_id FROM outbox") == [(new.id,)]


# --- SMS opt-outs ---------------------------------------------------------------------------


def test_stop_and_start(db_url: str) -> None:
    address = "+15555550123"
    assert store.is_opted_out(address, url=db_url) is False
    store.set_opted_out(address, True, url=db_url)
    store.set_opted_out(address, True, url=db_url)  # STOP twice is fine
    assert store.is_opted_out(address, url=db_url) is True
    assert store.is_opted_out("+15555550999", url=db_url) is False
    store.set_opted_out(address, False, url=db_url)
    assert store.is_opted_out(address, url=db_url) is False


def test_opt_outs_survive_a_purge(db_url: str) -> None:
    store.set_opted_out("+15555550123", True, url=db_url)
    store.purge_requests(0, url=db_url, now=datetime.now(timezone.utc) + timedelta(days=400))
    assert store.is_opted_out("+15555550123", url=db_url) is True


# --- staff command ----------------------------------------------------------------------------


def staff(args: List[str], db_url: str, tracker_url: str = "sqlite:////nonexistent/tracker.db",
          **env: str) -> subprocess.CompletedProcess:
    environment = {**os.environ, "DATABASE_URL": db_url, "TRACKER_STORE_URL": tracker_url,
                   "PYTHONPATH": str(ROOT), **env}
    return subprocess.run([sys.executable, "-m", "staff", *args], cwd=ROOT, env=environment,
                          capture_output=True, text=True, timeout=120)


def save_tracker(tracker_url: str, sender: str, days_ago: float) -> None:
    """A conversation written by Rasa's own SQLTrackerStore, its events dated `days_ago`."""
    from rasa.core.tracker_store import SQLTrackerStore
    from rasa.shared.core.events import ActionExecuted, UserUttered
    from rasa.shared.core.trackers import DialogueStateTracker

    when = (datetime.now(timezone.utc) - timedelta(days=days_ago)).timestamp()
    tracker = DialogueStateTracker(sender, slots=[])
    tracker.update(ActionExecuted("action_listen", timestamp=when))
    tracker.update(UserUttered("hello", {"name": "greet", "confidence": 1.0}, timestamp=when + 1))
    path = sa.engine.make_url(tracker_url).database
    asyncio.run(SQLTrackerStore(dialect="sqlite", db=path).save(tracker))


def test_staff_purge_removes_old_requests_and_conversations(tmp_path: Path) -> None:
    db_url = f"sqlite:///{tmp_path / 'requests.db'}"
    tracker_url = f"sqlite:///{tmp_path / 'tracker.db'}"
    store.migrate(db_url)
    old = store.save_request(booking(conversation_id="old"), url=db_url)
    new = store.save_request(booking(conversation_id="new"), url=db_url)
    backdate(db_url, old.id, 12)
    save_tracker(tracker_url, "old-chat", days_ago=12)
    save_tracker(tracker_url, "new-chat", days_ago=2)

    dry = staff(["purge", "--days", "10", "--dry-run"], db_url, tracker_url)
    assert dry.returncode == 0, dry.stderr
    assert "Would delete 1 request(s) and 1 conversation(s) older than 10 day(s)." in dry.stdout
    assert store.get_request(old.id, url=db_url) is not None

    done = staff(["purge"], db_url, tracker_url, RETENTION_DAYS="10")
    assert done.returncode == 0, done.stderr
    assert "Deleted 1 request(s) and 1 conversation(s) older than 10 day(s)." in done.stdout
    assert store.get_request(old.id, url=db_url) is None
    assert store.get_request(new.id, url=db_url) is not None
    senders = {r[0] for r in rows(tracker_url, "SELECT DISTINCT sender_id FROM events")}
    assert senders == {"new-chat"}


def test_staff_list_and_show(tmp_path: Path) -> None:
    db_url = f"sqlite:///{tmp_path / 'requests.db'}"
    store.migrate(db_url)
    pending = store.save_request(booking(), url=db_url)
    dead = store.save_request(booking(kind=RequestKind.CALLBACK, requested_start=None, requested_end=None),
                              url=db_url)
    store.claim_due("w", 30, limit=2, url=db_url)
    store.release(pending.id, "w", url=db_url)
    store.mark_dead(dead.id, "w", "HTTP 422: unprocessable", status=422, url=db_url)

    listing = staff(["list"], db_url)
    assert listing.returncode == 0, listing.stderr
    lines = listing.stdout.splitlines()
    assert lines[0].split() == ["REFERENCE", "KIND", "CREATED", "STATE", "ATTEMPTS", "LAST", "ERROR", "/", "DELIVERED"]
    assert any(line.startswith(pending.reference) and " pending " in line for line in lines)
    assert any(line.startswith(dead.reference) and " dead " in line and "HTTP 422" in line for line in lines)
    assert "1 pending, 0 delivered, 1 dead" in listing.stdout
    assert "Ada" not in listing.stdout  # the list is for states; details are in `show`

    only_dead = staff(["list", "--state", "dead"], db_url)
    assert pending.reference not in only_dead.stdout and dead.reference in only_dead.stdout

    shown = staff(["show", pending.reference.lower()], db_url)
    assert shown.returncode == 0, shown.stderr
    for expected in (pending.reference, "Ada Testpatient", "+12125550143", "2030-03-12 13:00",
                     "Spider vein consultation", "2026-11-v1", "pending"):
        assert expected in shown.stdout

    missing = staff(["show", "VC-ZZZZZZ"], db_url)
    assert missing.returncode == 1 and "No request VC-ZZZZZZ" in missing.stderr
    not_dead = staff(["retry", pending.reference], db_url)
    assert not_dead.returncode == 1 and "not a dead letter" in not_dead.stderr


def test_the_default_database_is_database_url_as_it_is_now(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    first, second = (f"sqlite:///{tmp_path / name}" for name in ("first.db", "second.db"))
    for url in (first, second):
        store.migrate(url)
    monkeypatch.setenv("DATABASE_URL", first)
    in_first = store.save_request(booking())
    monkeypatch.setenv("DATABASE_URL", second)
    in_second = store.save_request(booking())
    assert store.get_request(in_first.id, url=first) is not None and store.get_request(in_first.id, url=second) is None
    assert store.get_request(in_second.id) is not None and store.get_request(in_second.id, url=first) is None


def test_requests_can_be_listed_by_kind(db_url: str) -> None:
    booked = store.save_request(booking(conversation_id="k1"), url=db_url)
    urgent = store.save_request(NewRequest(kind=RequestKind.URGENT_CALLBACK, conversation_id="k2", channel="rest",
                                           patient_message="chest pain"), url=db_url)
    assert [r.id for r in store.list_requests(url=db_url, kinds=[RequestKind.URGENT_CALLBACK])] == [urgent.id]
    assert [r.id for r in store.list_requests(url=db_url, kinds=[RequestKind.BOOKING, RequestKind.CALLBACK])] \
        == [booked.id]
    assert store.list_requests(DeliveryState.DEAD, url=db_url, kinds=[RequestKind.URGENT_CALLBACK]) == []
