"""The staff console, as staff and attackers meet it: a real server (python -m staff.console)
on a real SQLite database, accounts made with the real command, spoken to over HTTP."""
from __future__ import annotations

import subprocess
import sys
import time
from datetime import timedelta
from pathlib import Path
from typing import Iterator

import pytest
import requests
import sqlalchemy as sa

from clinic import store
from clinic.store import DeliveryState, RequestKind
from tests.conftest import ROOT
from tests.staff_console import PASSWORD, Console, csrf_token, running_console, sign_in, signed_in

pytestmark = pytest.mark.e2e

ADMIN = "admin@clinic.example"
STAFF = "nurse@clinic.example"
SCRIPT_NAME = "<script>alert(1)</script>"


@pytest.fixture(scope="module")
def console(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Console]:
    with running_console(tmp_path_factory.mktemp("console")) as running:
        running.add_user(ADMIN, "admin")
        running.add_user(STAFF, "staff")
        yield running


@pytest.fixture(scope="module")
def booking(console: Console) -> store.SavedRequest:
    return console.save(full_name="Maria Lopez", phone="+12125550147", contact_method="phone",
                        reason="spider_vein_consultation", preferred_time_text="next Tuesday afternoon")


@pytest.fixture
def dead_letter(console: Console) -> store.SavedRequest:
    saved = console.save(RequestKind.CALLBACK, full_name="Dead Letter", phone="+12125550148")
    console.make_dead(saved)
    return saved


# --- nothing without a session ------------------------------------------------------------


def test_every_route_without_a_session_is_refused(console: Console, booking: store.SavedRequest,
                                                  dead_letter: store.SavedRequest) -> None:
    for path in ["/", "/?state=dead", f"/requests/{booking.reference}", "/audit", "/nowhere"]:
        answer = requests.get(console.url + path, allow_redirects=False, timeout=10)
        assert answer.status_code == 303 and answer.headers["Location"] == "/signin", path
        assert "Maria" not in answer.text and booking.reference not in answer.text
    for path in ["/signout", f"/requests/{dead_letter.reference}/retry", "/"]:
        answer = requests.post(console.url + path, data={"csrf_token": "x"}, allow_redirects=False, timeout=10)
        assert answer.status_code == 403, path
    # A made-up or stale session cookie is no session either.
    answer = requests.get(console.url + "/", cookies={"console_session": "forged"}, allow_redirects=False,
                          timeout=10)
    assert answer.status_code == 303
    assert store.get_request(dead_letter.reference, console.database_url).state is DeliveryState.DEAD


def test_a_post_without_the_csrf_token_is_refused(console: Console, dead_letter: store.SavedRequest) -> None:
    client = signed_in(console, STAFF)
    retry = f"{console.url}/requests/{dead_letter.reference}/retry"
    assert client.post(retry, allow_redirects=False, timeout=10).status_code == 403
    assert client.post(retry, data={"csrf_token": "guessed"}, allow_redirects=False, timeout=10).status_code == 403
    assert client.post(f"{console.url}/signout", allow_redirects=False, timeout=10).status_code == 403
    assert store.get_request(dead_letter.reference, console.database_url).state is DeliveryState.DEAD
    assert client.get(f"{console.url}/", allow_redirects=False, timeout=10).status_code == 200  # still signed in
    # The sign-in form too: without the token from its own page (and cookie), no sign-in.
    fresh = requests.Session()
    form = fresh.get(f"{console.url}/signin", timeout=10)
    no_token = fresh.post(f"{console.url}/signin", data={"email": STAFF, "password": PASSWORD},
                          allow_redirects=False, timeout=10)
    assert no_token.status_code == 403 and "console_session" not in no_token.headers.get("Set-Cookie", "")
    other_browser = requests.post(f"{console.url}/signin", allow_redirects=False, timeout=10,
                                  data={"csrf_token": csrf_token(form.text), "email": STAFF, "password": PASSWORD})
    assert other_browser.status_code == 403


# --- sign-in, sessions ----------------------------------------------------------------


