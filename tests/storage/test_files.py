"""Attachments: a file and its row are kept together or not at all; files are owner-only (items 3, 14)."""

from __future__ import annotations

import datetime as dt
import os
import stat
from pathlib import Path

import pytest
from sqlalchemy import func, select

from storage import repo
from storage.files import FileInfo, FileStore, attachments_of
from storage.models import Attachment, Customer, User
from tests.conftest import Database

NOW = dt.datetime(2026, 11, 22, 2, 0, tzinfo=dt.UTC)
DAY = NOW.date()


async def _setup(db: Database) -> tuple[User, Customer]:
    async with db.sessions.begin() as s:
        user = await repo.add_user(s, 1, "Ann", "admin")
        answers = {"kind": "individual", "name": "王小明"}
        return user, await repo.create_customer(s, user, answers, [], NOW, DAY)


def _files(root: Path) -> list[str]:
    return sorted(
        str(p.relative_to(root)) for p in root.rglob("*") if p.is_file() and "incoming" not in p.parts
    )


async def _rows(db: Database) -> int:
    async with db.sessions.begin() as s:
        return int((await s.execute(select(func.count()).select_from(Attachment))).scalar_one())


async def test_a_failed_insert_leaves_no_file_and_no_row(db: Database, tmp_path: Path) -> None:
    user, customer = await _setup(db)
    store = FileStore(tmp_path / "attachments")
    staged = store.stage(b"%PDF-1.4 quote", FileInfo("document", 14, "quote.pdf", "application/pdf"))
    for _ in range(3):  # each failure used to leave a file behind: _2, _3, …
        with pytest.raises(Exception, match=r"IntegrityError|FOREIGN KEY|foreign key"):
            async with db.sessions.begin() as s:
                await store.attach(s, staged, customer, user_id=999_999, day=DAY)  # no such user
    assert _files(store.root) == []
    assert await _rows(db) == 0
    async with db.sessions.begin() as s:
        saved = await store.attach(s, staged, customer, user.id, DAY)
    assert _files(store.root) == [f"{customer.number}/{customer.number}_document_{DAY:%Y%m%d}.pdf"]
    assert Path(saved.path).read_bytes() == b"%PDF-1.4 quote"
    async with db.sessions.begin() as s:
        assert [a.file_name for a in await attachments_of(s, customer.id)] == [Path(saved.path).name]


async def test_a_rollback_after_filing_removes_the_file(db: Database, tmp_path: Path) -> None:
    user, customer = await _setup(db)
    store = FileStore(tmp_path / "attachments")
    staged = store.stage(b"\x89PNG photo", FileInfo("photo", 10, None, "image/png"))
    with pytest.raises(RuntimeError):
        async with db.sessions.begin() as s:
            await store.attach(s, staged, customer, user.id, DAY)
            assert len(_files(store.root)) == 1
            raise RuntimeError("a later step of the same save failed")
    assert _files(store.root) == []
    assert await _rows(db) == 0


async def test_attachment_folders_are_0700_and_files_0600(db: Database, tmp_path: Path) -> None:
    user, customer = await _setup(db)
    old = os.umask(0o022)
    try:
        store = FileStore(tmp_path / "attachments")
        staged = store.stage(b"voice", FileInfo("voice", 5, "a.ogg", "audio/ogg"))
        async with db.sessions.begin() as s:
            saved = await store.attach(s, staged, customer, user.id, DAY)
    finally:
        os.umask(old)
    for folder in (store.root, store.root / "incoming", store.root / customer.number):
        assert stat.S_IMODE(folder.stat().st_mode) == 0o700, folder
    for path in (Path(staged["path"]), Path(saved.path)):
        assert stat.S_IMODE(path.stat().st_mode) == 0o600, path


async def test_names_and_mime_types_are_stored_without_control_characters(
    db: Database, tmp_path: Path
) -> None:
    user, customer = await _setup(db)
    store = FileStore(tmp_path / "attachments")
    info = FileInfo("document", 3, "报价\x00单\x07" + "❤️" * 150 + ".pdf", "application/pdf\x00" + "x" * 200)
    staged = store.stage(b"pdf", info)
    async with db.sessions.begin() as s:
        saved = await store.attach(s, staged, customer, user.id, DAY)
    async with db.sessions.begin() as s:
        row = await s.get(Attachment, saved.id)
        assert row is not None and row.original_name is not None and row.mime is not None
        assert "\x00" not in row.original_name and row.original_name.startswith("报价单❤")
        assert len(row.original_name) <= 200 and len(row.mime) <= 100
        assert row.mime.startswith("application/pdf")
