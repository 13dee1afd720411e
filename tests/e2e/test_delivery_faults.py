"""Delivery guarantees with the worker's default settings, as `make run` starts it.

Acceptance (issue 4): with the receiver down for a while, the request arrives
once within two minutes of it coming back. "A while" here is long enough for
the worker's backoff to reach its cap, the worst case for a returning receiver.
"""
from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from datetime import datetime
from pathlib import Path
from typing import Iterator
from zoneinfo import ZoneInfo

import pytest
import sqlalchemy as sa

from clinic import store
from clinic.store import DeliveryState, NewRequest, RequestKind
from ops.stack import Stack, StackConfig
from tests.receiver import Receiver

pytestmark = pytest.mark.e2e

ROOT = Path(__file__).resolve().parents[2]
CAP_REACHED_AFTER = 6  # failed attempts: delays of up to 1, 2, 4, 8, 16, then 30 s (the cap)
BACK_WITHIN_SECONDS = 120


@pytest.fixture
def database(tmp_path: Path) -> Iterator[str]:
    """The request database exactly as ops/stack.py prepares it for its var/ folder."""
    stack = Stack(StackConfig(var_dir=tmp_path, extra_env={"DATABASE_URL": f"sqlite:///{tmp_path / 'requests.db'}"}))
    stack.migrate()
    url = stack.env()["DATABASE_URL"]
    yield url
    store.engine(url).dispose()


def default_worker(database: str, receiver: Receiver, log: Path) -> subprocess.Popen:
    env = {name: value for name, value in os.environ.items() if not name.startswith("DELIVERY_")}
    env.update(DATABASE_URL=database, BOOKING_WEBHOOK_URL=receiver.url, BOOKING_WEBHOOK_SECRET=receiver.secret,
               PYTHONPATH=str(ROOT), LOG_LEVEL="INFO")
    with open(log, "ab") as out:
        return subprocess.Popen([sys.executable, "-m", "clinic.delivery"], cwd=ROOT, env=env,
                                stdout=out, stderr=subprocess.STDOUT, start_new_session=True)


def wait(condition, timeout: float, what: str) -> float:  # type: ignore[no-untyped-def]
    """Seconds it took for `condition` to hold; AssertionError after `timeout`."""
    started = time.monotonic()
    while not condition():
        if time.monotonic() - started > timeout:
            raise AssertionError(f"{what}: not within {timeout:.0f}s")
        time.sleep(0.2)
    return time.monotonic() - started


def test_the_stack_migrates_the_request_database(database: str) -> None:
    tables = set(sa.inspect(store.engine(database)).get_table_names())
    assert {"requests", "outbox", "sms_opt_outs", "alembic_version"} <= tables


def test_receiver_down_for_a_while_then_every_request_arrives_once_within_two_minutes(
    database: str, tmp_path: Path, capsys: pytest.CaptureFixture,
) -> None:
    receiver = Receiver().start()
    receiver.stop()  # down: connection refused
    saved = [store.save_request(NewRequest(
        kind=RequestKind.BOOKING, conversation_id=f"conv-{i}", channel="rest", full_name="Ruth Example",
        phone="+12125550111", requested_start=datetime(2030, 3, 12, 13, tzinfo=ZoneInfo("America/New_York")),
        reason="follow_up", consent_version="2026-11-v1",
    ), url=database) for i in range(3)]
    worker = default_worker(database, receiver, tmp_path / "worker.log")
    try:
        down_for = wait(lambda: all(store.get_request(s.id, url=database).attempts >= CAP_REACHED_AFTER  # type: ignore[union-attr]
                                    for s in saved), 150, "backoff reaching its cap")
        receiver.start()
        back_after = wait(lambda: store.count_by_state(url=database) == {"delivered": 3},
                          BACK_WITHIN_SECONDS, "delivery after the receiver came back")
        worker.send_signal(signal.SIGTERM)
        assert worker.wait(20) == 0
    finally:
        if worker.poll() is None:
            os.killpg(worker.pid, signal.SIGKILL)
        receiver.stop()
    ids = sorted(d.webhook_id for d in receiver.deliveries)
    assert ids == sorted(s.id for s in saved) and receiver.rejected == []
    attempts = [store.get_request(s.id, url=database).attempts for s in saved]  # type: ignore[union-attr]
    with capsys.disabled():
        print(f"\n  receiver down {down_for:.0f}s ({min(attempts) - 1}+ failed attempts each); "
              f"all 3 delivered {back_after:.1f}s after it came back")
    assert all(store.get_request(s.id, url=database).state is DeliveryState.DELIVERED for s in saved)  # type: ignore[union-attr]
