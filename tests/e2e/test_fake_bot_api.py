"""The fake Bot API driven by real PTB: if these pass, PTB cannot tell it from Telegram for our uses."""

from __future__ import annotations

import asyncio
import contextlib
import time
from collections.abc import AsyncIterator

import pytest
from telegram import (
    Bot,
    InlineKeyboardButton,
    InlineKeyboardMarkup,
    InputFile,
    KeyboardButton,
    Message,
    ReplyKeyboardMarkup,
    Update,
)
from telegram.constants import ParseMode
from telegram.error import (
    BadRequest,
    Conflict,
    EndPointNotFound,
    Forbidden,
    NetworkError,
    RetryAfter,
    TimedOut,
)
from telegram.ext import (
    AIORateLimiter,
    CallbackQueryHandler,
    CommandHandler,
    ContextTypes,
    MessageHandler,
    filters,
)

from tests.e2e.fake_bot_api import DEFAULT_TOKEN, FakeBotApi, FakeUser, parse_formatted, started

CHAT = 424242
KB = InlineKeyboardMarkup([[InlineKeyboardButton("是 Yes", callback_data="y")]])


@pytest.fixture
async def bot(fake_api: FakeBotApi) -> AsyncIterator[Bot]:
    async with fake_api.bot() as bot:
        yield bot


async def test_get_me_uses_token_id_and_unknown_methods_are_recorded(fake_api: FakeBotApi, bot: Bot) -> None:
    me = await bot.get_me()
    assert me.id == int(DEFAULT_TOKEN.split(":")[0])
    assert me.is_bot and me.username == "crm_test_bot"
    assert fake_api.tokens == {DEFAULT_TOKEN}

    with pytest.raises(EndPointNotFound):
        await bot.do_api_request("sendDice", api_kwargs={"chat_id": CHAT})
    assert [c.method for c in fake_api.unknown_calls] == ["sendDice"]
    fake_api.unknown_calls.clear()  # expected here; the fixture would fail the test otherwise


async def test_send_and_edit_keep_the_chat_as_telegram_shows_it(fake_api: FakeBotApi, bot: Bot) -> None:
    sent = await bot.send_message(CHAT, "选择", reply_markup=KB)
    assert sent.message_id == 1 and sent.reply_markup == KB and sent.from_user and sent.from_user.is_bot
    assert fake_api.labels(CHAT) == [["是 Yes"]]
    assert (await fake_api.next_message(CHAT))["text"] == "选择"

    edited = await bot.edit_message_text("已选择", chat_id=CHAT, message_id=sent.message_id, reply_markup=KB)
    assert isinstance(edited, Message) and edited.edit_date is not None
    with pytest.raises(BadRequest, match=r"(?i)message is not modified"):
        await bot.edit_message_text("已选择", chat_id=CHAT, message_id=sent.message_id, reply_markup=KB)
    # Omitting reply_markup on an edit removes the keyboard, as Telegram does.
    await bot.edit_message_text("已选择", chat_id=CHAT, message_id=sent.message_id)
    assert fake_api.texts(CHAT) == ["已选择"] and fake_api.labels(CHAT) == []

    first_edit = await fake_api.next_message(CHAT)
    assert first_edit["reply_markup"]["inline_keyboard"][0][0]["callback_data"] == "y"
    assert "reply_markup" not in await fake_api.next_message(CHAT)
    await fake_api.no_message(CHAT, within=0.05)

    assert await bot.delete_message(CHAT, sent.message_id)
    assert fake_api.messages(CHAT) == []
    with pytest.raises(BadRequest, match=r"(?i)message to edit not found"):
        await bot.edit_message_text("x", chat_id=CHAT, message_id=sent.message_id)


async def test_validation_matches_telegram(bot: Bot) -> None:
    ok_data = "客" * 21  # 63 bytes in UTF-8
    await bot.send_message(
        CHAT, "ok", reply_markup=InlineKeyboardMarkup([[InlineKeyboardButton("a", callback_data=ok_data)]])
    )
    too_long = InlineKeyboardMarkup([[InlineKeyboardButton("a", callback_data="x" * 65)]])
    with pytest.raises(BadRequest, match=r"(?i)BUTTON_DATA_INVALID"):
        await bot.send_message(CHAT, "too long data", reply_markup=too_long)
    with pytest.raises(BadRequest, match=r"(?i)message text is empty"):
        await bot.send_message(CHAT, "")
    await bot.send_message(CHAT, "字" * 4096)
    with pytest.raises(BadRequest, match=r"(?i)message is too long"):
        await bot.send_message(CHAT, "字" * 4097)
    with pytest.raises(BadRequest, match=r"(?i)can't parse entities"):
        await bot.send_message(CHAT, "price < 5", parse_mode=ParseMode.HTML)
    with pytest.raises(BadRequest, match=r"(?i)character '\(' is reserved"):
        await bot.send_message(CHAT, "Acme (Shanghai)", parse_mode=ParseMode.MARKDOWN_V2)
    html = await bot.send_message(CHAT, "<b>Acme</b> &amp; 合作", parse_mode=ParseMode.HTML)
    assert html.text == "Acme & 合作" and html.text_html == "<b>Acme</b> &amp; 合作"


