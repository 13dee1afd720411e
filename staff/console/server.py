"""The staff console's web server (python -m staff.console; `make run` starts it).

The standard library's threading HTTP server and Jinja2 templates, autoescaped: every
value a patient wrote is shown as text. Every page but the sign-in form (and its style
sheet) needs a session; without one a page redirects to /signin and a POST gets 403.
Every POST carries the CSRF token (the session's, or before sign-in a random one in a
SameSite=Strict cookie that must match the form's). No personal data goes into URLs:
requests are addressed by their reference. Pages are never cached, may not be framed,
and may load nothing but this server's own style sheet (no scripts at all).
"""
from __future__ import annotations

import argparse
import logging
import re
import secrets
import sys
from dataclasses import dataclass
from http import HTTPStatus
from http.cookies import CookieError, SimpleCookie
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Dict, List, Optional
from urllib.parse import parse_qs, quote, urlsplit

from jinja2 import Environment, FileSystemLoader, select_autoescape
from sqlalchemy.exc import SQLAlchemyError

from clinic import handover, settings, store
from staff import shared
from staff.console import auth, conversation, rasa_api

logger = logging.getLogger("staff.console")

HERE = Path(__file__).resolve().parent
STYLE_SHEET = (HERE / "static" / "console.css").read_bytes()
SESSION_COOKIE = "console_session"
SIGN_IN_COOKIE = "console_signin_csrf"
MAX_FORM_BYTES = 16 * 1024
INBOX_LIMIT = 200

SECURITY_HEADERS = {
    "Content-Security-Policy": (
        "default-src 'self'; script-src 'none'; style-src 'self'; img-src 'self'; object-src 'none'; "
        "base-uri 'none'; form-action 'self'; frame-ancestors 'none'"
    ),
    "X-Frame-Options": "DENY",
    "X-Content-Type-Options": "nosniff",
    "Referrer-Policy": "no-referrer",
    "Cross-Origin-Opener-Policy": "same-origin",
    "Cross-Origin-Resource-Policy": "same-origin",
}
NO_STORE = {"Cache-Control": "no-store, max-age=0", "Pragma": "no-cache"}

TEMPLATES = Environment(
    loader=FileSystemLoader(str(HERE / "templates")),
    autoescape=select_autoescape(["html"], default=True),
    trim_blocks=True, lstrip_blocks=True,
)
TEMPLATES.filters["local_time"] = shared.local_time

RETRY_NOTICES = {
    "retried": "Sent back to the delivery queue; the delivery worker will send it shortly.",
    "not_dead": "Not retried: this request is not a dead letter (it is pending or delivered).",
    "taken": "You hold this conversation: the assistant no longer answers it (except an emergency). "
             "The patient was told you joined.",
    "held": "Someone else holds this conversation.",
    "sent": "Sent to the patient.",
    "empty": "Nothing sent: the message was empty.",
    "too_long": "Nothing sent: the message is too long.",
    "returned": "Handed back: the assistant answers this conversation again. The patient was told.",
    "not_holder": "You do not hold this conversation.",
    "rasa_down": "The assistant's server did not take it: the patient may not have been told. Try again.",
}
# Actions on a request's conversation: POST /requests/<reference>/<action>.
CONVERSATION_ACTIONS = ("retry", "takeover", "message", "handback")
MAX_STAFF_MESSAGE_CHARS = 2000


@dataclass
class Reply:
    status: int
    body: bytes = b""
    content_type: str = "text/html; charset=utf-8"
    headers: Optional[Dict[str, str]] = None
    cookies: Optional[List[str]] = None


def cookie(name: str, value: str, max_age: Optional[int] = None) -> str:
    parts = [f"{name}={value}", "Path=/", "HttpOnly", "SameSite=Strict"]
    if max_age is not None:
        parts.append(f"Max-Age={max_age}")
    if settings.console().secure_cookies:
        parts.append("Secure")
    return "; ".join(parts)


