"""The staff console's tables, in the request database (same DATABASE_URL, same Alembic
history: migrations/versions/0002_staff_console.py) and on the request store's declarative
base, so one schema is compared with one set of migrations."""
from __future__ import annotations

import sqlalchemy as sa

import clinic.handover  # noqa: F401  (its table shares this schema and Alembic history)
from clinic.store import Base, UTCDateTime

ROLES = ("staff", "admin")


class AccountRow(Base):
    __tablename__ = "staff_accounts"
    __table_args__ = (
        sa.UniqueConstraint("email", name="uq_staff_accounts_email"),
        sa.CheckConstraint("role IN ('staff', 'admin')", name="ck_staff_accounts_role"),
    )

    id = sa.Column(sa.Integer, primary_key=True, autoincrement=True)
    email = sa.Column(sa.String(320), nullable=False)  # stored lower-case
    role = sa.Column(sa.String(16), nullable=False)
    password_hash = sa.Column(sa.String(255), nullable=False)  # Argon2id, PHC string
    display_name = sa.Column(sa.String(80))  # told to the patient on a take-over ("Anna"); optional
    created_at = sa.Column(UTCDateTime(), nullable=False)
    updated_at = sa.Column(UTCDateTime(), nullable=False)


class SessionRow(Base):
    """A signed-in browser. The cookie holds a random token; only its SHA-256 is stored."""

    __tablename__ = "staff_sessions"

    token_hash = sa.Column(sa.String(64), primary_key=True)
    account_id = sa.Column(
        sa.Integer, sa.ForeignKey("staff_accounts.id", ondelete="CASCADE", name="fk_staff_sessions_account"),
        nullable=False, index=True,
    )
    csrf_token = sa.Column(sa.String(64), nullable=False)
    created_at = sa.Column(UTCDateTime(), nullable=False)
    last_seen_at = sa.Column(UTCDateTime(), nullable=False)


class SignInFailureRow(Base):
    """Failed sign-ins in a row, per email typed ("email:...") and per client address
    ("address:..."), whether or not the account exists."""

    __tablename__ = "staff_sign_in_failures"

    key = sa.Column(sa.String(400), primary_key=True)
    failures = sa.Column(sa.Integer, nullable=False)
    last_failure_at = sa.Column(UTCDateTime(), nullable=False)
    locked_until = sa.Column(UTCDateTime())


class AuditRow(Base):
    """Who did what, when, to which request (by reference, never by personal data)."""

    __tablename__ = "staff_audit"

    id = sa.Column(sa.Integer, primary_key=True, autoincrement=True)
    at = sa.Column(UTCDateTime(), nullable=False, index=True)
    actor = sa.Column(sa.String(320), nullable=False)
    action = sa.Column(sa.String(32), nullable=False, index=True)
    reference = sa.Column(sa.String(16))
    client_address = sa.Column(sa.String(64))
    detail = sa.Column(sa.String(500))
