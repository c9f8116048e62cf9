"""Slow work (a file's download, reading a business card) runs outside the database transaction:
while one person's file downloads or card is read, another person's step goes through at once
(on SQLite a transaction left open across the download would hold the single write lock)."""

from __future__ import annotations

import asyncio
import threading
from pathlib import Path
from typing import Any

import pytest

from bot import ocr
from bot.router import Incoming, Router
from flows.engine import Input
from storage import repo
from storage.files import FileStore
from tests.conftest import Clock, Database

ANN, BOB = 3001, 3002
PDF = b"%PDF-1.4\n" + b"x" * 2000


async def _setup(db: Database, clock: Clock, tmp_path: Path) -> Router:
    async with db.sessions.begin() as s:
        ann = await repo.add_user(s, ANN, "Ann", "sales")
        await repo.add_user(s, BOB, "Bob", "sales")
        customer = await repo.create_customer(
            s, ann, {"kind": "enterprise", "name": "华为技术有限公司"}, [], clock(), clock().date()
        )
        repo.set_current_customer(ann, customer.id, clock())  # her card is open: a document goes onto it
    return Router(db.sessions, clock=clock, files=FileStore(tmp_path / "attachments"))


def _inc(who: int, update_id: int, **kw: Any) -> Incoming:
    return Incoming(chat_id=who, telegram_id=who, language_code="en", update_id=update_id, **kw)


async def test_another_step_goes_through_while_a_file_downloads(
    db: Database, clock: Clock, tmp_path: Path
) -> None:
    router = await _setup(db, clock, tmp_path)
    fetching, release = asyncio.Event(), asyncio.Event()

    async def slow_fetch(file: dict[str, Any]) -> bytes:
        fetching.set()
        await release.wait()
        return PDF

    doc = {
        "type": "document",
        "name": "quote.pdf",
        "size": len(PDF),
        "mime": "application/pdf",
        "file_id": "f1",
    }
    ann = asyncio.create_task(router.handle(_inc(ANN, 1, input=Input(kind="file", file=doc)), slow_fetch))
    await asyncio.wait_for(fetching.wait(), 10)
    bob = await asyncio.wait_for(router.handle(_inc(BOB, 2, command="new_customer")), 5)
    assert "What kind of customer" in bob.replies[-1].text
    release.set()
    done = await asyncio.wait_for(ann, 10)
    assert "华为技术有限公司" in done.replies[-1].text  # the file went onto her open customer


async def test_another_step_goes_through_while_a_card_is_read(
    db: Database, clock: Clock, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    router = await _setup(db, clock, tmp_path)
    async with db.sessions.begin() as s:
        ann = await repo.user_by_telegram(s, ANN)
        assert ann is not None
        ann.current_customer_id = None  # nothing open: a photo is a business card
    reading, release = threading.Event(), threading.Event()

    def slow_read(data: bytes) -> str:
        reading.set()
        release.wait(10)
        return "李明\n销售总监\n上海云帆信息技术有限公司\n手机 139 1234 5678\nliming@yunfan-tech.cn"

    monkeypatch.setattr(ocr, "read_card_text", slow_read)

    async def fetch(file: dict[str, Any]) -> bytes:
        return b"\xff\xd8\xff\xe0" + b"j" * 500

    photo = {"type": "photo", "name": None, "size": 504, "mime": "image/jpeg", "file_id": "p1"}
    task = asyncio.create_task(router.handle(_inc(ANN, 3, input=Input(kind="file", file=photo)), fetch))
    await asyncio.wait_for(asyncio.to_thread(reading.wait, 10), 15)
    bob = await asyncio.wait_for(router.handle(_inc(BOB, 4, command="new_customer")), 5)
    assert "What kind of customer" in bob.replies[-1].text
    release.set()
    done = await asyncio.wait_for(task, 15)
    assert any("李明" in r.text for r in done.replies)
