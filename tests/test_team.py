"""The manager's lists, regions and transfers through the router, on both backends."""

from __future__ import annotations

from sqlalchemy import select

from storage import repo, transfers
from storage.models import Change, Customer, FollowUp, Reminder, User
from tests.conftest import Clock, Database
from tests.people import Person
from tests.team_setup import ADMIN, ANN, BEN, BOSS, OUT, REGION, cast

SHULAN, YUNFAN, XIHU, YUANJING = (
    "杭州数澜科技有限公司",
    "上海云帆信息技术有限公司",
    "杭州西湖贸易有限公司",
    "北京远景咨询有限公司",
)


async def test_my_for_a_manager_offers_mine_team_and_one_person(db: Database, clock: Clock) -> None:
    c = await cast(db, clock)
    boss = Person(c.router, BOSS)
    await boss.command("my")
    assert boss.labels == ["我的", "我的团队", "某个人"]  # no "everyone" for a manager
    await boss.tap("我的团队")
    assert "共 3 个" in boss.text
    for name in (SHULAN, YUNFAN, XIHU):
        assert name in boss.text
    assert YUANJING not in boss.text
    assert "杭州数澜科技有限公司 (A) · 潜在客户 · Ann" in boss.text  # the line names the owner
    await boss.tap("我的")
    assert "没有符合条件的客户" in boss.text
    await boss.command("my")
    await boss.tap("某个人")
    assert set(boss.labels) == {"Ann", "Ben"}
    await boss.tap("Ben")
    assert XIHU in boss.text and SHULAN not in boss.text and "Ben 的客户" in boss.text
    admin = Person(c.router, ADMIN)
    await admin.command("my")
    await admin.tap("所有人")
    assert "共 4 个" in admin.text
    ann = Person(c.router, ANN)  # a sales person's /my is their own list, as before
    await ann.command("my")
    assert "我的客户" in ann.text and XIHU not in ann.text


async def test_forged_scope_buttons_show_nothing_more(db: Database, clock: Clock) -> None:
    c = await cast(db, clock)
    async with db.sessions() as s:
        otto = (await s.execute(select(User).where(User.telegram_id == OUT))).scalar_one()
        ann = (await s.execute(select(User).where(User.telegram_id == ANN))).scalar_one()
    boss = Person(c.router, BOSS)
    await boss.data(f"g|sc|u{otto.id}|0")  # not in the boss's team
    assert "无权" in boss.text
    await boss.data("g|sc|all|0")  # only an admin has "everyone"
    assert "无权" in boss.text
    for data in ("g|sc|team|0", f"g|sc|u{ann.id}|0", "g|people", "g|sc|mine|x", "g|sc|u1x|0"):
        p = Person(c.router, BEN)
        await p.data(data)
        assert "无权" in p.text, data


async def test_list_filters_typed_combined_and_as_buttons(db: Database, clock: Clock) -> None:
    c = await cast(db, clock)
    boss = Person(c.router, BOSS)
    await boss.command("list", "杭州 A VIP")
    assert SHULAN in boss.text and XIHU not in boss.text and "共 1 个" in boss.text
    await boss.command("list", "杭州")
    assert SHULAN in boss.text and XIHU in boss.text and YUNFAN not in boss.text
    await boss.command("list", "信息技术 潜在客户 C")  # industry, status and intent combined
    assert XIHU in boss.text and "共 1 个" in boss.text
    await boss.command("list", "owner:Ben")
    assert XIHU in boss.text and SHULAN not in boss.text
    await boss.command("list", "VIP")  # the outsider's VIP customer is not the boss's to see
    assert SHULAN in boss.text and YUANJING not in boss.text
    await boss.command("list")
    assert "逾期" in " ".join(boss.labels)
    await boss.tap("30天未联系")
    assert "没有符合条件的客户" in boss.text  # everyone was created just now
    clock.advance(days=31)
    await boss.command("list", "未联系 C")
    assert XIHU in boss.text and SHULAN not in boss.text
    # an overdue follow-up
    async with db.sessions.begin() as s:
        s.add(
            FollowUp(
                customer_id=c.ids[YUNFAN],
                occurred_on=clock().date(),
                mode="phone",
                content="电话沟通了报价的细节和实施计划",
                next_at=clock().replace(year=2026, month=12, day=1),
                created_by=1,
            )
        )
    clock.advance(days=1)
    await boss.command("list")
    await boss.tap("跟进逾期")
    assert YUNFAN in boss.text and "⏰" in boss.text and SHULAN not in boss.text
    await boss.command("list", "xyz 杭州")
    assert "忽略了不认识的条件:xyz" in boss.text


