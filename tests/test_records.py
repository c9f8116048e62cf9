"""Records that keep their rules and read back whole, through the assistant on a real database (SQLite
and PostgreSQL): what a person sees, turn by turn, including the reminders that come back."""

from __future__ import annotations

import datetime as dt

from sqlalchemy import select

from bot.delivery import Reminders
from bot.router import Router
from flows.engine import Reply
from storage import repo
from storage.models import Change, Customer, FollowUp
from tests.conftest import Clock, Database
from tests.people import Person

ANN, BOB, BOSS = 1001, 1002, 1003
CODE = "91440300708461136T"
CONTENT = "拜访了对方采购部门,讨论了报价和实施方案的细节,对方下周给答复。"


class Inbox:
    def __init__(self) -> None:
        self.sent: list[tuple[int, Reply]] = []

    async def send(self, chat_id: int, reply: Reply) -> int:
        self.sent.append((chat_id, reply))
        return len(self.sent)

    def take(self, chat: int) -> list[Reply]:
        out = [r for c, r in self.sent if c == chat]
        self.sent = []
        return out


async def _setup(db: Database, clock: Clock) -> tuple[Router, Reminders, Inbox]:
    async with db.sessions.begin() as s:
        await repo.add_user(s, BOSS, "Boss", "manager")
        await repo.add_user(s, ANN, "Ann", "sales", manager_telegram_id=BOSS)
        await repo.add_user(s, BOB, "Bob", "sales")
    inbox = Inbox()
    reminders = Reminders(db.sessions, inbox, clock=clock, chat_interval=0, scan_seconds=0)
    return Router(db.sessions, clock=clock), reminders, inbox


async def _new_customer(
    p: Person,
    name: str = "华为技术有限公司",
    phone: str = "13812345678",
    code: str | None = CODE,
    *,
    save: bool = True,
) -> str:
    await p.command("new_customer")
    await p.tap("企业客户")
    await p.say(name)
    if "可能已有" in p.text:
        await p.tap("不是同一个客户")
    if code:
        await p.say(code)
    else:
        await p.tap("稍后补充")
    await p.tap("潜在客户")
    await p.tap("信息技术")
    await p.tap("跳过")
    await p.tap("A 近期")
    await p.say("广东省深圳市南山区科苑路15号")
    await p.say(phone)
    if "可能已有" in p.text:
        await p.tap("不是同一个客户")
    await p.say("info@example.com")
    if "可能已有" in p.text:
        await p.tap("不是同一个客户")
    await p.tap("行业展会")
    for _ in range(5):
        await p.tap("跳过")
    if save:
        await p.tap("保存")
    return p.text


async def _log(p: Person, *, day: str = "今天", later: bool = False) -> str:
    await p.tap("记录跟进")
    await p.say(day)
    await p.tap("上门拜访")
    if any("跳过" in x for x in p.labels):  # the contact, when the customer has any
        await p.tap("跳过")
    await p.say(CONTENT)
    if later:
        await p.tap("稍后补充")  # demand status
        await p.tap("稍后补充")  # next follow-up
    else:
        await p.tap("跟进中")
        await p.say("下周二下午两点")
        await p.tap("确认")
    for _ in range(3):  # participants, location, attachments
        await p.tap("跳过")
    await p.tap("保存")
    return p.text


async def test_the_same_credit_code_is_refused_for_another_owner_with_a_clear_message(
    db: Database, clock: Clock
) -> None:
    assistant, _, _ = await _setup(db, clock)
    await _new_customer(Person(assistant, ANN))
    bob = Person(assistant, BOB)
    await bob.command("new_customer")
    await bob.tap("企业客户")
    await bob.say("华为技术有限公司")
    assert "可能已有" in bob.text and "负责人:Ann" in bob.text  # foreign: name and owner only
    await bob.tap("不是同一个客户")
    await bob.say(CODE)  # checked again for the code, and not to be waved through
    assert "不能保存两次" in bob.text and "不是同一个客户" not in bob.labels
    await bob.tap("重新输入信用代码")
    assert "统一社会信用代码" in bob.text
    async with db.sessions() as s:
        assert len((await s.execute(select(Customer))).scalars().all()) == 1


async def test_two_entries_of_one_credit_code_at_once_save_one_and_tell_the_other_why(
    db: Database, clock: Clock
) -> None:
    assistant, _, _ = await _setup(db, clock)
    ann, bob = Person(assistant, ANN), Person(assistant, BOB)
    await _new_customer(ann, save=False)
    await _new_customer(bob, "华为技术有限公司深圳分公司", phone="13900002222", save=False)
    assert "请核对客户信息" in ann.text and "请核对客户信息" in bob.text  # neither exists yet
    await ann.tap("保存")
    await bob.tap("保存")
    assert "已属于客户 C202611220001" in bob.text and "💾 保存" in bob.labels  # the summary again
    async with db.sessions() as s:
        assert len((await s.execute(select(Customer))).scalars().all()) == 1


