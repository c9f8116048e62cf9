"""Whole conversations through the real python-telegram-bot Application and a local Bot API stand-in.

In-process tests run on SQLite and PostgreSQL. The kill test starts `crm-bot run` as a real process,
kills it with SIGKILL in the middle of a flow, starts it again and finishes the flow.
"""

from __future__ import annotations

import os
import re
import signal
import subprocess
from collections.abc import AsyncIterator
from pathlib import Path

import pytest
from sqlalchemy import select

from bot.config import Settings
from bot.router import Router
from bot.runtime import Runtime
from bot.telegram_app import on_start
from storage import repo
from storage.db import make_engine, migrate
from storage.models import Customer, FollowUp
from tests.conftest import Database, need_backend
from tests.e2e.conftest import Chat, application, fresh_database, spawn_bot
from tests.e2e.fake_bot_api import DEFAULT_TOKEN, FakeBotApi, FakeUser, started

ANN = FakeUser(5001, "芳", last_name="王", language_code="zh-hans")


def _settings(api: FakeBotApi) -> Settings:
    return Settings.load(bot_token=DEFAULT_TOKEN, bot_api_url=api.base_url, bot_file_url=api.base_file_url)


@pytest.fixture
async def bot(fake_api: FakeBotApi, db: Database) -> AsyncIterator[Chat]:
    """The real Application on the test database, polling the stand-in; Ann is a registered sales rep."""
    async with db.sessions.begin() as s:
        await repo.add_user(s, ANN.id, "王芳", "sales")
    runtime = Runtime(_settings(fake_api), db.engine, db.sessions, Router(db.sessions))
    app = application(fake_api, runtime.settings, runtime, quick_typist=True)
    async with started(app):
        await on_start(app)
        yield Chat(fake_api, ANN)


async def test_start_shows_greeting_and_publishes_the_command_menu(bot: Chat, fake_api: FakeBotApi) -> None:
    bot.say("/start")
    await bot.expect("你好,王芳")
    zh = [c["command"] for c in fake_api.commands()]
    en = [c["command"] for c in fake_api.commands(language_code="en")]
    for menu in (zh, en):
        assert {"new_customer", "new_contact", "log", "find", "my", "cancel", "help"} <= set(menu)


async def test_a_stranger_is_refused_once_with_their_id(bot: Chat, fake_api: FakeBotApi) -> None:
    stranger = Chat(fake_api, FakeUser(777, "Eve", language_code="en"))
    stranger.say("/new_customer")
    message = await stranger.expect("777")
    assert "admin" in message["text"]
    await fake_api.no_message(777, within=0.5)


async def test_new_customer_with_typed_answers_and_buttons(
    bot: Chat, fake_api: FakeBotApi, db: Database
) -> None:
    bot.say("/new_customer")
    await bot.expect("客户类型")
    await bot.tap("企业客户")
    # one call for the press: the answered question keeps its text, shows the choice and becomes the next
    pressed = await bot.expect("→ 企业客户")
    assert "客户类型" in pressed["text"] and "工商注册全称" in pressed["text"]
    bot.say("阿里")
    await bot.expect("❗")  # re-asked with the reason
    bot.say("杭州数澜科技有限公司")
    await bot.expect("统一社会信用代码")
    bot.say("91330100MA27XL3B6A")  # a wrong check character
    await bot.expect("❗")
    await bot.tap("稍后补充")
    await bot.expect("客户状态")
    await bot.tap("潜在客户")
    await bot.expect("所属行业")
    await bot.tap("信息技术")
    await bot.expect("客户等级")
    await bot.tap("跳过")
    await bot.expect("意向等级")
    await bot.tap("B 有意向")
    await bot.expect("详细地址")
    bot.say("浙江省杭州市西湖区文三路259号")
    await bot.expect("联系电话")
    bot.say("0571-88886666")
    await bot.expect("电子邮箱")
    bot.say("sales@shulan.com")
    await bot.expect("客户来源")
    await bot.tap("客户转介绍")
    for prompt in ("主营业务", "当前面临的问题", "兴趣点", "标签", "备注"):
        await bot.expect(prompt)
        await bot.tap("跳过")
    await bot.expect("请核对客户信息")
    await bot.tap("修改某项")
    await bot.expect("要修改哪一项")
    await bot.tap("电话")
    await bot.expect("当前")
    bot.say("13912345678")
    await bot.expect("请核对客户信息")
    await bot.tap("保存")
    saved = await bot.expect("客户已保存")
    assert re.search(r"C\d{8}0001", saved["text"])
    await bot.expect("杭州数澜科技有限公司")  # the card
    async with db.sessions() as s:
        customer = (await s.execute(select(Customer))).scalar_one()
        assert (customer.phone, customer.pending, customer.city) == (
            "+8613912345678",
            ["credit_code"],
            "杭州市",
        )


