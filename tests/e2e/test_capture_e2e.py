"""Field capture through the real python-telegram-bot Application and the local Bot API stand-in (issue 5):
the location of a visit from a request_location reply button, files at the last step of a follow-up
(downloaded through getFile and the file URL, filed under the data folder, sent back from the card),
a document sent while a customer card is open, and the size and type limits. SQLite and PostgreSQL.
"""

from __future__ import annotations

import datetime as dt
import hashlib
from collections.abc import AsyncIterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any
from zoneinfo import ZoneInfo

import pytest
from sqlalchemy import select

from bot.config import Settings
from bot.router import Router
from bot.runtime import Runtime
from storage import repo
from storage.files import FileStore
from storage.models import Attachment, Customer, FollowUp
from tests.conftest import Database
from tests.e2e.conftest import Chat, application
from tests.e2e.fake_bot_api import DEFAULT_TOKEN, FakeBotApi, FakeUser, started

ANN = FakeUser(7001, "芳", last_name="王", language_code="zh-hans")
COMPANY = "杭州数澜科技有限公司"
CONTENT = "上门拜访了对方的技术负责人,演示了系统,对方希望下周二前收到正式报价单和实施计划书。"
PHOTO = b"\xff\xd8\xff\xe0 site photo of the server room"
PDF = b"%PDF-1.4 quote for the pilot"
VOICE = b"OggS voice note after the visit"
TZ = ZoneInfo("Asia/Shanghai")


@dataclass
class Bot:
    chat: Chat
    api: FakeBotApi
    db: Database
    data_dir: Path
    customer_id: int
    number: str

    @property
    def attachments_dir(self) -> Path:
        return self.data_dir / "attachments"


@pytest.fixture
async def bot(fake_api: FakeBotApi, db: Database, tmp_path: Path) -> AsyncIterator[Bot]:
    """The real Application on the test database with its files under tmp_path; Ann is a sales rep
    with one customer that has one contact."""
    now = dt.datetime.now(dt.UTC)
    async with db.sessions.begin() as s:
        ann = await repo.add_user(s, ANN.id, "王芳", "sales")
        customer = await repo.create_customer(
            s, ann, {"kind": "enterprise", "name": COMPANY}, [], now, now.date()
        )
        await repo.create_contact(s, ann, customer.id, {"name": "张伟", "position": "技术总监"}, [], now)
        customer_id, number = customer.id, customer.number
    data_dir = tmp_path / "data"
    settings = Settings.load(
        bot_token=DEFAULT_TOKEN,
        bot_api_url=fake_api.base_url,
        bot_file_url=fake_api.base_file_url,
        data_dir=data_dir,
    )
    assistant = Router(db.sessions, files=FileStore(settings.data_dir / "attachments"))
    runtime = Runtime(settings, db.engine, db.sessions, assistant)
    app = application(fake_api, settings, runtime, quick_typist=True)
    async with started(app):
        yield Bot(Chat(fake_api, ANN), fake_api, db, data_dir, customer_id, number)


async def _log_until(chat: Chat, mode: str, last_prompt: str, *, card_open: bool = False) -> None:
    """/log for the customer, answered up to the question containing last_prompt. With a card open
    (just after /find), /log starts on that customer instead of asking which."""
    chat.say("/log")
    if card_open:
        await chat.expect(f"为“{COMPANY}”记录")
    else:
        await chat.expect("跟进哪个客户")
        await chat.tap(COMPANY)
    await chat.expect("沟通日期")
    await chat.tap("今天")
    await chat.expect("沟通方式")
    await chat.tap(mode)
    await chat.expect("和哪位联系人沟通")
    await chat.tap("张伟")
    await chat.expect("沟通内容")
    chat.say(CONTENT)
    await chat.expect("需求状态")
    await chat.tap("跟进中")
    await chat.expect("下次跟进时间")
    await chat.tap("稍后补充")
    await chat.expect("参与人员")
    await chat.tap("跳过")
    await chat.expect(last_prompt)


