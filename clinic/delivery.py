"""Delivery worker: sends stored requests to the clinic's booking system.

    python -m clinic.delivery      (started by ops/stack.py with the servers)

Every poll it claims due outbox rows (actions/store.py), POSTs each request as
FHIR R4 JSON (actions/fhir.py) to BOOKING_WEBHOOK_URL, signed per the Standard
Webhooks spec (webhook-id = the request id, so a receiver can drop a repeat),
and records the outcome:

* 2xx: delivered; final, the worker never sends it again;
* timeout, connection error, 5xx, 408, 425, 429: tried again later, with
  exponential backoff and jitter, capped at DELIVERY_RETRY_MAX_SECONDS so a
  receiver that comes back is served within about that long; never given up;
* any other 4xx (and 3xx: redirects are not followed): dead letter with the
  reason; `python -m staff retry REF` sends it again.

BOOKING_WEBHOOK_URL or BOOKING_WEBHOOK_SECRET unset (or the secret invalid):
nothing is sent and requests stay pending until the worker is restarted with
both. Logs carry references, ids and states only, never patient details.

Guarantee: a request is sent until one 2xx is recorded. If the worker dies
between the receiver's 2xx and recording it, the request is sent once more
after its lease ends, with the same webhook-id.
"""
from __future__ import annotations

import json
import logging
import os
import random
import signal
import socket
import sys
import threading
import time
import uuid
from dataclasses import dataclass
from datetime import datetime, timedelta, timezone
from enum import Enum
from math import floor
from typing import Callable, Dict, Optional, TypeVar

import requests
from sqlalchemy.exc import SQLAlchemyError
from standardwebhooks import Webhook

from clinic import settings, store
from clinic.fhir import to_resource

log = logging.getLogger("clinic.delivery")
T = TypeVar("T")

# Client errors that mean "later", not "never" (RFC 9110 / 6585).
RETRYABLE_4XX = {408, 425, 429}
USER_AGENT = "vein-clinic-assistant-delivery/1.0"


# The worker's settings (clinic.settings reads them); the name kept for its callers.
Settings = settings.DeliverySettings


class Verdict(str, Enum):
    DELIVERED = "delivered"
    RETRY = "retry"
    DEAD = "dead"


@dataclass(frozen=True)
class Outcome:
    verdict: Verdict
    status: Optional[int]
    reason: str


def backoff_seconds(attempts: int, base: float, cap: float, rng: Callable[[float, float], float] = random.uniform) -> float:
    """Delay after the `attempts`-th failure: exponential, capped, with jitter in its upper half."""
    ceiling = min(cap, base * 2 ** max(attempts - 1, 0))
    return rng(ceiling / 2, ceiling)


def judge_response(response: requests.Response) -> Outcome:
    status = response.status_code
    if 200 <= status < 300:
        return Outcome(Verdict.DELIVERED, status, "")
    reason = f"HTTP {status}: {response.text[:300]}".strip()
    if status >= 500 or status in RETRYABLE_4XX:
        return Outcome(Verdict.RETRY, status, reason)
    return Outcome(Verdict.DEAD, status, reason)


def judge_error(error: requests.RequestException) -> Outcome:
    # Only the exception's type: its message can hold the URL, which may carry a token.
    if isinstance(error, (requests.Timeout, requests.ConnectionError)):
        return Outcome(Verdict.RETRY, None, type(error).__name__)
    return Outcome(Verdict.DEAD, None, type(error).__name__)  # e.g. an invalid URL


def worker_name() -> str:
    return f"{socket.gethostname()[:30]}:{os.getpid()}:{uuid.uuid4().hex[:8]}"