async def test_find_by_tag_and_city(db: Database, clock: Clock) -> None:
    c = await cast(db, clock)
    ann = Person(c.router, ANN)
    await ann.command("find", "VIP客户")
    assert SHULAN in ann.text and YUANJING not in ann.text
    await ann.command("find", "上海")
    assert YUNFAN in ann.text and SHULAN not in ann.text
    await ann.command("find", "数澜")  # a name is still a search
    assert "C2026" in ann.text


async def test_a_region_manager_sees_the_region_but_may_not_edit(db: Database, clock: Clock) -> None:
    c = await cast(db, clock)
    rita = Person(c.router, REGION)
    await rita.command("my")
    await rita.tap("我的团队")
    assert SHULAN in rita.text and XIHU in rita.text and YUNFAN not in rita.text
    await rita.data(f"g|cust|{c.ids[SHULAN]}")
    assert SHULAN in rita.text
    assert "修改客户" not in " ".join(rita.labels) and "提议修改" in " ".join(rita.labels)
    await rita.data(f"g|edit|{c.ids[SHULAN]}")
    assert "只有负责人" in rita.text
    await rita.data(f"g|cust|{c.ids[YUNFAN]}")  # 上海 is not her region
    assert "无权" in rita.text


async def test_transfer_from_the_card_moves_history_and_reminders(db: Database, clock: Clock) -> None:
    c = await cast(db, clock)
    shulan = c.ids[SHULAN]
    async with db.sessions.begin() as s:
        ann_user = (await s.execute(select(User).where(User.telegram_id == ANN))).scalar_one()
        s.add(
            Reminder(
                key="t:1",
                kind="nocontact",
                user_id=ann_user.id,
                customer_id=shulan,
                due_at=clock(),
                detail={},
            )
        )
    boss = Person(c.router, BOSS)
    await boss.data(f"g|cust|{shulan}")
    await boss.tap("转移")
    assert "转给谁" in boss.text
    assert "Ann" not in boss.labels and "Ben" in boss.labels
    await boss.tap("Ben")
    await boss.say("Ann 调岗,客户交给 Ben 跟进")
    assert "请确认转移" in boss.text and "Ben" in boss.text
    await boss.tap("保存")
    assert "已转给 Ben" in boss.text and "负责人:Ben" in boss.text
    async with db.sessions() as s:
        customer = await s.get(Customer, shulan)
        ben = (await s.execute(select(User).where(User.telegram_id == BEN))).scalar_one()
        assert customer is not None and customer.owner_id == ben.id
        change = (await s.execute(select(Change).where(Change.field == "owner"))).scalar_one()
        assert (change.old_value, change.new_value, change.reason) == (
            "Ann",
            "Ben",
            "Ann 调岗,客户交给 Ben 跟进",
        )
        moved = (await s.execute(select(Reminder).where(Reminder.key == "t:1"))).scalar_one()
        assert moved.user_id == ben.id
        notice = (await s.execute(select(Reminder).where(Reminder.kind == "notice"))).scalar_one()
        assert notice.user_id == ben.id and notice.detail["key"] == "xfer.notice_one"


async def test_transfers_refused_to_those_who_may_not(db: Database, clock: Clock) -> None:
    c = await cast(db, clock)
    shulan = c.ids[SHULAN]
    for who in (ANN, BEN, REGION, OUT):
        p = Person(c.router, who)
        await p.data(f"g|xfer|{shulan}")
        assert "只有负责人的上级或管理员" in p.text, who
    boss = Person(c.router, BOSS)
    await boss.data(f"g|xfer|{c.ids[YUANJING]}")  # the outsider's customer
    assert "只有负责人的上级或管理员" in boss.text
    # a forged "to" (someone outside the team) is refused when saving, whatever the buttons said
    async with db.sessions.begin() as s:
        boss_user = await repo.user_by_telegram(s, BOSS)
        otto = await repo.user_by_telegram(s, OUT)
        assert boss_user is not None and otto is not None
        try:
            await transfers.transfer(s, boss_user, shulan, otto.id, "x", clock())
            raise AssertionError("transferred outside the team")
        except repo.NotAllowed:
            pass