def _keyboard_calls(api: FakeBotApi, since: int, key: str) -> list[dict[str, Any]]:
    """reply_markup of the sendMessage calls to Ann since index `since` that carry `key`."""
    return [
        c.params["reply_markup"]
        for c in api.calls_to("sendMessage", ANN.id, ok_only=True)[since:]
        if isinstance(c.params.get("reply_markup"), dict) and key in c.params["reply_markup"]
    ]


async def _followups(db: Database) -> list[FollowUp]:
    async with db.sessions() as s:
        return list((await s.execute(select(FollowUp))).scalars())


async def _attachments(db: Database) -> list[Attachment]:
    async with db.sessions() as s:
        return list((await s.execute(select(Attachment).order_by(Attachment.id))).scalars())


def _files_on_disk(root: Path) -> list[Path]:
    return sorted(p for p in root.rglob("*") if p.is_file()) if root.exists() else []


# ---------------------------------------------------------------- the location of a visit


async def test_a_visit_takes_the_shared_location_onto_the_followup_and_the_card(bot: Bot) -> None:
    chat, api = bot.chat, bot.api
    await _log_until(chat, "上门拜访", "分享拜访地点的位置")
    await chat.expect("点下面的按钮发送当前位置")
    board = api.reply_keyboard(ANN.id)
    assert board is not None, "no reply keyboard shown for the location"
    assert board["keyboard"] == [[{"text": "📍 发送位置", "request_location": True}]]
    assert board.get("one_time_keyboard") and board.get("resize_keyboard")

    sent_before = len(api.calls_to("sendMessage", ANN.id, ok_only=True))
    api.press_reply_button(ANN.id, "发送位置", user=ANN)  # the phone sends a location message
    await chat.expect("有附件吗")
    await chat.expect("✓")
    # one_time_keyboard only hides it (the client can still reopen it): the bot must remove it
    assert _keyboard_calls(api, sent_before, "remove_keyboard") == [{"remove_keyboard": True}]

    await chat.tap("跳过")
    summary = await chat.expect("请核对跟进记录")
    assert "31.23040, 121.47370" in summary["text"]
    await chat.tap("保存")
    await chat.expect("跟进记录已保存")
    saved_card = await chat.expect(COMPANY)
    assert "📍 拜访位置:31.23040, 121.47370" in saved_card["text"]

    (followup,) = await _followups(bot.db)
    assert (followup.mode, followup.latitude, followup.longitude) == ("visit", 31.2304, 121.4737)

    chat.say("/find 数澜")
    card = await chat.expect("拜访位置")
    assert "📍 拜访位置:31.23040, 121.47370" in card["text"]
    assert COMPANY in card["text"]
    # the location keyboard went away once and is not removed again on every later message
    assert len(_keyboard_calls(api, sent_before, "remove_keyboard")) == 1
    assert not _keyboard_calls(api, sent_before, "keyboard")


async def test_a_visit_without_a_location_skips_it_and_removes_the_keyboard(bot: Bot) -> None:
    chat, api = bot.chat, bot.api
    await _log_until(chat, "上门拜访", "分享拜访地点的位置")
    await chat.expect("点下面的按钮发送当前位置")
    assert api.reply_keyboard(ANN.id) is not None
    sent_before = len(api.calls_to("sendMessage", ANN.id, ok_only=True))

    await chat.tap("跳过")  # the inline Skip under the location question
    await chat.expect("有附件吗")
    await chat.expect("✓")
    assert _keyboard_calls(api, sent_before, "remove_keyboard") == [{"remove_keyboard": True}]
    assert api.reply_keyboard(ANN.id) is None

    await chat.tap("跳过")
    summary = await chat.expect("请核对跟进记录")
    assert "121.4" not in summary["text"]
    await chat.tap("保存")
    await chat.expect("跟进记录已保存")

    (followup,) = await _followups(bot.db)
    assert (followup.mode, followup.latitude, followup.longitude) == ("visit", None, None)
    chat.say("/find 数澜")
    card = await chat.expect(COMPANY)
    assert "拜访位置" not in card["text"]


# ---------------------------------------------------------------- files at the last step


