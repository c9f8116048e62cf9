"""Benchmark (not a test): the reminder due scan over 1,000,000 follow-ups, and reminder delivery.

1. storage.reminders.due_followups (the scan the bot runs every CRM_REMINDER_POLL_SECONDS) over a
   million follow-ups: most set for the coming months, a quarter closed, some without a next time,
   ~24,000 overdue ones already reminded and 1,000 due and not reminded yet. Timed for the steady
   state (the window the bot scans: the last 3 days) and for a first start (no cursor: everything
   overdue), with the query plan. SQLite in a temp file; PostgreSQL in a schema of its own, when
   reachable (CRM_TEST_POSTGRES_URL, default postgresql+asyncpg://postgres@127.0.0.1:5432/test).
2. Reminders delivered per second: the project's delivery loop (bot.delivery.Reminders with its
   TelegramSender) over the bot of the real Application from bot/telegram_app.py, AIORateLimiter
   included, to the local Bot API stand-in (tests/e2e/fake_bot_api.py) on 127.0.0.1, run in a process
   of its own with flood control on: 200 reminders to 50 chats under Telegram's published limits
   (30 messages/s overall, 1/s per chat, counted over any 1-second window), the same with only the
   per-chat limit (the bot's own limiter alone holding the overall rate), and 20 to a single chat.

Prints figures; never fails a build. Optional argument: the number of follow-ups (default 1000000).
"""

from __future__ import annotations

import asyncio
import datetime as dt
import json
import os
import random
import statistics
import sys
import tempfile
import time
import uuid
from asyncio.subprocess import PIPE
from collections.abc import Callable, Iterable, Iterator
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from sqlalchemy import JSON, Table, event, insert, text
from sqlalchemy.ext.asyncio import AsyncConnection, AsyncEngine

from bot.delivery import DUE_LOOKBACK, SCAN_MARGIN
from flows.reminders import due_key
from storage import reminders as store
from storage.db import make_engine, make_sessions, migrate
from storage.models import Customer, FollowUp, Reminder, User

PG_URL = os.environ.get("CRM_TEST_POSTGRES_URL", "postgresql+asyncpg://postgres@127.0.0.1:5432/test")
FOLLOWUPS = 1_000_000
DUE_NOW = 1_000
CUSTOMERS = 20_000
OWNERS = 20
RUNS = 5
BATCH = 50_000
DAY = dt.timedelta(days=1)
FOLLOWUP_COLUMNS = ["id", "customer_id", "occurred_on", "mode", "content", "next_at", "next_done"]
FOLLOWUP_COLUMNS += ["pending", "created_by", "created_at", "entry_delay_hours"]


# ---------------------------------------------------------------- the data


