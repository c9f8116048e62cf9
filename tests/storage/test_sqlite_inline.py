"""The inline SQLite driver (storage/sqlite_inline.py) gives what SQLAlchemy's own aiosqlite cursor
gives: rows, row counts, inserted ids, many-row inserts, errors; without a thread hop per statement,
and waiting for another process's lock off the event loop."""

from __future__ import annotations

import asyncio
import contextlib
import sqlite3
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import text
from sqlalchemy.exc import IntegrityError, OperationalError
from sqlalchemy.ext.asyncio import AsyncEngine

from storage import sqlite_inline
from storage.db import Timeouts, make_engine
from storage.errors import DatabaseUnavailable, database_errors


async def test_the_engine_runs_inline_and_answers_like_aiosqlite(tmp_path: Path) -> None:
    engine = make_engine(f"sqlite+aiosqlite:///{tmp_path / 'x.sqlite3'}")
    try:
        assert engine.dialect.driver == sqlite_inline.DRIVER
        async with engine.begin() as conn:
            await conn.execute(text("CREATE TABLE t (id INTEGER PRIMARY KEY, name TEXT UNIQUE)"))
            done = await conn.execute(text("INSERT INTO t (name) VALUES (:n)"), {"n": "甲"})
            assert done.lastrowid == 1 and done.rowcount == 1
            many = await conn.execute(text("INSERT INTO t (name) VALUES (:n)"), [{"n": "乙"}, {"n": "丙"}])
            assert many.rowcount == 2
            changed = await conn.execute(text("UPDATE t SET name = name || '!' WHERE id > 1"))
            assert changed.rowcount == 2
            rows = (await conn.execute(text("SELECT id, name FROM t ORDER BY id"))).all()
            assert [tuple(r) for r in rows] == [(1, "甲"), (2, "乙!"), (3, "丙!")]
            first = (await conn.execute(text("SELECT name FROM t ORDER BY id"))).first()
            assert first is not None and first[0] == "甲"
            assert (await conn.execute(text("SELECT name FROM t WHERE id = 9"))).first() is None
            returned = await conn.execute(text("INSERT INTO t (name) VALUES ('丁') RETURNING id"))
            assert returned.scalar_one() == 4
        async with engine.connect() as conn:
            with pytest.raises(IntegrityError):
                await conn.execute(text("INSERT INTO t (name) VALUES ('甲')"))
            await conn.rollback()
            with pytest.raises(OperationalError):
                await conn.execute(text("SELECT * FROM no_such_table"))
    finally:
        await engine.dispose()


