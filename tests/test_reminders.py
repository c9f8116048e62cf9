"""Reminders: the scheduling rules with a controllable clock, exactly-once delivery across crashes and
processes, and the reminder buttons through the assistant (no Telegram: a Sender that records).

Run as `python -m tests.test_reminders worker …` this module is also the worker process of the
two-process race on PostgreSQL.
"""

from __future__ import annotations

import asyncio
import datetime as dt
import subprocess
import sys
import time
from pathlib import Path
from typing import Any
from zoneinfo import ZoneInfo

import pytest
from sqlalchemy import func, select
from sqlalchemy.ext.asyncio import AsyncEngine

from bot.delivery import Blocked, Rejected, Reminders, Report, RetryLater
from bot.router import Router
from flows import reminders as rules
from flows.engine import Reply
from flows.reminders import Quiet
from storage import reminders as store
from storage import repo
from storage.db import make_engine, make_sessions
from storage.models import Change, Conversation, Customer, FollowUp, Reminder
from tests.conftest import PG_URL, Clock, Database
from tests.people import Person

SH = ZoneInfo("Asia/Shanghai")
ANN, BOB, BOSS, ADMIN = 1001, 1002, 1003, 1004
ROOT = Path(__file__).resolve().parents[1]
CONTENT = "电话沟通了报价,对方希望下周二前收到正式报价单和实施计划书。"


def local(y: int, mo: int, d: int, h: int = 0, mi: int = 0, sec: int = 0) -> dt.datetime:
    return dt.datetime(y, mo, d, h, mi, sec, tzinfo=SH)


# ================================================================ the rules, pure


def test_quiet_hours_across_midnight_and_within_a_day() -> None:
    night = Quiet.of("22:00", "08:00")
    assert night.contains(local(2026, 11, 22, 23, 30)) and night.contains(local(2026, 11, 23, 7, 59))
    assert not night.contains(local(2026, 11, 22, 8, 0)) and not night.contains(local(2026, 11, 22, 21, 59))
    assert night.ends_after(local(2026, 11, 22, 23, 30)) == local(2026, 11, 23, 8, 0)
    assert night.ends_after(local(2026, 11, 23, 3, 0)) == local(2026, 11, 23, 8, 0)
    siesta = Quiet.of("12:00", "14:00")
    assert siesta.contains(local(2026, 11, 22, 13)) and not siesta.contains(local(2026, 11, 22, 14))
    assert siesta.ends_after(local(2026, 11, 22, 12, 30)) == local(2026, 11, 22, 14)
    assert Quiet.of("00:00", "00:00").off and not Quiet.of("00:00", "00:00").contains(local(2026, 1, 1, 3))
    assert Quiet.of("junk", None) == Quiet.of("22:00", "08:00")  # a broken setting falls back to the default


def test_non_urgent_reminders_wait_for_the_morning_in_the_users_zone() -> None:
    night = Quiet.of("22:00", "08:00")
    at_11pm = local(2026, 11, 22, 23).astimezone(dt.UTC)
    assert rules.hold_until(at_11pm, SH, night, urgent=False) == local(2026, 11, 23, 8).astimezone(dt.UTC)
    assert rules.hold_until(at_11pm, SH, night, urgent=True) is None
    london = ZoneInfo("Europe/London")  # 23:00 in Shanghai is 15:00 in London: not quiet there
    assert rules.hold_until(at_11pm, london, night, urgent=False) is None
    noon = local(2026, 11, 22, 12).astimezone(dt.UTC)
    assert rules.deliver_at(noon - dt.timedelta(hours=2), noon, SH, night, urgent=False) == noon
    assert rules.deliver_at(at_11pm, noon, SH, night, urgent=False) == local(2026, 11, 23, 8).astimezone(
        dt.UTC
    )


def test_only_a_followup_set_inside_quiet_hours_and_on_time_is_urgent() -> None:
    night = Quiet.of("22:00", "08:00")
    set_for = local(2026, 11, 22, 23, 30).astimezone(dt.UTC)
    assert rules.is_urgent("due", set_for, set_for + dt.timedelta(minutes=1), SH, night)
    assert not rules.is_urgent("due", set_for, set_for + dt.timedelta(hours=2), SH, night)  # found too late
    evening = local(2026, 11, 22, 21, 50).astimezone(dt.UTC)
    assert not rules.is_urgent("due", evening, evening + dt.timedelta(minutes=15), SH, night)
    for kind in ("nocontact", "noupdate", "pending", "birthday", "digest"):
        assert not rules.is_urgent(kind, set_for, set_for, SH, night)


