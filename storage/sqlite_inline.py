"""SQLAlchemy's aiosqlite dialect with each statement run on the event loop's own thread.

aiosqlite runs every sqlite3 call on a thread of its own and hands the result back to the event
loop. For this bot's statements (indexed reads and one-row writes on a local file in WAL mode) the
hop costs far more than SQLite does: each one wakes the worker thread and then the loop, and a bot
that sits idle between steps pays a cold wake-up every time. Measured in the running bot after a
second's pause: ~0.3 ms for a statement run here against ~1–2 ms through the thread, five times per
typed step. Every statement also gave the loop a chance to run something else (PTB's next
getUpdates) before the reply was sent.

So a statement, a commit and a rollback run here, synchronously, with SQLite's busy timeout at 0.
When another process holds the write lock (a CLI import, a restore) the statement fails at once
with SQLITE_BUSY, and it is run again on aiosqlite's thread with the configured busy timeout, so
only that transaction waits, as it did before, and the loop never blocks on another process.
sqlite3 releases the GIL inside SQLite, so other threads (OCR, downloads) go on meanwhile. A long
statement (a large export) does hold the loop for its duration; SQLite is one process's database,
whose transactions this process runs one at a time anyway (storage/tx.py).

Everything else (connections, transactions, isolation, errors, pooling) is SQLAlchemy's own dialect;
only the cursor, commit and rollback are ours. It relies on `aiosqlite.Connection._execute` (run a
function on the connection's thread; present and unchanged from aiosqlite 0.17 to 0.22) and `_conn`,
and opens sqlite3 with check_same_thread=False: one connection is used by one session at a time, and
by the loop thread or (waiting on a lock) its own thread, never both at once.
"""

from __future__ import annotations

import asyncio
import collections
import contextlib
import sqlite3
from collections.abc import Callable, Iterator, Sequence
from typing import Any, TypeVar

from sqlalchemy.dialects import registry
from sqlalchemy.dialects.sqlite.aiosqlite import (
    AsyncAdapt_aiosqlite_connection,
    AsyncAdapt_aiosqlite_dbapi,
    SQLiteDialect_aiosqlite,
)
from sqlalchemy.util.concurrency import await_

DRIVER = "crm_sqlite_inline"
DEFAULT_PATIENCE = 5.0  # seconds, sqlite3's own default, when the connect arguments name none

_Result = tuple[Any, list[Any], int, Any]
T = TypeVar("T")


def run_statement(conn: sqlite3.Connection, operation: str, parameters: Any, many: bool = False) -> _Result:
    """The whole statement, as SQLAlchemy's cursor would have made it: cursor, execute, fetch, close."""
    cursor = conn.cursor()
    try:
        if many:
            cursor.executemany(operation, parameters)
        elif parameters is None:
            cursor.execute(operation)
        else:
            cursor.execute(operation, parameters)
        description = cursor.description
        rows = cursor.fetchall() if description else []
        return description, rows, cursor.rowcount, cursor.lastrowid
    finally:
        cursor.close()


def is_busy(error: BaseException) -> bool:
    """SQLITE_BUSY (any extended code): another connection holds the lock this statement needs."""
    code = getattr(error, "sqlite_errorcode", None)
    if not isinstance(error, sqlite3.OperationalError) or code is None:
        return False
    return bool(code & 0xFF == sqlite3.SQLITE_BUSY)


def _patiently(conn: sqlite3.Connection, patience_ms: int, work: Callable[[], T]) -> T:
    """On aiosqlite's thread: `work` with SQLite waiting up to `patience_ms` for the lock."""
    conn.execute(f"PRAGMA busy_timeout={patience_ms}")
    try:
        return work()
    finally:
        conn.execute("PRAGMA busy_timeout=0")