async def test_transfer_all_and_deactivate_to_an_heir(db: Database, clock: Clock) -> None:
    c = await cast(db, clock)
    async with db.sessions.begin() as s:
        moved = await transfers.transfer_all(s, ANN, BEN, "reorganisation", clock())
    assert moved == 2
    async with db.sessions.begin() as s:
        user, moved = await transfers.deactivate_to(s, BEN, BOSS)
        assert not user.active and moved == 3
    async with db.sessions() as s:
        boss = await repo.user_by_telegram(s, BOSS)
        assert boss is not None
        owners = {(await s.get(Customer, c.ids[n])).owner_id for n in (SHULAN, YUNFAN, XIHU)}  # type: ignore[union-attr]
        assert owners == {boss.id}
        rows = (await s.execute(select(Change).where(Change.field == "owner"))).scalars().all()
        assert len(rows) == 5 and {r.reason for r in rows} == {"reorganisation", "deactivated"}


async def test_a_managers_morning_digest(db: Database, clock: Clock) -> None:
    c = await cast(db, clock)
    rita = Person(c.router, REGION)
    await rita.data(f"g|cust|{c.ids[SHULAN]}")
    await rita.tap("提议修改")
    await rita.tap("备注")
    await rita.say("前台说周五不上班")
    await rita.say("拜访时了解到的")
    await rita.tap("保存")
    async with db.sessions.begin() as s:
        ann = await repo.user_by_telegram(s, ANN)
        assert ann is not None
        s.add(
            FollowUp(
                customer_id=c.ids[SHULAN],
                occurred_on=clock().date(),
                mode="phone",
                content="电话沟通了报价的细节和实施计划",
                next_at=clock(),
                created_by=ann.id,
            )
        )
    clock.advance(days=1)
    boss = Person(c.router, BOSS)
    await boss.command("today")
    assert "等你审批的修改申请:1 个" in boss.text
    assert "团队逾期跟进:\n  • Ann: 1" in boss.text
    assert "团队昨天新建客户 3 个" in boss.text and XIHU in boss.text and YUANJING not in boss.text
    ann_p = Person(c.router, ANN)  # the owner decides requests too; the team parts are a manager's
    await ann_p.command("today")
    assert "等你审批的修改申请:1 个" in ann_p.text and "团队" not in ann_p.text
    ben = Person(c.router, BEN)
    await ben.command("today")
    assert "修改申请" not in ben.text


def test_the_desk_speaks_both_languages() -> None:
    from flows.messages.team import MESSAGES

    assert MESSAGES["zh"].keys() == MESSAGES["en"].keys()


async def test_transfer_command_on_the_open_card_in_english(db: Database, clock: Clock) -> None:
    c = await cast(db, clock)
    boss = Person(c.router, BOSS, "en")
    await boss.command("transfer")
    assert "Open the customer with /find first" in boss.text
    await boss.data(f"g|cust|{c.ids[XIHU]}")
    await boss.command("transfer")
    assert "Transfer to whom?" in boss.text
    await boss.tap("Ann")
    await boss.say("Ben is on leave")
    assert "Please confirm the transfer" in boss.text
    await boss.tap("Save")
    assert "now belongs to Ann" in boss.text
    ann = Person(c.router, ANN)
    await ann.command("transfer")  # a manager's command: sales get the help
    assert "/log" in ann.text


async def test_a_change_to_a_contact_can_be_proposed(db: Database, clock: Clock) -> None:
    c = await cast(db, clock)
    async with db.sessions.begin() as s:
        ann = await repo.user_by_telegram(s, ANN)
        assert ann is not None
        await repo.create_contact(s, ann, c.ids[SHULAN], {"name": "周杰", "position": "CTO"}, [], clock())
    rita = Person(c.router, REGION)
    await rita.data(f"g|prop|{c.ids[SHULAN]}")
    assert "要修改哪条记录" in rita.text
    await rita.tap("联系人 周杰")
    await rita.tap("职位")
    await rita.say("CEO")
    await rita.say("名片上已经是CEO了")
    await rita.tap("保存")
    assert "等待 Ann、Boss 审批" in rita.text
    boss = Person(c.router, BOSS)
    await boss.command("requests")
    assert "CTO → CEO" in boss.text
    await boss.tap("批准")
    assert "已批准" in boss.text and "周杰 (CEO)" in boss.text
