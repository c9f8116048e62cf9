"""seen updates: redeliveries recognised by the ids seen lately, not by a per-chat high-water mark

Telegram restarts update ids lower after a week without updates; the old chat_cursors table then
made the bot ignore everyone. It is replaced by the ids seen in the last days.

Revision ID: 0008_seen_updates
Revises: 0007_records
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

import storage.models

revision: str = "0008_seen_updates"
down_revision: str | None = "0007_records"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_table(
        "seen_updates",
        sa.Column("chat_id", sa.BigInteger(), autoincrement=False, nullable=False),
        sa.Column("update_id", sa.BigInteger(), autoincrement=False, nullable=False),
        sa.Column("at", storage.models.UTCDateTime(timezone=True), nullable=False),
        sa.Column("saved_kind", sa.String(length=16), nullable=True),
        sa.Column("saved_customer_id", sa.Integer(), nullable=True),
        sa.PrimaryKeyConstraint("chat_id", "update_id"),
    )
    op.create_index("ix_seen_updates_at", "seen_updates", ["at"])
    op.drop_table("chat_cursors")


def downgrade() -> None:
    op.create_table(
        "chat_cursors",
        sa.Column("chat_id", sa.BigInteger(), autoincrement=False, nullable=False),
        sa.Column("last_update_id", sa.BigInteger(), nullable=False),
        sa.PrimaryKeyConstraint("chat_id"),
    )
    op.drop_index("ix_seen_updates_at", table_name="seen_updates")
    op.drop_table("seen_updates")
