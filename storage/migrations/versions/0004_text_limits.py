"""text limits: free-text columns become TEXT, so what a validator accepts every backend stores

Validators count what people see (display_len: combining marks and emoji variation selectors are
not counted), while varchar(N) on PostgreSQL counts code points: 150 "❤️" (300 code points) passed
the Remarks check of 200 and then failed every Save. The user-facing limits stay in the validators;
the columns no longer add a second, different one. SQLite never enforced the lengths.

Revision ID: 0004_text_limits
Revises: 0003_search_index
Create Date: 2026-12-01 23:40:00
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0004_text_limits"
down_revision: str | None = "0003_search_index"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

# (table, column, old varchar length)
WIDENED = (
    ("customers", "industry_other", 100),
    ("customers", "address", 300),
    ("customers", "main_business", 500),
    ("customers", "current_problem", 500),
    ("customers", "interest", 500),
    ("customers", "remarks", 200),
    ("contacts", "position", 100),
    ("contacts", "channel_time", 50),
    ("contacts", "remarks", 200),
    ("followups", "participants", 200),
    ("changes", "reason", 200),
)


def upgrade() -> None:
    if op.get_bind().dialect.name == "sqlite":
        return  # SQLite stores any length in a VARCHAR column; a table rebuild would buy nothing
    for table, column, length in WIDENED:
        op.alter_column(table, column, type_=sa.Text(), existing_type=sa.String(length))


def downgrade() -> None:
    if op.get_bind().dialect.name == "sqlite":
        return
    for table, column, length in WIDENED:
        op.alter_column(
            table,
            column,
            type_=sa.String(length),
            existing_type=sa.Text(),
            postgresql_using=f"left({column}, {length})",
        )
