"""Two processes writing the same new reminder cursor at once: neither fails (issue 10, item 15)."""

from __future__ import annotations

import asyncio
import datetime as dt

from storage import reminders as rstore
from storage.db import make_engine, make_sessions
from tests.conftest import Database

T0 = dt.datetime(2026, 11, 22, 2, 0, tzinfo=dt.UTC)


async def test_concurrent_first_writes_of_a_cursor_never_collide(db: Database) -> None:
    # a second engine on the same database stands for the second process
    if db.backend == "sqlite":
        other = make_engine(db.url)
    else:
        schema = db.url.split("#schema=")[1]
        other = make_engine(db.url.split("#")[0], connect_args={"server_settings": {"search_path": schema}})
    makers = [db.sessions, make_sessions(other)]
    try:
        for round_ in range(10):
            name = f"scan{round_}"

            async def write(i: int, name: str = name) -> None:
                async with makers[i % 2].begin() as s:
                    await rstore.write_cursor(s, name, T0 + dt.timedelta(minutes=i))

            await asyncio.gather(*(write(i) for i in range(4)))
            async with db.sessions.begin() as s:
                assert await rstore.read_cursor(s, name) == T0 + dt.timedelta(minutes=3)
    finally:
        await other.dispose()


async def test_the_cursor_only_moves_forward(db: Database) -> None:
    async with db.sessions.begin() as s:
        assert await rstore.read_cursor(s, "x", lock=True) is None  # PostgreSQL: a 1970 placeholder row
        await rstore.write_cursor(s, "x", T0)
        await rstore.write_cursor(s, "x", T0 - dt.timedelta(hours=1))
        assert await rstore.read_cursor(s, "x") == T0
