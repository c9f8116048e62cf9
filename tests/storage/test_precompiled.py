"""storage/precompiled.py answers exactly as SQLAlchemy would, on both backends; on SQLite without it.

The fast path is only worth having if nothing can tell it from SQLAlchemy's: the same rows with
the same Python types, the same row counts, the same exceptions, the statement events fired, and
an ORM user that the session saves like one it loaded itself.
"""

from __future__ import annotations

import datetime as dt
import sqlite3
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import select
from sqlalchemy.exc import IntegrityError
from sqlalchemy.ext.asyncio import AsyncConnection

from storage import ops, precompiled, repo, search
from storage.db import Timeouts, make_engine, make_sessions, migrate
from storage.errors import is_unavailable
from storage.locks import lock_chat
from storage.models import Customer, User
from tests.conftest import Database

NOW = dt.datetime(2026, 12, 3, 9, 0, tzinfo=dt.UTC)


def _answers(name: str) -> dict[str, Any]:
    return {"kind": "enterprise", "status": "potential", "source": "referral", "name": name}


async def _both(db: Database, statement: Any, params: dict[str, Any]) -> tuple[Any, Any]:
    """(precompiled.run's rows, SQLAlchemy's rows as tuples) for one read, in one transaction."""
    async with db.sessions.begin() as s:
        fast = await precompiled.run(s, statement, params)
        conn = await s.connection()
        slow = [tuple(r) for r in (await conn.execute(statement, params)).all()]
    return fast.rows, slow


async def test_reads_give_the_same_rows_and_types(db: Database) -> None:
    async with db.sessions.begin() as s:
        ann = await repo.add_user(s, 501, "Ann", "sales")
        await repo.save_conversation(s, 501, ann.id, {"flow": "customer", "answers": {"名": "甲"}}, NOW)
    fast, slow = await _both(db, repo._USER_AND_CONVERSATION_ROW, {"chat_id": 501, "telegram_id": 501})
    assert fast == slow and len(fast) == 1
    row = fast[0]
    assert [type(v) for v in row] == [type(v) for v in slow[0]]
    assert row[-2] == {"flow": "customer", "answers": {"名": "甲"}}  # JSON read back as JSON
    assert isinstance(row[-1], dt.datetime) and row[-1].replace(tzinfo=dt.UTC) == NOW
    assert row[list(repo._USER_KEYS).index("active")] is True  # a boolean, not SQLite's 1

    # no row: no entry, and a stranger
    assert (await _both(db, repo._CONVERSATION, {"chat_id": 7, "user_id": ann.id})) == ([], [])
    assert (await _both(db, repo._USER_AND_CONVERSATION_ROW, {"chat_id": 1, "telegram_id": 9}))[0] == []


async def test_a_statement_carrying_its_own_values_runs_them(db: Database) -> None:
    """The postings read has a LIMIT and literal kinds of its own, besides the bound tokens."""
    async with db.sessions.begin() as s:
        ann = await repo.add_user(s, 502, "Ann", "sales")
        for name in ("杭州数澜科技有限公司", "杭州数澜网络有限公司"):
            await repo.create_customer(s, ann, _answers(name), [], NOW, NOW.date())
    query = search._postings_query(2, "=")
    params = {"t0": "n:数澜", "t1": "n:no such gram", "x": "数澜"}
    fast, slow = await _both(db, query, params)
    assert sorted(fast) == sorted(slow)
    assert {(gram, n) for gram, _, n in fast} == {("=", 2), ("n:数澜", 2)} and len(fast) == 4


async def test_writes_count_and_return_like_sqlalchemy(db: Database) -> None:
    async with db.sessions.begin() as s:
        ann = await repo.add_user(s, 503, "Ann", "sales")
    async with db.sessions.begin() as s:
        made = await precompiled.run(
            s, repo._INSERT_CONVERSATION, {"chat_id": 503, "user_id": ann.id, "state": {"a": 1}, "at": NOW}
        )
        entry_id = made.rows[0][0]
        assert isinstance(entry_id, int)
        changed = await precompiled.run(
            s, repo._UPDATE_CONVERSATION, {"entry_id": entry_id, "state": {"a": 2}, "at": NOW}
        )
        assert changed.rowcount == 1
        missed = await precompiled.run(
            s, repo._UPDATE_CONVERSATION, {"entry_id": entry_id + 1, "state": {}, "at": NOW}
        )
        assert missed.rowcount == 0
    async with db.sessions.begin() as s:
        entry = await repo.load_conversation(s, 503, ann.id)
        assert entry is not None and entry.state == {"a": 2}
        seen = repo._seen_statement("postgresql" if db.backend == "postgres" else "sqlite")
        params = {"chat_id": 503, "update_id": 1, "at": NOW, "cutoff": NOW - repo.SEEN_KEPT}
        assert (await precompiled.run(s, seen, params)).rowcount == 1
        assert (await precompiled.run(s, seen, params)).rowcount == 0  # seen already: not taken


async def test_errors_are_sqlalchemys_and_roll_back(db: Database) -> None:
    async with db.sessions.begin() as s:
        ann = await repo.add_user(s, 504, "Ann", "sales")
        await repo.save_conversation(s, 504, ann.id, {"a": 1}, NOW)
    params = {"chat_id": 504, "user_id": ann.id, "state": {"a": 2}, "at": NOW}
    with pytest.raises(IntegrityError):  # one open entry per chat and user
        async with db.sessions.begin() as s:
            await precompiled.run(s, repo._INSERT_CONVERSATION, params)
    async with db.sessions.begin() as s:
        entry = await repo.load_conversation(s, 504, ann.id)
        assert entry is not None and entry.state == {"a": 1}


