"""Records read back whole and keep their rules, through the real python-telegram-bot Application and
the local Bot API stand-in, on SQLite and PostgreSQL: the card's History and Changes, a follow-up
corrected from its full text, and a credit code that is not saved twice."""

from __future__ import annotations

import datetime as dt
from collections.abc import AsyncIterator

import pytest
from sqlalchemy import select

from bot.config import Settings
from bot.router import Router
from bot.runtime import Runtime
from storage import repo
from storage.models import Change, Customer, FollowUp
from tests.conftest import Database
from tests.e2e.conftest import Chat, application
from tests.e2e.fake_bot_api import DEFAULT_TOKEN, FakeBotApi, FakeUser, started

ANN = FakeUser(5101, "芳", last_name="王", language_code="zh-hans")
CODE = "91440300708461136T"
CONTENT = "拜访了对方采购部门,讨论了报价和实施方案的细节,对方下周给答复。"


@pytest.fixture
async def bot(fake_api: FakeBotApi, db: Database) -> AsyncIterator[Chat]:
    """The production Application on the test database; Ann owns 华为 with two follow-ups."""
    now = dt.datetime.now(dt.UTC)
    async with db.sessions.begin() as s:
        ann = await repo.add_user(s, ANN.id, "王芳", "sales")
        answers = {
            "kind": "enterprise",
            "name": "华为技术有限公司",
            "credit_code": CODE,
            "status": "potential",
        }
        customer = await repo.create_customer(s, ann, answers, [], now, now.date())
        for days, content in ((3, "电话沟通了报价,对方希望下周二前收到正式报价单。"), (1, CONTENT)):
            day = (now - dt.timedelta(days=days)).date().isoformat()
            await repo.create_followup(
                s, ann, customer.id, {"occurred_on": day, "mode": "visit", "content": content}, [], now
            )
    settings = Settings.load(
        bot_token=DEFAULT_TOKEN, bot_api_url=fake_api.base_url, bot_file_url=fake_api.base_file_url
    )
    runtime = Runtime(settings, db.engine, db.sessions, Router(db.sessions))
    async with started(application(fake_api, settings, runtime, quick_typist=True)):
        yield Chat(fake_api, ANN)


async def test_history_shows_the_full_text_and_a_corrected_followup_appears_in_changes(
    bot: Chat, db: Database
) -> None:
    bot.say("/find 华为")
    card = await bot.expect("华为技术有限公司")
    assert f"信用代码:{CODE}" in card["text"]
    await bot.tap("全部跟进(2)")
    page = await bot.expect("共 2 条")
    assert page["text"].index("拜访了对方采购部门") < page["text"].index("电话沟通了报价")  # newest first
    await bot.tap("📄 1")
    full = await bot.expect("📄 跟进记录")
    assert CONTENT in full["text"] and "录入" in full["text"]
    await bot.tap("修改这条跟进")
    await bot.expect("要修改哪一项")
    await bot.tap("需求状态")
    await bot.expect("需求状态?")
    await bot.tap("跟进中")
    await bot.expect("修改原因")
    bot.say("补充需求状态")
    await bot.expect("请确认修改")
    await bot.tap("保存")
    await bot.expect("变更历史")
    await bot.expect("🏢 华为技术有限公司")  # the card again, now with its Changes
    await bot.tap("变更记录")
    changes = await bot.expect("的变更记录")
    assert "需求状态:(空) → 跟进中" in changes["text"] and "原因:补充需求状态" in changes["text"]
    async with db.sessions() as s:
        f = (await s.execute(select(FollowUp).order_by(FollowUp.id.desc()))).scalars().first()
        assert f is not None and f.demand_status == "in_progress"
        assert (await s.execute(select(Change.field))).scalar_one() == "demand_status"


async def test_a_second_customer_with_the_same_credit_code_is_refused(bot: Chat, db: Database) -> None:
    bot.say("/new_customer")
    await bot.expect("客户类型")
    await bot.tap("企业客户")
    await bot.expect("工商注册全称")
    bot.say("华为技术有限公司")
    await bot.expect("可能已有这个客户")
    await bot.tap("不是同一个客户")
    await bot.expect("统一社会信用代码")
    bot.say(CODE)
    await bot.expect("不能保存两次")
    await bot.tap("重新输入信用代码")
    await bot.expect("统一社会信用代码")
    async with db.sessions() as s:
        assert len((await s.execute(select(Customer))).scalars().all()) == 1


EVE = FakeUser(5102, "Eve", language_code="en")


async def test_a_followups_pending_field_reminder_comes_in_english_and_opens_that_field(
    fake_api: FakeBotApi, db: Database
) -> None:
    """Eve's Telegram is in English and she never used /lang: the reminder and its buttons are English;
    its Fill button opens exactly the follow-up's pending field."""
    now = dt.datetime.now(dt.UTC)
    async with db.sessions.begin() as s:
        eve = await repo.add_user(s, EVE.id, "Eve", "sales")
        eve.quiet_start = eve.quiet_end = "00:00"  # the real clock: whatever the hour, no quiet hours
        answers = {"kind": "enterprise", "name": "Acme Trading Co., Ltd.", "status": "potential"}
        customer = await repo.create_customer(s, eve, answers, [], now, now.date())
        f = await repo.create_followup(
            s,
            eve,
            customer.id,
            {"occurred_on": now.date().isoformat(), "mode": "phone", "content": CONTENT},
            ["demand_status"],
            now,
        )
        f.pending_since = now - dt.timedelta(days=8)
    settings = Settings.load(
        bot_token=DEFAULT_TOKEN,
        bot_api_url=fake_api.base_url,
        bot_file_url=fake_api.base_file_url,
        reminder_poll_seconds=0.2,
        reminder_scan_minutes=0.01,
    )
    runtime = Runtime(settings, db.engine, db.sessions, Router(db.sessions))
    app = application(fake_api, settings, runtime, quick_typist=True)
    chat = Chat(fake_api, EVE)
    async with started(app):
        chat.say("/help")  # her first message: the language it comes in is kept
        await chat.expect("/new_customer")
        assert app.post_init is not None and app.post_stop is not None
        await app.post_init(app)
        try:
            note = await chat.expect("still has fields to fill in", timeout=15)
            assert "Acme Trading Co., Ltd." in note["text"] and "Demand status" in note["text"]
            await chat.tap("Fill in Demand status", note)
            await chat.expect("Demand status?")
            await chat.tap("In progress")
            await chat.expect("Reason for the change")
            chat.say("filled in")
            await chat.expect("Please confirm")
            await chat.tap("Save")
            await chat.expect("Change saved")
        finally:
            await app.post_stop(app)
    async with db.sessions() as s:
        saved = await s.get(FollowUp, f.id)
        assert saved is not None and (saved.demand_status, saved.pending) == ("in_progress", [])