def test_occurrence_keys_periods_and_birthdays() -> None:
    at = dt.datetime(2026, 11, 22, 2, 0, tzinfo=dt.UTC)
    assert rules.due_key(7, at) == "due:7:20261122T020000"
    assert rules.due_key(7, at) != rules.due_key(7, at + rules.SNOOZE)
    anchor = at - dt.timedelta(days=61)
    assert rules.period(anchor, at, 30) == 2 and rules.period(at, at, 30) == 0
    assert rules.period_key("nocontact", "c", 3, anchor, 2) == "nocontact:c3:20260922T020000:2"
    assert rules.birthday_on("11-22", dt.date(2026, 11, 22)) and rules.birthday_on(
        "1990-11-22", dt.date(2026, 11, 22)
    )
    assert not rules.birthday_on("11-23", dt.date(2026, 11, 22)) and not rules.birthday_on(
        None, dt.date(2026, 1, 1)
    )
    assert rules.birthday_on("2000-02-29", dt.date(2027, 2, 28)) and not rules.birthday_on(
        "02-29", dt.date(2028, 2, 28)
    )
    assert rules.birthday_on("02-29", dt.date(2028, 2, 29))
    assert rules.birthday_suffixes(at) == ["11-21", "11-22"]  # 02:00 UTC: from UTC-12 to UTC+14
    assert rules.birthday_suffixes(at + dt.timedelta(hours=12)) == ["11-22", "11-23"]


def test_buttons_fit_in_64_bytes_and_parse_back() -> None:
    data = rules.button("fill", 2**63, "current_problem")
    assert len(data.encode()) <= 64
    assert rules.parse_button(data) == ("fill", 2**63, "current_problem")
    assert rules.parse_button("r|done|12") == ("done", 12, "")
    for junk in ("r|done|x", "f|1|ok", "r|done", "r|a|1|b|c", ""):
        assert rules.parse_button(junk) is None
    with pytest.raises(ValueError):
        rules.button("fill", 1, "x" * 60)


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("22:00-08:00", ("22:00", "08:00")),
        ("21:30 到 7:00", ("21:30", "07:00")),
        ("23:00~06:30", ("23:00", "06:30")),
        ("off", ("00:00", "00:00")),
        ("关闭", ("00:00", "00:00")),
        ("25:00-08:00", None),
        ("tonight", None),
    ],
)
def test_quiet_hours_as_typed(text: str, expected: tuple[str, str] | None) -> None:
    assert rules.parse_quiet(text) == expected


def test_due_reminder_text_in_each_language_with_the_time_in_the_users_zone() -> None:
    at = dt.datetime(2026, 11, 24, 6, 0, tzinfo=dt.UTC)
    view = rules.DueView(5, "华为技术有限公司", CONTENT + "x" * 400, at.astimezone(SH), "张伟")
    zh = rules.due_reply(view, "zh")
    assert zh.text.startswith("⏰ 华为技术有限公司 — 电话沟通了报价") and "11月24日 周二 14:00" in zh.text
    assert "张伟" in zh.text and len(zh.text) < 450  # what was agreed, clipped
    labels = [b.label for row in zh.buttons for b in row]
    assert labels == ["📝 记录跟进", "✅ 完成", "⏰ 1小时后提醒", "🌅 明天 9:00", "🗓 选个时间"]
    en = rules.due_reply(
        rules.DueView(5, "Acme Ltd", "Send the quote", at.astimezone(ZoneInfo("Europe/London"))), "en"
    )
    assert "Tue 24 Nov 06:00" in en.text and "⏰ Snooze 1 h" in [b.label for row in en.buttons for b in row]
    assert [b.data for row in en.buttons for b in row] == [
        "r|log|5",
        "r|done|5",
        "r|snz|5",
        "r|tmr|5",
        "r|pick|5",
    ]


def test_digest_lists_overdue_today_and_pending_with_counts() -> None:
    day = dt.date(2026, 11, 22)
    overdue = [
        rules.DigestLine(i, f"客户{i}", local(2026, 11, 20, 9) + dt.timedelta(hours=i)) for i in range(10)
    ]
    digest = rules.Digest(
        day,
        overdue=overdue[: rules.DIGEST_LINES],
        today=[rules.DigestLine(20, "华为技术有限公司", local(2026, 11, 22, 15))],
        pending=[rules.DigestLine(21, "阿里", fields=("email", "phone"))],
        overdue_count=10,
        today_count=1,
        pending_count=1,
    )
    reply = rules.digest_reply(digest, "zh")
    assert "已逾期(10)" in reply.text and "…还有 2 条" in reply.text
    assert "15:00  华为技术有限公司" in reply.text and "阿里: 邮箱、电话" in reply.text
    assert all(b.data.startswith("g|cust|") for row in reply.buttons for b in row)
    empty = rules.digest_reply(rules.Digest(day), "en")
    assert "Nothing due" in empty.text and not empty.buttons


# ================================================================ the scheduler, on a database


class Inbox:
    """A Sender that records; `fail` holds exceptions to raise on the next sends."""

    def __init__(self) -> None:
        self.sent: list[tuple[int, Reply]] = []
        self.fail: list[Exception] = []
        self.calls = 0

    async def send(self, chat_id: int, reply: Reply) -> int:
        self.calls += 1
        if self.fail:
            raise self.fail.pop(0)
        self.sent.append((chat_id, reply))
        return len(self.sent)

    def take(self) -> list[tuple[int, Reply]]:
        out, self.sent = self.sent, []
        return out


