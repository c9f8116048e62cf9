"""The unit of work the rest of the program holds: one transaction, passed to repository functions.

bot/ never builds, commits or inspects a session: it opens `transaction(sessions)` and hands the
`Tx` to storage functions named in domain terms.
"""

from __future__ import annotations

import contextlib
from collections.abc import AsyncIterator

from sqlalchemy.ext.asyncio import AsyncEngine, AsyncSession, async_sessionmaker

Tx = AsyncSession
Sessions = async_sessionmaker[AsyncSession]


@contextlib.asynccontextmanager
async def transaction(sessions: Sessions) -> AsyncIterator[Tx]:
    """Commit on success, roll back on any exception."""
    async with sessions.begin() as session:
        yield session


def is_sqlite(sessions: Sessions) -> bool:
    """SQLite has one writer: callers serialise their own transactions on it."""
    bind = sessions.kw.get("bind")
    return getattr(getattr(bind, "dialect", None), "name", "") == "sqlite"


Engine = AsyncEngine
