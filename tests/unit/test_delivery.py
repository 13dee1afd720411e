"""The delivery worker against a real local receiver that verifies Standard Webhooks signatures.

In-process workers for the outcomes, real `python -m clinic.delivery`
subprocesses for restarts and for two workers sharing one database.
"""
from __future__ import annotations

import logging
import os
import signal
import subprocess
import sys
import time
import uuid
from datetime import datetime, timezone
from pathlib import Path
from typing import Callable, Dict, Iterator, List, Optional
from zoneinfo import ZoneInfo

import pytest
import requests
import sqlalchemy as sa

from clinic import store
from clinic.delivery import Settings, Verdict, Worker, backoff_seconds, judge_response
from clinic.store import DeliveryState, NewRequest, RequestKind
from tests.receiver import Receiver

ROOT = Path(__file__).resolve().parents[2]
PG_URL = os.environ.get("TEST_POSTGRES_URL", "postgresql://postgres@127.0.0.1:5432/test")
NEW_YORK = ZoneInfo("America/New_York")
NAME, PHONE, EMAIL = "Zelda Quillfeather", "+12125550187", "zelda.quill@example.com"
FAST = dict(DELIVERY_POLL_SECONDS="0.1", DELIVERY_RETRY_BASE_SECONDS="0.1",
            DELIVERY_RETRY_MAX_SECONDS="0.5", DELIVERY_TIMEOUT_SECONDS="2")


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


@pytest.fixture
def sqlite_url(tmp_path: Path) -> Iterator[str]:
    url = f"sqlite:///{tmp_path / 'requests.db'}"
    store.migrate(url)
    yield url
    store.engine(url).dispose()


@pytest.fixture
def receiver() -> Iterator[Receiver]:
    with Receiver() as running:
        yield running


def save_booking(url: str, conversation: str = "conv-1") -> store.SavedRequest:
    return store.save_request(NewRequest(
        kind=RequestKind.BOOKING, conversation_id=conversation, channel="rest",
        full_name=NAME, phone=PHONE, email=EMAIL, contact_method="phone",
        requested_start=datetime(2030, 3, 12, 13, 0, tzinfo=NEW_YORK),
        requested_end=datetime(2030, 3, 12, 17, 0, tzinfo=NEW_YORK),
        preferred_time_text="next Tuesday afternoon", reason="spider_vein_consultation",
        consent_version="2026-11-v1",
    ), url=url)


def fast_worker(receiver: Receiver, url: str, **changes: object) -> Worker:
    values: Dict[str, object] = dict(url=receiver.url, secret=receiver.secret, poll_seconds=0.1,
                                     timeout_seconds=2.0, retry_base_seconds=0.1, retry_max_seconds=0.5,
                                     lease_seconds=10.0, database_url=url)
    values.update(changes)
    return Worker(Settings(**values))  # type: ignore[arg-type]


def until(condition: Callable[[], object], timeout: float, step: Optional[Callable[[], object]] = None,
          what: str = "condition") -> None:
    """Poll (running `step` each time) until `condition` holds; fail after `timeout` seconds."""
    deadline = time.monotonic() + timeout
    while not condition():
        if time.monotonic() > deadline:
            raise AssertionError(f"{what} not reached within {timeout:.0f}s")
        if step:
            step()
        time.sleep(0.05)


def state(url: str, request_id: str) -> store.StoredRequest:
    found = store.get_request(request_id, url=url)
    assert found is not None
    return found


# --- outcomes, in process -------------------------------------------------------------------


def test_a_request_is_delivered_once_with_a_valid_signature(db_url: str, receiver: Receiver) -> None:
    saved = save_booking(db_url)
    worker = fast_worker(receiver, db_url)
    assert worker.run_once() == 1

    [delivery] = receiver.wait_for(1, timeout=5)
    assert receiver.rejected == []
    assert delivery.webhook_id == saved.id
    assert delivery.headers["content-type"] == "application/fhir+json"
    assert abs(int(delivery.headers["webhook-timestamp"]) - time.time()) < 60
    assert delivery.headers["webhook-signature"].startswith("v1,")
    appointment = delivery.json
    assert appointment["resourceType"] == "Appointment" and appointment["status"] == "proposed"
    assert {"system": "phone", "value": PHONE, "rank": 1} in appointment["contained"][0]["telecom"]
    assert appointment["requestedPeriod"][0]["start"] == "2030-03-12T13:00:00-04:00"

    found = state(db_url, saved.id)
    assert (found.state, found.attempts, found.last_status) == (DeliveryState.DELIVERED, 1, 200)
    assert worker.run_once() == 0  # final: never sent again
    assert len(receiver.attempts) == 1