def texts(sent: list[tuple[int, Reply]], chat: int | None = None) -> list[str]:
    return [r.text for c, r in sent if chat is None or c == chat]


class World:
    """Users (a manager, two sales, an admin), Ann's customer with a contact, and the scheduler."""

    def __init__(self, db: Database, clock: Clock) -> None:
        self.db = db
        self.clock = clock
        self.inbox = Inbox()
        self.rem = Reminders(db.sessions, self.inbox, clock=clock, chat_interval=0, scan_seconds=0)
        self.assistant = Router(db.sessions, clock=clock)
        self.ids: dict[str, int] = {}

    async def setup(self) -> World:
        async with self.db.sessions.begin() as s:
            await repo.add_user(s, BOSS, "Boss", "manager")
            await repo.add_user(s, ANN, "Ann", "sales", manager_telegram_id=BOSS)
            await repo.add_user(s, BOB, "Bob", "sales")
            await repo.add_user(s, ADMIN, "Root", "admin")
            for tid in (ANN, BOB, BOSS, ADMIN):
                user = await repo.user_by_telegram(s, tid)
                assert user is not None
                self.ids[str(tid)] = (
                    user.id
                )  # no chat_id until they write: no digests unless a test wants them
            ann = await repo.user_by_telegram(s, ANN)
            assert ann is not None
            now = self.clock()
            customer = await repo.create_customer(
                s, ann, {"kind": "enterprise", "name": "华为技术有限公司"}, [], now, now.date()
            )
            contact = await repo.create_contact(s, ann, customer.id, {"name": "张伟"}, [], now)
            self.ids["customer"], self.ids["contact"] = customer.id, contact.id
        return self

    async def followup(self, next_at: dt.datetime, *, contact: bool = True) -> int:
        """An open follow-up of Ann's customer, inserted as is (whatever the time, even a past one)."""
        async with self.db.sessions.begin() as s:
            f = FollowUp(
                customer_id=self.ids["customer"],
                contact_id=self.ids["contact"] if contact else None,
                occurred_on=self.clock().astimezone(SH).date(),
                mode="phone",
                content=CONTENT,
                next_at=next_at,
                created_by=self.ids[str(ANN)],
                created_at=self.clock(),
            )
            s.add(f)
            await s.flush()
            return f.id

    async def tick(self) -> list[tuple[int, Reply]]:
        await self.rem.tick()
        return self.inbox.take()

    async def rows(self, kind: str | None = None) -> list[Reminder]:
        async with self.db.sessions() as s:
            query = select(Reminder).order_by(Reminder.id)
            if kind:
                query = query.where(Reminder.kind == kind)
            return list((await s.execute(query)).scalars())

    async def set_user(self, tid: int, **values: Any) -> None:
        async with self.db.sessions.begin() as s:
            user = await repo.user_by_telegram(s, tid)
            assert user is not None
            for k, v in values.items():
                setattr(user, k, v)


@pytest.fixture
async def world(db: Database, clock: Clock) -> World:
    return await World(db, clock).setup()


def due_only(sent: list[tuple[int, Reply]]) -> list[tuple[int, Reply]]:
    return [(c, r) for c, r in sent if r.text.startswith("⏰")]


async def test_a_due_followup_reaches_its_owner_within_one_interval_once(world: World) -> None:
    clock = world.clock  # 10:00 Shanghai
    await world.followup(clock() + dt.timedelta(minutes=10))
    assert due_only(await world.tick()) == []
    clock.advance(minutes=10, seconds=20)  # the next poll after the follow-up's time
    sent = due_only(await world.tick())
    assert [c for c, _ in sent] == [ANN]
    assert "华为技术有限公司 — 电话沟通了报价" in sent[0][1].text and "10:10" in sent[0][1].text
    for _ in range(3):
        clock.advance(seconds=30)
        assert due_only(await world.tick()) == []
    (row,) = await world.rows("due")
    assert row.state == "sent" and row.message_id == 1 and row.attempts == 1


async def test_a_followup_that_fell_due_while_the_bot_was_down_is_sent_once_at_start(world: World) -> None:
    clock = world.clock
    await world.tick()  # the bot ran once, then went down for two days
    await world.followup(clock() + dt.timedelta(hours=5))
    clock.advance(days=2)
    restarted = Reminders(world.db.sessions, world.inbox, clock=clock, chat_interval=0)
    await restarted.tick()
    assert len(due_only(world.inbox.take())) == 1
    await restarted.tick()
    await world.tick()
    assert due_only(world.inbox.take()) == []


async def test_a_followup_committed_after_the_scan_passed_its_time_is_still_found(world: World) -> None:
    """Another process's transaction commits a follow-up whose time the scan cursor already passed."""
    clock = world.clock
    await world.tick()
    clock.advance(hours=2)
    await world.tick()
    await world.followup(clock() - dt.timedelta(hours=1))
    assert len(due_only(await world.tick())) == 1