@pytest.mark.parametrize(
    ("text", "mode", "plain", "kinds"),
    [
        ("<b>粗</b><i>x</i>", "HTML", "粗x", ["bold", "italic"]),
        ('<a href="https://e.x">l</a>', "HTML", "l", ["text_link"]),
        ('<pre><code class="language-py">x</code></pre>', "HTML", "x", ["pre"]),
        (
            "*b* _i_ __u__ ||s|| `c` \\.",
            "MarkdownV2",
            "b i u s c .",
            ["bold", "italic", "underline", "spoiler", "code"],
        ),
        ("[客户](https://e.x/a\\)b)", "MarkdownV2", "客户", ["text_link"]),
        ("*b* _i_", "Markdown", "b i", ["bold", "italic"]),
    ],
)
def test_parse_formatted(text: str, mode: str, plain: str, kinds: list[str]) -> None:
    got_plain, entities = parse_formatted(text, mode)
    assert got_plain == plain
    assert [e["type"] for e in entities] == kinds


async def test_injected_failures_raise_what_ptb_raises(fake_api: FakeBotApi, bot: Bot) -> None:
    fake_api.fail_next("sendMessage", chat_id=CHAT, error_code=429, retry_after=3)
    await bot.send_message(CHAT + 1, "other chat unaffected")
    with pytest.raises(RetryAfter, match=r"(?i)Retry in 3"):
        await bot.send_message(CHAT, "reminder")
    await bot.send_message(CHAT, "reminder")  # count=1: the retry goes through

    fake_api.block(CHAT)
    with pytest.raises(Forbidden, match=r"(?i)bot was blocked by the user"):
        await bot.send_message(CHAT, "reminder")
    fake_api.push_text(CHAT, "hi again")  # a user who writes again has unblocked the bot
    await bot.send_message(CHAT, "reminder")

    fake_api.network_down("drop", count=1)
    with pytest.raises(NetworkError):
        await bot.send_message(CHAT, "lost")
    fake_api.network_down("502")
    with pytest.raises(NetworkError, match=r"(?i)Bad Gateway"):
        await bot.send_message(CHAT, "lost")
    fake_api.network_up()
    await bot.send_message(CHAT, "back")

    statuses = [(c.status, c.performed) for c in fake_api.calls_to("sendMessage", CHAT)]
    assert statuses == [
        (429, False),
        (200, True),
        (403, False),
        (200, True),
        (0, False),
        (502, False),
        (200, True),
    ]
    assert fake_api.texts(CHAT) == ["reminder", "hi again", "reminder", "back"]


async def test_slow_answer_times_out_after_the_message_was_sent(fake_api: FakeBotApi) -> None:
    async with fake_api.bot(read_timeout=0.2) as bot:
        fake_api.delay_next("sendMessage", 1.0)
        with pytest.raises(TimedOut):
            await bot.send_message(CHAT, "sent despite the timeout")
    assert fake_api.texts(CHAT) == ["sent despite the timeout"]


async def test_flood_limits_and_rate_observation(fake_api: FakeBotApi, bot: Bot) -> None:
    fake_api.set_flood_limits(per_chat=2)
    await bot.send_message(CHAT, "1")
    await bot.send_message(CHAT, "2")
    with pytest.raises(RetryAfter):
        await bot.send_message(CHAT, "3")
    await bot.send_message(CHAT + 1, "other chat has its own budget")
    assert fake_api.max_per_second("sendMessage", CHAT) == 2
    assert fake_api.rate("sendMessage", CHAT) > 2  # two sends a few ms apart
    assert set(fake_api.rates_by_chat()) == {CHAT, CHAT + 1}


