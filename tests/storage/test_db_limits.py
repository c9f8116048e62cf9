"""The database engine's bounds: owner-only files, and no wait without a limit (issue 10, items 3, 12)."""

from __future__ import annotations

import os
import socket
import stat
import time
from collections.abc import Iterator
from pathlib import Path

import pytest
from sqlalchemy import text

from storage.db import Timeouts, make_engine, migrate, sqlite_url
from storage.errors import DatabaseUnavailable, database_errors, is_unavailable
from tests.conftest import PG_URL, need_backend


def _mode(path: Path) -> int:
    return stat.S_IMODE(path.stat().st_mode)


async def test_the_data_folder_and_the_sqlite_files_are_owner_only(tmp_path: Path) -> None:
    old = os.umask(0o022)  # the usual umask would give 0755 folders and 0644 files
    try:
        data = tmp_path / "data"
        engine = make_engine(sqlite_url(data))
        await migrate(engine)
        async with engine.begin() as conn:
            await conn.execute(text("create table t (x int)"))
            await conn.execute(text("insert into t values (1)"))
        try:
            assert _mode(data) == 0o700
            files = sorted(p.name for p in data.iterdir())
            assert "crm.sqlite3" in files
            for name in files:  # the database, and its -wal / -shm while open
                assert _mode(data / name) == 0o600, name
        finally:
            await engine.dispose()
    finally:
        os.umask(old)


@pytest.fixture
def black_hole() -> Iterator[int]:
    """A TCP port on 127.0.0.1 that accepts connections (in the kernel's backlog) and never answers."""
    server = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    server.bind(("127.0.0.1", 0))
    server.listen(16)
    try:
        yield server.getsockname()[1]
    finally:
        server.close()


async def test_connecting_to_a_black_holed_postgres_gives_up_in_time(black_hole: int) -> None:
    url = f"postgresql+asyncpg://crm@127.0.0.1:{black_hole}/crm"
    engine = make_engine(url, timeouts=Timeouts(connect=0.5))
    started = time.monotonic()
    try:
        with pytest.raises(DatabaseUnavailable), database_errors():
            async with engine.connect() as conn:
                await conn.execute(text("select 1"))
    finally:
        await engine.dispose()
    assert time.monotonic() - started < 3.0


@pytest.mark.postgres
async def test_a_slow_statement_on_postgres_is_cancelled_and_reported_unavailable() -> None:
    await need_backend("postgres")
    engine = make_engine(PG_URL, timeouts=Timeouts(statement=0.5))
    started = time.monotonic()
    try:
        with pytest.raises(DatabaseUnavailable) as caught, database_errors():
            async with engine.connect() as conn:
                await conn.execute(text("select pg_sleep(5)"))
        async with engine.connect() as conn:  # the pool still works afterwards
            assert (await conn.execute(text("select 1"))).scalar_one() == 1
    finally:
        await engine.dispose()
    assert time.monotonic() - started < 4.0
    assert is_unavailable(caught.value.__cause__ or caught.value)


async def test_other_database_errors_are_not_called_unavailable(tmp_path: Path) -> None:
    engine = make_engine(f"sqlite+aiosqlite:///{tmp_path / 'x.sqlite3'}")
    try:
        with pytest.raises(Exception) as caught, database_errors():
            async with engine.connect() as conn:
                await conn.execute(text("select * from no_such_table"))
        assert not isinstance(caught.value, DatabaseUnavailable)
        assert not is_unavailable(caught.value)
    finally:
        await engine.dispose()


async def test_a_locked_sqlite_file_waits_only_the_busy_timeout(tmp_path: Path) -> None:
    url = f"sqlite+aiosqlite:///{tmp_path / 'busy.sqlite3'}"
    holder, waiter = make_engine(url), make_engine(url, timeouts=Timeouts(busy=0.3))
    try:
        async with holder.connect() as conn:
            await conn.execute(text("create table t (x int)"))
            await conn.commit()
            await conn.execute(text("begin immediate"))
            await conn.execute(text("insert into t values (1)"))
            started = time.monotonic()
            with pytest.raises(DatabaseUnavailable), database_errors():
                async with waiter.begin() as other:
                    await other.execute(text("insert into t values (2)"))
            assert time.monotonic() - started < 3.0
            await conn.rollback()
    finally:
        await holder.dispose()
        await waiter.dispose()
