"""Accounts, sign-in with slow-down and lock-out, sessions, and the audit trail.

Passwords are hashed with Argon2id (argon2-cffi's defaults). A session is a random token in
an HttpOnly cookie; the database keeps only its SHA-256, with the account, the session's
CSRF token and when it was last used (sessions end after STAFF_SESSION_IDLE_MINUTES idle).

Failed sign-ins are counted per email typed and per client address, whether the account
exists or not, so the answers never tell who has an account: after `slow_after` failures
each answer waits longer, after `lockout_attempts` (per email) or `lockout_address_attempts`
(per address) sign-in is refused for `lockout_minutes`, even with the right password.
"""
from __future__ import annotations

import hashlib
import hmac
import secrets
import time
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Dict, List, Optional, Tuple

import sqlalchemy as sa
from argon2 import PasswordHasher
from argon2.exceptions import InvalidHashError, VerificationError, VerifyMismatchError
from sqlalchemy.orm import Session

from clinic import settings, store
from staff.console.models import ROLES, AccountRow, AuditRow, SessionRow, SignInFailureRow

HASHER = PasswordHasher()
# Verified against when the email has no account, so both take the same time.
_DUMMY_HASH = HASHER.hash(secrets.token_urlsafe(16))
MIN_PASSWORD_CHARS = 12
MAX_PASSWORD_CHARS = 1024
MAX_DISPLAY_NAME_CHARS = 80
MAX_SLOW_DOWN_SECONDS = 5

WRONG_CREDENTIALS = "The email or password is not right."
LOCKED = "Too many failed sign-ins. Sign-in is paused; try again in {minutes} minutes."


class AccountError(ValueError):
    """An email, role or password that cannot be used for an account."""


@dataclass(frozen=True)
class Account:
    id: int
    email: str
    role: str
    display_name: Optional[str] = None  # told to the patient on a take-over

    @property
    def is_admin(self) -> bool:
        return self.role == "admin"


@dataclass(frozen=True)
class SignIn:
    account: Optional[Account]  # None: refused
    message: str = ""
    locked: bool = False


@dataclass(frozen=True)
class SignedIn:
    account: Account
    csrf_token: str


def _session() -> Session:
    return Session(store.engine(), future=True, expire_on_commit=False)


def normalise_email(email: str) -> str:
    return email.strip().lower()


def _account(row: AccountRow) -> Account:
    return Account(id=row.id, email=row.email, role=row.role, display_name=row.display_name)


# --- audit -------------------------------------------------------------------------------


@dataclass(frozen=True)
class AuditEntry:
    at: datetime
    actor: str
    action: str
    reference: Optional[str]
    client_address: Optional[str]
    detail: Optional[str]


def audit(actor: str, action: str, reference: Optional[str] = None, client_address: Optional[str] = None,
          detail: Optional[str] = None, session: Optional[Session] = None) -> None:
    """Record one action; inside `session`'s transaction when given (so both or neither happen)."""
    row = AuditRow(at=store.utcnow(), actor=actor[:320], action=action, reference=reference,
                   client_address=client_address, detail=(detail or None) and detail[:500])
    if session is not None:
        session.add(row)
        return
    with _session() as own, own.begin():
        own.add(row)


def audit_entries(limit: int = 500) -> List[AuditEntry]:
    with _session() as session:
        rows = session.execute(sa.select(AuditRow).order_by(AuditRow.at.desc(), AuditRow.id.desc()).limit(limit))
        return [AuditEntry(r.at, r.actor, r.action, r.reference, r.client_address, r.detail) for r in rows.scalars()]


# --- accounts ----------------------------------------------------------------------------


def check_password(password: str) -> None:
    if len(password) < MIN_PASSWORD_CHARS:
        raise AccountError(f"the password must have at least {MIN_PASSWORD_CHARS} characters")
    if len(password) > MAX_PASSWORD_CHARS:
        raise AccountError(f"the password must have at most {MAX_PASSWORD_CHARS} characters")


def save_account(email: str, role: str, password: str, actor: str,
                 display_name: Optional[str] = None) -> Tuple[Account, bool]:
    """Create the account, or update its role and password (and its name, when one is
    given); True when created. Audited."""
    email = normalise_email(email)
    if "@" not in email or len(email) > 320 or any(c.isspace() for c in email):
        raise AccountError(f"not an email address: {email!r}")
    if role not in ROLES:
        raise AccountError(f"the role must be one of {', '.join(ROLES)}, got {role!r}")
    check_password(password)
    display_name = " ".join((display_name or "").split()) or None
    if display_name is not None and len(display_name) > MAX_DISPLAY_NAME_CHARS:
        raise AccountError(f"the name must have at most {MAX_DISPLAY_NAME_CHARS} characters")
    password_hash = HASHER.hash(password)
    now = store.utcnow()
    with _session() as session, session.begin():
        row = session.execute(sa.select(AccountRow).where(AccountRow.email == email)).scalar_one_or_none()
        created = row is None
        if created:
            row = AccountRow(email=email, role=role, password_hash=password_hash, display_name=display_name,
                             created_at=now, updated_at=now)
            session.add(row)
        else:
            row.role, row.password_hash, row.updated_at = role, password_hash, now
            if display_name is not None:
                row.display_name = display_name
            # A new password signs the account out everywhere.
            session.execute(sa.delete(SessionRow).where(SessionRow.account_id == row.id))
        session.flush()
        audit(actor, "account_created" if created else "account_updated", detail=f"{email} role={role}",
              session=session)
        return _account(row), created