async def test_quiet_hours_hold_non_urgent_reminders_but_not_a_followup_set_for_then(world: World) -> None:
    clock = world.clock
    clock.at = local(2026, 11, 22, 21, 0).astimezone(dt.UTC)
    await world.tick()
    await world.followup(local(2026, 11, 22, 21, 50).astimezone(dt.UTC))  # set before quiet hours
    await world.followup(local(2026, 11, 22, 23, 30).astimezone(dt.UTC))  # set inside them, on purpose
    clock.at = local(2026, 11, 22, 22, 5).astimezone(dt.UTC)  # the bot was down at 21:50
    assert due_only(await world.tick()) == []
    (held,) = [r for r in await world.rows("due") if r.state == "pending"]
    assert held.due_at == local(2026, 11, 23, 8).astimezone(dt.UTC)
    clock.at = local(2026, 11, 22, 23, 30, 30).astimezone(dt.UTC)
    assert len(due_only(await world.tick())) == 1  # the 23:30 one, on time
    clock.at = local(2026, 11, 23, 7, 59).astimezone(dt.UTC)
    assert due_only(await world.tick()) == []
    clock.at = local(2026, 11, 23, 8, 0, 10).astimezone(dt.UTC)
    assert len(due_only(await world.tick())) == 1  # the 21:50 one, in the morning


async def test_quiet_hours_are_the_users_own(world: World) -> None:
    clock = world.clock  # 10:00 in Shanghai: outside the default quiet hours, inside Ann's
    await world.set_user(ANN, quiet_start="09:00", quiet_end="11:00")
    await world.followup(clock() - dt.timedelta(minutes=70))  # 08:50, found at 10:00 after downtime
    assert due_only(await world.tick()) == []
    clock.at = local(2026, 11, 22, 11, 0, 5).astimezone(dt.UTC)
    assert len(due_only(await world.tick())) == 1


async def test_morning_digest_at_0830_local_once_a_day(world: World) -> None:
    clock = world.clock
    for tid in (ANN, BOB, BOSS, ADMIN):
        await world.set_user(tid, chat_id=tid)
    await world.followup(local(2026, 11, 23, 15, 0).astimezone(dt.UTC))  # due "today" tomorrow
    clock.at = local(2026, 11, 23, 8, 29).astimezone(dt.UTC)
    assert [r for _, r in await world.tick() if "今日待办" in r.text] == []
    clock.at = local(2026, 11, 23, 8, 30, 5).astimezone(dt.UTC)
    digests = [(c, r) for c, r in await world.tick() if "今日待办" in r.text]
    assert [c for c, _ in digests] == [ANN]  # the others have nothing to do: no empty digest
    text = digests[0][1].text
    assert "今天到期(1)" in text and "15:00  华为技术有限公司" in text
    clock.advance(minutes=30)
    assert [r for _, r in await world.tick() if "今日待办" in r.text] == []
    ann_digests = [r for r in await world.rows("digest") if r.user_id == world.ids[str(ANN)]]
    assert [r.state for r in ann_digests] == ["sent"]
    # /today shows the same on demand
    replies = (await Person(world.assistant, ANN).command("today")).replies
    assert "今天到期(1)" in replies[0].text


async def test_a_digest_held_past_its_day_by_quiet_hours_expires(world: World) -> None:
    clock = world.clock
    await world.set_user(ANN, quiet_start="08:00", quiet_end="23:59", chat_id=ANN)
    await world.followup(local(2026, 11, 22, 16, 0).astimezone(dt.UTC))
    clock.at = local(2026, 11, 22, 9).astimezone(dt.UTC)
    await world.tick()
    clock.at = local(2026, 11, 23, 0, 5).astimezone(dt.UTC)
    sent = await world.tick()
    assert not [r for _, r in sent if "今日待办" in r.text]
    ann_digest = next(r for r in await world.rows("digest") if r.user_id == world.ids[str(ANN)])
    assert ann_digest.state == "expired"


async def test_a_deactivated_owners_reminders_go_to_their_manager(world: World) -> None:
    clock = world.clock
    await world.followup(clock() + dt.timedelta(minutes=5))
    await world.set_user(ANN, active=False)  # deactivated without the customers being reassigned
    clock.advance(minutes=6)
    assert [c for c, _ in due_only(await world.tick())] == [BOSS]
    await world.followup(clock() + dt.timedelta(minutes=5))
    await world.set_user(BOSS, active=False)  # and nobody above: an admin acts
    clock.advance(minutes=6)
    assert [c for c, _ in due_only(await world.tick())] == [ADMIN]


async def test_deactivation_through_the_cli_path_hands_reminders_to_the_manager(world: World) -> None:
    clock = world.clock
    await world.followup(clock() + dt.timedelta(minutes=5))
    async with world.db.sessions.begin() as s:
        await repo.deactivate_user(s, ANN)
    clock.advance(minutes=6)
    assert [c for c, _ in due_only(await world.tick())] == [BOSS]


async def test_texts_in_the_users_language_and_times_in_their_zone(world: World) -> None:
    clock = world.clock
    await world.set_user(ANN, lang="en", tz="Europe/London", quiet_start="00:00", quiet_end="00:00")
    await world.followup(clock() + dt.timedelta(minutes=1))  # 02:01 UTC
    clock.advance(minutes=2)
    (sent,) = due_only(await world.tick())
    assert "Follow-up set for Sun 22 Nov 02:01" in sent[1].text
    assert "📝 Log follow-up" in [b.label for row in sent[1].buttons for b in row]