async def test_edits_check_duplicates_and_ask_what_a_new_kind_needs(db: Database, clock: Clock) -> None:
    assistant, _, _ = await _setup(db, clock)
    ann = Person(assistant, ANN)
    await _new_customer(ann)
    await _new_customer(ann, "阿里巴巴集团控股有限公司", phone="13900001111", code=None)
    await ann.tap("修改客户")
    await ann.tap("电话")
    await ann.say("13812345678")  # Huawei's number
    assert "可能已有" in ann.text and "华为技术有限公司" in ann.text
    await ann.tap("取消")
    # a person turned into a company: the registered name and the credit code are asked
    await ann.command("new_customer")
    await ann.tap("个人客户")
    await ann.say("张三")
    await ann.skip_to_summary_with("客户状态", "潜在客户")
    await ann.tap("保存")
    await ann.tap("修改客户")
    await ann.tap("类型")
    await ann.tap("企业客户")
    assert "工商注册全称" in ann.text
    await ann.say("杭州数澜科技有限公司")
    assert "统一社会信用代码" in ann.text
    await ann.tap("稍后补充")
    await ann.say("其实是公司")
    await ann.tap("保存")
    async with db.sessions() as s:
        c = (await s.execute(select(Customer).where(Customer.name == "杭州数澜科技有限公司"))).scalar_one()
        assert (c.kind, c.credit_code) == ("enterprise", None) and "credit_code" in c.pending
        fields = [
            x.field for x in (await s.execute(select(Change).where(Change.entity_id == c.id))).scalars()
        ]
        assert fields == ["kind", "name", "credit_code"]


async def test_a_contact_already_known_under_anothers_customer_is_warned(db: Database, clock: Clock) -> None:
    assistant, _, _ = await _setup(db, clock)
    bob = Person(assistant, BOB)
    await _new_customer(bob, "阿里巴巴集团控股有限公司", phone="13900001111", code=None)
    await bob.tap("添加联系人")
    await bob.say("李娜")
    await bob.tap("跳过")  # position
    await bob.say("13700000000")
    await bob.skip_to_summary_with("联系人角色", "决策人")
    await bob.tap("保存")
    ann = Person(assistant, ANN)
    await _new_customer(ann)
    await ann.tap("添加联系人")
    await ann.say("李娜")
    await ann.tap("跳过")
    await ann.say("13700000000")
    assert "可能已有这个联系人" in ann.text and "阿里巴巴集团控股有限公司 — 负责人:Bob" in ann.text
    assert "13700000000" not in ann.text and "C2026" not in ann.text  # nothing more of Bob's record
    await ann.tap("不是同一个人")
    assert "邮箱" in ann.text


async def test_the_card_reads_back_everything_with_history_and_changes(db: Database, clock: Clock) -> None:
    assistant, _, _ = await _setup(db, clock)
    ann = Person(assistant, ANN)
    await _new_customer(ann)
    await ann.tap("添加联系人")
    await ann.say("张伟")
    await ann.say("采购经理")
    await ann.say("13700000000")
    await ann.say("zhangwei@huawei.com")
    await ann.tap("决策人")
    await ann.skip_to_summary_with("@@", "")
    await ann.tap("保存")
    card = ann.text
    for shown in ("信用代码:91440300708461136T", "来源:行业展会", "A 近期", "张伟 (采购经理)", "角色:决策人",
                  "📞 137 0000 0000", "zhangwei@huawei.com"):  # fmt: skip
        assert shown in card, shown
    for n in range(7):
        saved = await _log(ann, day="前天" if n == 0 else "今天", later=n == 6)
        if n == 0:
            assert "拜访后 34 小时才录入" in saved  # Friday's visit, entered at 10:00 on Sunday
        else:
            assert "小时才录入" not in saved
    await ann.tap("全部跟进(7)")
    assert "1–5 / 共 7 条" in ann.text
    await ann.tap("较早")
    assert "6–7 / 共 7 条" in ann.text and "11月20日" in ann.text
    await ann.tap("📄 7")
    assert CONTENT in ann.text and "Ann" in ann.text and "34 小时" in ann.text
    await ann.tap("修改这条跟进")
    await ann.tap("方式")
    await ann.tap("电话沟通")
    await ann.say("记错了,是电话")
    await ann.tap("保存")
    assert "变更历史" in ann.text
    await ann.tap("变更记录")
    assert "跟进(11月20日 周五) · 方式:上门拜访 → 电话沟通" in ann.text and "原因:记错了,是电话" in ann.text
    # someone who may not see the customer gets nothing from forged buttons
    async with db.sessions() as s:
        c = (await s.execute(select(Customer))).scalar_one()
        f = (await s.execute(select(FollowUp).order_by(FollowUp.id))).scalars().first()
        assert f is not None
    bob = Person(assistant, BOB)
    for data in (f"g|hist|{c.id}|0", f"g|chg|{c.id}|0", f"g|fu|{f.id}", f"g|fedit|{f.id}", "g|hist|x|0"):
        await bob.data(data)
        assert "华为" not in bob.text and CONTENT not in bob.text and not bob.labels