async def test_log_a_followup_with_a_natural_time_and_a_redelivered_update(
    bot: Chat, fake_api: FakeBotApi, db: Database
) -> None:
    async with db.sessions.begin() as s:
        ann = await repo.user_by_telegram(s, ANN.id)
        assert ann is not None
        import datetime as dt

        now = dt.datetime.now(dt.UTC)
        await repo.create_customer(
            s, ann, {"kind": "enterprise", "name": "杭州数澜科技有限公司"}, [], now, now.date()
        )
    bot.say("/log")
    await bot.expect("跟进哪个客户")
    await bot.tap("杭州数澜科技有限公司")
    await bot.expect("沟通日期")
    await bot.tap("今天")
    await bot.expect("沟通方式")
    await bot.tap("电话沟通")
    await bot.expect("沟通内容")
    bot.say("电话沟通了报价,对方希望下周二前收到正式报价单和实施计划书。")
    await bot.expect("需求状态")
    fake_api.push_update(dict(fake_api.pushed[-1]))  # Telegram delivers the same update again
    await bot.tap("跟进中")
    await bot.expect("下次跟进时间")
    bot.say("明天上午10点")
    echo = await bot.expect("我理解的时间是")
    assert "10:00" in echo["text"]
    await bot.tap("确认")
    await bot.expect("参与人员")
    await bot.tap("跳过")
    await bot.expect("有附件吗")
    await bot.tap("跳过")
    await bot.expect("请核对跟进记录")
    await bot.tap("保存")
    await bot.expect("跟进记录已保存")
    async with db.sessions() as s:
        followups = (await s.execute(select(FollowUp))).scalars().all()
        assert len(followups) == 1 and followups[0].next_at is not None


# ---------------------------------------------------------------- a real process, killed mid-flow


@pytest.mark.slow
@pytest.mark.parametrize("backend", ["sqlite", pytest.param("postgres", marks=pytest.mark.postgres)])
async def test_killed_mid_flow_and_started_again_continues_at_the_same_question(
    backend: str, fake_api: FakeBotApi, tmp_path: Path
) -> None:
    await need_backend(backend)
    url, drop = await fresh_database(backend, tmp_path)
    try:
        engine = make_engine(url)
        await migrate(engine)
        async with engine.begin() as conn:
            from sqlalchemy.ext.asyncio import AsyncSession

            async with AsyncSession(bind=conn) as s:
                await repo.add_user(s, ANN.id, "王芳", "sales")
                await s.commit()
        await engine.dispose()
        env = {
            **{k: v for k, v in os.environ.items() if not k.startswith("CRM_")},
            "CRM_BOT_TOKEN": DEFAULT_TOKEN,
            "CRM_BOT_API_URL": fake_api.base_url,
            "CRM_BOT_FILE_URL": fake_api.base_file_url,
            "CRM_DATABASE_URL": url,
            "NO_PROXY": "127.0.0.1,localhost",
            "no_proxy": "127.0.0.1,localhost",
        }
        chat = Chat(fake_api, ANN)
        first = spawn_bot(env)
        try:
            chat.say("/new_customer")
            await chat.expect("客户类型", timeout=30)
            await chat.tap("个人客户")
            await chat.expect("真实姓名")
            chat.say("张三")
            await chat.expect("客户状态")
        finally:
            first.send_signal(signal.SIGKILL)
            first.wait(10)
        second = spawn_bot(env)
        try:
            await chat.tap("潜在客户")  # a button of the question asked before the kill
            await chat.expect("所属行业", timeout=30)
        finally:
            second.send_signal(signal.SIGTERM)
            try:
                second.wait(15)
            except subprocess.TimeoutExpired:
                second.kill()
        output = (second.stdout.read() if second.stdout else b"").decode(errors="replace")
        assert DEFAULT_TOKEN not in output, "the token leaked into the log"
    finally:
        if drop is not None:
            await drop()
