"""Field capture through the assistant: a note in one message, the current customer, files, cards."""

from __future__ import annotations

import datetime as dt
import hashlib
import os
import time
from pathlib import Path

from sqlalchemy import select

from bot.router import Router
from flows.engine import Input
from storage import repo
from storage.files import INCOMING_KEPT, FileInfo, FileStore
from storage.models import Attachment, Contact, Conversation, Customer, FollowUp, User
from tests.conftest import Clock, Database
from tests.people import Person

ANN = 2001


async def _setup(db: Database, clock: Clock, tmp_path: Path) -> Router:
    async with db.sessions.begin() as s:
        ann = await repo.add_user(s, ANN, "Ann", "sales")
        day = dt.date(2026, 11, 20)
        huawei = await repo.create_customer(
            s, ann, {"kind": "enterprise", "name": "华为技术有限公司"}, [], clock(), day
        )
        await repo.create_contact(s, ann, huawei.id, {"name": "张伟", "position": "总经理"}, [], clock())
        acme = await repo.create_customer(
            s, ann, {"kind": "enterprise", "name": "Acme Trading Co., Ltd."}, [], clock(), day
        )
        await repo.create_contact(s, ann, acme.id, {"name": "John Smith"}, [], clock())
        await repo.create_customer(
            s, ann, {"kind": "enterprise", "name": "华为终端有限公司"}, [], clock(), day
        )
    return Router(db.sessions, clock=clock, files=FileStore(tmp_path / "attachments"))


async def test_a_note_in_one_message_becomes_a_draft_that_asks_only_what_is_missing(
    db: Database, clock: Clock, tmp_path: Path
) -> None:
    ann = Person(await _setup(db, clock, tmp_path), ANN)
    await ann.say("刚和华为技术张总通了电话,他们要报价单和实施方案,下周二下午两点再跟进")
    assert "跟进草稿" in ann.text
    assert "需求状态" in ann.text  # the only thing a note can't tell
    await ann.tap("跟进中")
    assert "请核对跟进记录" in ann.text
    for shown in ("华为技术有限公司", "张伟", "电话沟通", "11月24日", "14:00"):
        assert shown in ann.text, shown
    await ann.tap("保存")
    async with db.sessions() as s:
        f = (await s.execute(select(FollowUp))).scalar_one()
        assert (f.mode, f.demand_status, f.occurred_on) == ("phone", "in_progress", dt.date(2026, 11, 22))
        assert f.next_at == dt.datetime(2026, 11, 24, 6, 0, tzinfo=dt.UTC)
        assert "报价单" in f.content


async def test_a_note_whose_time_reads_two_ways_says_so_and_asks_it(
    db: Database, clock: Clock, tmp_path: Path
) -> None:
    ann = Person(await _setup(db, clock, tmp_path), ANN)
    await ann.say("Called John at Acme about the pilot, they liked the quote, call again tomorrow at 3")
    assert "tomorrow at 3" in ann.text and "再输入一次下次跟进时间" in ann.text
    await ann.tap("跟进中")
    assert "下次跟进时间" in ann.text  # the time is asked, nothing was guessed
    await ann.say("明天下午3点")
    assert "11月23日" in ann.text and "15:00" in ann.text


async def test_a_note_matching_two_customers_asks_which(db: Database, clock: Clock, tmp_path: Path) -> None:
    ann = Person(await _setup(db, clock, tmp_path), ANN)
    await ann.say("/note 去华为拜访了一下,聊了新项目的需求和预算,周五上午10点再联系")
    assert "跟进哪个客户" in ann.text
    assert any("华为技术有限公司" in x for x in ann.labels) and any(
        "华为终端有限公司" in x for x in ann.labels
    )


async def test_a_bare_customer_name_outside_a_flow_opens_it_like_find(
    db: Database, clock: Clock, tmp_path: Path
) -> None:
    ann = Person(await _setup(db, clock, tmp_path), ANN)
    await ann.say("Acme")
    assert "Acme Trading Co., Ltd." in ann.text and any("记录跟进" in x for x in ann.labels)
    await ann.say("华为")
    assert any("华为技术有限公司" in x for x in ann.labels) and any(
        "华为终端有限公司" in x for x in ann.labels
    )
    async with db.sessions() as s:
        assert (await s.execute(select(FollowUp))).first() is None
        assert (await s.execute(select(Conversation))).first() is None  # no draft was started