async def test_a_statement_whose_sql_depends_on_its_values_is_left_to_sqlalchemy(db: Database) -> None:
    async with db.sessions.begin() as s:
        ann = await repo.add_user(s, 505, "Ann", "sales")
        made = [
            await repo.create_customer(s, ann, _answers(n), [], NOW, NOW.date()) for n in ("甲乙", "丙丁")
        ]
    expanding = select(Customer.name).where(Customer.id.in_([c.id for c in made])).order_by(Customer.id)
    async with db.sessions.begin() as s:
        assert (await precompiled.run(s, expanding, {})).rows == [("甲乙",), ("丙丁",)]
        if db.backend == "sqlite":
            assert precompiled._PLANS[(expanding, "sqlite")] is None


async def test_a_step_runs_without_sqlalchemys_execute(db: Database, monkeypatch: pytest.MonkeyPatch) -> None:
    """The point of it: the step's statements never go through Connection.execute."""
    async with db.sessions.begin() as s:
        ann = await repo.add_user(s, 506, "Ann", "sales")
    observed: list[float] = []
    ops.time_statements(db.engine, observed.append)

    async def refused(*args: Any, **kwargs: Any) -> Any:
        raise AssertionError("went through SQLAlchemy's execute")

    monkeypatch.setattr(AsyncConnection, "execute", refused)
    async with db.sessions.begin() as s:
        await lock_chat(s, 506)
        user, entry, fresh = await repo.user_conversation_and_sight(s, 506, 506, 1, NOW)
        assert user is not None and user.id == ann.id and entry is None and fresh
        await repo.save_conversation(s, 506, ann.id, {"b": 1}, NOW)
    async with db.sessions.begin() as s:
        user, entry, fresh = await repo.user_conversation_and_sight(s, 506, 506, 1, NOW)
        assert entry is not None and entry.state == {"b": 1} and not fresh  # update 1 was seen
    # the latency histogram saw each. PostgreSQL: the lock, the read with the update id, the entry,
    # the read; SQLite takes no lock and checks the update id apart
    assert len(observed) == (4 if db.backend == "postgres" else 5)


async def test_sqlite_busy_is_recognised_as_unavailable(tmp_path: Path) -> None:
    path = tmp_path / "x.sqlite3"
    engine = make_engine(f"sqlite+aiosqlite:///{path}", timeouts=Timeouts(busy=0.2))
    other = sqlite3.connect(path, isolation_level=None)
    try:
        await migrate(engine)
        sessions = make_sessions(engine)
        async with sessions.begin() as s:
            ann = await repo.add_user(s, 507, "Ann", "sales")
        other.execute("BEGIN IMMEDIATE")  # another process holds the write lock
        with pytest.raises(Exception) as raised:
            async with sessions.begin() as s:
                await precompiled.run(
                    s, repo._INSERT_CONVERSATION, {"chat_id": 1, "user_id": ann.id, "state": {}, "at": NOW}
                )
        assert is_unavailable(raised.value)
    finally:
        other.close()
        await engine.dispose()


async def test_the_user_read_is_the_sessions_own_object(db: Database) -> None:
    async with db.sessions.begin() as s:
        await repo.add_user(s, 508, "Ann", "sales")
    async with db.sessions.begin() as s:
        user, _, _ = await repo.user_conversation_and_sight(s, 508, 508, 1, NOW)
        assert user is not None
        again = (await s.execute(select(User).where(User.telegram_id == 508))).scalar_one()
        assert again is user  # one identity: the session knows it as loaded
        user.tz = "Europe/Berlin"  # changed like any loaded object, saved by the commit
    async with db.sessions.begin() as s:
        loaded = (await s.execute(select(User).where(User.telegram_id == 508))).scalar_one()
        assert loaded.tz == "Europe/Berlin"
        pending_name = "Ann B."
        loaded.name = pending_name  # a change not yet flushed ...
        user, _, _ = await repo.user_conversation_and_sight(s, 508, 508, 2, NOW)
        assert user is loaded and user.name == pending_name  # ... is not overwritten by the read
    async with db.sessions.begin() as s:
        assert (await repo.user_conversation_and_sight(s, 508, 508, 3, NOW))[0].name == pending_name  # type: ignore[union-attr]


async def test_each_transaction_of_a_session_runs_on_its_own_connection(db: Database) -> None:
    """The connection is remembered for one transaction only: a later one's rollback undoes its work."""
    async with db.sessions.begin() as s:
        ann = await repo.add_user(s, 509, "Ann", "sales")
    session = db.sessions()
    try:
        async with session.begin():
            params = {"chat_id": 509, "user_id": ann.id, "state": {"a": 1}, "at": NOW}
            entry_id = (await precompiled.run(session, repo._INSERT_CONVERSATION, params)).rows[0][0]
        with pytest.raises(RuntimeError):
            async with session.begin():
                changed = {"entry_id": entry_id, "state": {"a": 2}, "at": NOW}
                assert (await precompiled.run(session, repo._UPDATE_CONVERSATION, changed)).rowcount == 1
                raise RuntimeError("the step failed")
    finally:
        await session.close()
    async with db.sessions.begin() as s:
        entry = await repo.load_conversation(s, 509, ann.id)
        assert entry is not None and entry.state == {"a": 1}