async def test_files_at_the_last_step_are_downloaded_filed_and_sent_back_from_the_card(bot: Bot) -> None:
    chat, api = bot.chat, bot.api
    day_before = dt.datetime.now(TZ).date()
    await _log_until(chat, "电话沟通", "有附件吗")
    photo = api.push_photo(ANN.id, PHOTO, user=ANN)["message"]["photo"][-1]
    await chat.expect("共 1 个")
    document = api.push_document(ANN.id, PDF, "报价单.pdf", "application/pdf", user=ANN)["message"][
        "document"
    ]
    await chat.expect("已收到 报价单.pdf(共 2 个)")
    voice = api.push_voice(ANN.id, VOICE, 7, user=ANN)["message"]["voice"]
    await chat.expect("共 3 个")
    sent = {
        "photo": (photo, PHOTO, ".jpg"),
        "document": (document, PDF, ".pdf"),
        "voice": (voice, VOICE, ".ogg"),
    }

    # each was fetched through getFile and then its file URL, as PTB does against Telegram
    assert [c.params["file_id"] for c in api.calls_to("getFile", ok_only=True)] == [
        photo["file_id"],
        document["file_id"],
        voice["file_id"],
    ]
    assert [p.split("/")[0] for p in api.downloads] == ["photos", "documents", "voice"]
    assert not await _attachments(bot.db)  # staged only: nothing is attached before Save

    await chat.tap("完成")
    summary = await chat.expect("请核对跟进记录")
    assert "报价单.pdf" in summary["text"]
    await chat.tap("保存")
    await chat.expect("跟进记录已保存")
    card = await chat.expect(COMPANY)
    assert any("附件(3)" in label for row in api.labels(ANN.id, card["message_id"]) for label in row)

    (followup,) = await _followups(bot.db)
    rows = await _attachments(bot.db)
    day = {day_before, dt.datetime.now(TZ).date()}
    assert sorted(a.kind for a in rows) == ["document", "photo", "voice"]
    for a in rows:
        tg, data, ext = sent[a.kind]
        assert (a.customer_id, a.followup_id) == (bot.customer_id, followup.id)
        assert a.file_name in {f"{bot.number}_{a.kind}_{d:%Y%m%d}{ext}" for d in day}
        assert (a.sha256, a.size, a.telegram_file_id) == (
            hashlib.sha256(data).hexdigest(),
            len(data),
            tg["file_id"],
        )
        path = Path(a.path)
        assert path.parent == bot.attachments_dir / bot.number and path.name == a.file_name
        assert path.read_bytes() == data
    assert next(a for a in rows if a.kind == "document").original_name == "报价单.pdf"

    mark = api.mark()
    await chat.tap("附件(3)", card)
    await chat.expect(f"“{COMPANY}”的附件,共 3 个")
    await api.wait_for(lambda c: c.method == "sendVoice", since=mark)  # the last of the three
    back = {c.method: c for c in api.calls[mark:] if c.method in ("sendPhoto", "sendDocument", "sendVoice")}
    for method, kind in (("sendPhoto", "photo"), ("sendDocument", "document"), ("sendVoice", "voice")):
        call = back[method]
        assert (call.ok, call.chat_id, call.params[kind]) == (True, ANN.id, sent[kind][0]["file_id"]), call
    assert [c.method for c in api.calls[mark:]].count("sendDocument") == 1  # no upload fallback
    assert len(api.downloads) == 3  # sent back by file id: nothing downloaded again


# ---------------------------------------------------------------- a file with a card open


