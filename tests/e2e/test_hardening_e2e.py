"""Hardening through the real Application and the Bot API stand-in: groups, update ids that restart,
a reply lost on the way, an edited answer, the bot added to and removed from a group."""

from __future__ import annotations

import itertools
from collections.abc import AsyncIterator

import pytest
from sqlalchemy import select

from bot.config import Settings
from bot.router import Router
from bot.runtime import Runtime
from bot.telegram_app import on_start
from storage import repo
from storage.models import Conversation, User
from tests.conftest import Database
from tests.e2e.conftest import Chat, application
from tests.e2e.fake_bot_api import DEFAULT_TOKEN, FakeBotApi, FakeUser, started

ANN = FakeUser(5101, "Ann", last_name="Lee", language_code="en")
GROUP = -1001234567890
_ids = itertools.count(1)


@pytest.fixture
async def bot(fake_api: FakeBotApi, db: Database, request: pytest.FixtureRequest) -> AsyncIterator[Chat]:
    async with db.sessions.begin() as s:
        await repo.add_user(s, ANN.id, "Ann Lee", "sales")
    settings = Settings.load(
        bot_token=DEFAULT_TOKEN, bot_api_url=fake_api.base_url, bot_file_url=fake_api.base_file_url
    )
    runtime = Runtime(settings, db.engine, db.sessions, Router(db.sessions))
    app = application(fake_api, settings, runtime, quick_typist=True)
    # a test that makes a send fail on purpose expects the handler to raise (PTB then runs on_error)
    expected_errors = request.node.get_closest_marker("send_fails") is not None
    async with started(app, fail_on_handler_error=not expected_errors):
        await on_start(app)
        yield Chat(fake_api, ANN)


async def test_in_a_group_the_bot_points_to_a_private_chat_once_and_shows_nothing(
    bot: Chat, fake_api: FakeBotApi, db: Database
) -> None:
    eve = FakeUser(5999, "Eve", language_code="en")
    fake_api.push_text(GROUP, "/my", user=ANN)
    told = await fake_api.next_message(GROUP, timeout=10)
    assert "private chat" in told["text"] and "https://t.me/" in told["text"]
    fake_api.push_text(GROUP, "/new_customer", user=ANN)
    fake_api.push_text(GROUP, "/start", user=eve)
    fake_api.push_text(GROUP, "Acme", user=ANN)
    await fake_api.no_message(GROUP, within=1.0)
    bot.say("/help")  # in private she is served as usual
    await bot.expect("/log")
    async with db.sessions() as s:
        ann = (await s.execute(select(User).where(User.telegram_id == ANN.id))).scalar_one()
        assert ann.chat_id == ANN.id  # the group never became her chat


async def test_being_added_to_and_removed_from_a_group_breaks_nothing(
    bot: Chat, fake_api: FakeBotApi
) -> None:
    me = {"id": 1, "is_bot": True, "first_name": "CRM"}
    for old, new in (("left", "member"), ("member", "kicked")):
        fake_api.push_update(
            {
                "my_chat_member": {
                    "chat": {"id": GROUP, "type": "supergroup", "title": "Sales"},
                    "from": ANN.to_dict(),
                    "date": 1_790_000_000,
                    "old_chat_member": {"user": me, "status": old},
                    "new_chat_member": {"user": me, "status": new, "until_date": 0},
                }
            }
        )
    await fake_api.no_message(GROUP, within=0.5)
    bot.say("/help")
    await bot.expect("/log")


async def test_update_ids_starting_again_lower_are_still_answered(bot: Chat, fake_api: FakeBotApi) -> None:
    fake_api.restart_update_ids(700_000)
    bot.say("/help")
    await bot.expect("/log")
    bot.say("/new_customer")
    await bot.expect("What kind of customer")
    fake_api.restart_update_ids(12)  # a week of silence later, Telegram starts again from a low id
    bot.say("/cancel")
    await bot.expect("Cancelled")
    bot.say("/help")
    await bot.expect("/log")