class Worker:
    """Claims, sends and records; one row at a time, so a lease covers one attempt."""

    def __init__(self, settings: Settings, name: Optional[str] = None) -> None:
        self.settings = settings
        self.name = name or worker_name()
        self.stop_event = threading.Event()
        self.http = requests.Session()
        self.signer = self._signer()
        self._db_down = False

    def _signer(self) -> Optional[Webhook]:
        if not self.settings.url or not self.settings.secret:
            log.warning("BOOKING_WEBHOOK_URL or BOOKING_WEBHOOK_SECRET is not set: "
                        "requests are stored and wait; restart the worker with both to send them")
            return None
        try:
            return Webhook(self.settings.secret)
        except Exception as error:  # noqa: BLE001 - the library raises several types for a bad secret
            log.error("BOOKING_WEBHOOK_SECRET is not a valid whsec_ secret (%s): requests wait",
                      type(error).__name__)
            return None

    # --- loop -------------------------------------------------------------------

    def run(self) -> None:
        log.info("delivery worker %s started (poll %.1f s, retry %.1f-%.1f s)", self.name,
                 self.settings.poll_seconds, self.settings.retry_base_seconds, self.settings.retry_max_seconds)
        while not self.stop_event.is_set():
            self.run_once()
            self.stop_event.wait(self.settings.poll_seconds)
        log.info("delivery worker %s stopped", self.name)

    def run_once(self) -> int:
        """Send every due request; returns how many attempts were made."""
        if self.signer is None:
            return 0
        attempts = 0
        while not self.stop_event.is_set():
            claimed = self._database(lambda: store.claim_due(
                self.name, self.settings.lease_seconds, limit=1, url=self.settings.database_url))
            if not claimed:
                return attempts
            self.deliver(claimed[0])
            attempts += 1
        return attempts

    def stop(self, *_: object) -> None:
        self.stop_event.set()

    # --- one request ------------------------------------------------------------

    def deliver(self, request: store.StoredRequest) -> Outcome:
        outcome = self.send(request)
        attempt = request.attempts + 1
        url = self.settings.database_url
        if outcome.verdict is Verdict.DELIVERED:
            self._record(lambda: store.mark_delivered(request.id, self.name, outcome.status or 0, url=url))
            log.info("delivered %s (id %s) with HTTP %s on attempt %d", request.reference, request.id,
                     outcome.status, attempt)
        elif outcome.verdict is Verdict.RETRY:
            delay = backoff_seconds(attempt, self.settings.retry_base_seconds, self.settings.retry_max_seconds)
            due = store.utcnow() + timedelta(seconds=delay)
            self._record(lambda: store.mark_retry(request.id, self.name, outcome.reason, due,
                                                  status=outcome.status, url=url))
            log.warning("%s attempt %d failed (%s); next try in %.1f s", request.reference, attempt,
                        outcome.status or outcome.reason, delay)
        else:
            self._record(lambda: store.mark_dead(request.id, self.name, outcome.reason,
                                                 status=outcome.status, url=url))
            log.error("%s is a dead letter after attempt %d (%s); see `python -m staff show %s`",
                      request.reference, attempt, outcome.status or outcome.reason, request.reference)
        return outcome

    def send(self, request: store.StoredRequest) -> Outcome:
        assert self.signer is not None and self.settings.url
        body = json.dumps(to_resource(request), ensure_ascii=False, separators=(",", ":"))
        try:
            response = self.http.post(
                self.settings.url, data=body.encode("utf-8"), headers=self.headers(request.id, body),
                timeout=self.settings.timeout_seconds, allow_redirects=False,
            )
        except requests.RequestException as error:
            return judge_error(error)
        return judge_response(response)

    def headers(self, request_id: str, body: str) -> Dict[str, str]:
        assert self.signer is not None
        now = datetime.now(timezone.utc)
        return {
            "content-type": "application/fhir+json",
            "user-agent": USER_AGENT,
            "webhook-id": request_id,
            "webhook-timestamp": str(floor(now.timestamp())),
            "webhook-signature": self.signer.sign(request_id, now, body),
        }

    # --- database hiccups ---------------------------------------------------------

    def _database(self, call: Callable[[], T]) -> Optional[T]:
        """Run a store call; while the database is unreachable, log once and report nothing due."""
        try:
            result = call()
        except SQLAlchemyError as error:
            if not self._db_down:
                log.warning("request database unavailable (%s); will keep trying", type(error).__name__)
            self._db_down = True
            return None
        if self._db_down:
            log.info("request database reachable again")
        self._db_down = False
        return result

    def _record(self, call: Callable[[], bool]) -> None:
        """Record an outcome, retrying while the database is away, within the lease.

        Giving up is safe: the lease runs out and the request is tried again.
        """
        deadline = time.monotonic() + self.settings.lease_seconds / 2
        while True:
            try:
                if not call():
                    log.warning("lease lost before recording an outcome; the row will be retried")
                return
            except SQLAlchemyError as error:
                if time.monotonic() > deadline or self.stop_event.is_set():
                    log.error("could not record a delivery outcome (%s)", type(error).__name__)
                    return
                time.sleep(min(1.0, self.settings.poll_seconds))


def main() -> int:
    logging.basicConfig(
        level=settings.log_level(),
        format="%(asctime)s %(levelname)s %(name)s: %(message)s",
    )
    worker = Worker(settings.delivery())
    signal.signal(signal.SIGTERM, worker.stop)
    signal.signal(signal.SIGINT, worker.stop)
    worker.run()
    return 0


if __name__ == "__main__":
    sys.exit(main())