def test_sign_in_sets_a_strict_session_cookie_and_sign_out_ends_the_session(console: Console) -> None:
    client = requests.Session()
    answer = sign_in(console, STAFF, client=client)
    assert answer.status_code == 303
    set_cookie = answer.headers["Set-Cookie"]
    assert "console_session=" in set_cookie and "HttpOnly" in set_cookie and "SameSite=Strict" in set_cookie
    assert "Secure" not in set_cookie  # STAFF_CONSOLE_SECURE_COOKIES is off by default
    token = client.cookies["console_session"]
    inbox = client.get(f"{console.url}/", timeout=10)
    bye = client.post(f"{console.url}/signout", data={"csrf_token": csrf_token(inbox.text)},
                      allow_redirects=False, timeout=10)
    assert bye.status_code == 303 and bye.headers["Location"] == "/signin"
    # The old cookie, replayed, is worth nothing: the session row is gone.
    replay = requests.get(f"{console.url}/", cookies={"console_session": token}, allow_redirects=False, timeout=10)
    assert replay.status_code == 303


def test_a_session_idle_too_long_is_over(console: Console) -> None:
    client = signed_in(console, STAFF)
    assert client.get(f"{console.url}/", allow_redirects=False, timeout=10).status_code == 200
    # 31 minutes pass without a request (the default idle limit is 30).
    with store.engine(console.database_url).begin() as connection:
        connection.execute(sa.text("UPDATE staff_sessions SET last_seen_at = :then"),
                           {"then": (store.utcnow() - timedelta(minutes=31)).replace(tzinfo=None)})
    assert client.get(f"{console.url}/", allow_redirects=False, timeout=10).status_code == 303


def test_repeated_failures_are_slowed_then_locked_without_telling_who_has_an_account(console: Console) -> None:
    console.add_user("locked@clinic.example", "staff")
    messages = {}
    for email in ["locked@clinic.example", "nobody@clinic.example"]:
        timings, answers = [], []
        for _ in range(5):
            started = time.monotonic()
            answers.append(sign_in(console, email, "wrong password!"))
            timings.append(time.monotonic() - started)
        assert [a.status_code for a in answers] == [401, 401, 401, 401, 429]
        assert "The email or password is not right." in answers[0].text
        assert "Too many failed sign-ins" in answers[4].text
        assert timings[3] >= 1.0 and timings[4] >= 2.0, timings  # slowed after the third failure
        # Locked: even the right password is refused, without checking it.
        right = sign_in(console, email, PASSWORD)
        assert right.status_code == 429 and "console_session" not in right.headers.get("Set-Cookie", "")
        messages[email] = [a.text.replace(email, "EMAIL") for a in [*answers, right]]
    # Word for word the same, whether the account exists or not.
    strip = lambda text: text.split('name="csrf_token" value="')[0]  # noqa: E731 (the token differs)
    assert [strip(t) for t in messages["locked@clinic.example"]] == [strip(t) for t in messages["nobody@clinic.example"]]
    # Others can still sign in (from this address too: its own limit is higher).
    signed_in(console, STAFF)
    # When the lock has run out, the right password works again.
    with store.engine(console.database_url).begin() as connection:
        connection.execute(sa.text("UPDATE staff_sign_in_failures SET locked_until = :past "
                                   "WHERE key = 'email:locked@clinic.example'"),
                           {"past": (store.utcnow() - timedelta(seconds=1)).replace(tzinfo=None)})
    signed_in(console, "locked@clinic.example")


def test_one_client_address_trying_many_emails_is_locked(tmp_path: Path) -> None:
    with running_console(tmp_path, STAFF_LOCKOUT_ADDRESS_ATTEMPTS="4", STAFF_CONSOLE_SECURE_COOKIES="on") as strict:
        strict.add_user(STAFF, "staff")
        form = requests.get(f"{strict.url}/signin", timeout=10)
        assert "Secure" in form.headers["Set-Cookie"]

        def attempt(email: str, password: str) -> requests.Response:
            # Secure cookies travel over HTTPS only, and requests honours that: sent by hand here.
            token = csrf_token(requests.get(f"{strict.url}/signin", timeout=10).text)
            return requests.post(f"{strict.url}/signin", cookies={"console_signin_csrf": token}, timeout=30,
                                 data={"csrf_token": token, "email": email, "password": password},
                                 allow_redirects=False)

        answers = [attempt(f"guess{n}@clinic.example", "wrong password!").status_code for n in range(4)]
        assert answers == [401, 401, 401, 429]
        locked = attempt(STAFF, PASSWORD)
        assert locked.status_code == 429 and "Too many failed sign-ins" in locked.text


