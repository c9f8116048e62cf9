"""Privacy (issue 13): an admin erases a contact's or an individual customer's personal data with a
reason (logged without the values), the follow-up texts naming them are offered for redaction, an
access request gets everything about the person as a file, and a restore of an older backup applies
the erasures made since."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from sqlalchemy import select

from bot.router import Router
from storage import backup
from storage.files import FileStore
from storage.models import Audit, Contact, Customer, Erasure, FollowUp, SearchGram
from storage.privacy import ERASED, REDACTED
from tests.conftest import Clock, Database
from tests.data.book import ADMIN, ANN, BOSS, Book, populate
from tests.people import Person


@pytest.fixture
async def setup(
    db: Database, tmp_path: Path, clock: Clock, monkeypatch: pytest.MonkeyPatch
) -> tuple[Router, Book]:
    monkeypatch.delenv("CRM_BACKUP_DIR", raising=False)
    files = FileStore(tmp_path / "data" / "attachments")
    book = await populate(db.sessions, files, clock())
    return Router(db.sessions, clock=clock, files=files), book


async def test_an_admin_erases_a_contact_and_the_texts_that_name_him(
    setup: tuple[Router, Book], db: Database, tmp_path: Path
) -> None:
    router, book = setup
    admin = Person(router, ADMIN)
    await admin.command("erase", "周杰")
    await admin.tap("联系人 周杰")
    assert "请写明删除原因" in admin.text
    await admin.say("本人电话要求删除,工单 42")
    assert "已删除 5 项个人信息" in admin.text and "1 条跟进记录的内容提到了此人" in admin.text
    async with db.sessions() as s:
        zhou = await s.get(Contact, book.contacts["周杰"])
        assert zhou is not None
        assert (zhou.name, zhou.phone, zhou.email, zhou.birthday, zhou.position, zhou.active) == (
            ERASED,
            None,
            None,
            None,
            None,
            False,
        )
        (row,) = (await s.execute(select(Erasure))).scalars()
        assert (row.entity, row.entity_id, row.reason) == ("contact", zhou.id, "本人电话要求删除,工单 42")
        assert "phone" in row.fields and "13911112222" not in json.dumps(row.fields)
        logged = " ".join(a.detail or "" for a in (await s.execute(select(Audit))).scalars())
        assert "周杰" not in logged and "13911112222" not in logged
        f1 = (await s.execute(select(FollowUp).where(FollowUp.contact_id == zhou.id))).scalar_one()
        assert "周杰" in f1.content  # not yet: offered first
        # nor is he kept in the search index: his name and phone no longer find his customer
        grams = (
            await s.execute(select(SearchGram.gram).where(SearchGram.customer_id == zhou.customer_id))
        ).scalars()
        kept = " ".join(grams)
        assert "周杰" not in kept and "111122" not in kept
    await admin.tap("删除这 1 条的内容")
    assert "已删除 1 条跟进记录的内容" in admin.text
    async with db.sessions() as s:
        f1 = (
            await s.execute(select(FollowUp).where(FollowUp.contact_id == book.contacts["周杰"]))
        ).scalar_one()
        assert (f1.content, f1.latitude, f1.mode) == (REDACTED, None, "visit")  # the follow-up stays
    journal = (tmp_path / "data" / "backups" / "erasures.jsonl").read_text().splitlines()
    assert [json.loads(line)["entity_id"] for line in journal] == [book.contacts["周杰"]] * 2
    assert "周杰" not in "".join(journal)


async def test_an_individual_customer_is_erased_an_enterprise_cannot_be_and_sales_may_not(
    setup: tuple[Router, Book], db: Database
) -> None:
    router, book = setup
    ann = Person(router, ANN)
    await ann.command("erase", "张三")
    assert "请写明删除原因" not in ann.text and "个人客户" not in ann.text
    admin = Person(router, ADMIN, lang="en")
    await admin.command("erase", "数澜")
    assert "No contact or individual customer matches" in admin.text
    await admin.command("erase", "张三")
    await admin.tap("Individual customer 张三")
    await admin.say("asked in writing")
    assert "Erased 2 personal fields" in admin.text
    async with db.sessions() as s:
        zhang = await s.get(Customer, book.customers["张三"])
        assert zhang is not None and (zhang.name, zhang.phone, zhang.name_key) == (ERASED, None, "")
        assert zhang.status == "potential"  # business data stays
    await admin.command("erase", "张三")
    assert "No contact or individual customer matches" in admin.text  # gone from searches


async def test_a_subject_access_request_sends_everything_about_the_person(setup: tuple[Router, Book]) -> None:
    router, _book = setup
    admin = Person(router, ADMIN)
    await admin.command("subject_export", "周杰")
    await admin.tap("联系人 周杰")
    (file,) = [f for r in admin.last.replies for f in r.files]  # type: ignore[union-attr]
    data = json.loads(Path(file["path"]).read_text())
    assert data["contact"]["name"] == "周杰" and data["contact"]["phone"] == "+8613911112222"
    assert len(data["followups"]) == 1 and "周杰" in data["followups"][0]["content"]
    boss = Person(router, BOSS)
    await boss.command("subject_export", "周杰")  # managers: /help instead
    assert "是哪一位" not in boss.text and not [f for r in boss.last.replies for f in r.files]  # type: ignore[union-attr]


# the restore itself is tested on both backends in test_backup.py
@pytest.mark.parametrize("db", ["sqlite"], indirect=True)
async def test_restoring_an_older_backup_applies_the_erasures_made_since(
    setup: tuple[Router, Book], db: Database, tmp_path: Path, clock: Clock
) -> None:
    router, book = setup
    made = await backup.backup(
        db.engine, tmp_path / "data" / "attachments", tmp_path / "data" / "backups", clock()
    )
    clock.advance(hours=1)
    admin = Person(router, ADMIN)
    await admin.command("erase", "周杰")
    await admin.tap("联系人 周杰")
    await admin.say("本人要求删除")
    await admin.tap("删除这 1 条的内容")

    new = tmp_path / "new"
    url = f"sqlite+aiosqlite:///{new / 'crm.sqlite3'}"
    done = await backup.restore(made.path, url, new / "attachments", made.path.parent / "erasures.jsonl")
    assert done.erasures == 1
    from storage.db import make_engine, make_sessions

    engine = make_engine(url)
    try:
        async with make_sessions(engine)() as s:
            zhou = await s.get(Contact, book.contacts["周杰"])
            assert zhou is not None and (zhou.name, zhou.phone) == (ERASED, None)
            f1 = (await s.execute(select(FollowUp).where(FollowUp.contact_id == zhou.id))).scalar_one()
            assert f1.content == REDACTED
            (row,) = (await s.execute(select(Erasure))).scalars()
            assert row.reason == "re-applied after a restore"
    finally:
        await engine.dispose()