async def test_silent_stale_and_pending_customers_and_birthdays(world: World) -> None:
    clock = world.clock
    async with world.db.sessions.begin() as s:
        ann = await repo.user_by_telegram(s, ANN)
        assert ann is not None
        old = clock() - dt.timedelta(days=95)
        quiet_co = await repo.create_customer(
            s, ann, {"kind": "individual", "name": "李雷"}, ["email"], old, old.date()
        )
        await repo.create_contact(
            s, ann, quiet_co.id, {"name": "韩梅梅", "birthday": "1990-11-23"}, ["phone"], old
        )
        quiet_co.updated_at = old  # creating a contact touched it
    clock.at = local(2026, 11, 22, 12).astimezone(dt.UTC)
    sent = texts(await world.tick(), ANN)
    assert any("李雷:已经 95 天没有联系了" in x or "李雷:建档 95 天了" in x for x in sent)
    assert any("李雷:资料已 95 天没有更新" in x for x in sent)
    assert any("李雷:还有待补充的信息(邮箱)" in x for x in sent)
    assert any("李雷 · 韩梅梅:还有待补充的信息(电话)" in x for x in sent)
    assert not any("生日" in x for x in sent)
    clock.advance(hours=1)
    assert texts(await world.tick(), ANN) == []  # each once
    clock.at = local(2026, 11, 23, 8, 30).astimezone(dt.UTC)
    sent = texts(await world.tick(), ANN)
    assert any("今天是 韩梅梅(李雷)的生日" in x for x in sent)
    clock.advance(days=30)
    again = texts(await world.tick(), ANN)
    assert any("李雷:建档 125 天了" in x for x in again)  # another 30 days of silence, another reminder
    assert any("待补充" in x for x in again)  # pending, weekly while it lasts


async def test_a_reminder_no_longer_true_is_cancelled_not_sent(world: World) -> None:
    clock = world.clock
    fid = await world.followup(clock() - dt.timedelta(minutes=1))
    async with world.db.sessions.begin() as s:
        await store.add(
            s, [{"key": "due:x", "kind": "due", "user_id": world.ids[str(ANN)], "followup_id": fid,
                 "ref_at": clock() - dt.timedelta(hours=3), "due_at": clock(), "created_at": clock()}]
        )  # fmt: skip
        f = await s.get(FollowUp, fid)
        assert f is not None
    sent = due_only(await world.tick())
    assert len(sent) == 1  # the real one; the row naming an old time is stale
    stale = next(r for r in await world.rows("due") if r.key == "due:x")
    assert (stale.state, stale.last_error) == ("cancelled", "moved")


async def test_429_and_network_errors_retry_later_without_losing_the_reminder(world: World) -> None:
    clock = world.clock
    await world.followup(clock() - dt.timedelta(seconds=1))
    world.inbox.fail = [RetryLater(7, reason="retry_after")]
    assert due_only(await world.tick()) == []
    (row,) = await world.rows("due")
    assert row.state == "pending" and row.due_at == clock() + dt.timedelta(seconds=7)
    clock.advance(seconds=5)
    assert due_only(await world.tick()) == []
    world.inbox.fail = [RetryLater(reason="network")]
    clock.advance(seconds=3)
    assert due_only(await world.tick()) == []
    clock.advance(seconds=60)  # backoff doubles with each attempt
    assert len(due_only(await world.tick())) == 1
    (row,) = await world.rows("due")
    assert (row.state, row.attempts) == ("sent", 3)


async def test_a_user_who_blocked_the_bot_is_marked_and_not_retried_until_they_write(world: World) -> None:
    clock = world.clock
    await world.followup(clock() - dt.timedelta(seconds=1))
    world.inbox.fail = [Blocked()]
    await world.tick()
    assert world.inbox.calls == 1
    async with world.db.sessions() as s:
        ann = await repo.user_by_telegram(s, ANN)
        assert ann is not None and ann.blocked_at == clock()
    await world.followup(clock() + dt.timedelta(minutes=1))
    for _ in range(5):
        clock.advance(minutes=10)
        await world.tick()
    assert [c for c, r in world.inbox.take() if r.text.startswith("⏰")] == []
    assert world.inbox.calls == 1  # not retried, not even the newer one
    await Person(world.assistant, ANN).command("start")  # Ann unblocks the bot and writes
    clock.advance(seconds=30)
    assert len(due_only(await world.tick())) == 2


async def test_a_refused_reminder_fails_for_good(world: World) -> None:
    clock = world.clock
    await world.followup(clock() - dt.timedelta(seconds=1))
    world.inbox.fail = [Rejected("BadRequest")]
    await world.tick()
    clock.advance(hours=1)
    await world.tick()
    (row,) = await world.rows("due")
    assert (row.state, row.last_error, world.inbox.calls) == ("failed", "BadRequest", 1)


# ================================================================ exactly once


