"""The assistant end to end on a real database, without Telegram: what a person sees, turn by turn."""

from __future__ import annotations

import datetime as dt

from sqlalchemy import func, select

from bot.router import Incoming, Router
from flows.engine import Input, button_data
from storage import repo
from storage.models import Change, Contact, Conversation, Customer, FollowUp, SeenUpdate, User
from tests.conftest import Clock, Database
from tests.people import Person

ANN, BOB, BOSS, STRANGER = 1001, 1002, 1003, 9999


async def _setup(db: Database, clock: Clock) -> Router:
    async with db.sessions.begin() as s:
        await repo.add_user(s, BOSS, "Boss", "manager")
        await repo.add_user(s, ANN, "Ann", "sales", manager_telegram_id=BOSS)
        await repo.add_user(s, BOB, "Bob", "sales")
    return Router(db.sessions, clock=clock)


async def _new_customer(p: Person, name: str = "华为技术有限公司", phone: str = "13812345678") -> str:
    await p.command("new_customer")
    await p.tap("企业客户")
    await p.say(name)
    if "可能已有" in p.text:
        await p.tap("不是同一个客户")
    await p.say("91440300708461136T")
    await p.tap("潜在客户")
    await p.tap("信息技术")
    await p.tap("跳过")
    await p.tap("A 近期")
    await p.say("广东省深圳市南山区科苑路15号")
    await p.say(phone)
    if "可能已有" in p.text:
        await p.tap("不是同一个客户")
    await p.say("zhang@huawei.com")
    if "可能已有" in p.text:
        await p.tap("不是同一个客户")
    await p.tap("行业展会")
    for _ in range(5):
        await p.tap("跳过")
    assert "请核对客户信息" in p.text
    await p.tap("保存")
    return p.text


async def test_a_stranger_gets_one_refusal_with_their_id_and_nothing_is_stored(
    db: Database, clock: Clock
) -> None:
    assistant = await _setup(db, clock)
    stranger = Person(assistant, STRANGER, "en")
    await stranger.command("start")
    assert str(STRANGER) in stranger.text and "admin" in stranger.text
    await stranger.say("hello")
    async with db.sessions() as s:
        assert (await s.execute(select(func.count()).select_from(SeenUpdate))).scalar_one() == 0
        assert (await s.execute(select(func.count()).select_from(Conversation))).scalar_one() == 0


async def test_new_customer_end_to_end_then_find_and_my(db: Database, clock: Clock) -> None:
    assistant = await _setup(db, clock)
    ann = Person(assistant, ANN)
    await ann.command("start")
    assert "/new_customer" in ann.text
    saved = await _new_customer(ann)
    assert "C202611220001" in saved
    assert "华为技术有限公司" in saved  # the new customer's card follows
    await ann.command("find", "华为")
    assert "C202611220001" in ann.text and "138 1234 5678" in ann.text
    await ann.command("my")
    assert "华为技术有限公司 (A) · 潜在客户" in ann.labels
    bob = Person(assistant, BOB)
    await bob.command("find", "华为")
    assert "没有找到" in bob.text  # Bob may not see Ann's customer


async def test_someone_elses_duplicate_shows_only_name_and_owner(db: Database, clock: Clock) -> None:
    assistant = await _setup(db, clock)
    await _new_customer(Person(assistant, ANN))
    bob = Person(assistant, BOB)
    await bob.command("new_customer")
    await bob.tap("企业客户")
    await bob.say("深圳市华为技术有限公司")
    assert "可能已有" in bob.text and "Ann" in bob.text
    assert "C202611220001" not in bob.text and "打开" not in bob.text


async def test_restart_mid_flow_continues_at_the_same_question(db: Database, clock: Clock) -> None:
    assistant = await _setup(db, clock)
    ann = Person(assistant, ANN)
    await ann.command("new_customer")
    await ann.tap("企业客户")
    await ann.say("华为技术有限公司")
    assert "统一社会信用代码" in ann.text
    reborn = Person(Router(db.sessions, clock=clock), ANN)  # a new process on the same database
    await reborn.say("91440300708461136T")
    assert "客户状态" in reborn.text
    async with db.sessions() as s:
        row = (await s.execute(select(Conversation))).scalar_one()
        assert row.state["answers"]["name"] == "华为技术有限公司"