# --- the inbox and a request ----------------------------------------------------------


def test_the_inbox_lists_emergencies_first_and_requests_with_their_delivery_state(
        console: Console, booking: store.SavedRequest, dead_letter: store.SavedRequest) -> None:
    emergency = console.save(RequestKind.URGENT_CALLBACK, patient_message="my chest hurts and I can't breathe")
    client = signed_in(console, STAFF)
    inbox = client.get(f"{console.url}/", timeout=10)
    assert inbox.status_code == 200
    html = inbox.text
    assert "Emergencies recorded by the assistant" in html
    assert html.index(emergency.reference) < html.index(booking.reference)
    assert html.index(emergency.reference) < html.index("Booking and call-back requests")
    assert "my chest hurts and I can&#39;t breathe" in html
    assert "Maria Lopez" in html and dead_letter.reference in html
    dead_only = client.get(f"{console.url}/?state=dead", timeout=10).text
    assert dead_letter.reference in dead_only and booking.reference not in dead_only


def test_pages_with_patient_data_are_not_cached_framed_or_scriptable(console: Console,
                                                                     booking: store.SavedRequest) -> None:
    client = signed_in(console, STAFF)
    for path in ["/", f"/requests/{booking.reference}", "/signin"]:
        answer = client.get(console.url + path, timeout=10)
        csp = answer.headers["Content-Security-Policy"]
        assert "default-src 'self'" in csp and "script-src 'none'" in csp and "unsafe-inline" not in csp
        assert answer.headers["X-Frame-Options"] == "DENY"
        assert "no-store" in answer.headers["Cache-Control"]
        assert "<script" not in answer.text.lower()


def test_a_request_is_shown_in_full_with_its_conversation(console: Console) -> None:
    saved = console.save(full_name="Ana Ruiz", phone="+12125550149", conversation_id="conv-ana",
                         preferred_time_text="mornings")
    console.add_conversation("conv-ana", ("user", "I'd like to book"), ("bot", "What is your full name?"),
                             ("user", "/affirm"), ("user", "Ana Ruiz"))
    page = signed_in(console, STAFF).get(f"{console.url}/requests/{saved.reference}", timeout=10).text
    for expected in ["Ana Ruiz", "+12125550149", "mornings", "pending", "I&#39;d like to book",
                     "What is your full name?"]:
        assert expected in page
    assert "/affirm" not in page  # a button payload, not words anyone wrote
    assert "<button type=\"submit\">Retry</button>" not in page  # only dead letters are retried


def test_a_patients_script_is_shown_as_text(console: Console) -> None:
    saved = console.save(full_name=SCRIPT_NAME, conversation_id="conv-script",
                         preferred_time_text='"><img src=x onerror=alert(2)>')
    console.add_conversation("conv-script", ("user", f"my name is {SCRIPT_NAME}"))
    client = signed_in(console, STAFF)
    for path in ["/", f"/requests/{saved.reference}"]:
        html = client.get(console.url + path, timeout=10).text
        assert "&lt;script&gt;alert(1)&lt;/script&gt;" in html
        assert SCRIPT_NAME not in html and "<img" not in html


