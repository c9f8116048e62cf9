"""Shared fixtures: a migrated database per test on SQLite and, when reachable, PostgreSQL.

PostgreSQL tests run in a schema of their own, so parallel runs and leftovers never collide.
Set CRM_REQUIRE_POSTGRES=1 (CI does) to turn an unreachable PostgreSQL into a failure, not a skip.
"""

from __future__ import annotations

import datetime as dt
import os
import re
import uuid
from collections.abc import AsyncIterator, Callable
from pathlib import Path

import pytest
from sqlalchemy import text
from sqlalchemy.ext.asyncio import AsyncEngine, AsyncSession, async_sessionmaker

from storage.db import make_engine, make_sessions, migrate

PG_URL = os.environ.get("CRM_TEST_POSTGRES_URL", "postgresql+asyncpg://postgres@127.0.0.1:5432/test")
BACKENDS_RUN: set[str] = set()


_PG_OK: bool | None = None


async def postgres_ok() -> bool:
    """Probed once per run; the answer decides between running and (outside CI) skipping."""
    global _PG_OK
    if _PG_OK is None:
        engine = make_engine(PG_URL)
        try:
            async with engine.connect() as conn:
                await conn.execute(text("select 1"))
            _PG_OK = True
        except Exception:
            _PG_OK = False
        finally:
            await engine.dispose()
    return _PG_OK


class Database:
    """A migrated, empty database for one test."""

    def __init__(self, backend: str, engine: AsyncEngine, url: str) -> None:
        self.backend = backend
        self.engine = engine
        self.url = url
        self.sessions: async_sessionmaker[AsyncSession] = make_sessions(engine)


async def open_database(backend: str, tmp_path: Path) -> tuple[Database, Callable[[], object]]:
    if backend == "sqlite":
        url = f"sqlite+aiosqlite:///{tmp_path / 'crm.sqlite3'}"
        engine = make_engine(url)
        await migrate(engine)

        async def close() -> None:
            await engine.dispose()

        return Database("sqlite", engine, url), close
    schema = f"t_{uuid.uuid4().hex[:12]}"
    admin = make_engine(PG_URL)
    async with admin.begin() as conn:
        await conn.execute(text(f'CREATE SCHEMA "{schema}"'))
    engine = make_engine(PG_URL, connect_args={"server_settings": {"search_path": schema}})
    await migrate(engine)

    async def close_pg() -> None:
        await engine.dispose()
        async with admin.begin() as conn:
            await conn.execute(text(f'DROP SCHEMA "{schema}" CASCADE'))
        await admin.dispose()

    return Database("postgres", engine, PG_URL + f"#schema={schema}"), close_pg


def backend_params() -> list[object]:
    return ["sqlite", pytest.param("postgres", marks=pytest.mark.postgres)]


async def need_backend(backend: str) -> None:
    """Skip a PostgreSQL test when there is none, or fail it where CI says PostgreSQL must be there."""
    if backend == "postgres" and not await postgres_ok():
        if os.environ.get("CRM_REQUIRE_POSTGRES") == "1":
            pytest.fail(f"PostgreSQL is required but not reachable at {PG_URL}")
        pytest.skip(f"PostgreSQL not reachable at {PG_URL}")


@pytest.fixture(params=backend_params())
async def db(request: pytest.FixtureRequest, tmp_path: Path) -> AsyncIterator[Database]:
    backend = request.param
    await need_backend(backend)
    database, close = await open_database(backend, tmp_path)
    BACKENDS_RUN.add(backend)
    try:
        yield database
    finally:
        await close()  # type: ignore[misc]


class Clock:
    """A controllable clock for tests: starts at a fixed instant, moves only when told."""

    def __init__(self, start: dt.datetime) -> None:
        self.at = start

    def __call__(self) -> dt.datetime:
        return self.at

    def advance(self, **delta: float) -> None:
        self.at += dt.timedelta(**delta)


@pytest.fixture
def clock() -> Clock:
    # Sunday 2026-11-22 10:00 in Shanghai
    return Clock(dt.datetime(2026, 11, 22, 2, 0, tzinfo=dt.UTC))


def pytest_terminal_summary(terminalreporter: pytest.TerminalReporter) -> None:
    """Which backends the passed tests ran on: this process's own record, and (with pytest-xdist,
    whose workers keep theirs) the backend in each passed database test's id."""
    ran = set(BACKENDS_RUN)
    for report in terminalreporter.stats.get("passed", []):
        found = re.search(r"\[(?:[^\]]*-)?(sqlite|postgres)(?:-[^\]]*)?\]", getattr(report, "nodeid", ""))
        if found:
            ran.add(found.group(1))
    terminalreporter.write_line(f"database backends exercised: {', '.join(sorted(ran)) or 'none'}")
