"""INSERT … ON CONFLICT for the session's backend, the dialect's module imported when first used.

`sqlalchemy.dialects.postgresql` loads the modules of every PostgreSQL driver SQLAlchemy knows
(~2 MiB that a bot on SQLite would keep for nothing), so no module imports it at the top.
"""

from __future__ import annotations

from typing import Any

from sqlalchemy.ext.asyncio import AsyncSession


def insert_for(dialect: str) -> Any:
    """The dialect's `insert` (with on_conflict_do_update/do_nothing): PostgreSQL's or SQLite's."""
    if dialect == "postgresql":
        from sqlalchemy.dialects.postgresql import insert as pg_insert

        return pg_insert
    from sqlalchemy.dialects.sqlite import insert as sqlite_insert

    return sqlite_insert


def upsert(session: AsyncSession) -> Any:
    """The `insert` of the backend this session talks to."""
    return insert_for(session.get_bind().dialect.name)
