"""Hand-over: which conversation a member of staff holds (clinic/handover.py), and a
display name on staff accounts (shown to the patient when they take over).

Revision ID: 0003
Revises: 0002
Create Date: 2026-12-02
"""
from typing import Sequence, Union

import sqlalchemy as sa
from alembic import op

revision: str = "0003"
down_revision: Union[str, Sequence[str], None] = "0002"
branch_labels: Union[str, Sequence[str], None] = None
depends_on: Union[str, Sequence[str], None] = None

UTC_TIME = sa.DateTime(timezone=True)


def upgrade() -> None:
    op.create_table(
        "handovers",
        sa.Column("conversation_id", sa.String(255), primary_key=True),
        sa.Column("staff_id", sa.Integer, nullable=False),
        sa.Column("staff_email", sa.String(320), nullable=False),
        sa.Column("staff_name", sa.String(80)),
        sa.Column("since", UTC_TIME, nullable=False),
    )
    with op.batch_alter_table("staff_accounts") as batch:
        batch.add_column(sa.Column("display_name", sa.String(80)))


def downgrade() -> None:
    with op.batch_alter_table("staff_accounts") as batch:
        batch.drop_column("display_name")
    op.drop_table("handovers")