def page(template: str, status: int = HTTPStatus.OK, **values: object) -> Reply:
    values.setdefault("clinic_name", settings.clinic_details().name)
    return Reply(status, TEMPLATES.get_template(template).render(**values).encode())


def redirect(location: str, cookies: Optional[List[str]] = None) -> Reply:
    return Reply(HTTPStatus.SEE_OTHER, b"", "text/plain; charset=utf-8", {"Location": location}, cookies)


class ConsoleHandler(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"

    def version_string(self) -> str:
        return "StaffConsole"

    # --- plumbing ---------------------------------------------------------------------

    def log_message(self, format: str, *args: object) -> None:  # noqa: A002 (http.server's name)
        # The path only: query strings are never logged (they hold nothing personal, but stay out).
        logger.info("%s %s %s", self.command, urlsplit(self.path).path, args[1] if len(args) > 1 else "")

    def do_GET(self) -> None:  # noqa: N802
        self.dispatch()

    def do_POST(self) -> None:  # noqa: N802
        self.dispatch()

    def do_HEAD(self) -> None:  # noqa: N802
        self.dispatch(head_only=True)

    def dispatch(self, head_only: bool = False) -> None:
        try:
            reply = self.route()
        except SQLAlchemyError as error:
            logger.error("database error: %s", type(error).__name__)
            reply = page("message.html", HTTPStatus.SERVICE_UNAVAILABLE, title="Database unavailable",
                         message="The request database cannot be reached. Try again in a moment.")
        except Exception:  # noqa: BLE001 (one page must not take the console down)
            logger.exception("error while answering %s %s", self.command, urlsplit(self.path).path)
            reply = page("message.html", HTTPStatus.INTERNAL_SERVER_ERROR, title="Something went wrong",
                         message="The console could not show this page.")
        self.send(reply, head_only)

    def send_error(self, code: int, message: Optional[str] = None, explain: Optional[str] = None) -> None:
        """http.server's own refusals (a malformed request, an unknown method) with the same headers."""
        self.close_connection = True
        text = f"{int(code)} {message or HTTPStatus(code).phrase}\n".encode()
        self.send(Reply(code, text, "text/plain; charset=utf-8"), head_only=self.command == "HEAD")

    def send(self, reply: Reply, head_only: bool = False) -> None:
        self.send_response(reply.status)
        headers = {**SECURITY_HEADERS, **(reply.headers or {})}
        headers.setdefault("Cache-Control", NO_STORE["Cache-Control"])
        if headers["Cache-Control"] == NO_STORE["Cache-Control"]:
            headers["Pragma"] = NO_STORE["Pragma"]
        if reply.status != HTTPStatus.NO_CONTENT:  # a 204 has no body, nor headers about one
            headers["Content-Type"] = reply.content_type
            headers["Content-Length"] = str(len(reply.body))
        for name, value in headers.items():
            self.send_header(name, value)
        for value in reply.cookies or []:
            self.send_header("Set-Cookie", value)
        self.end_headers()
        if not head_only:
            self.wfile.write(reply.body)

    def cookies(self) -> Dict[str, str]:
        jar = SimpleCookie()
        try:
            jar.load(self.headers.get("Cookie", ""))
        except CookieError:
            return {}
        return {name: morsel.value for name, morsel in jar.items()}

    def form(self) -> Optional[Dict[str, str]]:
        """The posted form's fields (first value each); None when too big or not a form."""
        try:
            length = int(self.headers.get("Content-Length") or 0)
        except ValueError:
            return None
        if length < 0 or length > MAX_FORM_BYTES:
            self.close_connection = True
            return None
        body = self.rfile.read(length) if length else b""
        if not self.headers.get("Content-Type", "").startswith("application/x-www-form-urlencoded") and body:
            return None
        try:
            fields = parse_qs(body.decode("utf-8"), keep_blank_values=True, max_num_fields=20)
        except (UnicodeDecodeError, ValueError):
            return None
        return {name: values[0] for name, values in fields.items()}

    @property
    def client(self) -> str:
        return self.client_address[0]

    # --- routes ---------------------------------------------------------------------------

    def route(self) -> Reply:
        path = urlsplit(self.path).path
        query = parse_qs(urlsplit(self.path).query)
        method = "GET" if self.command == "HEAD" else self.command
        # Read a posted body first, whatever the answer: unread, it would spoil the next
        # request on this kept-alive connection.
        form = self.form() if method == "POST" else None
        if path == "/static/console.css" and method == "GET":
            return Reply(HTTPStatus.OK, STYLE_SHEET, "text/css; charset=utf-8",
                         {"Cache-Control": "public, max-age=3600"})
        if path == "/favicon.ico":
            return Reply(HTTPStatus.NO_CONTENT, b"", "text/plain; charset=utf-8")  # no icon, no error
        if path == "/signin":
            return self.sign_in_page() if method == "GET" else self.sign_in(form)
        signed_in = auth.current_session(self.cookies().get(SESSION_COOKIE))
        if signed_in is None:
            if method == "POST":
                return page("message.html", HTTPStatus.FORBIDDEN, title="Not signed in",
                            message="Sign in first.", signed_in=None)
            return redirect("/signin")
        if method == "POST":
            if form is None or not auth.same_token(form.get("csrf_token"), signed_in.csrf_token):
                return page("message.html", HTTPStatus.FORBIDDEN, title="Refused", signed_in=signed_in,
                            message="This form has expired or did not come from the console. Go back, reload and try again.")
            if path == "/signout":
                return self.sign_out(signed_in)
            if path.startswith("/requests/") and path.count("/") == 3:
                reference, action = path[len("/requests/"):].split("/")
                if action == "retry":
                    return self.retry(signed_in, reference)
                if action in CONVERSATION_ACTIONS:
                    return self.conversation_action(signed_in, reference, action, form)
            return page("message.html", HTTPStatus.NOT_FOUND, title="Not found", message="No such page.",
                        signed_in=signed_in)
        if method != "GET":
            return Reply(HTTPStatus.METHOD_NOT_ALLOWED, b"", headers={"Allow": "GET, POST"})
        if path == "/":
            return self.inbox(signed_in, (query.get("state") or [None])[0])
        if path.startswith("/requests/") and path.count("/") == 2:
            return self.request_page(signed_in, path[len("/requests/"):], (query.get("done") or [None])[0])
        if path == "/audit":
            return self.audit_page(signed_in)
        return page("message.html", HTTPStatus.NOT_FOUND, title="Not found", message="No such page.",
                    signed_in=signed_in)

    def sign_in_page(self, message: str = "", email: str = "", status: int = HTTPStatus.OK) -> Reply:
        if status == HTTPStatus.OK and auth.current_session(self.cookies().get(SESSION_COOKIE)):
            return redirect("/")
        # One token per browser, kept while it has one: another tab, or the browser's own
        # request for /favicon.ico, must not invalidate a form already on screen.
        token = self.cookies().get(SIGN_IN_COOKIE, "")
        if not re.fullmatch(r"[A-Za-z0-9_-]{43}", token):
            token = secrets.token_urlsafe(32)
        reply = page("signin.html", status, csrf_token=token, message=message, email=email, signed_in=None)
        reply.cookies = [cookie(SIGN_IN_COOKIE, token)]
        return reply

    def sign_in(self, form: Optional[Dict[str, str]]) -> Reply:
        if form is None or not auth.same_token(form.get("csrf_token"), self.cookies().get(SIGN_IN_COOKIE)):
            return page("message.html", HTTPStatus.FORBIDDEN, title="Refused", signed_in=None,
                        message="This sign-in form has expired. Reload the page and sign in again.")
        email, password = form.get("email", ""), form.get("password", "")
        result = auth.sign_in(email, password, self.client)
        if result.account is None:
            status = HTTPStatus.TOO_MANY_REQUESTS if result.locked else HTTPStatus.UNAUTHORIZED
            return self.sign_in_page(result.message, email[:320], status)
        token, _csrf = auth.start_session(result.account)
        return redirect("/", [cookie(SESSION_COOKIE, token), cookie(SIGN_IN_COOKIE, "", max_age=0)])

    def sign_out(self, signed_in: auth.SignedIn) -> Reply:
        auth.end_session(self.cookies().get(SESSION_COOKIE))
        auth.audit(signed_in.account.email, "sign_out", client_address=self.client)
        return redirect("/signin", [cookie(SESSION_COOKIE, "", max_age=0)])

    def inbox(self, signed_in: auth.SignedIn, state: Optional[str]) -> Reply:
        wanted = store.DeliveryState(state) if state in shared.STATES else None
        # Emergencies apart, so a busy day's bookings never push one off the page.
        emergencies = store.list_requests(wanted, limit=INBOX_LIMIT, kinds=[store.RequestKind.URGENT_CALLBACK])
        others = store.list_requests(wanted, limit=INBOX_LIMIT,
                                     kinds=[k for k in store.RequestKind if k is not store.RequestKind.URGENT_CALLBACK])
        return page("inbox.html", signed_in=signed_in, emergencies=emergencies, requests=others,
                    held=handover.held_with_requests(),
                    counts=store.count_by_state(), states=shared.STATES, state=wanted and wanted.value,
                    short=shared.short, limit=INBOX_LIMIT, timezone=settings.clinic_details().timezone)

    def request_page(self, signed_in: auth.SignedIn, reference: str, done: Optional[str]) -> Reply:
        request = store.get_request(reference) if reference.upper().startswith(store.REFERENCE_PREFIX) else None
        if request is None:
            return page("message.html", HTTPStatus.NOT_FOUND, title="Not found", signed_in=signed_in,
                        message="There is no request with this reference (it may have been purged).")
        auth.audit(signed_in.account.email, "view_request", reference=request.reference, client_address=self.client)
        emails = auth.account_emails()
        holder = handover.holder(request.conversation_id)
        return page("request.html", signed_in=signed_in, request=request, fields=shared.request_fields(request),
                    messages=conversation.messages(request.conversation_id, emails.get),
                    notice=RETRY_NOTICES.get(done or ""), dead=request.state is store.DeliveryState.DEAD,
                    holder=holder, mine=holder is not None and holder.staff_id == signed_in.account.id,
                    may_release=holder is not None and signed_in.account.is_admin,
                    max_message_chars=MAX_STAFF_MESSAGE_CHARS, timezone=settings.clinic_details().timezone)

    def conversation_action(self, signed_in: auth.SignedIn, reference: str, action: str,
                            form: Dict[str, str]) -> Reply:
        """Take over, send a message or hand back the conversation of a request. Audited."""
        request = store.get_request(reference) if reference.upper().startswith(store.REFERENCE_PREFIX) else None
        if request is None:
            return page("message.html", HTTPStatus.NOT_FOUND, title="Not found", signed_in=signed_in,
                        message="There is no request with this reference (it may have been purged).")
        account = signed_in.account
        done = self._take_over(account, request) if action == "takeover" else (
            self._send(account, request, form.get("message", "")) if action == "message"
            else self._hand_back(account, request))
        return redirect(f"/requests/{quote(request.reference)}?done={done}")

    def _audit(self, account: auth.Account, action: str, request: store.StoredRequest, detail: str = "") -> None:
        auth.audit(account.email, action, reference=request.reference, client_address=self.client, detail=detail)

    def _take_over(self, account: auth.Account, request: store.StoredRequest) -> str:
        taken = handover.take_over(request.conversation_id, account.id, account.email, account.display_name)
        if not taken.ok:
            self._audit(account, "take_over_refused", request, f"held by {taken.holder.staff_email}")
            return "held"
        self._audit(account, "take_over", request, taken.outcome.value)
        if taken.outcome is handover.TakeOverOutcome.ALREADY_YOURS:
            return "taken"
        try:
            rasa_api.announce_take_over(request.conversation_id, account.display_name)
        except rasa_api.RasaUnavailable:
            return "rasa_down"
        return "taken"

    def _send(self, account: auth.Account, request: store.StoredRequest, text: str) -> str:
        current = handover.holder(request.conversation_id)
        if current is None or current.staff_id != account.id:
            self._audit(account, "staff_message_refused", request, "not the holder")
            return "not_holder"
        text = text.strip()
        if not text:
            return "empty"
        if len(text) > MAX_STAFF_MESSAGE_CHARS:
            return "too_long"
        try:
            rasa_api.send_staff_message(request.conversation_id, text, account.id,
                                        account.display_name or "")
        except rasa_api.RasaUnavailable:
            self._audit(account, "staff_message_failed", request, f"{len(text)} characters")
            return "rasa_down"
        # The words are in the conversation (with their author); the audit keeps who and when.
        self._audit(account, "staff_message", request, f"{len(text)} characters")
        return "sent"

    def _hand_back(self, account: auth.Account, request: store.StoredRequest) -> str:
        """The holder hands back; an admin may release a conversation someone else left held
        (otherwise it would wait for that person, the assistant silent, however long)."""
        current = handover.holder(request.conversation_id)
        releasing = current is not None and current.staff_id != account.id and account.is_admin
        if current is None or not handover.hand_back(request.conversation_id, current.staff_id if releasing else account.id):
            self._audit(account, "hand_back_refused", request, "not the holder")
            return "not_holder"
        self._audit(account, "hand_back", request, f"released from {current.staff_email}" if releasing else "")
        try:
            rasa_api.announce_hand_back(request.conversation_id)
        except rasa_api.RasaUnavailable:
            return "rasa_down"
        return "returned"

    def retry(self, signed_in: auth.SignedIn, reference: str) -> Reply:
        if not reference.upper().startswith(store.REFERENCE_PREFIX):
            return page("message.html", HTTPStatus.NOT_FOUND, title="Not found", signed_in=signed_in,
                        message="There is no request with this reference.")
        result = shared.retry(reference)
        if result.outcome is shared.RetryOutcome.NOT_FOUND:
            return page("message.html", HTTPStatus.NOT_FOUND, title="Not found", signed_in=signed_in,
                        message="There is no request with this reference (it may have been purged).")
        auth.audit(signed_in.account.email, "retry" if result.ok else "retry_refused", reference=result.reference,
                   client_address=self.client, detail=result.outcome.value)
        done = "retried" if result.ok else "not_dead"
        return redirect(f"/requests/{quote(result.reference)}?done={done}")

    def audit_page(self, signed_in: auth.SignedIn) -> Reply:
        if not signed_in.account.is_admin:
            auth.audit(signed_in.account.email, "audit_refused", client_address=self.client)
            return page("message.html", HTTPStatus.FORBIDDEN, title="Admins only", signed_in=signed_in,
                        message="Only admin accounts can read the audit trail.")
        auth.audit(signed_in.account.email, "view_audit", client_address=self.client)
        return page("audit.html", signed_in=signed_in, entries=auth.audit_entries(),
                    timezone=settings.clinic_details().timezone)


class ConsoleServer(ThreadingHTTPServer):
    daemon_threads = True
    allow_reuse_address = True


def main(argv: Optional[List[str]] = None) -> int:
    try:
        console = settings.console()
        settings.clinic_details()
    except settings.SettingError as error:
        print(error, file=sys.stderr)
        return 2
    parser = argparse.ArgumentParser(prog="python -m staff.console", description="The staff console.")
    parser.add_argument("--host", default=console.host)
    parser.add_argument("--port", type=int, default=console.port)
    args = parser.parse_args(argv)
    logging.basicConfig(level=settings.log_level(), format="%(asctime)s %(levelname)s %(name)s: %(message)s")
    store.migrate()
    server = ConsoleServer((args.host, args.port), ConsoleHandler)
    logger.info("staff console on http://%s:%d/", args.host, args.port)
    try:
        server.serve_forever()
    except KeyboardInterrupt:
        pass
    finally:
        server.server_close()
    return 0
