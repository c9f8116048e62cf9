"""/backup in the chat (admins only), `crm-bot backup` / `crm-bot restore` on the command line, and
when the bot's own daily backup runs."""

from __future__ import annotations

import datetime as dt
from pathlib import Path
from zoneinfo import ZoneInfo

import pytest

from bot.backups import next_run
from bot.cli import main
from bot.router import Router
from storage import backup
from storage.files import FileStore
from tests.conftest import Clock, Database
from tests.data.book import ADMIN, ANN, populate
from tests.people import Person

SH = ZoneInfo("Asia/Shanghai")


async def test_an_admin_backs_up_from_the_chat_and_a_sales_rep_cannot(
    db: Database, tmp_path: Path, clock: Clock, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.delenv("CRM_BACKUP_DIR", raising=False)
    files = FileStore(tmp_path / "data" / "attachments")
    await populate(db.sessions, files, clock())
    router = Router(db.sessions, clock=clock, files=files)
    ann, admin = Person(router, ANN), Person(router, ADMIN)

    await ann.command("backup")
    assert "正在备份" not in ann.text and "备份完成" not in ann.text  # sales get /help instead
    assert not (tmp_path / "data" / "backups").exists()

    await admin.command("backup")
    assert "正在备份" in admin.text and "✅ 备份完成:crm-backup-20261122T020000Z.tar.gz" in admin.text
    assert "2 个附件" in admin.text
    (archive,) = backup.archives(tmp_path / "data" / "backups")
    manifest = backup.read_manifest(archive)
    assert len(manifest["files"]) == 3
    clock.advance(days=1)
    await admin.command("backup")
    assert len(backup.archives(tmp_path / "data" / "backups")) == 2


def test_backup_and_restore_on_the_command_line(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    import asyncio

    from storage.db import make_engine, make_sessions, migrate

    old = tmp_path / "old"
    monkeypatch.setenv("CRM_DATA_DIR", str(old))
    monkeypatch.delenv("CRM_DATABASE_URL", raising=False)
    monkeypatch.delenv("CRM_BACKUP_DIR", raising=False)

    async def setup() -> None:
        engine = make_engine(f"sqlite+aiosqlite:///{old / 'crm.sqlite3'}")
        await migrate(engine)
        await populate(make_sessions(engine), FileStore(old / "attachments"), dt.datetime.now(dt.UTC))
        await engine.dispose()

    old.mkdir()
    asyncio.run(setup())
    assert main(["backup", "--to", str(tmp_path / "safe")]) == 0
    out = capsys.readouterr().out
    assert "backup written:" in out and "2 attachments" in out
    (archive,) = backup.archives(tmp_path / "safe")

    monkeypatch.setenv("CRM_DATA_DIR", str(tmp_path / "new"))  # the new machine
    assert main(["restore", str(archive)]) == 0
    assert "every checksum matched" in capsys.readouterr().out
    assert main(["users", "list"]) == 0
    assert "王芳" in capsys.readouterr().out
    assert main(["restore", str(archive)]) == 2  # not into a CRM that is not empty
    assert "not empty" in capsys.readouterr().err


def test_the_daily_backup_runs_at_its_time_and_at_once_after_a_missed_night() -> None:
    at = dt.time(3, 30)
    evening = dt.datetime(2026, 11, 22, 22, 0, tzinfo=SH)
    assert next_run(evening, at, SH, None) == dt.datetime(2026, 11, 23, 3, 30, tzinfo=SH)
    early = dt.datetime(2026, 11, 22, 1, 0, tzinfo=SH)
    assert next_run(early, at, SH, early - dt.timedelta(hours=20)) == dt.datetime(
        2026, 11, 22, 3, 30, tzinfo=SH
    )
    # the bot was down at backup time: the newest archive is two days old, so a backup is due now
    assert next_run(evening, at, SH, evening - dt.timedelta(days=2)) == evening
