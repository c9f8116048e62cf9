"""records: one live customer per credit code, follow-ups' pending since, the language seen

Revision ID: 0007_records
Revises: 0006_data
Create Date: 2026-12-01 23:50:00

A database may already hold two live customers with the same credit code (the bug this fixes let
it happen). Creating the unique index would then fail, so first, in every such group, the oldest
customer keeps the code and each later one gives it up: its code is cleared and marked pending (the
owner is reminded to fill it in, and the entry re-checks it against the existing customer, which
leads to a merge), the old value is kept in the change history with the reason, and the audit log
counts how many were touched. Nothing is deleted.
"""

from collections.abc import Sequence
from datetime import UTC, datetime

import sqlalchemy as sa
from alembic import op

import storage.models

revision: str = "0007_records"
down_revision: str | None = "0006_data"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

LIVE_CODE = "merged_into_id IS NULL AND credit_code IS NOT NULL"


def _release_duplicate_codes() -> None:
    bind = op.get_bind()
    customers = sa.table(
        "customers",
        sa.column("id", sa.Integer),
        sa.column("number", sa.String),
        sa.column("credit_code", sa.String),
        sa.column("owner_id", sa.Integer),
        sa.column("merged_into_id", sa.Integer),
        sa.column("pending", sa.JSON),
        sa.column("pending_since", storage.models.UTCDateTime(timezone=True)),
    )
    changes = sa.table(
        "changes",
        sa.column("entity", sa.String),
        sa.column("entity_id", sa.Integer),
        sa.column("field", sa.String),
        sa.column("old_value", sa.Text),
        sa.column("new_value", sa.Text),
        sa.column("reason", sa.String),
        sa.column("user_id", sa.Integer),
        sa.column("at", storage.models.UTCDateTime(timezone=True)),
    )
    audit = sa.table(
        "audit",
        sa.column("user_id", sa.Integer),
        sa.column("action", sa.String),
        sa.column("detail", sa.Text),
        sa.column("at", storage.models.UTCDateTime(timezone=True)),
    )
    rows = bind.execute(
        sa.select(
            customers.c.id,
            customers.c.number,
            customers.c.credit_code,
            customers.c.owner_id,
            customers.c.pending,
            customers.c.pending_since,
        )
        .where(customers.c.merged_into_id.is_(None), customers.c.credit_code.is_not(None))
        .order_by(customers.c.id)
    ).all()
    keeper: dict[str, str] = {}
    now = datetime.now(UTC)
    released = 0
    for cid, number, code, owner_id, pending, since in rows:
        if code not in keeper:
            keeper[code] = number
            continue
        bind.execute(
            customers.update()
            .where(customers.c.id == cid)
            .values(
                credit_code=None,
                pending=sorted({*(pending or []), "credit_code"}),
                pending_since=since or now,
            )
        )
        bind.execute(
            changes.insert().values(
                entity="customer",
                entity_id=cid,
                field="credit_code",
                old_value=code,
                new_value=None,
                reason=f"same credit code as {keeper[code]} (kept there); merge or correct"[:200],
                user_id=owner_id,
                at=now,
            )
        )
        released += 1
    if released:
        bind.execute(
            audit.insert().values(
                user_id=None,
                action="credit_code_release",
                detail=f"{released} duplicate credit codes released before the unique index",
                at=now,
            )
        )


def upgrade() -> None:
    with op.batch_alter_table("followups", schema=None) as batch_op:
        batch_op.add_column(
            sa.Column("pending_since", storage.models.UTCDateTime(timezone=True), nullable=True)
        )
    with op.batch_alter_table("users", schema=None) as batch_op:
        batch_op.add_column(sa.Column("lang_seen", sa.String(length=8), nullable=True))
    # follow-ups saved with a field left "Later" have waited since they were entered
    followups = sa.table(
        "followups",
        sa.column("id", sa.Integer),
        sa.column("pending", sa.JSON),
        sa.column("created_at", storage.models.UTCDateTime(timezone=True)),
        sa.column("pending_since", storage.models.UTCDateTime(timezone=True)),
    )
    bind = op.get_bind()
    for fid, pending, created in bind.execute(
        sa.select(followups.c.id, followups.c.pending, followups.c.created_at)
    ).all():
        if pending:
            bind.execute(followups.update().where(followups.c.id == fid).values(pending_since=created))
    _release_duplicate_codes()
    op.create_index(
        "uq_customers_live_credit_code",
        "customers",
        ["credit_code"],
        unique=True,
        sqlite_where=sa.text(LIVE_CODE),
        postgresql_where=sa.text(LIVE_CODE),
    )


def downgrade() -> None:
    op.drop_index("uq_customers_live_credit_code", table_name="customers")
    with op.batch_alter_table("users", schema=None) as batch_op:
        batch_op.drop_column("lang_seen")
    with op.batch_alter_table("followups", schema=None) as batch_op:
        batch_op.drop_column("pending_since")