@pytest.mark.send_fails
async def test_an_answer_after_a_lost_question_is_not_applied_to_it(
    bot: Chat, fake_api: FakeBotApi, db: Database
) -> None:
    bot.say("/new_customer")
    await bot.expect("What kind of customer")
    # the press edits the question into "→ Individual" + "real name?": that call is lost on the way
    fake_api.fail_next("editMessageText", chat_id=ANN.id, error_code=502, count=1)
    await bot.tap("Individual")
    await bot.expect("went wrong")  # the error notice; the question itself never arrived
    bot.say("We sell software to hospitals")  # meant for something else
    await bot.expect("not sure my last question reached you")
    await bot.expect("real name")
    bot.say("Zhang Wei")
    await bot.expect("status")  # applied to the question she saw, and the flow goes on
    async with db.sessions() as s:
        row = (await s.execute(select(Conversation))).scalar_one()
        assert row.state["answers"]["name"] == "Zhang Wei"


async def test_an_edited_answer_corrects_the_field(bot: Chat, fake_api: FakeBotApi, db: Database) -> None:
    bot.say("/new_customer")
    await bot.expect("What kind of customer")
    await bot.tap("Individual")
    await bot.expect("real name")
    typed = fake_api.push_text(ANN.id, "Jon Smith", user=ANN)
    await bot.expect("status")
    fake_api.push_edit(ANN.id, typed["message"]["message_id"], "John Smith", user=ANN)
    fixed = await bot.expect("Corrected")
    assert "John Smith" in fixed["text"]
    async with db.sessions() as s:
        row = (await s.execute(select(Conversation))).scalar_one()
        assert row.state["answers"]["name"] == "John Smith"


NAME, PHONE, EMAIL = "王小明", "13812345678", "wangxm@example.com"


@pytest.mark.send_fails
async def test_a_conversation_at_debug_with_a_failed_save_logs_no_personal_data_nor_the_token(
    bot: Chat, fake_api: FakeBotApi, monkeypatch: pytest.MonkeyPatch
) -> None:
    import io
    import logging

    from sqlalchemy.exc import IntegrityError

    from bot import logsafe
    from storage import repo as repo_module

    async def refuse(*args: object, **kwargs: object) -> None:
        params = {"name": NAME, "phone": "+86" + PHONE, "email": EMAIL}
        raise IntegrityError(
            "INSERT INTO customers (name, phone, email) VALUES (?, ?, ?)", params, Exception(EMAIL)
        )

    monkeypatch.setattr(repo_module, "create_customer", refuse)
    stream = io.StringIO()
    handler = logging.StreamHandler(stream)
    handler.setFormatter(logging.Formatter(logsafe.FORMAT))
    root = logging.getLogger()
    levels = {name: logging.getLogger(name).level for name in ("", *logsafe.CAPPED)}
    root.addHandler(handler)
    logsafe.setup_logging(logging.DEBUG, DEFAULT_TOKEN)
    try:
        bot.say("/new_customer")
        await bot.expect("What kind of customer")
        await bot.tap("Individual")
        for _ in range(80):
            message = await fake_api.next_message(ANN.id, timeout=10)
            text = message.get("text") or ""
            labels = [
                b["text"]
                for row in (message.get("reply_markup") or {}).get("inline_keyboard", [])
                for b in row
            ]
            if "went wrong" in text:
                break
            if any("Save" in x for x in labels):
                await bot.tap("Save", message)
            elif "real name" in text:
                bot.say(NAME)
            elif "Phone?" in text:
                bot.say(PHONE)
            elif "E-mail" in text or "e-mail" in text:
                bot.say(EMAIL)
            elif labels:
                pick = next(
                    (x for x in labels for want in ("Skip", "Later", "Potential", "Different") if want in x),
                    None,
                )
                if pick is not None:
                    await bot.tap(pick, message)
        else:
            raise AssertionError("the save never failed\n" + fake_api.transcript(ANN.id))
    finally:
        logsafe.uninstall()
        root.removeHandler(handler)
        for name, level in levels.items():
            logging.getLogger(name).setLevel(level)
    logged = stream.getvalue()
    assert "IntegrityError" in logged  # the failure is logged, as its type
    for secret in (NAME, PHONE, EMAIL, DEFAULT_TOKEN, DEFAULT_TOKEN.split(":")[1]):
        assert secret not in logged