@pytest.fixture
async def counted(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> AsyncIterator[tuple[AsyncEngine, list[str]]]:
    """An engine on a table `t`, and the name of every function run on the connection's thread since."""
    import aiosqlite

    engine = make_engine(f"sqlite+aiosqlite:///{tmp_path / 'x.sqlite3'}")
    async with engine.begin() as conn:
        await conn.execute(text("CREATE TABLE t (id INTEGER PRIMARY KEY)"))
    calls: list[str] = []
    real: Any = aiosqlite.Connection._execute

    async def counting(self: aiosqlite.Connection, fn: object, *args: object, **kwargs: object) -> object:
        calls.append(getattr(fn, "__name__", "?"))
        return await real(self, fn, *args, **kwargs)

    monkeypatch.setattr(aiosqlite.Connection, "_execute", counting)
    try:
        yield engine, calls
    finally:
        await engine.dispose()


async def test_statements_commits_and_rollbacks_make_no_call_on_the_connection_thread(
    counted: tuple[AsyncEngine, list[str]],
) -> None:
    engine, calls = counted
    calls.clear()
    async with engine.begin() as conn:
        assert (await conn.execute(text("SELECT count(*) FROM t"))).scalar_one() == 0
        await conn.execute(text("INSERT INTO t (id) VALUES (1)"))
    async with engine.connect() as conn:  # a write rolled back is rolled back
        await conn.execute(text("INSERT INTO t (id) VALUES (2)"))
        await conn.rollback()
    assert calls == []
    async with engine.connect() as conn:
        assert (await conn.execute(text("SELECT id FROM t"))).scalars().all() == [1]


@contextlib.asynccontextmanager
async def _locked_by_another(
    tmp_path: Path, busy: float
) -> AsyncIterator[tuple[AsyncEngine, sqlite3.Connection]]:
    """An engine on a table `t` whose database another process's writer holds, as far as SQLite can
    tell: a connection of its own in BEGIN IMMEDIATE (the test may commit and close it)."""
    path = tmp_path / "x.sqlite3"
    engine = make_engine(f"sqlite+aiosqlite:///{path}", timeouts=Timeouts(busy=busy))
    try:
        async with engine.begin() as conn:
            await conn.execute(text("CREATE TABLE t (id INTEGER PRIMARY KEY)"))
        other = sqlite3.connect(path, isolation_level=None)
        other.execute("BEGIN IMMEDIATE")
        try:
            yield engine, other
        finally:
            with contextlib.suppress(sqlite3.ProgrammingError):  # closed by the test already
                if other.in_transaction:
                    other.execute("ROLLBACK")
                other.close()
    finally:
        await engine.dispose()


async def test_a_locked_database_is_waited_for_on_the_thread_while_the_loop_goes_on(tmp_path: Path) -> None:
    async with _locked_by_another(tmp_path, busy=10.0) as (engine, other):
        ticks = 0

        async def tick() -> None:
            nonlocal ticks
            while True:
                await asyncio.sleep(0.01)
                ticks += 1

        async def release() -> None:
            await asyncio.sleep(0.3)
            other.execute("COMMIT")
            other.close()

        ticker = asyncio.create_task(tick())
        releasing = asyncio.create_task(release())
        try:
            async with engine.begin() as conn:
                await conn.execute(text("INSERT INTO t (id) VALUES (7)"))  # waits for the other writer
        finally:
            ticker.cancel()
            await releasing
        assert ticks >= 10  # the loop ran on while the insert waited (a blocked loop would tick ~0)
        async with engine.connect() as conn:
            assert (await conn.execute(text("SELECT id FROM t"))).scalars().all() == [7]
            # the wait left the connection as it was: an immediate answer when nothing is locked
            assert (await conn.execute(text("PRAGMA busy_timeout"))).scalar_one() == 0


async def test_a_lock_held_past_the_busy_timeout_is_database_unavailable(tmp_path: Path) -> None:
    async with _locked_by_another(tmp_path, busy=0.2) as (engine, other):
        with pytest.raises(DatabaseUnavailable), database_errors():
            async with engine.begin() as conn:
                await conn.execute(text("INSERT INTO t (id) VALUES (7)"))
        other.execute("ROLLBACK")
        async with engine.begin() as conn:  # the same pooled connection works again
            await conn.execute(text("INSERT INTO t (id) VALUES (8)"))
            assert (await conn.execute(text("SELECT id FROM t"))).scalars().all() == [8]


async def test_a_transaction_cancelled_while_it_waits_for_the_lock_leaves_nothing_behind(
    tmp_path: Path,
) -> None:
    async with _locked_by_another(tmp_path, busy=10.0) as (engine, other):

        async def insert() -> None:
            async with engine.begin() as conn:
                await conn.execute(text("INSERT INTO t (id) VALUES (7)"))

        waiting = asyncio.create_task(insert())
        await asyncio.sleep(0.2)  # the insert is waiting for the lock on the connection's thread
        waiting.cancel()
        await asyncio.sleep(0.1)  # the loop is free meanwhile: the other writer can let go
        other.execute("ROLLBACK")
        with pytest.raises(asyncio.CancelledError):
            await asyncio.wait_for(waiting, 5.0)
        async with engine.begin() as conn:
            await conn.execute(text("INSERT INTO t (id) VALUES (8)"))
        async with engine.connect() as conn:  # the cancelled insert was rolled back, not kept
            assert (await conn.execute(text("SELECT id FROM t"))).scalars().all() == [8]
