"""The one-hop SQLite cursor (storage/sqlite_onehop.py) gives what SQLAlchemy's own aiosqlite cursor
gives: rows, row counts, inserted ids, many-row inserts, errors; and in one hop per statement."""

from __future__ import annotations

from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import text
from sqlalchemy.exc import IntegrityError, OperationalError
from sqlalchemy.ext.asyncio import AsyncEngine

from storage import sqlite_onehop
from storage.db import make_engine


async def test_the_engine_uses_one_hop_and_answers_like_aiosqlite(tmp_path: Path) -> None:
    engine = make_engine(f"sqlite+aiosqlite:///{tmp_path / 'x.sqlite3'}")
    try:
        assert engine.dialect.driver == sqlite_onehop.DRIVER
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


async def test_a_statement_is_one_call_on_the_connection_thread(
    counted: tuple[AsyncEngine, list[str]],
) -> None:
    engine, calls = counted
    async with engine.connect() as conn:
        calls.clear()
        assert (await conn.execute(text("SELECT count(*) FROM t"))).scalar_one() == 0
        assert calls == ["_run"]  # SQLAlchemy's own cursor: cursor, execute, fetchall, close


async def test_commit_and_rollback_skip_the_thread_only_when_nothing_is_open(
    counted: tuple[AsyncEngine, list[str]],
) -> None:
    engine, calls = counted
    calls.clear()
    async with engine.begin() as conn:  # a read: commit and the pool's reset are no-ops
        await conn.execute(text("SELECT count(*) FROM t"))
    assert calls == ["_run"]
    calls.clear()
    async with engine.begin() as conn:  # a write: its commit goes to the thread
        await conn.execute(text("INSERT INTO t (id) VALUES (1)"))
    assert calls == ["_run", "commit"]
    async with engine.connect() as conn:  # a write rolled back is rolled back
        await conn.execute(text("INSERT INTO t (id) VALUES (2)"))
        await conn.rollback()
    async with engine.connect() as conn:
        assert (await conn.execute(text("SELECT id FROM t"))).scalars().all() == [1]