async def test_killed_between_claim_and_send_then_started_again_sends_once(world: World) -> None:
    clock = world.clock
    for minutes in (1, 2, 3):
        await world.followup(clock() - dt.timedelta(minutes=minutes))
    dead = Reminders(world.db.sessions, world.inbox, clock=clock, worker="dead")
    await dead.plan(planned := Report())
    assert planned.created == 3
    async with world.db.sessions.begin() as s:
        claimed = await store.claim(s, "dead", clock(), dead.lease, 10)
    assert len([r for r in claimed if r.kind == "due"]) == 3
    # … and the process dies here: nothing was sent, the rows stay claimed
    clock.advance(seconds=30)
    reborn = Reminders(world.db.sessions, world.inbox, clock=clock, chat_interval=0)
    await reborn.tick()
    assert due_only(world.inbox.take()) == []  # the dead worker's lease has not run out yet
    clock.advance(seconds=31)
    await reborn.tick()
    assert len(due_only(world.inbox.take())) == 3
    rows = await world.rows("due")
    assert {(r.state, r.unconfirmed) for r in rows} == {("sent", False)}
    # the dead worker, had it been only paused, can no longer mark or send what it held
    async with world.db.sessions.begin() as s:
        assert not await store.move(s, rows[0].id, "dead", "claimed", state="sending")
        assert not await store.finish(s, rows[0].id, "dead", state="sent")
    await reborn.tick()
    assert due_only(world.inbox.take()) == []


async def test_killed_after_telegram_accepted_but_before_it_was_recorded_resends_flagged(
    world: World,
) -> None:
    """The one window no outbox can close: at least once, never lost, the repeat flagged."""
    clock = world.clock
    await world.followup(clock() - dt.timedelta(minutes=1))

    class DiesAfterSending(Inbox):
        async def send(self, chat_id: int, reply: Reply) -> int:
            await super().send(chat_id, reply)
            raise asyncio.CancelledError  # the process is gone before it records the send

    crashing = DiesAfterSending()
    dead = Reminders(world.db.sessions, crashing, clock=clock, worker="dead", chat_interval=0)
    with pytest.raises(asyncio.CancelledError):
        await dead.tick()
    assert len(due_only(crashing.sent)) == 1
    (row,) = await world.rows("due")
    assert row.state == "sending"
    clock.advance(seconds=30)
    assert due_only(await world.tick()) == []  # its lease still holds
    clock.advance(seconds=31)
    resent = due_only(await world.tick())
    assert len(resent) == 1 and resent[0][1].text == due_only(crashing.sent)[0][1].text
    (row,) = await world.rows("due")
    assert (row.state, row.unconfirmed, row.attempts) == ("sent", True, 2)
    await world.tick()
    assert world.inbox.sent == []  # and only that once


async def _second_engine(db: Database) -> AsyncEngine:
    if db.backend == "sqlite":
        return make_engine(db.url)
    schema = db.url.split("#schema=")[1]
    return make_engine(PG_URL, connect_args={"server_settings": {"search_path": schema}})


async def _many_due(db: Database, clock: Clock, count: int, users: int = 20) -> None:
    """`count` open follow-ups already due, spread over `users` sales people (no chat: no digests)."""
    async with db.sessions.begin() as s:
        owners = [await repo.add_user(s, 50_000 + i, f"s{i}", "sales") for i in range(users)]
        for owner in owners:  # the workers of the race use the real clock: no quiet hours in the way
            owner.quiet_start = owner.quiet_end = "00:00"
        customers = [
            await repo.create_customer(
                s, o, {"kind": "individual", "name": f"客户{i}"}, [], clock(), clock().date()
            )
            for i, o in enumerate(owners)
        ]
        at = clock() - dt.timedelta(minutes=5)
        s.add_all(
            FollowUp(
                customer_id=customers[i % users].id,
                occurred_on=at.date(),
                mode="phone",
                content=CONTENT,
                next_at=at + dt.timedelta(microseconds=i),
                created_by=owners[i % users].id,
            )
            for i in range(count)
        )


async def test_two_schedulers_with_their_own_connections_race_and_each_reminder_goes_once(
    db: Database, clock: Clock
) -> None:
    await _many_due(db, clock, 200)
    other = await _second_engine(db)
    try:
        inboxes = [Inbox(), Inbox()]
        workers = [
            Reminders(db.sessions, inboxes[0], clock=clock, chat_interval=0, batch=10, worker="a"),
            Reminders(make_sessions(other), inboxes[1], clock=clock, chat_interval=0, batch=10, worker="b"),
        ]
        for _ in range(3):
            await asyncio.gather(*(w.tick() for w in workers))
    finally:
        await other.dispose()
    ids = [
        b.data
        for inbox in inboxes
        for _, r in inbox.sent
        for row in r.buttons
        for b in row
        if "|done|" in b.data
    ]
    assert len(ids) == 200 and len(set(ids)) == 200
    async with db.sessions() as s:
        assert await store.counts(s) == {"sent": 200}


WORKER_SCRIPT = "tests.test_reminders"


