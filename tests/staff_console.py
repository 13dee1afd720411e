"""A real staff console (python -m staff.console) on a free port with its own SQLite
databases, and what tests need around it: accounts made with the real command, requests
stored through the core's request store, a browser-like session that signs in."""
from __future__ import annotations

import json
import os
import re
import subprocess
import sys
import time
from contextlib import contextmanager
from dataclasses import dataclass
from datetime import datetime, timezone
from pathlib import Path
from typing import Dict, Iterator, Optional

import requests
import sqlalchemy as sa

from clinic import store
from clinic.store import NewRequest, RequestKind, SavedRequest
from tests.conftest import ROOT, free_port

PASSWORD = "correct horse battery staple"


@dataclass
class Console:
    url: str  # http://127.0.0.1:PORT
    env: Dict[str, str]
    log: Path

    @property
    def database_url(self) -> str:
        return self.env["DATABASE_URL"]

    @property
    def tracker_url(self) -> str:
        return self.env["TRACKER_STORE_URL"]

    def add_user(self, email: str, role: str, password: str = PASSWORD) -> subprocess.CompletedProcess:
        """The real account command, as `make staff-user` runs it."""
        done = subprocess.run([sys.executable, "-m", "staff.console.users", email, role], cwd=ROOT,
                              env={**self.env, "STAFF_PASSWORD": password}, capture_output=True, text=True,
                              timeout=60)
        assert done.returncode == 0, done.stderr
        return done

    def save(self, kind: RequestKind = RequestKind.BOOKING, **fields: object) -> SavedRequest:
        fields.setdefault("conversation_id", f"conv-{time.monotonic_ns()}")
        fields.setdefault("channel", "rest")
        return store.save_request(NewRequest(kind=kind, **fields), self.database_url)

    def make_dead(self, saved: SavedRequest, reason: str = "HTTP 410 from the booking system") -> None:
        """As the delivery worker does when the receiver answers a final 4xx."""
        claimed = store.claim_due("test-worker", 60, limit=50, url=self.database_url)
        assert saved.id in [c.id for c in claimed]
        for other in claimed:
            if other.id != saved.id:
                store.release(other.id, "test-worker", url=self.database_url)
        assert store.mark_dead(saved.id, "test-worker", reason, status=410, url=self.database_url)

    def add_conversation(self, conversation_id: str, *turns: tuple) -> None:
        """Messages in the tracker store, in the table Rasa's SQLTrackerStore writes."""
        engine = sa.create_engine(self.tracker_url, future=True)
        with engine.begin() as connection:
            connection.execute(sa.text(
                "CREATE TABLE IF NOT EXISTS events (id INTEGER PRIMARY KEY, sender_id VARCHAR(255) NOT NULL, "
                "type_name VARCHAR(255) NOT NULL, timestamp FLOAT, intent_name VARCHAR(255), "
                "action_name VARCHAR(255), data TEXT)"))
            for type_name, text in turns:
                connection.execute(sa.text(
                    "INSERT INTO events (sender_id, type_name, timestamp, data) VALUES (:s, :t, :ts, :d)"),
                    {"s": conversation_id, "t": type_name, "ts": datetime.now(timezone.utc).timestamp(),
                     "d": json.dumps({"event": type_name, "text": text})})
        engine.dispose()

    def audit_rows(self) -> list:
        with store.engine(self.database_url).connect() as connection:
            return connection.execute(sa.text(
                "SELECT actor, action, reference, client_address, detail FROM staff_audit ORDER BY id")).all()


@contextmanager
def running_console(folder: Path, **settings: str) -> Iterator[Console]:
    port = free_port()
    env = {k: v for k, v in os.environ.items() if not k.startswith("STAFF_")}
    env.update({
        "PYTHONPATH": str(ROOT), "VAR_DIR": str(folder),
        "DATABASE_URL": f"sqlite:///{folder / 'requests.db'}",
        "TRACKER_STORE_URL": f"sqlite:///{folder / 'tracker.db'}",
        **settings,
    })
    log = folder / "console.log"
    process = subprocess.Popen([sys.executable, "-m", "staff.console", "--port", str(port)], cwd=ROOT, env=env,
                               stdout=log.open("wb"), stderr=subprocess.STDOUT)
    url = f"http://127.0.0.1:{port}"
    try:
        deadline = time.monotonic() + 60
        while True:
            try:
                if requests.get(f"{url}/signin", timeout=2).status_code == 200:
                    break
            except requests.RequestException:
                pass
            assert process.poll() is None, log.read_text(errors="replace")
            assert time.monotonic() < deadline, "the staff console did not start"
            time.sleep(0.2)
        yield Console(url, env, log)
    finally:
        process.terminate()
        process.wait(15)
        store.engine(env["DATABASE_URL"]).dispose()


def csrf_token(html: str) -> str:
    found = re.search(r'name="csrf_token" value="([^"]+)"', html)
    assert found, html
    return found.group(1)


def sign_in(console: Console, email: str, password: str = PASSWORD,
            client: Optional[requests.Session] = None) -> requests.Response:
    """Fill in the sign-in form as a browser does (its CSRF token and cookie included)."""
    client = client or requests.Session()
    form = client.get(f"{console.url}/signin", timeout=10)
    return client.post(f"{console.url}/signin", timeout=30, allow_redirects=False,
                       data={"csrf_token": csrf_token(form.text), "email": email, "password": password})


def signed_in(console: Console, email: str, password: str = PASSWORD) -> requests.Session:
    client = requests.Session()
    answer = sign_in(console, email, password, client)
    assert answer.status_code == 303 and answer.headers["Location"] == "/", answer.text
    return client
