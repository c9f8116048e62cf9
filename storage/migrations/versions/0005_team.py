"""team: manager regions, change requests, and who proposed an approved change

Revision ID: 0005_team
Revises: 0004_text_limits
Create Date: 2026-12-01 23:50:00
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

import storage.models

revision: str = "0005_team"
down_revision: str | None = "0004_text_limits"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_table(
        "user_regions",
        sa.Column("user_id", sa.Integer(), nullable=False),
        sa.Column("region", sa.String(length=32), nullable=False),
        sa.ForeignKeyConstraint(["user_id"], ["users.id"]),
        sa.PrimaryKeyConstraint("user_id", "region"),
    )
    op.create_table(
        "change_requests",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("entity", sa.String(length=16), nullable=False),
        sa.Column("entity_id", sa.Integer(), nullable=False),
        sa.Column("customer_id", sa.Integer(), nullable=False),
        sa.Column("field", sa.String(length=32), nullable=False),
        sa.Column("old_value", sa.Text(), nullable=True),
        sa.Column("new_value", sa.JSON(), nullable=False),
        sa.Column("new_text", sa.Text(), nullable=True),
        sa.Column("reason", sa.String(length=200), nullable=False),
        sa.Column("proposer_id", sa.Integer(), nullable=False),
        sa.Column("state", sa.String(length=12), nullable=False),
        sa.Column("decided_by", sa.Integer(), nullable=True),
        sa.Column("decided_at", storage.models.UTCDateTime(timezone=True), nullable=True),
        sa.Column("decision_reason", sa.String(length=200), nullable=True),
        sa.Column("created_at", storage.models.UTCDateTime(timezone=True), nullable=False),
        sa.ForeignKeyConstraint(["customer_id"], ["customers.id"]),
        sa.ForeignKeyConstraint(["proposer_id"], ["users.id"]),
        sa.ForeignKeyConstraint(["decided_by"], ["users.id"]),
        sa.PrimaryKeyConstraint("id"),
    )
    with op.batch_alter_table("change_requests", schema=None) as batch_op:
        batch_op.create_index(batch_op.f("ix_change_requests_customer_id"), ["customer_id"], unique=False)
        batch_op.create_index("ix_change_requests_state", ["state", "customer_id"], unique=False)
    with op.batch_alter_table("changes", schema=None) as batch_op:
        batch_op.add_column(sa.Column("proposed_by", sa.Integer(), nullable=True))
        batch_op.create_foreign_key("fk_changes_proposed_by", "users", ["proposed_by"], ["id"])


def downgrade() -> None:
    with op.batch_alter_table("changes", schema=None) as batch_op:
        batch_op.drop_constraint("fk_changes_proposed_by", type_="foreignkey")
        batch_op.drop_column("proposed_by")
    with op.batch_alter_table("change_requests", schema=None) as batch_op:
        batch_op.drop_index("ix_change_requests_state")
        batch_op.drop_index(batch_op.f("ix_change_requests_customer_id"))
    op.drop_table("change_requests")
    op.drop_table("user_regions")