async def test_files_round_trip(fake_api: FakeBotApi, bot: Bot) -> None:
    pushed = fake_api.push_document(CHAT, b"%PDF-1.4 name card", "名片.pdf", "application/pdf")
    doc_id = pushed["message"]["document"]["file_id"]
    tg_file = await bot.get_file(doc_id)
    assert tg_file.file_size == len(b"%PDF-1.4 name card")
    assert tg_file.file_path and tg_file.file_path.startswith(fake_api.base_file_url)
    assert bytes(await tg_file.download_as_bytearray()) == b"%PDF-1.4 name card"

    voice = fake_api.push_voice(CHAT, b"OggS....", duration=3)["message"]["voice"]
    assert bytes(await (await bot.get_file(voice["file_id"])).download_as_bytearray()) == b"OggS...."

    sent = await bot.send_document(CHAT, InputFile(b"a,b\n1,2\n", filename="export.csv"), caption="导出")
    assert sent.document and sent.document.file_name == "export.csv" and sent.caption == "导出"
    upload = fake_api.calls_to("sendDocument")[0].params["document"]
    assert upload.data == b"a,b\n1,2\n" and upload.filename == "export.csv"
    again = await bot.send_document(CHAT + 1, sent.document.file_id)  # re-send by file_id
    assert again.document and again.document.file_unique_id == sent.document.file_unique_id
    with pytest.raises(BadRequest, match=r"(?i)wrong file identifier"):
        await bot.send_document(CHAT, "no-such-file-id")

    photo = await bot.send_photo(CHAT, b"\xff\xd8\xff fake jpeg")
    assert photo.photo and photo.photo[-1].file_size == len(b"\xff\xd8\xff fake jpeg")
    assert (await bot.send_voice(CHAT, b"OggS", duration=2)).voice is not None
    location = await bot.send_location(CHAT, latitude=31.23, longitude=121.47)
    assert location.location and location.location.latitude == pytest.approx(31.23)
    await bot.send_chat_action(CHAT, "upload_document")


async def test_get_updates_long_polls_confirms_and_redelivers_duplicates(
    fake_api: FakeBotApi, bot: Bot
) -> None:
    assert await bot.get_updates(timeout=0) == ()
    started_at = time.monotonic()
    assert await bot.get_updates(timeout=1) == ()
    assert time.monotonic() - started_at >= 0.9

    async def push_later() -> None:
        await asyncio.sleep(0.1)
        fake_api.push_text(CHAT, "/start", user=FakeUser(CHAT, "王", language_code="zh-hans"))

    pusher = asyncio.create_task(push_later())
    started_at = time.monotonic()
    (first,) = await bot.get_updates(timeout=5)
    await pusher
    assert time.monotonic() - started_at < 1  # answered as soon as the update was queued
    assert first.message and first.message.text == "/start"
    assert first.message.from_user and first.message.from_user.language_code == "zh-hans"
    assert first.message.entities[0].type == "bot_command"

    # Unconfirmed updates come again; offset confirms them.
    assert [u.update_id for u in await bot.get_updates(timeout=0)] == [first.update_id]
    assert await bot.get_updates(offset=first.update_id + 1, timeout=0) == ()

    # Re-pushing the same update_id delivers it once more, even below the confirmed offset.
    fake_api.push_update(fake_api.pushed[0])
    dup = await bot.get_updates(offset=first.update_id + 1, timeout=0)
    assert [u.update_id for u in dup] == [first.update_id]
    assert await bot.get_updates(offset=first.update_id + 1, timeout=0) == ()

    fake_api.push_contact(CHAT, "+8613800138000", "李", "雷", user_id=CHAT)
    fake_api.push_location(CHAT, 31.2, 121.5)
    fake_api.push_photo(CHAT, b"jpeg", caption="名片")
    fake_api.push_text(CHAT, "ignored")
    updates = await bot.get_updates(
        offset=first.update_id + 1, limit=3, allowed_updates=["message"], timeout=0
    )
    contact, location, photo = (u.message for u in updates)
    assert contact and contact.contact and contact.contact.phone_number == "+8613800138000"
    assert location and location.location and location.location.longitude == pytest.approx(121.5)
    assert photo and photo.photo and photo.caption == "名片" and photo.photo[-1].file_size == 4


async def test_a_second_poller_terminates_the_first(fake_api: FakeBotApi, bot: Bot) -> None:
    first = asyncio.create_task(bot.get_updates(timeout=5))
    await asyncio.sleep(0.1)
    async with fake_api.bot() as other:
        assert await other.get_updates(timeout=0) == ()
    with pytest.raises(Conflict, match=r"(?i)terminated by other getUpdates"):
        await first


async def test_reply_keyboard_and_commands(fake_api: FakeBotApi, bot: Bot) -> None:
    share = ReplyKeyboardMarkup(
        [[KeyboardButton("📱 分享号码", request_contact=True)]], one_time_keyboard=True
    )
    await bot.send_message(CHAT, "请分享您的电话", reply_markup=share)
    assert fake_api.reply_keyboard(CHAT) is not None
    fake_api.add_user(FakeUser(CHAT, "王", phone_number="+8613900001111"))
    update = fake_api.press_reply_button(CHAT, "分享")
    assert update["message"]["contact"] == {
        "phone_number": "+8613900001111",
        "first_name": "王",
        "user_id": CHAT,
    }
    assert fake_api.reply_keyboard(CHAT) is None

    await bot.set_my_commands([("new_customer", "新建客户")], language_code="zh")
    assert [c.command for c in await bot.get_my_commands(language_code="zh")] == ["new_customer"]
    assert await bot.get_my_commands() == ()
    with pytest.raises(BadRequest, match=r"(?i)BOT_COMMAND_INVALID"):
        await bot.set_my_commands([("New-Customer", "x")])


