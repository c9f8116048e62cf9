"""/handover: all of one person's customers to another from the chat (and, for an admin, their access
taken away in the same step), through the router on both backends; every button re-checked."""

from __future__ import annotations

from sqlalchemy import select

from storage import repo
from storage.models import Change, Customer, Reminder, User
from tests.conftest import Clock, Database
from tests.people import Person
from tests.team_setup import ADMIN, ANN, BEN, BOSS, OUT, cast

SHULAN, YUNFAN, XIHU, YUANJING = (
    "杭州数澜科技有限公司",
    "上海云帆信息技术有限公司",
    "杭州西湖贸易有限公司",
    "北京远景咨询有限公司",
)


async def _ids(db: Database) -> dict[int, int]:
    """Telegram id → user id."""
    async with db.sessions() as s:
        return dict((await s.execute(select(User.telegram_id, User.id))).all())  # type: ignore[arg-type]


async def _owner(db: Database, customer_id: int) -> int:
    async with db.sessions() as s:
        customer = await s.get(Customer, customer_id)
        assert customer is not None
        return customer.owner_id


async def test_a_manager_hands_one_persons_customers_to_another(db: Database, clock: Clock) -> None:
    c = await cast(db, clock)
    uid = await _ids(db)
    boss = Person(c.router, BOSS)
    await boss.command("handover")
    assert "把谁的客户交接出去" in boss.text
    assert boss.labels == ["Ann(2 个客户)", "Ben(1 个客户)"]  # the manager's people only
    await boss.tap("Ann")
    assert "Ann 的 2 个客户交给谁" in boss.text
    assert boss.labels == ["Ben", "Boss", "取消"]  # the team and the manager, not Ann herself
    await boss.tap("Ben")
    assert "把 Ann 的 2 个客户交给 Ben" in boss.text and "交接" in boss.text
    assert boss.labels == ["交接", "取消"]  # a manager does not deactivate
    await boss.tap("交接")
    assert "Ann 的 2 个客户已交给 Ben" in boss.text
    assert {await _owner(db, c.ids[n]) for n in (SHULAN, YUNFAN)} == {uid[BEN]}
    async with db.sessions() as s:
        changes = (await s.execute(select(Change).where(Change.field == "owner"))).scalars().all()
        assert (
            sorted((ch.old_value, ch.new_value, ch.reason, ch.user_id) for ch in changes)
            == [("Ann", "Ben", "交接", uid[BOSS])] * 2
        )
        told = (
            await s.execute(select(Reminder).where(Reminder.kind == "notice", Reminder.user_id == uid[BEN]))
        ).scalars()
        assert len(list(told)) == 1  # one notice for the two customers
        ann = await repo.user_by_telegram(s, ANN)
        assert ann is not None and ann.active  # only customers moved
    await boss.data(f"g|ho|go|{uid[ANN]}|{uid[BEN]}|0")  # pressed again: nothing left to move
    assert "Ann 的 0 个客户已交给 Ben" in boss.text


async def test_an_admin_can_deactivate_the_person_in_the_same_step(db: Database, clock: Clock) -> None:
    c = await cast(db, clock)
    uid = await _ids(db)
    admin = Person(c.router, ADMIN)
    await admin.command("handover")
    assert "Ada" not in " ".join(admin.labels) and "Otto(1 个客户)" in admin.labels  # everyone else
    await admin.tap("Ben")
    await admin.tap("Boss")
    assert admin.labels == ["交接", "交接并停用 Ben", "取消"]
    await admin.tap("交接并停用 Ben")
    assert "Ben 的 1 个客户已交给 Boss" in admin.text and "Ben 已停用" in admin.text
    assert await _owner(db, c.ids[XIHU]) == uid[BOSS]
    ben = Person(c.router, BEN)
    await ben.command("help")
    assert "停用" in ben.text  # access is gone at once
    await admin.command("handover")
    assert not any(label.startswith("Ben") for label in admin.labels)  # no longer in the list


async def test_handover_buttons_are_checked_again_when_pressed(db: Database, clock: Clock) -> None:
    c = await cast(db, clock)
    uid = await _ids(db)
    boss = Person(c.router, BOSS)
    forged = [
        f"g|ho|go|{uid[OUT]}|{uid[BEN]}|0",  # the outsider is not the boss's
        f"g|ho|go|{uid[ANN]}|{uid[OUT]}|0",  # nor may the boss give to the outsider
        f"g|ho|go|{uid[BEN]}|{uid[ANN]}|1",  # a manager does not deactivate
        f"g|ho|go|{uid[ANN]}|{uid[ANN]}|0",  # to the same person
        f"g|ho|t|{uid[OUT]}|{uid[BEN]}",
        f"g|ho|f|{uid[OUT]}",
        "g|ho|f|x",
        "g|ho|go|1|2|7",
        "g|ho|t|1",
        "g|ho|f|99999999999999999999",
    ]
    for data in forged:
        await boss.data(data)
        assert "只能交接你团队里的人的客户" in boss.text, data
    assert await _owner(db, c.ids[YUANJING]) == uid[OUT]
    assert await _owner(db, c.ids[XIHU]) == uid[BEN]
    async with db.sessions() as s:
        ben = await repo.user_by_telegram(s, BEN)
        assert ben is not None and ben.active
    ann = Person(c.router, ANN)  # a sales person has no /handover, and its buttons do nothing
    await ann.command("handover")
    assert "把谁的客户交接出去" not in ann.text
    await ann.data(f"g|ho|go|{uid[BEN]}|{uid[ANN]}|0")
    assert "只能交接" in ann.text and await _owner(db, c.ids[XIHU]) == uid[BEN]
    await boss.command("handover")
    await boss.tap("Ann")
    await boss.tap("取消")
    assert "已取消" in boss.text and await _owner(db, c.ids[SHULAN]) == uid[ANN]


async def test_handover_in_english(db: Database, clock: Clock) -> None:
    c = await cast(db, clock)
    async with db.sessions.begin() as s:
        boss = await repo.user_by_telegram(s, BOSS)
        assert boss is not None
        boss.lang = "en"
    person = Person(c.router, BOSS, lang="en")
    await person.command("handover")
    assert "Whose customers" in person.text and "Ann (2 customers)" in person.labels
    await person.tap("Ann")
    await person.tap("Ben")
    assert "Hand Ann's 2 customers to Ben?" in person.text
    await person.tap("Hand over")
    assert "Ann's 2 customers now belong to Ben" in person.text