class InlineCursor:
    """A DB-API cursor whose execute runs the statement at once, on the calling thread."""

    server_side = False
    _awaitable_cursor_close = False

    def __init__(self, adapt_connection: InlineConnection) -> None:
        self._adapt_connection = adapt_connection
        self.description: Any = None
        self.rowcount = -1
        self.lastrowid: Any = None
        self.arraysize = 1
        self._rows: collections.deque[Any] = collections.deque()

    def _take(self, result: _Result) -> None:
        self.description, rows, self.rowcount, self.lastrowid = result
        self._rows = collections.deque(rows)

    def execute(self, operation: str, parameters: Any = None) -> None:
        try:
            self._take(self._adapt_connection.run(lambda c: run_statement(c, operation, parameters)))
        except Exception as error:
            self._adapt_connection._handle_exception(error)

    def executemany(self, operation: str, seq_of_parameters: Any) -> None:
        try:
            self._take(
                self._adapt_connection.run(lambda c: run_statement(c, operation, seq_of_parameters, True))
            )
        except Exception as error:
            self._adapt_connection._handle_exception(error)

    def fetchone(self) -> Any:
        return self._rows.popleft() if self._rows else None

    def fetchmany(self, size: int | None = None) -> Sequence[Any]:
        count = self.arraysize if size is None else size
        return [self._rows.popleft() for _ in range(min(count, len(self._rows)))]

    def fetchall(self) -> Sequence[Any]:
        rows = list(self._rows)
        self._rows.clear()
        return rows

    def __iter__(self) -> Iterator[Any]:
        while self._rows:
            yield self._rows.popleft()

    def close(self) -> None:
        self._rows.clear()

    async def _async_soft_close(self) -> None:
        """Nothing to close: the sqlite3 cursor was closed with its statement."""

    def setinputsizes(self, *inputsizes: Any) -> None:
        """sqlite3 takes no input sizes."""

    def nextset(self) -> None:
        return None


class InlineConnection(AsyncAdapt_aiosqlite_connection):
    """Statements, commit and rollback on the calling thread; a busy lock is waited for on the
    connection's own thread (see the module docstring)."""

    __slots__ = ("patience_ms",)
    _cursor_cls = InlineCursor  # type: ignore[assignment]

    def __init__(self, dbapi: Any, connection: Any, patience: float) -> None:
        super().__init__(dbapi, connection)
        self.patience_ms = int(patience * 1000)
        self._connection._conn.execute("PRAGMA busy_timeout=0")  # see run

    def run(self, work: Callable[[sqlite3.Connection], T]) -> T:
        """`work` on the sqlite3 connection now; if the lock is busy, once more, waiting for it on
        the connection's thread (only this transaction waits, the loop goes on).

        Run through `await_` although it seldom waits: SQLAlchemy's AsyncConnection checks that its
        driver awaited something. A coroutine that returns without suspending costs a greenlet
        switch, not a turn of the event loop."""
        result: T = await_(self.run_here(work))
        return result

    async def run_here(self, work: Callable[[sqlite3.Connection], T]) -> T:
        """`run` for a caller that is a coroutine itself (storage/precompiled.py): no greenlet."""
        conn: sqlite3.Connection = self._connection._conn
        try:
            return work(conn)
        except sqlite3.OperationalError as error:
            if not is_busy(error):
                raise
        waiting = asyncio.ensure_future(
            self._connection._execute(_patiently, conn, self.patience_ms, lambda: work(conn))
        )
        try:
            return await asyncio.shield(waiting)
        except asyncio.CancelledError:
            # the thread is still using the connection: a rollback now would run beside it
            with contextlib.suppress(Exception):
                await waiting
            raise

    def rollback(self) -> None:
        if not self._connection._connection:  # closed already (as SQLAlchemy's own adapter checks)
            return
        try:
            self.run(lambda c: c.rollback())
        except Exception as error:
            self._handle_exception(error)

    def commit(self) -> None:
        if not self._connection._connection:
            return
        try:
            self.run(lambda c: c.commit())
        except Exception as error:
            self._handle_exception(error)


class InlineDBAPI(AsyncAdapt_aiosqlite_dbapi):
    def connect(self, *arg: Any, **kw: Any) -> AsyncAdapt_aiosqlite_connection:
        patience = float(kw.get("timeout", DEFAULT_PATIENCE))
        kw["check_same_thread"] = False
        adapted = super().connect(*arg, **kw)
        return InlineConnection(self, adapted._connection, patience)


class InlineDialect(SQLiteDialect_aiosqlite):
    driver = DRIVER
    supports_statement_cache = True

    @classmethod
    def import_dbapi(cls) -> AsyncAdapt_aiosqlite_dbapi:
        return InlineDBAPI(__import__("aiosqlite"), __import__("sqlite3"))


registry.register(f"sqlite.{DRIVER}", __name__, "InlineDialect")