async def test_text_that_is_no_note_gets_the_hint(db: Database, clock: Clock, tmp_path: Path) -> None:
    ann = Person(await _setup(db, clock, tmp_path), ANN)
    await ann.say("你好啊今天天气不错")
    assert "/log" in ann.text
    async with db.sessions() as s:
        assert (await s.execute(select(FollowUp))).first() is None


async def test_log_starts_on_the_customer_just_opened_and_back_picks_another(
    db: Database, clock: Clock, tmp_path: Path
) -> None:
    ann = Person(await _setup(db, clock, tmp_path), ANN)
    await ann.command("find", "Acme")
    await ann.command("log")
    assert "为“Acme Trading Co., Ltd.”记录" in ann.text and "沟通日期" in ann.text
    await ann.tap("上一步")
    assert "跟进哪个客户" in ann.text
    clock.advance(hours=3)  # the context fades
    await ann.command("cancel")
    await ann.command("log")
    assert "跟进哪个客户" in ann.text


async def test_files_sent_with_a_card_open_are_kept_and_sent_back(
    db: Database, clock: Clock, tmp_path: Path
) -> None:
    ann = Person(await _setup(db, clock, tmp_path), ANN)
    await ann.send_file(b"%PDF-1.4 quote", "document", "报价单.pdf", "application/pdf")
    assert "先用 /find 打开客户" in ann.text
    await ann.command("find", "Acme")
    await ann.send_file(b"%PDF-1.4 quote", "document", "报价单.pdf", "application/pdf")
    assert "已保存到“Acme Trading Co., Ltd.”的附件" in ann.text
    await ann.send_file(b"x" * (10 * 1024 * 1024 + 1), "document", "big.pdf", "application/pdf")
    assert "文件太大" in ann.text
    await ann.send_file(b"MZ...", "document", "setup.exe", "application/octet-stream")
    assert "不支持 .exe" in ann.text
    await ann.command("find", "Acme")
    await ann.tap("附件(1)")
    assert ann.last is not None
    files = ann.last.replies[0].files
    assert [f["name"] for f in files] == ["C202611200002_document_20261122.pdf"]
    assert Path(files[0]["path"]).read_bytes() == b"%PDF-1.4 quote"
    async with db.sessions() as s:
        a = (await s.execute(select(Attachment))).scalar_one()
        assert (a.sha256, a.size, a.original_name) == (
            hashlib.sha256(b"%PDF-1.4 quote").hexdigest(),
            14,
            "报价单.pdf",
        )


async def test_attachments_at_the_last_step_of_a_followup(db: Database, clock: Clock, tmp_path: Path) -> None:
    ann = Person(await _setup(db, clock, tmp_path), ANN)
    await ann.command("find", "Acme")
    await ann.tap("记录跟进")
    await ann.tap("今天")
    await ann.tap("上门拜访")
    await ann.tap("John Smith")
    await ann.say("Visited their office, walked through the quote, they want a pilot in January.")
    await ann.tap("跟进中")
    await ann.say("next Monday 9am")
    await ann.tap("确认")
    await ann.tap("跳过")  # participants
    assert "分享拜访地点" in ann.text
    await ann._go(input=Input(kind="location", latitude=31.2, longitude=121.5))
    assert "有附件吗" in ann.text
    await ann.send_file(b"\xff\xd8\xff photo", "photo", None, "image/jpeg")
    await ann.send_file(b"OggS voice", "voice", None, "audio/ogg")
    assert "共 2 个" in ann.text
    await ann.tap("完成")
    await ann.tap("保存")
    assert "拜访位置" in ann.text and "31.20000" in ann.text and "附件(2)" in " ".join(ann.labels)
    async with db.sessions() as s:
        kinds = sorted(
            (a.kind, a.followup_id is not None) for a in (await s.execute(select(Attachment))).scalars()
        )
        assert kinds == [("photo", True), ("voice", True)]