async def test_a_document_sent_with_a_card_open_is_attached_to_that_customer(bot: Bot) -> None:
    chat, api = bot.chat, bot.api
    chat.say("/find 数澜")
    await chat.expect(COMPANY)
    pushed = api.push_document(ANN.id, PDF, "报价单.pdf", "application/pdf", user=ANN)["message"]["document"]
    await chat.expect(f"已保存到“{COMPANY}”的附件")

    assert [c.params["file_id"] for c in api.calls_to("getFile", ok_only=True)] == [pushed["file_id"]]
    assert len(api.downloads) == 1 and api.downloads[0].startswith("documents/")
    (a,) = await _attachments(bot.db)
    assert (a.customer_id, a.followup_id, a.kind, a.original_name) == (
        bot.customer_id,
        None,
        "document",
        "报价单.pdf",
    )
    assert a.file_name.startswith(f"{bot.number}_document_") and a.file_name.endswith(".pdf")
    assert (a.sha256, a.size) == (hashlib.sha256(PDF).hexdigest(), len(PDF))
    assert Path(a.path).read_bytes() == PDF
    assert await _followups(bot.db) == []  # no follow-up was made up for it

    chat.say("/find 数澜")
    card = await chat.expect(COMPANY)
    assert any("附件(1)" in label for row in api.labels(ANN.id, card["message_id"]) for label in row)


# ---------------------------------------------------------------- limits


async def test_too_big_and_disallowed_files_are_refused_before_any_download(bot: Bot) -> None:
    chat, api = bot.chat, bot.api
    chat.say("/find 数澜")
    await chat.expect(COMPANY)
    api.push_document(
        ANN.id, b"%PDF-1.4 tiny", "方案.pdf", "application/pdf", user=ANN, file_size=11 * 1024 * 1024
    )
    refused = await chat.expect("文件太大")
    assert "11.0 MB" in refused["text"] and "最多 10 MB" in refused["text"] and "没有保存" in refused["text"]
    api.push_document(ANN.id, b"MZ\x90\x00 not a quote", "setup.exe", "application/octet-stream", user=ANN)
    refused = await chat.expect("不支持 .exe 文件")
    assert "PDF" in refused["text"]

    # the same limits at the attachment step of a follow-up; the step stays open afterwards
    await _log_until(chat, "电话沟通", "有附件吗", card_open=True)
    api.push_document(
        ANN.id, b"%PDF-1.4 tiny", "合同.pdf", "application/pdf", user=ANN, file_size=25 * 1024 * 1024
    )
    await chat.expect("文件太大(25.0 MB)")
    api.push_document(ANN.id, b"MZ\x90\x00", "报价.exe", "application/x-msdownload", user=ANN)
    await chat.expect("不支持 .exe 文件")
    await chat.tap("完成")
    await chat.expect("请核对跟进记录")
    await chat.tap("保存")
    await chat.expect("跟进记录已保存")

    assert api.calls_to("getFile") == [] and api.downloads == []
    assert await _attachments(bot.db) == []
    assert _files_on_disk(bot.attachments_dir) == []
    async with bot.db.sessions() as s:
        customer = await s.get(Customer, bot.customer_id)
        assert customer is not None and customer.name == COMPANY


async def test_an_image_sent_as_a_file_comes_back_as_an_upload_when_its_id_is_refused_as_a_photo(
    bot: Bot,
) -> None:
    """Kept as a photo (by its .jpg name), but Telegram answers sendPhoto with a document's file_id
    'type of file mismatch': the bot then uploads the stored bytes under the normalised name."""
    chat, api = bot.chat, bot.api
    chat.say("/find 数澜")
    await chat.expect(COMPANY)
    pushed = api.push_document(ANN.id, PHOTO, "机房.jpg", "image/jpeg", user=ANN)["message"]["document"]
    await chat.expect(f"已保存到“{COMPANY}”的附件")
    (a,) = await _attachments(bot.db)
    assert (a.kind, a.telegram_file_id) == ("photo", pushed["file_id"])
    assert a.file_name.startswith(f"{bot.number}_photo_") and a.file_name.endswith(".jpg")

    chat.say("/find 数澜")
    card = await chat.expect(COMPANY)
    mark = api.mark()
    await chat.tap("附件(1)", card)
    await chat.expect("共 1 个")
    refused = await api.wait_for(lambda c: c.method == "sendPhoto", since=mark)
    assert (refused.status, refused.params["photo"]) == (400, pushed["file_id"])
    upload = await api.wait_for(lambda c: c.method == "sendDocument" and c.ok, since=mark)
    document = upload.params["document"]
    assert (document.filename, document.data) == (a.file_name, PHOTO)
