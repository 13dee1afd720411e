"""A real local HTTP receiver standing in for the clinic's booking system.

    receiver = Receiver(secret).start()      # 127.0.0.1, ephemeral port
    ... BOOKING_WEBHOOK_URL=receiver.url, BOOKING_WEBHOOK_SECRET=secret ...
    receiver.wait_for(1)                     # verified deliveries, or AssertionError
    receiver.set_status(503)                 # answer 503 (or 400, ...) from now on
    receiver.stop(); receiver.start()        # down (connection refused), then up on the same port

Every request's signature is checked with standardwebhooks.Webhook(secret).verify;
verified ones that were answered 2xx are in `deliveries`, unverifiable ones are
answered 401 and kept in `rejected`; every request is in `attempts`.
"""
from __future__ import annotations

import base64
import json
import secrets
import threading
import time
from dataclasses import dataclass
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any, Dict, List, Optional

from standardwebhooks import Webhook
from standardwebhooks.webhooks import WebhookVerificationError


def new_secret() -> str:
    return "whsec_" + base64.b64encode(secrets.token_bytes(32)).decode()


@dataclass(frozen=True)
class Delivery:
    headers: Dict[str, str]  # lower-case names
    body: bytes
    json: Any
    status: int  # what the receiver answered
    received_at: float

    @property
    def webhook_id(self) -> str:
        return self.headers["webhook-id"]


class Receiver:
    def __init__(self, secret: Optional[str] = None, host: str = "127.0.0.1") -> None:
        self.secret = secret or new_secret()
        self.webhook = Webhook(self.secret)
        self.host = host
        self.port = 0
        self.status = 200
        self.delay = 0.0
        self.attempts: List[Delivery] = []
        self.deliveries: List[Delivery] = []
        self.rejected: List[Delivery] = []
        self._lock = threading.Condition()
        self._server: Optional[ThreadingHTTPServer] = None
        self._thread: Optional[threading.Thread] = None

    # --- control --------------------------------------------------------------------

    @property
    def url(self) -> str:
        if not self.port:
            raise RuntimeError("start() the receiver first")
        return f"http://{self.host}:{self.port}/fhir"

    @property
    def running(self) -> bool:
        return self._server is not None

    def start(self) -> "Receiver":
        """Listen (again, on the same port after a stop())."""
        if self._server is not None:
            return self
        server = ThreadingHTTPServer((self.host, self.port), self._handler())
        server.daemon_threads = True
        self.port = server.server_address[1]
        self._server = server
        self._thread = threading.Thread(target=server.serve_forever, kwargs={"poll_interval": 0.1}, daemon=True)
        self._thread.start()
        return self

    def stop(self) -> None:
        """Down: the port is closed, so clients get connection refused."""
        if self._server is None:
            return
        self._server.shutdown()
        self._server.server_close()
        self._server = None

    def set_status(self, code: int) -> None:
        """Answer every following request with this status (200 = accept)."""
        self.status = code

    def set_delay(self, seconds: float) -> None:
        """Wait this long before answering (to simulate a slow system or a timeout)."""
        self.delay = seconds

    def wait_for(self, count: int, timeout: float = 30.0) -> List[Delivery]:
        """Block until at least `count` verified deliveries arrived; AssertionError on timeout."""
        deadline = time.monotonic() + timeout
        with self._lock:
            while len(self.deliveries) < count:
                left = deadline - time.monotonic()
                if left <= 0:
                    raise AssertionError(
                        f"{len(self.deliveries)} of {count} deliveries after {timeout:.0f}s "
                        f"({len(self.attempts)} attempts, {len(self.rejected)} rejected)"
                    )
                self._lock.wait(left)
            return list(self.deliveries)

    def wait_for_attempts(self, count: int, timeout: float = 30.0) -> List[Delivery]:
        """Block until at least `count` requests of any outcome arrived."""
        deadline = time.monotonic() + timeout
        with self._lock:
            while len(self.attempts) < count:
                left = deadline - time.monotonic()
                if left <= 0:
                    raise AssertionError(f"{len(self.attempts)} of {count} attempts after {timeout:.0f}s")
                self._lock.wait(left)
            return list(self.attempts)

    def __enter__(self) -> "Receiver":
        return self.start()

    def __exit__(self, *_: object) -> None:
        self.stop()

    # --- serving ------------------------------------------------------------------------

    def _record(self, body: bytes, headers: Dict[str, str], answer: int) -> int:
        try:
            parsed = self.webhook.verify(body, headers)
            verified = True
        except (WebhookVerificationError, ValueError, UnicodeDecodeError):
            parsed, verified = _maybe_json(body), False
        status = answer if verified else 401
        delivery = Delivery(headers, body, parsed, status, time.time())
        with self._lock:
            self.attempts.append(delivery)
            if not verified:
                self.rejected.append(delivery)
            elif 200 <= status < 300:
                self.deliveries.append(delivery)
            self._lock.notify_all()
        return status

    def _handler(self) -> type:
        receiver = self

        class Handler(BaseHTTPRequestHandler):
            def do_POST(self) -> None:  # noqa: N802 - http.server's naming
                # The answer and delay are those set when the request arrived.
                answer, delay = receiver.status, receiver.delay
                length = int(self.headers.get("content-length") or 0)
                body = self.rfile.read(length)
                if delay:
                    time.sleep(delay)
                headers = {name.lower(): value for name, value in self.headers.items()}
                status = receiver._record(body, headers, answer)
                reply = json.dumps({"status": status}).encode()
                self.send_response(status)
                self.send_header("content-type", "application/json")
                self.send_header("content-length", str(len(reply)))
                self.end_headers()
                self.wfile.write(reply)

            def log_message(self, *_: Any) -> None:  # keep test output quiet
                pass

        return Handler


def _maybe_json(body: bytes) -> Any:
    try:
        return json.loads(body)
    except ValueError:
        return None