def test_5xx_is_retried_until_a_2xx_then_never_again(db_url: str, receiver: Receiver) -> None:
    saved = save_booking(db_url)
    worker = fast_worker(receiver, db_url)
    receiver.set_status(503)
    worker.run_once()
    found = state(db_url, saved.id)
    assert (found.state, found.attempts, found.last_status) == (DeliveryState.PENDING, 1, 503)
    assert found.last_error.startswith("HTTP 503")  # type: ignore[union-attr]
    assert found.next_attempt_at > datetime.now(timezone.utc)  # type: ignore[operator]

    receiver.set_status(200)
    until(lambda: state(db_url, saved.id).state is DeliveryState.DELIVERED, 10, worker.run_once, "delivered")
    for _ in range(5):
        worker.run_once()
    assert len(receiver.deliveries) == 1 and receiver.deliveries[0].webhook_id == saved.id
    assert len(receiver.attempts) == 2
    assert {a.webhook_id for a in receiver.attempts} == {saved.id}  # one webhook-id for every attempt


def test_a_receiver_that_is_down_gets_the_request_once_it_is_back(db_url: str, receiver: Receiver) -> None:
    receiver.stop()  # connection refused from now on
    saved = save_booking(db_url)
    worker = fast_worker(receiver, db_url)
    until(lambda: state(db_url, saved.id).attempts >= 3, 10, worker.run_once, "three failed attempts")
    found = state(db_url, saved.id)
    assert (found.state, found.last_status, found.last_error) == (DeliveryState.PENDING, None, "ConnectionError")

    receiver.start()
    until(lambda: state(db_url, saved.id).state is DeliveryState.DELIVERED, 10, worker.run_once, "delivered")
    assert [d.webhook_id for d in receiver.deliveries] == [saved.id]


def test_a_timeout_is_retried(sqlite_url: str, receiver: Receiver) -> None:
    saved = save_booking(sqlite_url)
    receiver.set_status(503)  # the slow answers are refusals, so a late one cannot count as delivered
    receiver.set_delay(1.5)
    fast_worker(receiver, sqlite_url, timeout_seconds=0.5).run_once()
    found = state(sqlite_url, saved.id)
    assert (found.state, found.attempts, found.last_error) == (DeliveryState.PENDING, 1, "ReadTimeout")

    receiver.set_delay(0)
    receiver.set_status(200)
    worker = fast_worker(receiver, sqlite_url)
    until(lambda: state(sqlite_url, saved.id).state is DeliveryState.DELIVERED, 10, worker.run_once, "delivered")
    assert len(receiver.deliveries) == 1


def test_4xx_is_a_dead_letter_until_staff_retry_it(db_url: str, receiver: Receiver) -> None:
    saved = save_booking(db_url)
    worker = fast_worker(receiver, db_url)
    receiver.set_status(400)
    worker.run_once()
    found = state(db_url, saved.id)
    assert (found.state, found.attempts, found.last_status) == (DeliveryState.DEAD, 1, 400)
    assert found.last_error.startswith("HTTP 400")  # type: ignore[union-attr]
    for _ in range(3):
        assert worker.run_once() == 0
    assert len(receiver.attempts) == 1

    receiver.set_status(200)
    retried = subprocess.run(
        [sys.executable, "-m", "staff", "retry", saved.reference], cwd=ROOT, capture_output=True,
        text=True, timeout=60, env={**os.environ, "DATABASE_URL": db_url, "PYTHONPATH": str(ROOT)},
    )
    assert retried.returncode == 0, retried.stderr
    assert f"{saved.reference} is pending again" in retried.stdout
    assert worker.run_once() == 1
    assert state(db_url, saved.id).state is DeliveryState.DELIVERED
    assert [d.webhook_id for d in receiver.deliveries] == [saved.id]


def test_a_bad_signature_is_refused_by_the_receiver(sqlite_url: str, receiver: Receiver) -> None:
    # The worker signs with another secret: the receiver answers 401, a dead letter.
    other = Receiver()
    saved = save_booking(sqlite_url)
    fast_worker(receiver, sqlite_url, secret=other.secret).run_once()
    assert len(receiver.rejected) == 1 and receiver.deliveries == []
    assert state(sqlite_url, saved.id).state is DeliveryState.DEAD