async def test_a_redelivered_update_is_handled_once(db: Database, clock: Clock) -> None:
    assistant = await _setup(db, clock)
    inc = Incoming(chat_id=ANN, telegram_id=ANN, language_code="zh", update_id=500, command="new_customer")
    first = await assistant.handle(inc)
    again = await assistant.handle(inc)
    # handled once: the flow did not start twice, and the person sees where they are (issue 10:
    # a redelivery means the first replies may never have arrived, so silence is not an answer)
    assert first.replies and "已经收到过了" in again.replies[0].text
    assert again.replies[-1].text == first.replies[-1].text
    async with db.sessions() as s:
        assert (await s.execute(select(func.count()).select_from(Conversation))).scalar_one() == 1


async def test_another_command_mid_flow_asks_before_abandoning(db: Database, clock: Clock) -> None:
    assistant = await _setup(db, clock)
    ann = Person(assistant, ANN)
    await ann.command("new_customer")
    await ann.tap("个人客户")
    await ann.command("log")
    assert "要放弃它吗" in ann.text
    await ann.tap("继续")
    assert "真实姓名" in ann.text
    await ann.command("log")
    await ann.tap("放弃并开始新的")
    assert "跟进哪个客户" in ann.text
    await ann.command("cancel")
    assert "未保存" in ann.text


async def test_an_unanswered_flow_is_offered_back_then_expires_after_24_hours(
    db: Database, clock: Clock
) -> None:
    assistant = await _setup(db, clock)
    ann = Person(assistant, ANN)
    await ann.command("new_customer")
    await ann.tap("个人客户")
    clock.advance(hours=3)
    await ann.command("start")
    assert "未完成的客户录入" in ann.text
    await ann.tap("继续")
    assert "真实姓名" in ann.text
    clock.advance(hours=25)
    await ann.say("张三")
    assert "已超过24小时" in ann.text


async def test_forged_buttons_are_refused(db: Database, clock: Clock) -> None:
    assistant = await _setup(db, clock)
    await _new_customer(Person(assistant, ANN))
    async with db.sessions() as s:
        cid = (await s.execute(select(Customer.id))).scalar_one()
    bob = Person(assistant, BOB)
    for data in (f"g|cust|{cid}", f"g|log|{cid}", f"g|edit|{cid}", "g|editc|1", "g|cust|abc", "junk"):
        await bob.data(data)
        assert "华为" not in bob.text, data
    await bob.data(f"g|cust|{cid}")
    assert "无权" in bob.text


async def test_log_a_followup_from_the_card_and_it_shows_on_the_card(db: Database, clock: Clock) -> None:
    assistant = await _setup(db, clock)
    ann = Person(assistant, ANN)
    await _new_customer(ann)
    await ann.tap("记录跟进")
    assert "沟通日期" in ann.text
    await ann.say("昨天")
    await ann.tap("电话沟通")
    await ann.say("沟通了报价方案,对方希望下周二前收到正式报价和实施计划书。")
    await ann.tap("跟进中")
    await ann.say("下周二下午两点")
    assert "11月24日" in ann.text and "14:00" in ann.text
    await ann.tap("确认")
    await ann.tap("跳过")  # participants
    await ann.tap("跳过")  # attachments
    await ann.tap("保存")
    assert "跟进记录已保存" in ann.text
    assert "下次跟进" in ann.text and "11月24日" in ann.text
    async with db.sessions() as s:
        f = (await s.execute(select(FollowUp))).scalar_one()
        assert f.occurred_on == dt.date(2026, 11, 21)
        assert f.next_at == dt.datetime(2026, 11, 24, 6, 0, tzinfo=dt.UTC)
        assert f.entry_delay_hours == 10.0  # from the end of Saturday in Shanghai to 10:00 on Sunday
        assert f.created_by == (await repo.user_by_telegram(s, ANN)).id  # type: ignore[union-attr]


