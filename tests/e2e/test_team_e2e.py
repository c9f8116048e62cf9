"""The manager's desk through the real Application and the local Bot API stand-in, on both backends:
a region manager proposes a change, the owner gets it from the outbox and approves it with a tap,
the owner records a deal, the manager merges a duplicate, an outsider sees none of it."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from typing import Any

import pytest
from sqlalchemy import select

from bot.config import Settings
from bot.delivery import Reminders
from bot.router import Router
from bot.runtime import Runtime
from bot.senders import TelegramSender
from bot.telegram_app import on_start
from storage.models import Change, Customer, Deal
from tests.conftest import Clock, Database
from tests.e2e.conftest import Chat, application
from tests.e2e.fake_bot_api import DEFAULT_TOKEN, FakeBotApi, FakeUser, started
from tests.team_setup import ANN, BEN, BOSS, OUT, REGION, cast

SHULAN, XIHU = "杭州数澜科技有限公司", "杭州西湖贸易有限公司"


def _user(tid: int, name: str) -> FakeUser:
    return FakeUser(tid, name, language_code="zh-hans")


@pytest.fixture
async def desk(fake_api: FakeBotApi, db: Database, clock: Clock) -> AsyncIterator[tuple[Any, dict[str, int]]]:
    c = await cast(db, clock)
    settings = Settings.load(
        bot_token=DEFAULT_TOKEN, bot_api_url=fake_api.base_url, bot_file_url=fake_api.base_file_url
    )
    runtime = Runtime(settings, db.engine, db.sessions, Router(db.sessions, clock=clock))
    app = application(fake_api, settings, runtime, quick_typist=True)
    async with started(app):
        await on_start(app)
        yield app, c.ids


async def _until(chat: Chat, *fragments: str, timeout: float = 10.0) -> dict[str, Any]:
    """The next bot message with buttons containing any of the fragments (a closed question's edit,
    which keeps its text but not its buttons, is passed over)."""
    loop = asyncio.get_running_loop()
    deadline = loop.time() + timeout
    while (remaining := deadline - loop.time()) > 0:
        message = await chat.api.next_message(chat.user.id, timeout=remaining)
        live = (message.get("reply_markup") or {}).get("inline_keyboard")
        if live and any(f in (message.get("text") or "") for f in fragments):
            return message
    raise AssertionError(f"none of {fragments}\n{chat.api.transcript(chat.user.id)}")


async def test_the_managers_desk_end_to_end(
    desk: tuple[Any, dict[str, int]], fake_api: FakeBotApi, db: Database, clock: Clock
) -> None:
    app, ids = desk
    rita, ann, boss, otto = (
        Chat(fake_api, _user(REGION, "Rita")),
        Chat(fake_api, _user(ANN, "Ann")),
        Chat(fake_api, _user(BOSS, "Boss")),
        Chat(fake_api, _user(OUT, "Otto")),
    )
    # a region manager proposes a change to a customer of her region
    rita.say("/find 数澜")
    await rita.expect(SHULAN)
    await rita.tap("提议修改")
    await rita.expect("要修改哪一项")
    await rita.tap("电话")
    await rita.expect("电话")
    rita.say("13911112222")
    await rita.expect("原因")
    rita.say("客户换了总机号码")
    await rita.expect("请确认修改申请")
    await rita.tap("保存")
    await rita.expect("等待 Ann、Boss 审批")

    # the owner receives it from the outbox, through the real bot, and approves it with a tap
    outbox = Reminders(db.sessions, TelegramSender(app.bot), clock=clock, chat_interval=0, scan_seconds=0)
    await outbox.tick()
    notice = await ann.expect("Rita 申请修改")
    await ann.tap("批准", notice)
    await ann.expect("已批准")
    await outbox.tick()
    await rita.expect("已被 Ann 批准")

    # the owner records a deal from the card
    ann.say("/find 数澜")
    await ann.expect(SHULAN)
    await ann.tap("记录交易")
    await ann.expect("成交日期")
    ann.say("今天")
    await ann.expect("产品或服务")
    ann.say("数据中台")
    await ann.expect("金额")
    ann.say("1.2w")
    await ann.expect("¥12,000.00(1.2万)")
    await ann.tap("确认")
    await ann.expect("付款方式")
    await ann.tap("支付宝")
    await ann.expect("请核对交易记录")
    await ann.tap("保存")
    await ann.expect("交易 1 笔,合计 ¥12,000.00(1.2万)")

    # the manager merges Ben's customer into Ann's
    boss.say("/find 西湖")
    await boss.expect(XIHU)
    await boss.tap("合并到")
    pick = await boss.expect("合并到哪个客户")
    await boss.tap(SHULAN, pick)
    for _ in range(8):
        message = await _until(boss, "保留哪一个", "合并原因")
        if "合并原因" in message["text"]:
            break
        await boss.tap("保留的", message)
    boss.say("同一家公司的两个名字")
    await boss.expect("合并预览")
    await boss.tap("保存")
    await boss.expect("已合并到")

    # the merged customer's old owner no longer sees it; the outsider sees none of it
    ben = Chat(fake_api, _user(BEN, "Ben"))
    ben.say("/find 西湖")
    await ben.expect("没有找到")
    otto.say("/find 数澜")
    await otto.expect("没有找到")
    async with db.sessions() as s:
        merged = await s.get(Customer, ids[XIHU])
        kept = await s.get(Customer, ids[SHULAN])
        assert merged is not None and merged.merged_into_id == ids[SHULAN]
        assert kept is not None and kept.phone == "+8613911112222"
        deal = (await s.execute(select(Deal))).scalar_one()
        assert (str(deal.amount), deal.payment_method) == ("12000.00", "alipay")
        proposed = (await s.execute(select(Change).where(Change.field == "phone"))).scalar_one()
        assert proposed.proposed_by is not None