@pytest.mark.parametrize("secret", [None, ""])
def test_without_a_secret_nothing_is_sent_and_requests_wait(
    sqlite_url: str, receiver: Receiver, caplog: pytest.LogCaptureFixture, secret: Optional[str]
) -> None:
    saved = save_booking(sqlite_url)
    with caplog.at_level(logging.INFO, logger="clinic.delivery"):
        worker = fast_worker(receiver, sqlite_url, secret=secret)
        for _ in range(5):
            assert worker.run_once() == 0
    assert receiver.attempts == []
    assert state(sqlite_url, saved.id).state is DeliveryState.PENDING
    warnings = [r for r in caplog.records if r.levelno == logging.WARNING]
    assert len(warnings) == 1 and "BOOKING_WEBHOOK_SECRET" in warnings[0].getMessage()


def test_an_invalid_secret_sends_nothing(sqlite_url: str, receiver: Receiver) -> None:
    saved = save_booking(sqlite_url)
    assert fast_worker(receiver, sqlite_url, secret="whsec_").run_once() == 0
    assert receiver.attempts == [] and state(sqlite_url, saved.id).state is DeliveryState.PENDING


# --- judging and backoff -------------------------------------------------------------------------


def response(status: int) -> requests.Response:
    made = requests.Response()
    made.status_code = status
    made._content = b"details"  # noqa: SLF001 - building a plain Response
    return made


@pytest.mark.parametrize("status,verdict", [
    (200, Verdict.DELIVERED), (201, Verdict.DELIVERED), (204, Verdict.DELIVERED),
    (500, Verdict.RETRY), (502, Verdict.RETRY), (503, Verdict.RETRY), (504, Verdict.RETRY),
    (408, Verdict.RETRY), (429, Verdict.RETRY),
    (400, Verdict.DEAD), (401, Verdict.DEAD), (404, Verdict.DEAD), (410, Verdict.DEAD), (422, Verdict.DEAD),
    (301, Verdict.DEAD), (302, Verdict.DEAD),
])
def test_statuses_are_judged(status: int, verdict: Verdict) -> None:
    assert judge_response(response(status)).verdict is verdict


def test_backoff_doubles_is_capped_and_jittered() -> None:
    top = [backoff_seconds(n, 1.0, 30.0, rng=lambda low, high: high) for n in range(1, 10)]
    assert top == [1, 2, 4, 8, 16, 30, 30, 30, 30]
    for attempts in range(1, 40):
        delay = backoff_seconds(attempts, 1.0, 30.0)
        ceiling = min(30.0, 2 ** (attempts - 1))
        assert ceiling / 2 <= delay <= ceiling
    assert len({round(backoff_seconds(8, 1.0, 30.0), 6) for _ in range(20)}) > 1  # jitter spreads retries


# --- real worker processes --------------------------------------------------------------------------


class WorkerProcess:
    """`python -m clinic.delivery` as ops/stack.py starts it, with its own log file."""

    def __init__(self, env: Dict[str, str], log: Path) -> None:
        self.log = log
        with open(log, "ab") as out:
            self.process = subprocess.Popen(
                [sys.executable, "-m", "clinic.delivery"], cwd=ROOT, env=env,
                stdout=out, stderr=subprocess.STDOUT, start_new_session=True,
            )

    def text(self) -> str:
        return self.log.read_text()

    def wait_started(self, timeout: float = 60) -> None:
        until(lambda: "started" in self.text() or self.process.poll() is not None, timeout, what="worker start")
        assert self.process.poll() is None, self.text()

    def terminate(self, timeout: float = 20) -> int:
        self.process.send_signal(signal.SIGTERM)
        return self.process.wait(timeout)

    def kill(self) -> None:
        if self.process.poll() is None:
            os.killpg(self.process.pid, signal.SIGKILL)
            self.process.wait(10)


@pytest.fixture
def worker_env(receiver: Receiver) -> Callable[..., Dict[str, str]]:
    def build(url: str, **changes: str) -> Dict[str, str]:
        env = {**os.environ, **FAST, "DATABASE_URL": url, "BOOKING_WEBHOOK_URL": receiver.url,
               "BOOKING_WEBHOOK_SECRET": receiver.secret, "PYTHONPATH": str(ROOT), "LOG_LEVEL": "INFO"}
        env.update(changes)
        return env
    return build


@pytest.fixture
def processes() -> Iterator[List[WorkerProcess]]:
    started: List[WorkerProcess] = []
    yield started
    for process in started:
        process.kill()


def assert_no_personal_data(*texts: str) -> None:
    for text in texts:
        for secret in (NAME, "Zelda", PHONE, PHONE[2:], EMAIL):
            assert secret not in text


