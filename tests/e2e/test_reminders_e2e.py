"""Reminders through the real python-telegram-bot Application (its AIORateLimiter included) and the
local Bot API stand-in: delivery, the buttons, 429s, network errors, a blocked user, and a real bot
process killed between claiming reminders and sending them, then started again.

These run on the real clock, so every person here has quiet hours turned off: what is checked must
not depend on the hour the suite runs at (quiet hours are tested with a controllable clock elsewhere).
"""

from __future__ import annotations

import asyncio
import datetime as dt
import os
import signal
import subprocess
from collections.abc import AsyncIterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from bot.config import Settings
from bot.router import Router
from bot.runtime import Runtime
from storage import repo
from storage.db import make_engine, make_sessions, migrate
from storage.models import Conversation, FollowUp, Reminder
from tests.conftest import Database, need_backend
from tests.e2e.conftest import Chat as BaseChat
from tests.e2e.conftest import application, fresh_database, spawn_bot
from tests.e2e.fake_bot_api import DEFAULT_TOKEN, FakeBotApi, FakeUser, started

ANN = FakeUser(6001, "芳", last_name="王", language_code="zh-hans")
DUE = "⏰ 杭州数澜科技有限公司 — "  # how a due follow-up reminder starts
AGREED = ("报价单周二前发出", "演示环境下周搭好", "合同条款请法务确认", "样品寄到上海仓库")


@dataclass
class Seeded:
    customer_id: int
    contact_id: int
    followups: list[int]


async def _seed(sessions: async_sessionmaker[AsyncSession], due: int = 3) -> Seeded:
    """Ann (quiet hours off), her customer with a contact, and `due` follow-ups already due."""
    now = dt.datetime.now(dt.UTC)
    async with sessions.begin() as s:
        ann = await repo.add_user(s, ANN.id, "王芳", "sales")
        ann.quiet_start = ann.quiet_end = "00:00"
        customer = await repo.create_customer(
            s, ann, {"kind": "enterprise", "name": "杭州数澜科技有限公司"}, [], now, now.date()
        )
        contact = await repo.create_contact(s, ann, customer.id, {"name": "张伟"}, [], now)
        ids = []
        for i in range(due):
            f = FollowUp(
                customer_id=customer.id, contact_id=contact.id, occurred_on=now.date(), mode="phone",
                content=f"{AGREED[i % 4]},对方很关心上线时间。", next_at=now - dt.timedelta(minutes=10 - i),
                created_by=ann.id,
            )  # fmt: skip
            s.add(f)
            await s.flush()
            ids.append(f.id)
        return Seeded(customer.id, contact.id, ids)


class Chat(BaseChat):
    """Ann's side of the chat."""

    def __init__(self, api: FakeBotApi) -> None:
        super().__init__(api, ANN)

    def reminders_sent(self) -> list[str]:
        return [
            c.text or ""
            for c in self.api.calls_to("sendMessage", ANN.id, ok_only=True)
            if (c.text or "").startswith(DUE)
        ]


def _settings(api: FakeBotApi, **extra: Any) -> Settings:
    return Settings.load(
        bot_token=DEFAULT_TOKEN,
        bot_api_url=api.base_url,
        bot_file_url=api.base_file_url,
        reminder_poll_seconds=0.2,
        **extra,
    )


@pytest.fixture
async def running(fake_api: FakeBotApi, db: Database) -> AsyncIterator[tuple[Chat, Seeded]]:
    """The production wiring: build_application, post_init starts the reminder loop, post_stop ends it."""
    seeded = await _seed(db.sessions, due=4)
    settings = _settings(fake_api)
    runtime = Runtime(settings, db.engine, db.sessions, Router(db.sessions))
    app = application(fake_api, settings, runtime)
    async with started(app):
        assert app.post_init is not None and app.post_stop is not None
        await app.post_init(app)
        try:
            yield Chat(fake_api), seeded
        finally:
            await app.post_stop(app)
    assert "reminders" not in app.bot_data


async def _due_rows(db: Database, *, settled: bool = True, timeout: float = 5.0) -> list[Reminder]:
    """The due reminders; with settled, once none is between claim and record any more."""
    loop = asyncio.get_running_loop()
    deadline = loop.time() + timeout
    while True:
        async with db.sessions() as s:
            rows = list((await s.execute(select(Reminder).where(Reminder.kind == "due"))).scalars())
        if not settled or all(r.state not in ("claimed", "sending") for r in rows) or loop.time() > deadline:
            return rows
        await asyncio.sleep(0.02)


async def _followup(db: Database, fid: int) -> FollowUp:
    async with db.sessions() as s:
        f = await s.get(FollowUp, fid)
        assert f is not None
        return f