def account_emails() -> Dict[int, str]:
    """Every account's email by its id (to name the author of a staff message)."""
    with _session() as session:
        return dict(session.execute(sa.select(AccountRow.id, AccountRow.email)).all())


# --- sign-in -----------------------------------------------------------------------------


def _failure_keys(email: str, client_address: str) -> List[Tuple[str, int]]:
    limits = settings.console()
    return [(f"email:{email}"[:400], limits.lockout_attempts),
            (f"address:{client_address}"[:400], limits.lockout_address_attempts)]


def _locked_minutes(session: Session, keys: List[Tuple[str, int]], now: datetime) -> int:
    """Minutes until every lock on these keys has run out (0: none)."""
    until = [row.locked_until for row in session.execute(
        sa.select(SignInFailureRow).where(SignInFailureRow.key.in_([key for key, _ in keys]))).scalars()
        if row.locked_until is not None and row.locked_until > now]
    if not until:
        return 0
    return max(1, -(-int((max(until) - now).total_seconds()) // 60))


def _count_failure(session: Session, keys: List[Tuple[str, int]], now: datetime) -> int:
    """One more failure on each key; returns the failures in a row for the first (the email)."""
    limits = settings.console()
    window = timedelta(minutes=limits.lockout_minutes)
    counted = []
    for key, limit in keys:
        row = session.get(SignInFailureRow, key)
        if row is None:
            row = SignInFailureRow(key=key, failures=0, last_failure_at=now)
            session.add(row)
        stale = row.last_failure_at < now - window or (row.locked_until is not None and row.locked_until <= now)
        row.failures = 1 if stale else row.failures + 1
        row.last_failure_at = now
        row.locked_until = now + window if row.failures >= limit else None
        counted.append(row.failures)
    return counted[0]


def sign_in(email: str, password: str, client_address: str) -> SignIn:
    """Check an email and password, with slow-down and lock-out; every outcome is audited."""
    email = normalise_email(email)[:320]
    keys = _failure_keys(email, client_address)
    now = store.utcnow()
    with _session() as session, session.begin():
        minutes = _locked_minutes(session, keys, now)
        if minutes:
            audit(email or "-", "sign_in_locked", client_address=client_address, session=session)
            return SignIn(None, LOCKED.format(minutes=minutes), locked=True)
        row = session.execute(sa.select(AccountRow).where(AccountRow.email == email)).scalar_one_or_none()
        try:
            HASHER.verify(row.password_hash if row else _DUMMY_HASH, password[:MAX_PASSWORD_CHARS])
            ok = row is not None
        except (VerifyMismatchError, VerificationError, InvalidHashError):
            ok = False
        if ok:
            if HASHER.check_needs_rehash(row.password_hash):
                row.password_hash = HASHER.hash(password)
            session.execute(sa.delete(SignInFailureRow).where(SignInFailureRow.key == keys[0][0]))
            audit(email, "sign_in", client_address=client_address, session=session)
            return SignIn(_account(row))
        # Old failures are forgotten (the table must not grow with every email anyone types).
        session.execute(sa.delete(SignInFailureRow).where(
            SignInFailureRow.last_failure_at < now - timedelta(minutes=settings.console().lockout_minutes),
            sa.or_(SignInFailureRow.locked_until.is_(None), SignInFailureRow.locked_until < now)))
        failures = _count_failure(session, keys, now)
        audit(email or "-", "sign_in_failed", client_address=client_address, detail=f"failure {failures} in a row",
              session=session)
        minutes = _locked_minutes(session, keys, now)
    slow_after = settings.console().slow_after
    if failures > slow_after:
        time.sleep(min(failures - slow_after, MAX_SLOW_DOWN_SECONDS))
    if minutes:
        return SignIn(None, LOCKED.format(minutes=minutes), locked=True)
    return SignIn(None, WRONG_CREDENTIALS)


# --- sessions ----------------------------------------------------------------------------


def _digest(token: str) -> str:
    return hashlib.sha256(token.encode()).hexdigest()


def start_session(account: Account) -> Tuple[str, str]:
    """A new session for `account`: (cookie token, CSRF token). Expired sessions are dropped."""
    token, csrf = secrets.token_urlsafe(32), secrets.token_urlsafe(32)
    now = store.utcnow()
    idle = timedelta(minutes=settings.console().session_idle_minutes)
    with _session() as session, session.begin():
        session.execute(sa.delete(SessionRow).where(SessionRow.last_seen_at < now - idle))
        session.add(SessionRow(token_hash=_digest(token), account_id=account.id, csrf_token=csrf,
                               created_at=now, last_seen_at=now))
    return token, csrf


def current_session(token: Optional[str]) -> Optional[SignedIn]:
    """The signed-in account for a cookie token, if the session is there and not idle too long
    (then it is used now: the idle time starts again)."""
    if not token:
        return None
    now = store.utcnow()
    idle = timedelta(minutes=settings.console().session_idle_minutes)
    with _session() as session, session.begin():
        row = session.get(SessionRow, _digest(token))
        if row is None:
            return None
        if row.last_seen_at < now - idle:
            session.delete(row)
            return None
        account = session.get(AccountRow, row.account_id)
        if account is None:
            return None
        row.last_seen_at = now
        return SignedIn(_account(account), row.csrf_token)


def end_session(token: Optional[str]) -> None:
    if token:
        with _session() as session, session.begin():
            session.execute(sa.delete(SessionRow).where(SessionRow.token_hash == _digest(token)))


def same_token(given: Optional[str], expected: Optional[str]) -> bool:
    return bool(given and expected) and hmac.compare_digest(given.encode(), expected.encode())