class Spread:
    """A million follow-ups as real teams have them, the same on every backend (seeded)."""

    def __init__(self, total: int, now: dt.datetime) -> None:
        self.now = now
        self.due = min(DUE_NOW, total // 10)
        self.recent = min(3_000, total // 10)  # due in the last 3 days, already reminded
        self.old = min(20_000, total // 10)  # overdue for longer, reminded, never closed
        self.closed = total // 4
        self.none = total // 20  # no next time
        self.future = total - self.due - self.recent - self.old - self.closed - self.none
        kinds = ["future"] * self.future + ["closed"] * self.closed + ["none"] * self.none
        kinds += ["old"] * self.old + ["recent"] * self.recent + ["due"] * self.due
        self.rng = random.Random(4)
        self.rng.shuffle(kinds)
        self.kinds = kinds
        self.reminded: list[tuple[int, int, dt.datetime]] = []  # (followup id, customer id, next_at)

    def _next(self, kind: str) -> tuple[dt.datetime | None, bool]:
        r, now = self.rng.random(), self.now
        if kind == "future":
            return now + dt.timedelta(seconds=int(300 + r * 180 * 86400)), False
        if kind == "closed":
            return now - dt.timedelta(seconds=int(r * 730 * 86400)), True
        if kind == "none":
            return None, False
        if kind == "old":
            back = DUE_LOOKBACK + dt.timedelta(hours=1) + dt.timedelta(seconds=int(r * 365 * 86400))
            return now - back, False
        if kind == "recent":
            return now - dt.timedelta(hours=1) - dt.timedelta(seconds=int(r * 70 * 3600)), False
        return now - dt.timedelta(seconds=int(1 + r * 23 * 3600)), False  # due, not reminded yet

    def followups(self) -> Iterator[list[tuple[Any, ...]]]:
        """Rows in FOLLOWUP_COLUMNS order, BATCH at a time."""
        created = self.now - 30 * DAY
        day = created.date()
        chunk: list[tuple[Any, ...]] = []
        for i, kind in enumerate(self.kinds, start=1):
            customer = 1 + (i * 7919) % CUSTOMERS
            next_at, done = self._next(kind)
            if kind in ("old", "recent"):
                assert next_at is not None
                self.reminded.append((i, customer, next_at))
            owner = 1 + customer % OWNERS
            chunk.append(
                (i, customer, day, "phone", "报价单周二前发出", next_at, done, [], owner, created, 0.0)
            )
            if len(chunk) == BATCH:
                yield chunk
                chunk = []
        if chunk:
            yield chunk

    def users(self) -> list[dict[str, Any]]:
        return [
            {"id": u, "telegram_id": 9_000_000 + u, "name": f"sales {u}", "role": "sales", "active": True}
            | {"quiet_start": "22:00", "quiet_end": "08:00", "created_at": self.now - 400 * DAY}
            for u in range(1, OWNERS + 1)
        ]

    def customers(self) -> list[dict[str, Any]]:
        at = self.now - 400 * DAY
        return [
            {"id": c, "number": f"C{c:08d}", "kind": "enterprise", "name": f"客户{c}", "name_key": f"客户{c}"}
            | {"owner_id": 1 + c % OWNERS, "created_by": 1 + c % OWNERS, "tags": [], "pending": []}
            | {"created_at": at, "updated_at": at}
            for c in range(1, CUSTOMERS + 1)
        ]

    def reminders(self) -> list[dict[str, Any]]:
        return [
            {"key": due_key(fid, at), "kind": "due", "user_id": 1 + cid % OWNERS, "customer_id": cid}
            | {"contact_id": None, "followup_id": fid, "ref_at": at, "due_at": at, "expires_at": None}
            | {"state": "sent", "claimed_by": None, "claimed_until": None, "attempts": 1}
            | {"unconfirmed": False, "last_error": None, "message_id": fid, "sent_at": at}
            | {"detail": {}, "created_at": at}
            for fid, cid, at in self.reminded
        ]


async def seed(engine: AsyncEngine, spread: Spread) -> float:
    """Users, customers, follow-ups and reminders in one transaction; returns the seconds it took.

    Bulk-load tricks, the schema staying the migration's: foreign-key checks off while loading, and the
    follow-ups' secondary indexes dropped first and created again from their own DDL afterwards.
    """
    t0 = time.perf_counter()
    pg = engine.dialect.name == "postgresql"
    async with engine.connect() as conn:
        raw = (await conn.get_raw_connection()).driver_connection
        assert raw is not None
        if pg:
            await raw.execute("BEGIN")
            if (await raw.fetchval("select current_setting('is_superuser')")) == "on":
                await raw.execute("SET LOCAL session_replication_role = replica")  # no FK triggers
            indexes = [
                (r[0], r[1])
                for r in await raw.fetch(
                    "select i.relname, pg_get_indexdef(i.oid) from pg_index x"
                    " join pg_class i on i.oid = x.indexrelid join pg_class t on t.oid = x.indrelid"
                    " where t.relname = 'followups' and t.relnamespace = current_schema()::regnamespace"
                    " and not x.indisprimary"
                )
            ]
        else:
            await raw.execute("PRAGMA foreign_keys=OFF")  # outside a transaction, or it is ignored
            await raw.execute("PRAGMA synchronous=OFF")
            await raw.execute("PRAGMA cache_size=-262144")  # 256 MB while the indexes are built
            found = await raw.execute(
                "select name, sql from sqlite_master"
                " where type = 'index' and tbl_name = 'followups' and sql is not null"
            )
            indexes = [(r[0], r[1]) for r in await found.fetchall()]
        for name, _ in indexes:
            await raw.execute(f'DROP INDEX "{name}"')
        for model, rows in ((User, spread.users()), (Customer, spread.customers())):
            await bulk(conn, raw, model, list(rows[0]), [[tuple(r.values()) for r in rows]])
        await bulk(conn, raw, FollowUp, FOLLOWUP_COLUMNS, spread.followups())
        for _, ddl in indexes:
            await raw.execute(ddl)
        reminders = spread.reminders()
        await bulk(conn, raw, Reminder, list(reminders[0]), [[tuple(r.values()) for r in reminders]])
        if pg:
            await raw.execute("COMMIT")
        else:
            await raw.commit()
            await raw.execute("PRAGMA foreign_keys=ON")
            await raw.execute("PRAGMA synchronous=NORMAL")
            await raw.execute("PRAGMA cache_size=-2000")  # back to the default the bot runs with
    return time.perf_counter() - t0


async def bulk(
    conn: AsyncConnection, raw: Any, model: Any, columns: list[str], chunks: Iterable[list[tuple[Any, ...]]]
) -> None:
    """The database's own fast path: COPY on PostgreSQL, one executemany per chunk on SQLite. Values go
    through the columns' own bind processors, so they are stored exactly as the bot stores them."""
    table: Table = model.__table__
    dialect = conn.dialect
    procs: list[Callable[[Any], Any] | None] = []
    for name in columns:
        kind = table.c[name].type
        if dialect.name == "postgresql":
            procs.append(json.dumps if isinstance(kind, JSON) else None)  # COPY takes json as text
        else:
            procs.append(kind.dialect_impl(dialect).bind_processor(dialect))
    insert_sql = f"INSERT INTO {table.name} ({', '.join(columns)}) VALUES ({', '.join('?' * len(columns))})"
    for chunk in chunks:
        values = [list(column) for column in zip(*chunk, strict=True)]  # column by column: map() in C
        for i, proc in enumerate(procs):
            if proc is not None:
                first = values[i][0]
                same = values[i].count(first) == len(values[i])
                values[i] = [proc(first)] * len(values[i]) if same else list(map(proc, values[i]))
        rows = list(zip(*values, strict=True))
        if dialect.name == "postgresql":
            await raw.copy_records_to_table(table.name, records=rows, columns=columns)
        else:
            await raw.executemany(insert_sql, rows)


# ---------------------------------------------------------------- the scan


async def scan(engine: AsyncEngine, spread: Spread, label: str) -> None:
    now = spread.now
    cursor = now - dt.timedelta(seconds=30)  # the last poll
    steady = min(cursor, now - DUE_LOOKBACK) - SCAN_MARGIN  # what Reminders._plan_due passes
    sessions = make_sessions(engine)
    captured: list[tuple[str, Any]] = []

    def capture(conn: Any, cursor: Any, statement: str, parameters: Any, context: Any, many: bool) -> None:
        if "FROM followups JOIN customers" in statement:
            captured.append((statement, parameters))

    event.listen(engine.sync_engine, "before_cursor_execute", capture)
    try:
        for name, after in (("steady state, last 3 days", steady), ("first start, no cursor", None)):
            times, found = [], 0
            for _ in range(RUNS):
                async with sessions() as s:
                    t0 = time.perf_counter()
                    due = await store.due_followups(s, after, now)
                    times.append(time.perf_counter() - t0)
                found = len(due)
            print(
                f"  due scan ({name}): {found} due of {len(spread.kinds):,} follow-ups; "
                f"p50 {statistics.median(times) * 1000:.1f} ms, max {max(times) * 1000:.1f} ms ({RUNS} runs)"
            )
    finally:
        event.remove(engine.sync_engine, "before_cursor_execute", capture)
    statement, params = captured[0]  # the steady-state query, exactly as the bot sends it
    async with engine.connect() as conn:
        if engine.dialect.name == "postgresql":
            explain, column = "EXPLAIN (ANALYZE, COSTS OFF, TIMING OFF)", 0
        else:
            explain, column = "EXPLAIN QUERY PLAN", 3  # rows of (id, parent, notused, detail)
        plan: list[Any] = list(await conn.exec_driver_sql(f"{explain} {statement}", params))
        lines = [str(row[column]) for row in plan]
    print(f"  {label} plan (steady state):")
    for line in lines:
        print(f"    {line}")
    uses = "ix_followups_due" in "\n".join(lines)
    print(f"  index ix_followups_due used: {'yes' if uses else 'NO'}")


async def sqlite_scan(total: int) -> None:
    with tempfile.TemporaryDirectory() as tmp:
        engine = make_engine(f"sqlite+aiosqlite:///{Path(tmp) / 'bench.sqlite3'}")
        try:
            await migrate(engine)
            spread = Spread(total, dt.datetime.now(dt.UTC).replace(microsecond=0))
            took = await seed(engine, spread)
            print(f"SQLite {await _sqlite_version(engine)} (temp file, no ANALYZE, as the bot runs it):")
            print(f"  seeded {total:,} follow-ups in {took:.1f} s")
            await scan(engine, spread, "SQLite")
        finally:
            await engine.dispose()


async def _sqlite_version(engine: AsyncEngine) -> str:
    async with engine.connect() as conn:
        return str((await conn.execute(text("select sqlite_version()"))).scalar_one())


async def postgres_scan(total: int) -> None:
    admin = make_engine(PG_URL)
    try:
        async with admin.connect() as conn:
            version = str((await conn.execute(text("show server_version"))).scalar_one())
    except Exception as exc:
        await admin.dispose()
        print(f"PostgreSQL: not reachable at {PG_URL.split('@')[-1]} ({type(exc).__name__}); skipped")
        return
    schema = f"bench_{uuid.uuid4().hex[:10]}"
    async with admin.begin() as conn:
        await conn.execute(text(f'CREATE SCHEMA "{schema}"'))
    engine = make_engine(PG_URL, connect_args={"server_settings": {"search_path": schema}})
    try:
        await migrate(engine)
        spread = Spread(total, dt.datetime.now(dt.UTC).replace(microsecond=0))
        took = await seed(engine, spread)
        t0 = time.perf_counter()
        async with engine.connect() as conn:
            await conn.execute(text("ANALYZE"))
        print(f"PostgreSQL {version} (schema of its own, ANALYZE first):")
        print(
            f"  seeded {total:,} follow-ups in {took:.1f} s (COPY), ANALYZE {time.perf_counter() - t0:.1f} s"
        )
        await scan(engine, spread, "PostgreSQL")
    finally:
        await engine.dispose()
        async with admin.begin() as conn:
            await conn.execute(text(f'DROP SCHEMA "{schema}" CASCADE'))
        await admin.dispose()


# ---------------------------------------------------------------- delivery


async def stand_in(overall: float | None) -> None:
    """The child process: the Bot API stand-in, answering 429 beyond 1 message/s per chat and `overall`
    a second (None: no overall limit), until stdin says stop; then every sendMessage it saw, as JSON.
    A process of its own, so that its work is not counted against the bot's."""
    from tests.e2e.fake_bot_api import FakeBotApi

    async with FakeBotApi() as api:
        api.set_flood_limits(per_chat=1, overall=overall)
        print(api.port, flush=True)
        await asyncio.get_running_loop().run_in_executor(None, sys.stdin.readline)
        calls = [(c.chat_id, c.status, c.ts) for c in api.calls_to("sendMessage")]
        print(json.dumps(calls), flush=True)


async def seed_due(engine: AsyncEngine, chats: int, count: int, now: dt.datetime) -> None:
    """`count` follow-ups due now for `chats` people, the people taking turns in due order."""
    users = [
        {"id": u, "telegram_id": 7_000_000 + u, "name": f"sales {u}", "role": "sales", "active": True}
        | {"chat_id": 7_000_000 + u, "quiet_start": "00:00", "quiet_end": "00:00", "created_at": now}
        for u in range(1, chats + 1)
    ]  # quiet hours off: the figure must not depend on the hour the bench runs at
    customers = [
        {"id": u, "number": f"C{u:08d}", "kind": "enterprise", "name": f"杭州客户{u}有限公司"}
        | {"name_key": f"客户{u}", "owner_id": u, "created_by": u, "tags": [], "pending": []}
        | {"created_at": now, "updated_at": now}
        for u in range(1, chats + 1)
    ]
    followups = [
        {"customer_id": 1 + i % chats, "occurred_on": now.date(), "mode": "phone"}
        | {"content": f"报价单周二前发出({i})", "next_at": now - dt.timedelta(seconds=count - i)}
        | {"next_done": False, "pending": [], "created_by": 1 + i % chats, "created_at": now}
        | {"entry_delay_hours": 0.0}
        for i in range(count)
    ]
    async with engine.begin() as conn:
        await conn.execute(insert(User), users)
        await conn.execute(insert(Customer), customers)
        await conn.execute(insert(FollowUp), followups)


async def deliver(chats: int, count: int, *, overall: int | None = 30) -> None:
    """The bot's own delivery loop (Reminders.tick, TelegramSender) over the real Application's bot."""
    from telegram.request import HTTPXRequest

    from bot.config import Settings
    from bot.delivery import Reminders
    from bot.router import Router
    from bot.runtime import Runtime
    from bot.senders import TelegramSender
    from bot.telegram_app import build_application
    from tests.e2e.fake_bot_api import DEFAULT_TOKEN, busiest

    def request(pool: int) -> HTTPXRequest:  # as FakeBotApi.request: never through a proxy
        return HTTPXRequest(connection_pool_size=pool, httpx_kwargs={"trust_env": False, "verify": False})

    child = await asyncio.create_subprocess_exec(
        sys.executable,
        __file__,
        "--stand-in",
        str(overall or 0),
        stdin=PIPE,
        stdout=PIPE,
        cwd=Path(__file__).parents[1],
    )
    assert child.stdin is not None and child.stdout is not None
    with tempfile.TemporaryDirectory() as tmp:
        engine = make_engine(f"sqlite+aiosqlite:///{Path(tmp) / 'deliver.sqlite3'}")
        try:
            port = int(await asyncio.wait_for(child.stdout.readline(), 30))
            await migrate(engine)
            sessions = make_sessions(engine)
            await seed_due(engine, chats, count, dt.datetime.now(dt.UTC))
            base = f"http://127.0.0.1:{port}"
            settings = Settings.load(
                bot_token=DEFAULT_TOKEN,
                bot_api_url=f"{base}/bot",
                bot_file_url=f"{base}/file/bot",
            )
            runtime = Runtime(settings, engine, sessions, Router(sessions))
            app = build_application(settings, runtime, request=request(64), get_updates_request=request(1))
            async with app:  # initialize: getMe, the AIORateLimiter
                service = Reminders(  # as bot.telegram_app.start_reminders builds it
                    sessions,
                    TelegramSender(app.bot),
                    default_tz=settings.timezone,
                    poll_seconds=settings.reminder_poll_seconds,
                    lease_seconds=settings.reminder_lease_seconds,
                    digest_time=settings.digest_time,
                    scan_seconds=settings.reminder_scan_minutes * 60,
                )
                t0 = time.perf_counter()
                deadline = t0 + 30 + count * 2.0 / min(chats, 30)
                while True:
                    await service.tick()  # plan, then deliver until nothing claimable is left
                    async with sessions() as s:
                        states = await store.counts(s)
                    if states.get("sent", 0) >= count or time.perf_counter() > deadline:
                        break
                    await asyncio.sleep(0.2)  # a retry is due later (a 429 the rate limiter gave up on)
                elapsed = time.perf_counter() - t0
        finally:
            await engine.dispose()
            child.stdin.write(b"stop\n")
            await child.stdin.drain()
            calls = json.loads(await asyncio.wait_for(child.stdout.readline(), 30) or b"[]")
            await child.wait()
    ok = [(chat, ts) for chat, status, ts in calls if status == 200]
    refused = sum(1 for _, status, _ in calls if status == 429)
    per_chat = max((busiest([ts for c, ts in ok if c == chat]) for chat in {c for c, _ in ok}), default=0)
    sent = states.get("sent", 0)
    limit = f"{overall}/s overall and 1/s" if overall else "1/s"
    to = f"{chats} chat{'s' if chats > 1 else ''}"
    print(
        f"  {count} due reminders to {to} (stand-in limit {limit} per chat): {sent} sent in {elapsed:.1f} s"
        f" = {sent / elapsed:.1f}/s; busiest second: {busiest([ts for _, ts in ok])} overall,"
        f" {per_chat} in one chat; 429 answers {refused}"
        + ("" if sent == count else f"; NOT ALL SENT: {states}")
    )


async def main(total: int) -> None:
    started = time.perf_counter()
    print(f"reminder due scan over {total:,} follow-ups ({DUE_NOW} due and not yet reminded)")
    await sqlite_scan(total)
    await postgres_scan(total)
    print(
        "reminder delivery: Reminders + TelegramSender over the Application's bot"
        " (its AIORateLimiter: 5 per 0.2 s), SQLite,\n  to the Bot API stand-in in a process of its own,"
        " which answers 429 beyond its limits:"
    )
    await deliver(50, 200)  # Telegram's published limits, counted over any 1-second window
    await deliver(50, 200, overall=None)  # only the bot's own limiter holds the overall rate
    await deliver(1, 20)  # the per-chat pace: one a second
    print(f"bench_reminders: {time.perf_counter() - started:.0f} s in all")


if __name__ == "__main__":
    if sys.argv[1:2] == ["--stand-in"]:
        asyncio.run(stand_in(float(sys.argv[2]) or None))
    else:
        asyncio.run(main(int(sys.argv[1]) if len(sys.argv) > 1 else FOLLOWUPS))
