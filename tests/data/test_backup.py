"""Backups and restore (issue 13): a populated CRM is backed up, restored into an empty database and
data folder elsewhere, and every table and every file compared; damaged archives and non-empty
targets are refused; retention keeps 7 daily and 12 monthly archives. SQLite and PostgreSQL."""

from __future__ import annotations

import datetime as dt
import json
import tarfile
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import text

from flows.retention import archive_name, archive_time, to_keep
from storage import backup
from storage.db import make_engine, migrate, normalise_url
from storage.files import FileStore
from storage.models import Base
from storage.tx import Engine
from tests.conftest import need_backend
from tests.data.book import PDF, PHOTO, populate
from tests.e2e.conftest import fresh_database

NOW = dt.datetime(2026, 11, 22, 2, 0, tzinfo=dt.UTC)


class Place:
    """One CRM installation: a database URL (empty or not) and a data folder."""

    def __init__(self, url: str, data: Path) -> None:
        self.url = url
        self.data = data
        self.attachments = data / "attachments"


@pytest.fixture(params=["sqlite", pytest.param("postgres", marks=pytest.mark.postgres)])
async def places(request: pytest.FixtureRequest, tmp_path: Path) -> AsyncIterator[tuple[Place, Place]]:
    """Two installations on the same backend: the old machine and the new one (both whole databases)."""
    await need_backend(request.param)
    made = []
    drops = []
    for side in ("old", "new"):
        (tmp_path / side).mkdir()
        url, drop = await fresh_database(request.param, tmp_path / side)
        made.append(Place(url, tmp_path / side / "data"))
        if drop is not None:
            drops.append(drop)
    try:
        yield made[0], made[1]
    finally:
        for drop in drops:
            await drop()


async def _old_crm(place: Place) -> Engine:
    engine = make_engine(place.url)
    await migrate(engine)
    from storage.db import make_sessions

    await populate(make_sessions(engine), FileStore(place.attachments), NOW)
    return engine


async def _tables(engine: Engine, root: Path) -> dict[str, list[tuple[Any, ...]]]:
    """Every table's rows in primary-key order; attachment paths relative to their folder."""
    out: dict[str, list[tuple[Any, ...]]] = {}
    async with engine.connect() as conn:
        for table in [*Base.metadata.sorted_tables]:
            rows = (await conn.execute(table.select().order_by(*table.primary_key.columns))).all()
            if table.name == "attachments":
                rows = [
                    tuple(
                        str(Path(v).relative_to(root)) if c == "path" else v
                        for c, v in zip(table.columns.keys(), r, strict=True)
                    )
                    for r in rows
                ]
            out[table.name] = [tuple(r) for r in rows]
        out["alembic_version"] = [tuple(r) for r in await conn.execute(text("select * from alembic_version"))]
    return out


def _files(root: Path) -> dict[str, bytes]:
    """Filed attachments (staged uploads under incoming/ belong to no record and are not backed up)."""
    return {
        str(p.relative_to(root)): p.read_bytes()
        for p in sorted(root.rglob("*"))
        if p.is_file() and p.relative_to(root).parts[0] != "incoming"
    }


async def test_a_populated_crm_restored_elsewhere_has_every_row_and_file(
    places: tuple[Place, Place], tmp_path: Path
) -> None:
    old, new = places
    engine = await _old_crm(old)
    before = await _tables(engine, old.attachments)
    assert all(
        before[t]
        for t in (
            "users",
            "customers",
            "contacts",
            "followups",
            "attachments",
            "changes",
            "audit",
            "reminders",
        )
    ), "the book is not populated"
    made = await backup.backup(engine, old.attachments, tmp_path / "backups", NOW)
    await engine.dispose()
    assert made.path.name == "crm-backup-20261122T020000Z.tar.gz" and made.files == 2

    manifest = backup.read_manifest(made.path)
    assert manifest["backend"] == ("sqlite" if old.url.startswith("sqlite") else "postgresql")
    assert manifest["revision"] == before["alembic_version"][0][0]
    assert {e["path"].split("/")[0] for e in manifest["files"]} == {manifest["database"], "attachments"}
    assert all(len(e["sha256"]) == 64 for e in manifest["files"])

    restored = await backup.restore(made.path, new.url, new.attachments)
    assert (restored.files, restored.repointed) == (2, 2)

    engine2 = make_engine(new.url)
    try:
        after = await _tables(engine2, new.attachments)
        assert after == before
        async with engine2.connect() as conn:
            paths = [Path(p) for (p,) in await conn.execute(text("select path from attachments"))]
        assert all(p.is_relative_to(new.attachments) and p.is_file() for p in paths)
    finally:
        await engine2.dispose()
    assert _files(new.attachments) == _files(old.attachments) and sorted(
        _files(new.attachments).values()
    ) == sorted([PDF, PHOTO])