async def test_application_conversation_end_to_end(fake_api: FakeBotApi) -> None:
    seen: list[int] = []

    async def start(update: Update, context: ContextTypes.DEFAULT_TYPE) -> None:
        seen.append(update.update_id)
        assert update.effective_message
        keyboard = InlineKeyboardMarkup(
            [[InlineKeyboardButton("新建客户 New customer", callback_data="new")]]
        )
        await update.effective_message.reply_text("你好！", reply_markup=keyboard)

    async def button(update: Update, context: ContextTypes.DEFAULT_TYPE) -> None:
        query = update.callback_query
        assert query
        await query.answer("好的")
        await query.edit_message_text(f"开始：{query.data}")

    async def echo(update: Update, context: ContextTypes.DEFAULT_TYPE) -> None:
        assert update.effective_message and update.effective_message.contact
        await update.effective_message.reply_text(f"收到 {update.effective_message.contact.phone_number}")

    app = fake_api.app_builder().build()
    app.add_handler(CommandHandler("start", start))
    app.add_handler(CallbackQueryHandler(button))
    app.add_handler(MessageHandler(filters.CONTACT, echo))
    started_at = time.monotonic()
    async with started(app):
        update = fake_api.push_text(CHAT, "/start")
        greeting = await fake_api.next_message(CHAT)
        assert greeting["text"] == "你好！"
        assert fake_api.labels(CHAT) == [["新建客户 New customer"]]

        query_id = await fake_api.press(CHAT, "New customer")
        assert (await fake_api.callback_answer(query_id))["text"] == "好的"
        edited = await fake_api.next_message(CHAT)
        assert edited["message_id"] == greeting["message_id"] and edited["text"] == "开始：new"

        fake_api.push_contact(CHAT, "+8613800138000", "李")
        assert (await fake_api.next_message(CHAT))["text"] == "收到 +8613800138000"

        fake_api.push_update(update)  # the same update delivered twice: PTB hands it over twice
        assert (await fake_api.next_message(CHAT))["text"] == "你好！"
    assert seen == [update["update_id"], update["update_id"]]
    assert time.monotonic() - started_at < 5
    assert [m.get("text") for m in fake_api.messages(CHAT)][:2] == ["/start", "开始：new"]
    assert {"getMe", "deleteWebhook", "getUpdates"} <= {c.method for c in fake_api.calls}


async def test_started_reraises_handler_errors(fake_api: FakeBotApi) -> None:
    async def broken(update: Update, context: ContextTypes.DEFAULT_TYPE) -> None:
        raise ValueError("boom")

    app = fake_api.app_builder().build()
    app.add_handler(CommandHandler("start", broken))
    with pytest.raises(AssertionError, match="boom"):
        async with started(app):
            fake_api.push_text(CHAT, "/start")
            await fake_api.wait_for(lambda c: c.method == "getUpdates" and bool(c.result))
            await asyncio.sleep(0.1)


async def test_reminder_task_through_rate_limiter_survives_429_and_reports_blocked(
    fake_api: FakeBotApi,
) -> None:
    errors: list[object] = []

    async def remind() -> None:
        await app.bot.send_message(CHAT, "提醒：回访客户")

    async def on_error(update: object, context: ContextTypes.DEFAULT_TYPE) -> None:
        errors.append(context.error)

    # requests=False so timeouts can be set on the builder, as production code may do.
    app = (
        fake_api.app_builder(requests=False)
        .rate_limiter(AIORateLimiter(max_retries=1))
        .read_timeout(2)
        .build()
    )
    app.add_error_handler(on_error)
    fake_api.fail_next("sendMessage", chat_id=CHAT, error_code=429, retry_after=1)
    async with started(app, fail_on_handler_error=False):
        await app.create_task(remind())  # a task of the Application's: its errors go to on_error
        assert (await fake_api.next_message(CHAT))["text"] == "提醒：回访客户"  # AIORateLimiter retried
        fake_api.block(CHAT)
        with contextlib.suppress(Forbidden):
            await app.create_task(remind())
        await fake_api.wait_for(lambda c: c.status == 403)
        await asyncio.sleep(0.05)  # let PTB hand the error to on_error
    assert [c.status for c in fake_api.calls_to("sendMessage")] == [429, 200, 403]
    assert len(errors) == 1 and isinstance(errors[0], Forbidden)
