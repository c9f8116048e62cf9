"""Benchmark (not a test): searches at 100, 10,000 and 100,000 customers on SQLite and PostgreSQL.

Times the repository calls a turn makes: the duplicate-name check of the customer flow, /find by
exact name, by a name with a typo and by phone (as an admin, who sees the whole book), and note
matching (the user's own customers, then understand_note). Each sales person owns about 150
customers, as on a real floor, so the book grows by more people, not by fatter books per person.
Prints p50/p99 and the 100k/100 ratio; never fails a build.

    python bench/bench_search.py [--sizes 100,10000,100000] [--backends sqlite,postgres]
"""

from __future__ import annotations

import argparse
import asyncio
import datetime as dt
import random
import statistics
import sys
import tempfile
import time
import uuid
from collections.abc import Awaitable, Callable
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from sqlalchemy import insert, text
from sqlalchemy.ext.asyncio import AsyncEngine, AsyncSession

from flows.notes import understand_note
from flows.ports import DupProbe
from storage import repo
from storage.db import make_engine, make_sessions, migrate
from storage.models import Contact, Customer, SearchGram, User
from tests.namebook import Book, chunks, typo

Turn = Callable[[], Awaitable[None]]  # one timed operation: its own session, as a step has

PG_URL = "postgresql+asyncpg://postgres@127.0.0.1:5432/test"
PER_OWNER = 150
RUNS = 100
NOW = dt.datetime(2026, 11, 22, 2, 0, tzinfo=dt.UTC)


async def _load(engine: AsyncEngine, book: Book) -> None:
    """Bulk load: COPY on PostgreSQL, executemany on SQLite."""
    tables: list[tuple[Any, list[str], Any]] = [
        (User, [], book.users()),
        (Customer, [], book.rows),
        (Contact, [], book.contacts),
        (SearchGram, ["gram", "customer_id"], book.grams()),
    ]
    async with engine.begin() as conn:
        if engine.dialect.name == "postgresql":
            raw = (await conn.get_raw_connection()).driver_connection
            assert raw is not None
            for model, _, rows in tables:
                for chunk in chunks(rows, 20000):
                    columns = list(chunk[0])
                    records = [tuple(_pg(model, c, r[c]) for c in columns) for r in chunk]
                    await raw.copy_records_to_table(model.__tablename__, records=records, columns=columns)
            for table in ("users", "customers", "contacts"):
                sequence = f"pg_get_serial_sequence('{table}', 'id')"
                await conn.execute(text(f"SELECT setval({sequence}, (SELECT max(id) FROM {table}))"))
            await conn.execute(text("ANALYZE"))
        else:
            for model, _, rows in tables:
                for chunk in chunks(rows, 20000):
                    await conn.execute(insert(model), chunk)
            await conn.execute(text("ANALYZE"))


def _pg(model: Any, column: str, value: Any) -> Any:
    """COPY takes driver values: JSON columns as text."""
    if isinstance(value, list):
        import json

        return json.dumps(value)
    return value


def _p50_p99(took: list[float]) -> tuple[float, float]:
    took = sorted(took)
    return statistics.median(took) * 1000, took[min(len(took) - 1, int(len(took) * 0.99))] * 1000