async def test_restore_refuses_a_damaged_archive_or_a_target_that_is_not_empty(
    places: tuple[Place, Place], tmp_path: Path
) -> None:
    old, new = places
    engine = await _old_crm(old)
    made = await backup.backup(engine, old.attachments, tmp_path / "backups", NOW)
    await engine.dispose()

    # one attachment altered inside the archive: its checksum no longer matches, nothing is restored
    damaged = tmp_path / "damaged.tar.gz"
    with tarfile.open(made.path) as src, tarfile.open(damaged, "w:gz") as dst:
        for member in src.getmembers():
            data = src.extractfile(member).read()  # type: ignore[union-attr]
            if member.name.endswith(".pdf"):
                data = data.replace(b"signed", b"forged")
            import io

            member.size = len(data)
            dst.addfile(member, io.BytesIO(data))
    with pytest.raises(backup.BackupError, match="does not match its checksum"):
        await backup.restore(damaged, new.url, new.attachments)
    probe = make_engine(new.url)
    assert await backup.user_tables(probe) == []
    await probe.dispose()
    assert not new.attachments.exists() or not any(new.attachments.rglob("*"))

    # the old machine's database is not empty: refused, untouched
    with pytest.raises(backup.BackupError, match="not empty"):
        await backup.restore(made.path, old.url, tmp_path / "elsewhere")
    # a data folder with files in it: refused
    (new.attachments / "C1").mkdir(parents=True)
    (new.attachments / "C1" / "x.pdf").write_bytes(b"%PDF")
    with pytest.raises(backup.BackupError, match="not empty"):
        await backup.restore(made.path, new.url, new.attachments)
    with pytest.raises(backup.BackupError, match="not a readable"):
        (tmp_path / "junk.tar.gz").write_bytes(b"not a tar")
        await backup.restore(tmp_path / "junk.tar.gz", new.url, tmp_path / "empty")


def test_retention_keeps_the_newest_of_seven_days_and_twelve_months() -> None:
    start = dt.datetime(2025, 1, 1, 3, 0, tzinfo=dt.UTC)
    times = [start + dt.timedelta(days=d) for d in range(700)]  # daily for almost two years
    times += [start + dt.timedelta(days=699, hours=5)]  # and a second one on the last day
    kept = sorted(to_keep(times, 7, 12))
    last = times[-1]
    assert last in kept
    daily = [t for t in kept if t > last - dt.timedelta(days=7)]
    assert len({t.date() for t in daily}) == 7 and start + dt.timedelta(days=699) not in kept
    months = {(t.year, t.month) for t in kept}
    assert len(months) == 12
    # the last day is 1 Dec 2026: the daily ones (25 Nov - 1 Dec) hold December's and November's newest
    assert len(kept) == 7 + 12 - 2
    assert min(kept) == dt.datetime(2026, 1, 31, 3, 0, tzinfo=dt.UTC)
    assert to_keep([]) == set()
    name = archive_name(last)
    assert archive_time(name) == last and archive_time("notes.txt") is None


def test_prune_removes_only_our_old_archives(tmp_path: Path) -> None:
    start = dt.datetime(2026, 1, 1, 3, 0, tzinfo=dt.UTC)
    for d in range(40):
        (tmp_path / archive_name(start + dt.timedelta(days=d))).write_bytes(b"x")
    (tmp_path / "README.txt").write_text("mine")
    gone = backup.prune(tmp_path, daily=7, monthly=12)
    left = sorted(p.name for p in tmp_path.iterdir())
    assert "README.txt" in left and len(gone) == 40 - 8  # 7 days of February + January's last
    assert archive_name(start + dt.timedelta(days=30)) in left  # 31 January


def test_pg_dump_missing_is_said_plainly(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    monkeypatch.setenv("PATH", str(tmp_path))
    source = backup.Source(normalise_url("postgresql://crm@127.0.0.1/crm"), tmp_path)
    with pytest.raises(backup.BackupError, match="pg_dump was not found on PATH"):
        backup.copy_database(source, tmp_path / "x")
    assert json.dumps({"ok": 1})