async def _age_followup_pending(db: Database, days: int) -> None:
    async with db.sessions.begin() as s:
        for f in (await s.execute(select(FollowUp))).scalars():
            if f.pending_since:
                f.pending_since -= dt.timedelta(days=days)


async def test_a_followups_pending_field_is_reminded_and_its_button_opens_that_field(
    db: Database, clock: Clock
) -> None:
    assistant, reminders, inbox = await _setup(db, clock)
    ann = Person(assistant, ANN)
    await _new_customer(ann)
    await _log(ann, later=True)
    await reminders.tick()
    assert not [r for r in inbox.take(ANN) if "跟进记录" in r.text]  # not before 7 days
    await _age_followup_pending(db, 8)
    await reminders.tick()
    (note,) = [r for r in inbox.take(ANN) if "的跟进记录还有待补充" in r.text]
    assert "需求状态" in note.text and "下次跟进" in note.text
    await ann.press("补充需求状态", [note])
    assert "需求状态" in ann.text and "跟进中" in ann.labels
    await ann.tap("跟进中")
    await ann.say("补充需求状态")
    await ann.tap("保存")
    async with db.sessions() as s:
        f = (await s.execute(select(FollowUp))).scalar_one()
        assert (f.demand_status, f.pending) == ("in_progress", ["next_at"])


async def test_reminder_rules_for_silence_staleness_birthdays_and_language(
    db: Database, clock: Clock
) -> None:
    assistant, reminders, inbox = await _setup(db, clock)
    old = clock() - dt.timedelta(days=100)
    async with db.sessions.begin() as s:
        owner = await repo.user_by_telegram(s, ANN)
        assert owner is not None
        answers = {"kind": "enterprise", "name": "华为技术有限公司", "status": "potential"}
        c = await repo.create_customer(s, owner, answers, [], old, old.date())
        await repo.create_contact(s, owner, c.id, {"name": "Zhang Wei", "birthday": "11-25"}, [], old)
        c.updated_at = old
        c.last_contact_at = clock() - dt.timedelta(days=40)
        s.add(  # planned, but long overdue: that is not contact
            FollowUp(
                customer_id=c.id, occurred_on=dt.date(2026, 10, 13), mode="phone", content=CONTENT,
                next_at=clock() - dt.timedelta(days=15), created_by=owner.id, created_at=old,
            )
        )  # fmt: skip
    ann = Person(assistant, ANN, lang="en")  # Telegram in English, never used /lang
    await ann.command("find", "华为")
    assert "Owner" in ann.text
    async with db.sessions() as s:
        user = await repo.user_by_telegram(s, ANN)
        assert user is not None and user.lang is None and user.lang_seen == "en"
    clock.at = dt.datetime(2026, 11, 22, 4, 0, tzinfo=dt.UTC)  # 12:00 in Shanghai, after the digest time
    await reminders.tick()
    texts = [r.text for r in inbox.take(ANN)]
    assert any("华为技术有限公司: no contact for 40 days" in x for x in texts), texts
    assert any("华为技术有限公司: not updated for 100 days" in x for x in texts), texts
    assert any("In 3 days" in x and "Zhang Wei" in x for x in texts), texts
    assert not any("天" in x for x in texts)  # English, as the chat was
    # a follow-up is contact, not an update of the customer's data: "no update" stays as it was
    await _log_en(ann)
    async with db.sessions() as s:
        customer = (await s.execute(select(Customer))).scalar_one()
        assert customer.updated_at == old and customer.last_contact_at is not None
    # and on the day itself, the birthday again
    clock.at = dt.datetime(2026, 11, 25, 1, 0, tzinfo=dt.UTC)  # 09:00 in Shanghai
    await reminders.tick()
    assert any("Today is Zhang Wei's birthday" in r.text for r in inbox.take(ANN))


async def _log_en(p: Person) -> None:
    await p.tap("Log follow-up")
    await p.tap("Today")
    await p.tap("Phone call")
    if any("Skip" in x for x in p.labels):
        await p.tap("Skip")
    await p.say(CONTENT)
    await p.tap("In progress")
    await p.say("next tuesday 2pm")
    await p.tap("Confirm")
    for _ in range(2):
        await p.tap("Skip")
    await p.tap("Save")
    assert "saved" in p.text.lower()