async def test_a_photo_with_a_customer_open_asks_card_or_attachment(
    db: Database, clock: Clock, tmp_path: Path
) -> None:
    ann = Person(await _setup(db, clock, tmp_path), ANN)
    await ann.command("find", "Acme")
    await ann.send_file(b"\xff\xd8\xff site photo", "photo", None, "image/jpeg")
    assert "是名片,还是" in ann.text
    await ann.tap("存为")
    assert "已保存到" in ann.text
    async with db.sessions() as s:
        assert (await s.execute(select(Attachment.kind))).scalar_one() == "photo"
        user = (await s.execute(select(User))).scalar_one()
        assert (
            user.current_customer_id
            == (await s.execute(select(Customer.id).where(Customer.name.like("Acme%")))).scalar_one()
        )


async def test_an_unreadable_photo_starts_the_typed_contact_flow(
    db: Database, clock: Clock, tmp_path: Path
) -> None:
    ann = Person(await _setup(db, clock, tmp_path), ANN)
    await ann.send_file(b"not an image at all", "photo", None, "image/jpeg")
    assert "没能读出这张名片" in ann.text and "属于哪个客户" in ann.text
    async with db.sessions() as s:
        assert (await s.execute(select(Contact).where(Contact.name == "?"))).first() is None


async def test_a_business_card_of_a_new_company_creates_the_customer_then_the_contact(
    db: Database, clock: Clock, tmp_path: Path
) -> None:
    from tests.cardgen import Card, render

    card = Card(
        name="李明",
        company="杭州数澜科技有限公司",
        position="销售总监",
        mobile="139 1234 5678",
        email="liming@shulan.com",
        address="浙江省杭州市西湖区文三路259号",
    )
    ann = Person(await _setup(db, clock, tmp_path), ANN)
    await ann.send_file(render(card), "photo", None, "image/jpeg")
    assert "名片上读到" in ann.text and "李明" in ann.text
    assert "还不是客户" in ann.text
    await ann.skip_to_summary_with("客户类型", "企业客户")
    await ann.tap("保存")
    assert "客户已保存" in ann.text
    # the contact flow follows, pre-filled: name, position, phone and e-mail came from the card,
    # so its first question is the role
    assert "联系人角色" in ann.text and "联系人姓名" not in ann.text
    for _ in range(12):
        if "请核对联系人信息" in ann.text:
            break
        await ann.tap_any("跳过", "稍后补充")
    await ann.tap("保存")
    async with db.sessions() as s:
        contact = (await s.execute(select(Contact).where(Contact.name == "李明"))).scalar_one()
        customer = await s.get(Customer, contact.customer_id)
        assert customer is not None and customer.name == "杭州数澜科技有限公司"
        assert (contact.phone, contact.email, contact.position) == (
            "+8613912345678",
            "liming@shulan.com",
            "销售总监",
        )


async def test_a_file_whose_size_was_not_announced_is_checked_after_download(
    db: Database, clock: Clock, tmp_path: Path
) -> None:
    ann = Person(await _setup(db, clock, tmp_path), ANN)
    await ann.command("find", "Acme")
    big = b"%PDF" + b"x" * (10 * 1024 * 1024)
    file = {"type": "document", "name": "big.pdf", "size": None, "mime": "application/pdf", "file_id": "f"}
    await ann._go(payload=big, input=Input(kind="file", file=file))
    assert "文件太大" in ann.text
    async with db.sessions() as s:
        assert (await s.execute(select(Attachment))).first() is None
    assert not list((tmp_path / "attachments").rglob("*.pdf"))


async def test_a_document_with_no_customer_open_is_refused_without_downloading(
    db: Database, clock: Clock, tmp_path: Path
) -> None:
    ann = Person(await _setup(db, clock, tmp_path), ANN)
    # no payload: Person's fetch fails the test if the assistant downloads anyway
    file = {"type": "document", "name": "q.pdf", "size": 10, "mime": "application/pdf", "file_id": "f"}
    await ann._go(input=Input(kind="file", file=file))
    assert "先用 /find 打开客户" in ann.text


def test_staged_files_nobody_can_file_any_more_are_swept(tmp_path: Path) -> None:
    store = FileStore(tmp_path)
    old = Path(store.stage(b"old", FileInfo("document", 3, "a.pdf", None))["path"])
    fresh = Path(store.stage(b"fresh", FileInfo("document", 5, "b.pdf", None))["path"])
    later = time.time() + INCOMING_KEPT.total_seconds() - 60
    os.utime(old, (later - INCOMING_KEPT.total_seconds() - 120,) * 2)
    assert store.sweep_incoming(now=later) == 1
    assert not old.exists() and fresh.exists()
