"""Keys read from a business card are checked for duplicates as soon as the flow starts, like typed
ones: a card of a contact someone already has (any customer, any owner) warns before anything else."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest

from bot import ocr
from bot.router import Incoming, Router
from flows.engine import Input
from storage import repo
from storage.files import FileStore
from tests.conftest import Clock, Database

ANN, BOB = 4101, 4102
CARD = "张伟\n采购经理\n上海云帆信息技术有限公司\n手机 137 1111 2222\nzhangwei@yunfan-tech.cn"


async def test_a_card_of_a_known_contact_warns_first(
    db: Database, clock: Clock, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    async with db.sessions.begin() as s:
        ann = await repo.add_user(s, ANN, "Ann", "sales")
        bob = await repo.add_user(s, BOB, "Bob", "sales")
        day = clock().date()
        await repo.create_customer(
            s, ann, {"kind": "enterprise", "name": "上海云帆信息技术有限公司"}, [], clock(), day
        )
        theirs = await repo.create_customer(
            s, bob, {"kind": "enterprise", "name": "北京华达商贸有限公司"}, [], clock(), day
        )
        await repo.create_contact(s, bob, theirs.id, {"name": "张伟", "phone": "+8613711112222"}, [], clock())
    router = Router(db.sessions, clock=clock, files=FileStore(tmp_path / "attachments"))
    monkeypatch.setattr(ocr, "read_card_text", lambda data: CARD)

    async def fetch(file: dict[str, Any]) -> bytes:
        return b"\xff\xd8\xff\xe0" + b"j" * 500

    photo = {"type": "photo", "name": None, "size": 504, "mime": "image/jpeg", "file_id": "p1"}
    inc = Incoming(
        chat_id=ANN, telegram_id=ANN, language_code="zh", update_id=1, input=Input(kind="file", file=photo)
    )
    result = await router.handle(inc, fetch)
    text = "\n".join(r.text for r in result.replies)
    warning = text.split("可能已有这个联系人")[1]
    assert "北京华达商贸有限公司" in warning and "Bob" in warning  # another owner's: name and owner only
    assert "137" not in warning  # their contact's phone is not revealed