async def test_due_reminders_arrive_once_and_done_snooze_log_and_pick_work(
    running: tuple[Chat, Seeded], db: Database, fake_api: FakeBotApi
) -> None:
    chat, seeded = running
    first = await chat.expect("⏰ 杭州数澜科技有限公司 — 报价单周二前发出")
    second = await chat.expect("演示环境下周搭好")
    third = await chat.expect("合同条款请法务确认")
    fourth = await chat.expect("样品寄到上海仓库")
    assert fake_api.labels(ANN.id, first["message_id"]) == [
        ["📝 记录跟进", "✅ 完成"],
        ["⏰ 1小时后提醒", "🌅 明天 9:00"],
        ["🗓 选个时间"],
    ]
    assert "👤 联系人:张伟" in first["text"]
    assert fake_api.max_per_second("sendMessage", ANN.id) <= 1  # paced for the chat

    await chat.tap("完成", first)
    await chat.expect("已完成:杭州数澜科技有限公司")
    closed = fake_api.message(ANN.id, first["message_id"])
    assert closed["text"].endswith("→ ✅ 完成") and "reply_markup" not in closed  # the tapped one is answered
    assert (await _followup(db, seeded.followups[0])).next_done

    before = dt.datetime.now(dt.UTC)
    await chat.tap("1小时后提醒", second)
    await chat.expect("再提醒你跟进 杭州数澜科技有限公司")
    moved = (await _followup(db, seeded.followups[1])).next_at
    assert moved is not None and dt.timedelta(minutes=59) < moved - before < dt.timedelta(minutes=61)

    await chat.tap("选个时间", third)
    await chat.expect("什么时候再跟进")
    chat.say("明天下午3点")
    echo = await chat.expect("我理解的时间是")
    assert "15:00" in echo["text"]
    await chat.tap("确认")
    await chat.expect("已改期:杭州数澜科技有限公司 的下次跟进时间为")
    picked = (await _followup(db, seeded.followups[2])).next_at
    assert picked is not None and picked.astimezone(dt.timezone(dt.timedelta(hours=8))).hour == 15

    await chat.tap("记录跟进", fourth)
    await chat.expect("沟通日期")  # /log for that customer, the contact already chosen
    async with db.sessions() as s:
        state = (await s.execute(select(Conversation))).scalar_one().state
    assert state["flow"] == "followup"
    assert state["answers"]["customer"]["id"] == seeded.customer_id
    assert state["answers"]["contact"] == {"id": seeded.contact_id, "name": "张伟"}

    await asyncio.sleep(0.6)  # a few more polls: nothing is sent twice
    assert len(chat.reminders_sent()) == 4
    assert [r.state for r in await _due_rows(db)] == ["sent"] * 4


async def test_a_forged_reminder_button_is_refused(
    running: tuple[Chat, Seeded], db: Database, fake_api: FakeBotApi
) -> None:
    chat, seeded = running
    first = await chat.expect("报价单周二前发出")
    async with db.sessions.begin() as s:
        await repo.add_user(s, 6002, "Eve", "sales")
    eve = FakeUser(6002, "Eve", language_code="zh-hans")
    rid = first["reply_markup"]["inline_keyboard"][0][1]["callback_data"].split("|")[2]
    fake_api.push_callback(first["message_id"], f"r|done|{rid}", user=eve, chat_id=ANN.id)
    await chat.expect("无权处理这条提醒")
    assert not (await _followup(db, seeded.followups[0])).next_done


