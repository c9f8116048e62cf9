"""The command line of the manager's desk: regions, transferring all of a person's customers,
and deactivating someone with a chosen heir."""

from __future__ import annotations

import asyncio
from pathlib import Path

import pytest

from bot.cli import main


@pytest.fixture
def sqlite_env(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    monkeypatch.setenv("CRM_DATABASE_URL", f"sqlite:///{tmp_path / 'cli.sqlite3'}")
    monkeypatch.delenv("CRM_BOT_TOKEN", raising=False)
    return tmp_path


def _owners(path: Path) -> list[tuple[str, int]]:
    import sqlite3

    with sqlite3.connect(path / "cli.sqlite3") as conn:
        return conn.execute(
            "select c.name, u.telegram_id from customers c join users u on u.id = c.owner_id order by c.name"
        ).fetchall()


def _customer(path: Path, owner_tid: int, name: str) -> None:
    import datetime as dt

    from storage import repo
    from storage.db import make_engine, make_sessions

    async def go() -> None:
        engine = make_engine(f"sqlite+aiosqlite:///{path / 'cli.sqlite3'}")
        async with make_sessions(engine).begin() as s:
            owner = await repo.user_by_telegram(s, owner_tid)
            assert owner is not None
            now = dt.datetime(2026, 12, 1, tzinfo=dt.UTC)
            await repo.create_customer(s, owner, {"kind": "individual", "name": name}, [], now, now.date())
        await engine.dispose()

    asyncio.run(go())


def test_regions_transfer_and_deactivate_to(sqlite_env: Path, capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["users", "add", "100", "--name", "Boss", "--role", "manager"]) == 0
    assert main(["users", "add", "200", "--name", "Ann", "--manager", "100"]) == 0
    assert main(["users", "add", "300", "--name", "Ben", "--manager", "100"]) == 0
    assert main(["users", "regions", "100", "浙江省", "上海市"]) == 0
    assert "100 regions: 上海市 浙江省" in capsys.readouterr().out
    assert main(["users", "regions", "200", "浙江省"]) == 2  # only managers have regions
    assert main(["users", "regions", "404", "浙江省"]) == 2
    _customer(sqlite_env, 200, "张三")
    _customer(sqlite_env, 200, "李四")
    assert main(["customers", "transfer", "--from", "200", "--to", "300", "--reason", "调岗"]) == 0
    assert "2 customers transferred from 200 to 300" in capsys.readouterr().out
    assert _owners(sqlite_env) == [("张三", 300), ("李四", 300)]
    assert main(["customers", "transfer", "--from", "300", "--to", "404"]) == 2
    assert main(["users", "deactivate", "300", "--to", "200"]) == 0
    assert "2 customers reassigned" in capsys.readouterr().out
    assert _owners(sqlite_env) == [("张三", 200), ("李四", 200)]
    assert main(["customers", "transfer", "--from", "200", "--to", "300"]) == 2  # 300 is deactivated