async def _worker_main(url: str, schema: str, out: str, ready: str, go: str) -> None:
    """One bot process of the race: plans and delivers until nothing is left, logging what it sent."""
    engine = make_engine(url, connect_args={"server_settings": {"search_path": schema}})
    sent: list[str] = []

    class FileSender:
        async def send(self, chat_id: int, reply: Reply) -> int:
            await asyncio.sleep(0.001)  # a network round trip, so the processes interleave
            sent.append(next(b.data for row in reply.buttons for b in row if "|done|" in b.data))
            return len(sent)

    rem = Reminders(make_sessions(engine), FileSender(), chat_interval=0, batch=20)
    Path(ready).touch()
    while not Path(go).exists():
        await asyncio.sleep(0.01)
    idle = 0
    while idle < 3:
        report = await rem.tick()
        idle = idle + 1 if report.sent == 0 and report.created == 0 else 0
    Path(out).write_text("\n".join(sent))
    await engine.dispose()


@pytest.mark.slow
@pytest.mark.parametrize("db", [pytest.param("postgres", marks=pytest.mark.postgres)], indirect=True)
async def test_two_bot_processes_on_postgresql_race_for_1000_due_reminders(
    db: Database, clock: Clock, tmp_path: Path
) -> None:
    clock.at = dt.datetime.now(dt.UTC)  # the workers use the real clock
    await _many_due(db, clock, 1000)
    schema = db.url.split("#schema=")[1]
    go = tmp_path / "go"
    procs = []
    for n in (1, 2):
        args = [PG_URL, schema, str(tmp_path / f"sent{n}"), str(tmp_path / f"ready{n}"), str(go)]
        procs.append(subprocess.Popen([sys.executable, "-m", WORKER_SCRIPT, "worker", *args], cwd=ROOT))
    try:
        deadline = time.monotonic() + 60
        while not all((tmp_path / f"ready{n}").exists() for n in (1, 2)):
            assert time.monotonic() < deadline and all(p.poll() is None for p in procs), (
                "workers did not start"
            )
            await asyncio.sleep(0.05)
        go.touch()  # both start at once
        for p in procs:
            assert await asyncio.to_thread(p.wait, 120) == 0
    finally:
        for p in procs:
            if p.poll() is None:
                p.kill()
    per_process = [(tmp_path / f"sent{n}").read_text().split() for n in (1, 2)]
    everything = per_process[0] + per_process[1]
    assert len(everything) == 1000 and len(set(everything)) == 1000, "a reminder was lost or repeated"
    assert all(per_process), f"one process did all the work: {[len(p) for p in per_process]}"
    async with db.sessions() as s:
        assert await store.counts(s) == {"sent": 1000}
        assert (await s.execute(select(func.count()).where(Reminder.unconfirmed.is_(True)))).scalar_one() == 0


# ================================================================ buttons, through the assistant


async def _due_reminder(world: World) -> tuple[int, list[Reply]]:
    fid = await world.followup(world.clock() - dt.timedelta(seconds=1))
    (sent,) = due_only(await world.tick())
    return fid, [sent[1]]


async def _followup(world: World, fid: int) -> FollowUp:
    async with world.db.sessions() as s:
        f = await s.get(FollowUp, fid)
        assert f is not None
        return f


async def test_done_closes_the_followup_and_a_second_press_says_so(world: World) -> None:
    fid, reminder = await _due_reminder(world)
    ann = Person(world.assistant, ANN)
    await ann.press("完成", reminder)
    assert "已完成:华为技术有限公司" in ann.text
    assert (await _followup(world, fid)).next_done
    await ann.press("完成", reminder)
    assert "已经处理过了" in ann.text
    async with world.db.sessions() as s:
        change = (await s.execute(select(Change).where(Change.entity == "followup"))).scalar_one()
        assert (change.field, change.new_value, change.reason) == ("next_done", "yes", "reminder: done")


async def test_acting_on_a_reminder_makes_its_customer_the_current_one(world: World) -> None:
    _, reminder = await _due_reminder(world)
    ann = Person(world.assistant, ANN)
    await ann.command("log")
    assert "跟进哪个客户" in ann.text  # nothing open yet
    await ann.command("cancel")
    await ann.press("完成", reminder)
    await ann.command("log")
    assert "为“华为技术有限公司”记录" in ann.text and "沟通日期" in ann.text


async def test_snooze_moves_the_time_by_an_hour_and_reminds_again_then(world: World) -> None:
    clock = world.clock
    fid, reminder = await _due_reminder(world)
    ann = Person(world.assistant, ANN)
    await ann.press("1小时后", reminder)
    assert "11:00 再提醒你跟进 华为技术有限公司" in ann.text
    assert (await _followup(world, fid)).next_at == clock() + dt.timedelta(hours=1)
    await ann.press("1小时后", reminder)
    assert "已过时" in ann.text and "11:00" in ann.text  # the old reminder's buttons are stale now
    clock.advance(minutes=59)
    assert due_only(await world.tick()) == []
    clock.advance(minutes=1, seconds=30)
    assert len(due_only(await world.tick())) == 1