@pytest.mark.slow
async def test_429_network_errors_and_a_blocked_user_through_the_rate_limiter(
    fake_api: FakeBotApi, db: Database
) -> None:
    seeded = await _seed(db.sessions, due=1)
    settings = _settings(fake_api)
    runtime = Runtime(settings, db.engine, db.sessions, Router(db.sessions))
    app = application(fake_api, settings, runtime)
    chat = Chat(fake_api)
    # four 429s: the rate limiter's own three retries are spent, then the outbox retries it later
    fake_api.fail_next("sendMessage", chat_id=ANN.id, error_code=429, retry_after=1, count=4)
    async with started(app):
        assert app.post_init is not None and app.post_stop is not None
        await app.post_init(app)
        try:
            await chat.expect("报价单周二前发出", timeout=20)
            statuses = [c.status for c in fake_api.calls_to("sendMessage", ANN.id)]
            assert statuses == [429, 429, 429, 429, 200]
            (row,) = await _due_rows(db)
            assert (row.state, row.attempts, row.last_error) == ("sent", 2, None)

            fake_api.network_down("drop", methods=["sendMessage"], count=1)
            async with db.sessions.begin() as s:
                f = await s.get(FollowUp, seeded.followups[0])
                assert f is not None
                f.next_at = dt.datetime.now(dt.UTC) - dt.timedelta(seconds=1)  # due again, a new occurrence
            await chat.expect("报价单周二前发出", timeout=10)
            assert [c.status for c in fake_api.calls_to("sendMessage", ANN.id)][-2:] == [0, 200]

            fake_api.block(ANN.id)
            async with db.sessions.begin() as s:
                f = await s.get(FollowUp, seeded.followups[0])
                assert f is not None
                f.next_at = dt.datetime.now(dt.UTC) - dt.timedelta(seconds=1)
            await fake_api.wait_for(lambda c: c.method == "sendMessage" and c.status == 403)
            await asyncio.sleep(1.0)  # five more polls
            assert [c.status for c in fake_api.calls_to("sendMessage", ANN.id)].count(403) == 1  # not retried
            async with db.sessions() as s:
                ann = await repo.user_by_telegram(s, ANN.id)
                assert ann is not None and ann.blocked_at is not None

            chat.say("/start")  # Ann unblocks the bot and writes to it
            await chat.expect("报价单周二前发出", timeout=10)  # the held reminder, now delivered
            assert [r.state for r in await _due_rows(db)] == ["sent"] * 3  # three occurrences, once each
            async with db.sessions() as s:
                ann = await repo.user_by_telegram(s, ANN.id)
                assert ann is not None and ann.blocked_at is None
        finally:
            await app.post_stop(app)


# ---------------------------------------------------------------- a real process, killed mid-delivery


def _stop(proc: subprocess.Popen[bytes]) -> str:
    if proc.poll() is None:
        proc.send_signal(signal.SIGTERM)
        try:
            proc.wait(15)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait(5)
    return (proc.stdout.read() if proc.stdout else b"").decode(errors="replace")


async def _states(sessions: async_sessionmaker[AsyncSession]) -> dict[str, int]:
    async with sessions() as s:
        rows = await s.execute(select(Reminder.state).where(Reminder.kind == "due"))
        states = list(rows.scalars())
    return {state: states.count(state) for state in set(states)}


@pytest.mark.slow
@pytest.mark.parametrize("backend", ["sqlite", pytest.param("postgres", marks=pytest.mark.postgres)])
async def test_a_bot_killed_between_claiming_and_sending_delivers_each_reminder_once_after_restart(
    backend: str, fake_api: FakeBotApi, tmp_path: Path
) -> None:
    await need_backend(backend)
    url, drop = await fresh_database(backend, tmp_path)
    engine = make_engine(url)
    try:
        await migrate(engine)
        sessions = make_sessions(engine)
        await _seed(sessions, due=3)
        env = {
            **{k: v for k, v in os.environ.items() if not k.startswith("CRM_")},
            "CRM_BOT_TOKEN": DEFAULT_TOKEN,
            "CRM_BOT_API_URL": fake_api.base_url,
            "CRM_BOT_FILE_URL": fake_api.base_file_url,
            "CRM_DATABASE_URL": url,
            "CRM_REMINDER_POLL_SECONDS": "0.3",
            "CRM_REMINDER_LEASE_SECONDS": "3",
            "NO_PROXY": "127.0.0.1,localhost",
            "no_proxy": "127.0.0.1,localhost",
        }
        chat = Chat(fake_api)
        first = spawn_bot(env)
        try:
            await chat.expect(DUE, timeout=30)
            # the first is sent and recorded; the other two are claimed, waiting out the 1/s chat pace
            loop = asyncio.get_running_loop()
            deadline = loop.time() + 5
            while (await _states(sessions)) != {"sent": 1, "claimed": 2}:
                assert loop.time() < deadline, await _states(sessions)
                await asyncio.sleep(0.02)
        finally:
            first.send_signal(signal.SIGKILL)
            first.wait(10)
        assert await _states(sessions) == {"sent": 1, "claimed": 2}  # killed between claim and send
        assert len(chat.reminders_sent()) == 1
        second = spawn_bot(env)
        try:
            await chat.expect(DUE, timeout=30)
            await chat.expect(DUE, timeout=10)
            await asyncio.sleep(1.5)  # more polls, more than a lease: nothing comes twice
        finally:
            output = _stop(second)
        sent = chat.reminders_sent()
        assert len(sent) == 3 and len(set(sent)) == 3, sent
        assert await _states(sessions) == {"sent": 3}
        async with sessions() as s:
            rows = (await s.execute(select(Reminder))).scalars().all()
            assert not any(r.unconfirmed for r in rows)
        assert DEFAULT_TOKEN not in output, "the token leaked into the log"
        assert "杭州数澜" not in output and "报价单" not in output, "personal data in the log"
    finally:
        await engine.dispose()
        if drop is not None:
            await drop()
