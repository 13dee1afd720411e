"""Requests, their delivery outbox, SMS/WhatsApp opt-outs.

Revision ID: 0001
Revises:
Create Date: 2026-11-01
"""
from typing import Sequence, Union

import sqlalchemy as sa
from alembic import op

revision: str = "0001"
down_revision: Union[str, Sequence[str], None] = None
branch_labels: Union[str, Sequence[str], None] = None
depends_on: Union[str, Sequence[str], None] = None

# Times are stored in UTC (clinic.store.UTCDateTime); timezone=True gives timestamptz on PostgreSQL.
UTC_TIME = sa.DateTime(timezone=True)


def upgrade() -> None:
    op.create_table(
        "requests",
        sa.Column("id", sa.String(36), primary_key=True),
        sa.Column("reference", sa.String(16), nullable=False),
        sa.Column("kind", sa.String(32), nullable=False),
        sa.Column("conversation_id", sa.String(255), nullable=False),
        sa.Column("channel", sa.String(64), nullable=False),
        sa.Column("full_name", sa.String(255)),
        sa.Column("phone", sa.String(32)),
        sa.Column("email", sa.String(320)),
        sa.Column("contact_method", sa.String(32)),
        sa.Column("requested_start", UTC_TIME),
        sa.Column("requested_end", UTC_TIME),
        sa.Column("preferred_time_text", sa.Text),
        sa.Column("reason", sa.String(64)),
        sa.Column("consent_version", sa.String(64)),
        sa.Column("patient_message", sa.Text),
        sa.Column("created_at", UTC_TIME, nullable=False),
        sa.UniqueConstraint("reference", name="uq_requests_reference"),
    )
    op.create_index("ix_requests_conversation_id", "requests", ["conversation_id"])
    op.create_index("ix_requests_created_at", "requests", ["created_at"])

    op.create_table(
        "outbox",
        sa.Column("request_id", sa.String(36),
                  sa.ForeignKey("requests.id", ondelete="CASCADE", name="fk_outbox_request"),
                  primary_key=True),
        sa.Column("state", sa.String(16), nullable=False),
        sa.Column("attempts", sa.Integer, nullable=False, server_default="0"),
        sa.Column("next_attempt_at", UTC_TIME, nullable=False),
        sa.Column("lease_owner", sa.String(64)),
        sa.Column("lease_until", UTC_TIME),
        sa.Column("last_status", sa.Integer),
        sa.Column("last_error", sa.Text),
        sa.Column("delivered_at", UTC_TIME),
        sa.Column("updated_at", UTC_TIME, nullable=False),
        sa.CheckConstraint("state IN ('pending', 'delivered', 'dead')", name="ck_outbox_state"),
    )
    op.create_index("ix_outbox_state", "outbox", ["state"])
    op.create_index("ix_outbox_next_attempt_at", "outbox", ["next_attempt_at"])

    op.create_table(
        "sms_opt_outs",
        sa.Column("address", sa.String(64), primary_key=True),
        sa.Column("opted_out", sa.Boolean, nullable=False),
        sa.Column("updated_at", UTC_TIME, nullable=False),
    )


def downgrade() -> None:
    op.drop_table("sms_opt_outs")
    op.drop_table("outbox")
    op.drop_table("requests")
