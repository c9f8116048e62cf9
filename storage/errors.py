"""One exception for "the database cannot answer now", whatever the backend and driver said.

A handler that waits on a black-holed PostgreSQL or a locked SQLite file should tell the person
"try again in a minute", not hang or crash; the router catches `DatabaseUnavailable` for that.
Timeouts and lost connections are recognised on the whole exception chain (SQLAlchemy wraps the
driver's error, asyncpg wraps asyncio's), by type, never by the message text.
"""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Callable, Iterator
from contextlib import contextmanager
from typing import TypeVar

from sqlalchemy import exc as sa_exc

# PostgreSQL SQLSTATEs that mean "not now" rather than "wrong": query_canceled (statement_timeout),
# lock_not_available (lock_timeout), the 08 connection class, admin/crash shutdown, cannot connect now,
# too many connections, idle_in_transaction_session_timeout.
_PG_UNAVAILABLE = {"57014", "55P03", "57P01", "57P02", "57P03", "53300", "25P03"}
T = TypeVar("T")
_SQLITE_BUSY = ("database is locked", "database table is locked")


class DatabaseUnavailable(Exception):
    """The database did not answer in time or the connection was lost; the step was not saved."""


def _chain(exc: BaseException) -> Iterator[BaseException]:
    seen: set[int] = set()
    todo: list[BaseException | None] = [exc]
    while todo:
        item = todo.pop()
        if item is None or id(item) in seen:
            continue
        seen.add(id(item))
        yield item
        todo += [item.__cause__, item.__context__, getattr(item, "orig", None)]


def _one(exc: BaseException) -> bool:
    if isinstance(exc, DatabaseUnavailable | TimeoutError | asyncio.TimeoutError | sa_exc.TimeoutError):
        return True
    if isinstance(exc, ConnectionError | sa_exc.DisconnectionError):
        return True
    if isinstance(exc, sa_exc.DBAPIError) and exc.connection_invalidated:
        return True
    sqlstate = getattr(exc, "sqlstate", None) or getattr(exc, "pgcode", None)
    if isinstance(sqlstate, str) and (sqlstate in _PG_UNAVAILABLE or sqlstate.startswith("08")):
        return True
    try:
        import asyncpg
    except ImportError:  # pragma: no cover - asyncpg is a dependency
        asyncpg = None
    if asyncpg is not None and isinstance(
        exc, asyncpg.exceptions.ConnectionDoesNotExistError | asyncpg.exceptions.CannotConnectNowError
    ):
        return True
    if type(exc).__name__ == "OperationalError" and type(exc).__module__ == "sqlite3":
        text = str(exc).lower()
        return any(busy in text for busy in _SQLITE_BUSY)
    return False


def is_unavailable(exc: BaseException) -> bool:
    """True when `exc` (or anything it wraps) is a timeout, a lost connection or a busy database."""
    return any(_one(item) for item in _chain(exc))


@contextmanager
def database_errors() -> Iterator[None]:
    """Turn timeouts and lost connections raised inside into DatabaseUnavailable; others pass as they are.

    Usable around awaits too (`with database_errors(): async with sessions.begin() as s: …`).
    """
    try:
        yield
    except DatabaseUnavailable:
        raise
    except Exception as exc:
        if is_unavailable(exc):
            raise DatabaseUnavailable(type(exc).__name__) from exc
        raise


def is_stale_connection(exc: BaseException) -> bool:
    """A pooled connection the server had closed (a restart, an idle timeout): the transaction never
    reached the database as a whole, and SQLAlchemy has already thrown the pool's old connections away."""
    return any(isinstance(item, sa_exc.DBAPIError) and item.connection_invalidated for item in _chain(exc))


async def again_if_stale(run: Callable[[], Awaitable[T]]) -> T:
    """Run `run` once more on a fresh connection when its pooled one had gone stale.

    This replaces pool_pre_ping, which spent a round trip on every checkout to find the same thing
    out. Only for work that is safe to repeat: a step (its update id makes a repeat a redelivery,
    shown rather than applied twice) or a delivery mark.
    """
    try:
        return await run()
    except Exception as exc:
        if not is_stale_connection(exc):
            raise
    return await run()