async def test_edit_a_field_from_the_card_keeps_history(db: Database, clock: Clock) -> None:
    assistant = await _setup(db, clock)
    ann = Person(assistant, ANN)
    await _new_customer(ann)
    await ann.tap("修改客户")
    await ann.tap("电话")
    assert "当前" in ann.text
    await ann.say("13900001111")
    await ann.say("客户换号")
    await ann.tap("保存")
    assert "变更历史" in ann.text
    async with db.sessions() as s:
        change = (await s.execute(select(Change))).scalar_one()
        assert (change.field, change.old_value, change.new_value, change.reason) == (
            "phone",
            "+8613812345678",
            "+8613900001111",
            "客户换号",
        )
    boss = Person(assistant, BOSS)  # a manager sees the team's customers and may edit
    await boss.command("find", "华为")
    assert "✏️ 修改客户" in boss.labels


async def test_a_shared_contact_card_starts_a_contact(db: Database, clock: Clock) -> None:
    assistant = await _setup(db, clock)
    ann = Person(assistant, ANN)
    await _new_customer(ann)
    await ann._go(input=Input(kind="contact", first_name="伟", last_name="张", phone="+8613711112222"))
    assert "名片" in ann.text
    await ann.say("华为")
    await ann.tap("华为技术有限公司")
    assert "职位" in ann.text
    for label in ("跳过", "稍后补充", "稍后补充", "跳过", "跳过", "跳过", "跳过"):
        await ann.tap(label)
    await ann.tap("保存")
    async with db.sessions() as s:
        contact = (await s.execute(select(Contact))).scalar_one()
        assert (contact.name, contact.phone) == ("张伟", "+8613711112222")


async def test_language_and_time_zone_are_per_user(db: Database, clock: Clock) -> None:
    assistant = await _setup(db, clock)
    ann = Person(assistant, ANN)
    await ann.command("lang")
    await ann.tap("English")
    await ann.command("help")
    assert "/log log a follow-up" in ann.text
    await ann.command("tz", "Mars/Base")
    assert "Unknown time zone" in ann.text
    await ann.command("tz", "Europe/London")
    async with db.sessions() as s:
        user = (await s.execute(select(User).where(User.telegram_id == ANN))).scalar_one()
        assert (user.lang, user.tz) == ("en", "Europe/London")


async def test_stale_flow_button_after_the_flow_ended(db: Database, clock: Clock) -> None:
    assistant = await _setup(db, clock)
    ann = Person(assistant, ANN)
    await ann.command("new_customer")
    await ann.command("cancel")
    await ann.data(button_data(1, "p:individual"))
    assert "已经结束" in ann.text


async def test_my_customers_are_paged(db: Database, clock: Clock) -> None:
    assistant = await _setup(db, clock)
    async with db.sessions.begin() as s:
        ann = await repo.user_by_telegram(s, ANN)
        assert ann is not None
        for i in range(11):
            await repo.create_customer(
                s, ann, {"kind": "individual", "name": f"客户{i:02d}"}, [], clock(), dt.date(2026, 11, 22)
            )
    p = Person(assistant, ANN)
    await p.command("my")
    assert "第 1/2 页,共 11 个" in p.text and len([x for x in p.labels if x.startswith("客户")]) == 8
    await p.tap("下一页")
    assert p.last is not None and p.last.replies[0].edit  # the list message is edited in place
    assert "第 2/2 页" in p.text and "客户10" in p.labels and "上一页 ◀️" not in p.labels


async def test_a_contact_is_edited_from_the_card_and_marked_as_left(db: Database, clock: Clock) -> None:
    assistant = await _setup(db, clock)
    ann = Person(assistant, ANN)
    await _new_customer(ann)
    await ann.tap("添加联系人")
    await ann.say("王芳")
    for label in ("跳过", "稍后补充", "稍后补充", "稍后补充", "跳过", "跳过", "跳过", "跳过"):
        await ann.tap(label)
    await ann.tap("保存")
    await ann.tap("修改 王芳")
    await ann.tap("在职")
    await ann.tap("已离职")
    await ann.say("已跳槽")
    await ann.tap("保存")
    assert "(已离职)" in ann.text
    async with db.sessions() as s:
        contact = (await s.execute(select(Contact))).scalar_one()
        change = (await s.execute(select(Change))).scalar_one()
        assert contact.active is False
        assert (change.entity, change.field, change.old_value, change.new_value) == (
            "contact",
            "active",
            "yes",
            "no",
        )
