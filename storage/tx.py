"""The unit of work the rest of the program holds: one transaction, passed to repository functions.

bot/ never builds, commits or inspects a session: it opens `transaction(sessions)` and hands the
`Tx` to storage functions named in domain terms.
"""

from __future__ import annotations

import asyncio
import contextlib
import weakref
from collections.abc import AsyncIterator

from sqlalchemy.ext.asyncio import AsyncEngine, AsyncSession, async_sessionmaker

Tx = AsyncSession
Sessions = async_sessionmaker[AsyncSession]


_SQLITE_GATES: weakref.WeakKeyDictionary[Sessions, asyncio.Lock] = weakref.WeakKeyDictionary()


@contextlib.asynccontextmanager
async def transaction(sessions: Sessions) -> AsyncIterator[Tx]:
    """Commit on success, roll back on any exception.

    On SQLite one at a time per process (in arrival order): with updates of different chats handled
    concurrently, two write transactions of one process would otherwise meet in SQLite's single-writer
    lock, where a reader turned writer fails at once ("database is locked") instead of waiting.

    SQLite's transaction is also committed and closed directly rather than by `sessions.begin()`,
    whose exit runs each of the two in a task of its own (so that a cancellation cannot cut them
    short): two turns of the event loop, in which PTB's next getUpdates went out ahead of the
    reply. SQLite statements run on the loop without suspending (storage/sqlite_inline.py), so
    there is nothing for a cancellation to cut short; PostgreSQL keeps SQLAlchemy's way.
    """
    gate = _SQLITE_GATES.get(sessions)
    if gate is None and is_sqlite(sessions):
        gate = _SQLITE_GATES.setdefault(sessions, asyncio.Lock())
    if gate is None:
        async with sessions.begin() as session:
            yield session
        return
    async with gate:
        session = sessions()
        try:
            yield session
            await session.commit()
        except BaseException:
            with contextlib.suppress(Exception):  # the error that got us here is the one to report
                await session.rollback()
            raise
        finally:
            await session.close()


def is_sqlite(sessions: Sessions) -> bool:
    """SQLite has one writer: callers serialise their own transactions on it."""
    bind = sessions.kw.get("bind")
    return getattr(getattr(bind, "dialect", None), "name", "") == "sqlite"


Engine = AsyncEngine
