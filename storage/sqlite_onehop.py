"""SQLAlchemy's aiosqlite dialect with one thread hop per statement instead of three or four.

aiosqlite runs each sqlite3 call on its own thread and hands the result back to the event loop, and
SQLAlchemy's adapter makes a call for each part of a statement: open a cursor, execute, fetch the
rows, close the cursor. Every hop wakes the worker thread and then the loop; a bot whose process
sits idle between steps pays a wake-up each time (measured: a typed step made ~20 hops and spent
more time in them than SQLite spent running its statements). Here a statement is one function run
on aiosqlite's thread: cursor, execute, fetch and close together, with the same results and errors.

Everything else (connections, transactions, isolation, errors, pooling) is SQLAlchemy's own dialect;
only the cursor is ours. It relies on `aiosqlite.Connection._execute` (run a function on the
connection's thread; present and unchanged from aiosqlite 0.17 to 0.22) and `_conn`.
"""

from __future__ import annotations

import collections
import sqlite3
from collections.abc import Iterator, Sequence
from typing import Any

from sqlalchemy.dialects import registry
from sqlalchemy.dialects.sqlite.aiosqlite import (
    AsyncAdapt_aiosqlite_connection,
    AsyncAdapt_aiosqlite_dbapi,
    SQLiteDialect_aiosqlite,
)
from sqlalchemy.util.concurrency import await_

DRIVER = "crm_aiosqlite"

_Result = tuple[Any, list[Any], int, Any]


def _run(conn: sqlite3.Connection, operation: str, parameters: Any, many: bool = False) -> _Result:
    """On aiosqlite's thread: the whole statement, as SQLAlchemy's cursor would have made it."""
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


class OneHopCursor:
    """A DB-API cursor over aiosqlite whose execute is a single call on the connection's thread."""

    server_side = False
    _awaitable_cursor_close = False

    def __init__(self, adapt_connection: AsyncAdapt_aiosqlite_connection) -> None:
        self._adapt_connection = adapt_connection
        self._connection = adapt_connection._connection  # the aiosqlite.Connection
        self.description: Any = None
        self.rowcount = -1
        self.lastrowid: Any = None
        self.arraysize = 1
        self._rows: collections.deque[Any] = collections.deque()

    def _take(self, result: _Result) -> None:
        self.description, rows, self.rowcount, self.lastrowid = result
        self._rows = collections.deque(rows)

    async def _call(self, operation: str, parameters: Any, many: bool = False) -> _Result:
        async with self._adapt_connection._execute_mutex:
            connection = self._connection
            result: _Result = await connection._execute(_run, connection._conn, operation, parameters, many)
            return result

    def execute(self, operation: str, parameters: Any = None) -> None:
        try:
            self._take(await_(self._call(operation, parameters)))
        except Exception as error:
            self._adapt_connection._handle_exception(error)

    def executemany(self, operation: str, seq_of_parameters: Any) -> None:
        try:
            self._take(await_(self._call(operation, seq_of_parameters, many=True)))
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
        """Nothing to close on the thread: the sqlite3 cursor was closed with its statement."""

    def setinputsizes(self, *inputsizes: Any) -> None:
        """sqlite3 takes no input sizes."""

    def nextset(self) -> None:
        return None


class OneHopConnection(AsyncAdapt_aiosqlite_connection):
    """Commit and rollback skip the thread when sqlite3 has no transaction open.

    SQLAlchemy's pool rolls every connection back when it is returned, after the commit too, and a
    read-only session commits nothing (sqlite3 opens a transaction only before its first write): a
    hop each, both no-ops in sqlite3 itself. Reading `in_transaction` needs no thread: no statement of
    this connection runs meanwhile (the adapter runs them one at a time and waits for each).
    """

    __slots__ = ()
    _cursor_cls = OneHopCursor  # type: ignore[assignment]

    def _nothing_open(self) -> bool:
        try:
            return self._connection._connection is not None and not self._connection._conn.in_transaction
        except (ValueError, sqlite3.Error):  # closed, or a Python that checks the thread: ask it there
            return False

    def rollback(self) -> None:
        if not self._nothing_open():
            super().rollback()

    def commit(self) -> None:
        if not self._nothing_open():
            super().commit()


class OneHopDBAPI(AsyncAdapt_aiosqlite_dbapi):
    def connect(self, *arg: Any, **kw: Any) -> AsyncAdapt_aiosqlite_connection:
        adapted = super().connect(*arg, **kw)
        return OneHopConnection(self, adapted._connection)


class OneHopDialect(SQLiteDialect_aiosqlite):
    driver = DRIVER
    supports_statement_cache = True

    @classmethod
    def import_dbapi(cls) -> AsyncAdapt_aiosqlite_dbapi:
        return OneHopDBAPI(__import__("aiosqlite"), __import__("sqlite3"))


registry.register(f"sqlite.{DRIVER}", __name__, "OneHopDialect")