async def test_tomorrow_nine_in_the_users_zone(world: World) -> None:
    fid, reminder = await _due_reminder(world)
    await Person(world.assistant, ANN).press("明天 9:00", reminder)
    assert (await _followup(world, fid)).next_at == local(2026, 11, 23, 9).astimezone(dt.UTC)


async def test_pick_a_time_typed_naturally_and_confirmed(world: World) -> None:
    fid, reminder = await _due_reminder(world)
    ann = Person(world.assistant, ANN)
    await ann.press("选个时间", reminder)
    assert "什么时候再跟进" in ann.text and "当前" in ann.text
    await ann.say("明天下午3点半")
    assert "我理解的时间是:11月23日 周一 15:30" in ann.text
    assert (await _followup(world, fid)).next_at != local(2026, 11, 23, 15, 30).astimezone(dt.UTC)
    await ann.press("确认")
    assert "已改期:华为技术有限公司 的下次跟进时间为 11月23日 周一 15:30" in ann.text
    assert (await _followup(world, fid)).next_at == local(2026, 11, 23, 15, 30).astimezone(dt.UTC)
    async with world.db.sessions() as s:
        assert (await s.execute(select(func.count()).select_from(Conversation))).scalar_one() == 0


async def test_pick_a_time_refuses_a_past_time_and_can_be_cancelled(world: World) -> None:
    fid, reminder = await _due_reminder(world)
    ann = Person(world.assistant, ANN)
    await ann.press("选个时间", reminder)
    await ann.say("昨天下午3点")
    assert "❗" in ann.text
    await ann.press("取消")
    assert "已取消" in ann.text
    assert (await _followup(world, fid)).next_at == world.clock() - dt.timedelta(seconds=1)


async def test_log_followup_opens_log_for_that_customer_with_the_contact_chosen(world: World) -> None:
    _, reminder = await _due_reminder(world)
    ann = Person(world.assistant, ANN)
    await ann.press("记录跟进", reminder)
    assert "沟通日期" in ann.text  # customer and contact are answered: the flow starts at the date
    async with world.db.sessions() as s:
        state = (await s.execute(select(Conversation))).scalar_one().state
    assert state["answers"]["customer"]["id"] == world.ids["customer"]
    assert state["answers"]["contact"] == {"id": world.ids["contact"], "name": "张伟"}


async def test_forged_and_foreign_reminder_buttons_are_refused(world: World) -> None:
    fid, reminder = await _due_reminder(world)
    rid = int(reminder[0].buttons[0][1].data.split("|")[2])
    bob = Person(world.assistant, BOB)
    for data in (f"r|done|{rid}", f"r|snz|{rid}", f"r|log|{rid}", f"r|pick|{rid}", "r|done|99999", "r|x|y"):
        await bob.data(data)
        assert "无权" in bob.text and "华为" not in bob.text, data
    assert not (await _followup(world, fid)).next_done
    boss = Person(world.assistant, BOSS)  # Ann's manager may act on her customers
    await boss.data(f"r|done|{rid}")
    assert "已完成" in boss.text


async def test_verify_and_fill_in_pending_buttons(world: World) -> None:
    clock = world.clock
    async with world.db.sessions.begin() as s:
        ann = await repo.user_by_telegram(s, ANN)
        assert ann is not None
        old = clock() - dt.timedelta(days=100)
        await repo.create_customer(s, ann, {"kind": "individual", "name": "李雷"}, ["phone"], old, old.date())
    sent = [r for _, r in await world.tick()]
    stale = next(r for r in sent if "资料已" in r.text)
    pending = next(r for r in sent if "待补充" in r.text)
    ann_p = Person(world.assistant, ANN)
    await ann_p.press("资料无误", [stale])
    assert "已核实" in ann_p.text
    await ann_p.press("补充电话", [pending])
    assert "联系电话" in ann_p.text  # the edit flow, at that field
    await ann_p.say("13812345678")
    await ann_p.say("客户补充了号码")
    await ann_p.press("保存")
    async with world.db.sessions() as s:
        li = (await s.execute(select(Customer).where(Customer.name == "李雷"))).scalar_one()
        assert li.phone == "+8613812345678" and li.pending == [] and li.updated_at == clock()
    await ann_p.press("补充电话", [pending])
    assert "已经补充过了" in ann_p.text


async def test_quiet_command_sets_the_users_quiet_hours(world: World) -> None:
    ann = Person(world.assistant, ANN)
    await ann.command("quiet")
    assert "22:00–08:00" in ann.text
    await ann.command("quiet", "21:30-07:00")
    assert "21:30–07:00" in ann.text
    await ann.command("quiet", "whenever")
    assert "看不懂" in ann.text
    await ann.command("quiet", "off")
    async with world.db.sessions() as s:
        user = await repo.user_by_telegram(s, ANN)
        assert user is not None and user.quiet_start == user.quiet_end == "00:00"


# ================================================================ the worker process


if __name__ == "__main__" and len(sys.argv) == 7 and sys.argv[1] == "worker":
    asyncio.run(_worker_main(*sys.argv[2:]))