def test_pending_requests_are_sent_after_a_worker_restart(
    sqlite_url: str, receiver: Receiver, worker_env: Callable[..., Dict[str, str]],
    processes: List[WorkerProcess], tmp_path: Path,
) -> None:
    receiver.set_status(503)
    saved = [save_booking(sqlite_url, f"c{i}") for i in range(3)]
    first = WorkerProcess(worker_env(sqlite_url), tmp_path / "worker1.log")
    processes.append(first)
    receiver.wait_for_attempts(3, timeout=60)
    assert first.terminate() == 0  # SIGTERM: a clean stop
    assert "stopped" in first.text()
    assert all(state(sqlite_url, s.id).state is DeliveryState.PENDING for s in saved)

    receiver.set_status(200)
    second = WorkerProcess(worker_env(sqlite_url), tmp_path / "worker2.log")
    processes.append(second)
    receiver.wait_for(3, timeout=60)
    until(lambda: all(state(sqlite_url, s.id).state is DeliveryState.DELIVERED for s in saved), 30,
          what="all delivered")
    assert second.terminate() == 0
    assert sorted(d.webhook_id for d in receiver.deliveries) == sorted(s.id for s in saved)
    assert_no_personal_data(first.text(), second.text())
    assert all(s.reference in second.text() for s in saved)


def test_a_killed_worker_leaves_nothing_behind(
    sqlite_url: str, receiver: Receiver, worker_env: Callable[..., Dict[str, str]],
    processes: List[WorkerProcess], tmp_path: Path,
) -> None:
    # SIGKILL while a request is in flight: its lease runs out and the next worker sends it.
    receiver.set_status(503)
    receiver.set_delay(5)
    saved = save_booking(sqlite_url)
    env = worker_env(sqlite_url, DELIVERY_TIMEOUT_SECONDS="10", DELIVERY_LEASE_SECONDS="3")
    first = WorkerProcess(env, tmp_path / "worker1.log")
    processes.append(first)
    until(lambda: store.list_requests(url=sqlite_url)[0].attempts == 0 and _leased(sqlite_url, saved.id), 60,
          what="request in flight")
    first.kill()

    receiver.set_delay(0)
    receiver.set_status(200)
    second = WorkerProcess(env, tmp_path / "worker2.log")
    processes.append(second)
    receiver.wait_for(1, timeout=60)
    until(lambda: state(sqlite_url, saved.id).state is DeliveryState.DELIVERED, 30, what="delivered")
    assert [d.webhook_id for d in receiver.deliveries] == [saved.id]


def _leased(url: str, request_id: str) -> bool:
    with store.engine(url).connect() as connection:
        owner = connection.execute(
            sa.text("SELECT lease_owner FROM outbox WHERE request_id = :id"), {"id": request_id}
        ).scalar_one()
    return owner is not None


def test_two_workers_never_deliver_a_request_twice(
    db_url: str, receiver: Receiver, worker_env: Callable[..., Dict[str, str]],
    processes: List[WorkerProcess], tmp_path: Path,
) -> None:
    receiver.set_delay(0.1)  # long enough that both workers are busy at once
    workers = [WorkerProcess(worker_env(db_url), tmp_path / f"worker{i}.log") for i in (1, 2)]
    processes.extend(workers)
    for worker in workers:
        worker.wait_started()
    saved = [save_booking(db_url, f"c{i}") for i in range(30)]

    receiver.wait_for(30, timeout=90)
    until(lambda: store.count_by_state(url=db_url) == {"delivered": 30}, 30, what="all 30 recorded delivered")
    for worker in workers:
        assert worker.terminate() == 0  # after this nothing more can arrive
    ids = [d.webhook_id for d in receiver.deliveries]
    assert len(ids) == 30 and set(ids) == {s.id for s in saved}
    assert receiver.rejected == []
    per_worker = [w.text().count("delivered VC-") for w in workers]
    assert sum(per_worker) == 30 and min(per_worker) > 0, per_worker
    assert_no_personal_data(*(w.text() for w in workers))


def test_a_worker_without_configuration_waits_and_says_so_once(
    sqlite_url: str, receiver: Receiver, processes: List[WorkerProcess], tmp_path: Path,
) -> None:
    saved = save_booking(sqlite_url)
    env = {**os.environ, **FAST, "DATABASE_URL": sqlite_url, "PYTHONPATH": str(ROOT)}
    env.pop("BOOKING_WEBHOOK_URL", None)
    env.pop("BOOKING_WEBHOOK_SECRET", None)
    worker = WorkerProcess(env, tmp_path / "worker.log")
    processes.append(worker)
    worker.wait_started()
    time.sleep(1)  # ten polls: gives it the chance to (wrongly) send or repeat the warning
    assert worker.terminate() == 0
    assert worker.text().count("WARNING") == 1
    assert receiver.attempts == [] and state(sqlite_url, saved.id).state is DeliveryState.PENDING