class Loaded:
    """One book in its own database (a SQLite file or a PostgreSQL schema), ready to be searched."""

    def __init__(self, backend: str, size: int, tmp: Path) -> None:
        self.backend, self.size = backend, size
        self.book = Book(size, owners=max(1, size // PER_OWNER), seed=size)
        self.schema = f"bench_{uuid.uuid4().hex[:10]}"
        if backend == "sqlite":
            self.engine = make_engine(f"sqlite+aiosqlite:///{tmp / f'bench{size}.sqlite3'}")
        else:
            self.engine = make_engine(PG_URL, connect_args={"server_settings": {"search_path": self.schema}})
        self.sessions = make_sessions(self.engine)

    async def open(self) -> None:
        if self.backend == "postgres":
            admin = make_engine(PG_URL)
            async with admin.begin() as conn:
                await conn.execute(text(f'CREATE SCHEMA "{self.schema}"'))
            await admin.dispose()
        await migrate(self.engine)
        t0 = time.perf_counter()
        await _load(self.engine, self.book)
        print(f"  loaded {self.size:,} customers on {self.backend} in {time.perf_counter() - t0:.1f} s")

    async def close(self) -> None:
        await self.engine.dispose()
        if self.backend == "postgres":
            admin = make_engine(PG_URL)
            async with admin.begin() as conn:
                await conn.execute(text(f'DROP SCHEMA "{self.schema}" CASCADE'))
            await admin.dispose()

    def calls(self) -> dict[str, list[Callable[[], Awaitable[None]]]]:
        """RUNS turns per operation, each on a different customer of this book."""
        r = random.Random(1)
        picks = [r.choice(self.book.rows) for _ in range(RUNS)]
        typos = [typo(r, row["name"]) for row in picks]

        def turn(call: Callable[[AsyncSession, User], Awaitable[object]], telegram_id: int) -> Turn:
            async def run() -> None:
                async with self.sessions() as s:  # a turn: its own session, the user looked up first
                    user = await repo.user_by_telegram(s, telegram_id)
                    assert user is not None
                    await call(s, user)

            return run

        async def note(s: AsyncSession, user: User, name: str) -> None:
            refs = await repo.own_customer_refs(s, user)
            understand_note(f"刚和{name}通了电话,他们要报价单,下周二下午两点再跟进", refs, now=NOW)

        def note_turn(row: dict[str, Any]) -> Turn:  # as the customer's owner
            return turn(lambda s, u: note(s, u, row["name"]), 9_000_000 + int(row["owner_id"]))

        def find_duplicates(name: str) -> Turn:
            return turn(lambda s, u: repo.find_duplicates(s, u, DupProbe(name=name)), 1)

        def find(text: str) -> Turn:
            return turn(lambda s, u: repo.search_customers(s, u, text), 1)

        return {
            "duplicate name check": [find_duplicates(n) for n in typos],
            "/find exact name": [find(row["name"]) for row in picks],
            "/find typo (fuzzy)": [find(n) for n in typos],
            "/find by phone": [find(row["phone"][-11:]) for row in picks],
            "note matching": [note_turn(row) for row in picks],
        }


async def measure(backend: str, sizes: list[int]) -> dict[int, dict[str, tuple[float, float]]]:
    """All books loaded at once and their runs interleaved, so a busy moment hits every size alike."""
    with tempfile.TemporaryDirectory() as tmp:
        books = [Loaded(backend, size, Path(tmp)) for size in sizes]
        try:
            for book in books:
                await book.open()
            calls = {book.size: book.calls() for book in books}
            for book in books:  # warm up: connections, statement caches
                for runs in calls[book.size].values():
                    await runs[0]()
            took: dict[int, dict[str, list[float]]] = {size: {} for size in sizes}
            for what in calls[sizes[0]]:
                for i in range(RUNS):
                    for size in sizes:
                        t0 = time.perf_counter()
                        await calls[size][what][i]()
                        took[size].setdefault(what, []).append(time.perf_counter() - t0)
            return {size: {what: _p50_p99(t) for what, t in took[size].items()} for size in sizes}
        finally:
            for book in books:
                await book.close()


async def main(sizes: list[int], backends: list[str]) -> None:
    from flows.dates import warm_up

    warm_up()
    for backend in backends:
        table = await measure(backend, sizes)
        print(f"\n{backend}: p50 / p99 in ms ({RUNS} runs each; ~{PER_OWNER} customers per sales person)")
        header = "".join(f"{size:>18,}" for size in sizes)
        print(f"{'':24}{header}   ratio {sizes[-1]:,}/{sizes[0]:,} (p50)")
        for what in table[sizes[0]]:
            cells = "".join(f"{table[s][what][0]:>9.2f} /{table[s][what][1]:>7.2f}" for s in sizes)
            ratio = table[sizes[-1]][what][0] / table[sizes[0]][what][0]
            print(f"{what:24}{cells}   {ratio:.2f}x")
        print(flush=True)


if __name__ == "__main__":
    parser = argparse.ArgumentParser()
    parser.add_argument("--sizes", default="100,10000,100000")
    parser.add_argument("--backends", default="sqlite,postgres")
    args = parser.parse_args()
    asyncio.run(main([int(x) for x in args.sizes.split(",")], args.backends.split(",")))
