"""search index: the token postings of storage.search, filled for the customers already there

Revision ID: 0003_search_index
Revises: 0002
Create Date: 2026-12-01 23:40:00.000000
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0003_search_index"
down_revision: str | None = "0002"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

BATCH = 5000


def upgrade() -> None:
    op.create_table(
        "search_grams",
        sa.Column("gram", sa.String(length=64), nullable=False),
        sa.Column("customer_id", sa.Integer(), nullable=False),
        sa.ForeignKeyConstraint(["customer_id"], ["customers.id"], ondelete="CASCADE"),
        sa.PrimaryKeyConstraint("gram", "customer_id"),
        sqlite_with_rowid=False,
    )
    with op.batch_alter_table("search_grams", schema=None) as batch_op:
        batch_op.create_index(batch_op.f("ix_search_grams_customer_id"), ["customer_id"], unique=False)
    _backfill()


def _backfill() -> None:
    """Tokens of the existing customers, computed by the same function the app keeps them in sync with."""
    from storage.search import customer_tokens

    bind = op.get_bind()
    contacts: dict[int, list[str]] = {}
    for cid, name in bind.execute(sa.text("SELECT customer_id, name FROM contacts")).all():
        contacts.setdefault(int(cid), []).append(str(name))
    grams = sa.table("search_grams", sa.column("gram", sa.String), sa.column("customer_id", sa.Integer))
    rows: list[dict[str, object]] = []
    customers = bind.execute(sa.text("SELECT id, name, name_key, email, phone FROM customers")).all()
    for cid, name, key, email, phone in customers:
        tokens = customer_tokens(name or "", key or "", email, phone, contacts.get(int(cid), []))
        rows.extend({"gram": t, "customer_id": int(cid)} for t in tokens)
        if len(rows) >= BATCH:
            bind.execute(grams.insert(), rows)
            rows = []
    if rows:
        bind.execute(grams.insert(), rows)


def downgrade() -> None:
    with op.batch_alter_table("search_grams", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_search_grams_customer_id"))
    op.drop_table("search_grams")