def test_retry_sends_a_dead_letter_back_to_the_queue(console: Console, dead_letter: store.SavedRequest,
                                                     booking: store.SavedRequest) -> None:
    client = signed_in(console, STAFF)
    page = client.get(f"{console.url}/requests/{dead_letter.reference}", timeout=10)
    assert "HTTP 410 from the booking system" in page.text
    answer = client.post(f"{console.url}/requests/{dead_letter.reference}/retry",
                         data={"csrf_token": csrf_token(page.text)}, timeout=10)
    assert answer.status_code == 200 and "Sent back to the delivery queue" in answer.text
    assert store.get_request(dead_letter.reference, console.database_url).state is DeliveryState.PENDING
    # Not a dead letter (any more): nothing happens, and staff are told why.
    again = client.post(f"{console.url}/requests/{booking.reference}/retry",
                        data={"csrf_token": csrf_token(page.text)}, timeout=10)
    assert "Not retried" in again.text
    assert store.get_request(booking.reference, console.database_url).state is DeliveryState.PENDING


# --- audit ------------------------------------------------------------------------------


def test_the_audit_trail_has_each_action_and_only_admins_read_it(console: Console,
                                                               dead_letter: store.SavedRequest) -> None:
    auditor = "auditor@clinic.example"
    console.add_user(auditor, "staff")
    assert sign_in(console, auditor, "not the password").status_code == 401
    client = signed_in(console, auditor)
    page = client.get(f"{console.url}/requests/{dead_letter.reference}", timeout=10)
    client.post(f"{console.url}/requests/{dead_letter.reference}/retry", data={"csrf_token": csrf_token(page.text)},
                timeout=10)
    console.add_user(auditor, "admin", password="a brand new password")  # an account change
    assert client.get(f"{console.url}/", allow_redirects=False, timeout=10).status_code == 303  # signed out by it

    mine = [(row.action, row.reference) for row in console.audit_rows()
            if row.actor == auditor or (row.detail or "").startswith(auditor)]
    assert mine == [
        ("account_created", None), ("sign_in_failed", None), ("sign_in", None),
        ("view_request", dead_letter.reference), ("retry", dead_letter.reference),
        ("view_request", dead_letter.reference),  # the page the retry comes back to
        ("account_updated", None),
    ]
    rows = {row.action: row for row in console.audit_rows() if row.actor == auditor}
    assert rows["sign_in"].client_address == "127.0.0.1"
    assert rows["retry"].reference == dead_letter.reference

    staff = signed_in(console, STAFF)
    assert staff.get(f"{console.url}/audit", timeout=10).status_code == 403
    admin = signed_in(console, auditor, "a brand new password")
    audit = admin.get(f"{console.url}/audit", timeout=10)
    assert audit.status_code == 200
    for action in ["sign_in_failed", "sign_in", "view_request", "retry", "account_updated", "audit_refused"]:
        assert f"<td>{action}</td>" in audit.text
    assert dead_letter.reference in audit.text


# --- with the whole assistant -------------------------------------------------------------


def test_an_emergency_a_patient_reports_reaches_the_console_with_the_conversation(stack, sender) -> None:
    """`make run`'s stack: the patient writes to the Rasa server, the assistant records the
    emergency, and staff see it first in the console that the launcher started."""
    words = "my calf is hot and swollen since this morning"
    assert stack.send(sender, words)
    env = {**stack.env(), "STAFF_PASSWORD": PASSWORD}
    done = subprocess.run([sys.executable, "-m", "staff.console.users", "oncall@clinic.example", "staff"],
                          cwd=ROOT, env=env, capture_output=True, text=True, timeout=60)
    assert done.returncode == 0, done.stderr
    console = Console(f"http://127.0.0.1:{stack.config.console_port}", env, stack.log_dir / "console.log")
    client = signed_in(console, "oncall@clinic.example")
    deadline = time.monotonic() + 20
    while words not in (inbox := client.get(f"{console.url}/", timeout=10).text):
        assert time.monotonic() < deadline, "the emergency never reached the console"
        time.sleep(0.5)
    emergencies = inbox.split("Booking and call-back requests")[0]
    assert "Emergencies recorded by the assistant" in emergencies and words in emergencies
    reference = emergencies.split('href="/requests/')[1].split('"')[0]
    page = client.get(f"{console.url}/requests/{reference}", timeout=10).text
    assert page.count(words) >= 2  # what the patient wrote, and the message in the conversation
    assert "emergency" in page
