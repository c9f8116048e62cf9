"""Repositories on SQLite and PostgreSQL: numbering, duplicates, visibility, history, delivery bookkeeping."""

from __future__ import annotations

import asyncio
import datetime as dt
from typing import Any

import pytest
from sqlalchemy import select, update

from flows.ports import DupProbe
from storage import repo
from storage.models import Audit, Change, Customer, SeenUpdate, User
from tests.conftest import Database

NOW = dt.datetime(2026, 11, 22, 2, 0, tzinfo=dt.UTC)
DAY = dt.date(2026, 11, 22)


async def _users(db: Database) -> dict[str, User]:
    async with db.sessions.begin() as s:
        admin = await repo.add_user(s, 1, "Admin", "admin")
        boss = await repo.add_user(s, 2, "Boss", "manager")
        ann = await repo.add_user(s, 3, "Ann", "sales", manager_telegram_id=2)
        bob = await repo.add_user(s, 4, "Bob", "sales")
        return {"admin": admin, "boss": boss, "ann": ann, "bob": bob}


def _answers(**kw: Any) -> dict[str, Any]:
    base: dict[str, Any] = {
        "kind": "enterprise",
        "name": "华为技术有限公司",
        "status": "potential",
        "source": "referral",
    }
    return base | kw


async def _customer(db: Database, user: User, day: dt.date = DAY, **kw: Any) -> Customer:
    async with db.sessions.begin() as s:
        owner = await s.get(User, user.id)
        assert owner is not None
        return await repo.create_customer(s, owner, _answers(**kw), [], NOW, day)


async def test_customer_numbers_count_per_day_and_are_never_reused(db: Database) -> None:
    users = await _users(db)
    a = await _customer(db, users["ann"])
    b = await _customer(db, users["ann"], name="阿里巴巴集团控股有限公司")
    c = await _customer(db, users["ann"], day=dt.date(2026, 11, 23), name="腾讯科技有限公司")
    assert (a.number, b.number, c.number) == ("C202611220001", "C202611220002", "C202611230001")


async def test_concurrent_saves_get_distinct_numbers(db: Database) -> None:
    users = await _users(db)
    names = [f"测试{i}号科技有限公司" for i in range(8)]
    customers = await asyncio.gather(*(_customer(db, users["ann"], name=n) for n in names))
    numbers = sorted(c.number for c in customers)
    assert numbers == [f"C20261122{i:04d}" for i in range(1, 9)]


async def test_duplicates_are_found_among_all_customers_but_foreign_ones_say_only_name_and_owner(
    db: Database,
) -> None:
    users = await _users(db)
    await _customer(
        db, users["bob"], credit_code="91440300708461136T", phone="+8613812345678", email="a@huawei.com"
    )
    mine = await _customer(db, users["ann"], name="阿里巴巴集团控股有限公司", email="x@alibaba.com")
    async with db.sessions.begin() as s:
        ann = await s.get(User, users["ann"].id)
        assert ann is not None
        found = await repo.find_duplicates(s, ann, DupProbe(credit_code="91440300708461136T"))
        assert [(m.name, m.owner_name, m.visible, m.number, m.reasons) for m in found] == [
            ("华为技术有限公司", "Bob", False, None, ("credit_code",))
        ]
        by_name = await repo.find_duplicates(s, ann, DupProbe(name="深圳市华为技术有限公司"))
        assert [m.reasons for m in by_name] == [("name",)]
        by_mail = await repo.find_duplicates(s, ann, DupProbe(email="x@alibaba.com"))
        assert [(m.customer_id, m.visible, m.number) for m in by_mail] == [(mine.id, True, mine.number)]
        assert await repo.find_duplicates(s, ann, DupProbe(name="完全不同的公司名称有限公司")) == []
        contact_owner = await s.get(User, users["bob"].id)
        assert contact_owner is not None


async def test_duplicate_by_a_contact_phone(db: Database) -> None:
    users = await _users(db)
    c = await _customer(db, users["bob"])
    async with db.sessions.begin() as s:
        bob = await s.get(User, users["bob"].id)
        assert bob is not None
        await repo.create_contact(s, bob, c.id, {"name": "张伟", "phone": "+8613900001111"}, [], NOW)
    async with db.sessions.begin() as s:
        ann = await s.get(User, users["ann"].id)
        assert ann is not None
        found = await repo.find_duplicates(s, ann, DupProbe(phone="+8613900001111"))
        assert [(m.customer_id, m.reasons) for m in found] == [(c.id, ("phone",))]


async def test_who_sees_what(db: Database) -> None:
    users = await _users(db)
    anns = await _customer(db, users["ann"])
    bobs = await _customer(db, users["bob"], name="腾讯科技有限公司")
    async with db.sessions.begin() as s:
        seen = {}
        for key in ("admin", "boss", "ann", "bob"):
            u = await s.get(User, users[key].id)
            assert u is not None
            seen[key] = {c.id for c in await repo.search_customers(s, u, "有限公司")}
    assert seen["admin"] == {anns.id, bobs.id}
    assert seen["boss"] == {anns.id}  # the manager sees the team's
    assert seen["ann"] == {anns.id}
    assert seen["bob"] == {bobs.id}


async def test_search_by_number_phone_and_contact_name(db: Database) -> None:
    users = await _users(db)
    c = await _customer(db, users["ann"], phone="+8613812345678")
    async with db.sessions.begin() as s:
        ann = await s.get(User, users["ann"].id)
        assert ann is not None
        await repo.create_contact(s, ann, c.id, {"name": "张伟"}, [], NOW)
    async with db.sessions.begin() as s:
        ann = await s.get(User, users["ann"].id)
        assert ann is not None
        for needle in (c.number, "13812345678", "张伟", "华为"):
            assert [x.id for x in await repo.search_customers(s, ann, needle)] == [c.id], needle


async def test_deactivating_hands_customers_to_the_manager(db: Database) -> None:
    users = await _users(db)
    c = await _customer(db, users["ann"])
    async with db.sessions.begin() as s:
        user, moved = await repo.deactivate_user(s, 3)
        assert (user.active, moved) == (False, 1)
    async with db.sessions.begin() as s:
        customer = await s.get(Customer, c.id)
        assert customer is not None and customer.owner_id == users["boss"].id
        actions = (await s.execute(select(Audit.action))).scalars().all()
        assert "user_deactivate" in actions


async def test_an_edit_keeps_who_when_old_new_and_why_and_only_owners_may_edit(db: Database) -> None:
    users = await _users(db)
    c = await _customer(db, users["ann"], phone="+8613812345678")
    async with db.sessions.begin() as s:
        ann = await s.get(User, users["ann"].id)
        assert ann is not None
        await repo.apply_edit(s, ann, "customer", c.id, "phone", "+8613900000000", "号码换了", NOW)
    async with db.sessions.begin() as s:
        bob = await s.get(User, users["bob"].id)
        assert bob is not None
        with pytest.raises(repo.NotAllowed):
            await repo.apply_edit(s, bob, "customer", c.id, "phone", "+8613700000000", "hijack", NOW)
    async with db.sessions.begin() as s:
        boss = await s.get(User, users["boss"].id)
        assert boss is not None  # the owner's manager may edit
        await repo.apply_edit(s, boss, "customer", c.id, "status", "deal", "签约了", NOW)
    async with db.sessions.begin() as s:
        changes = await repo.history(s, "customer", c.id)
        got = [(x.field, x.old_value, x.new_value, x.reason, x.user_id, x.at) for x in changes]
        assert got == [
            ("phone", "+8613812345678", "+8613900000000", "号码换了", users["ann"].id, NOW),
            ("status", "potential", "deal", "签约了", users["boss"].id, NOW),
        ]
        assert (await s.execute(select(Change).where(Change.user_id == users["bob"].id))).first() is None


async def test_filling_a_pending_field_clears_it(db: Database) -> None:
    users = await _users(db)
    async with db.sessions.begin() as s:
        ann = await s.get(User, users["ann"].id)
        assert ann is not None
        c = await repo.create_customer(s, ann, _answers(), ["email", "phone"], NOW, DAY)
        assert c.pending_since == NOW
        await repo.apply_edit(s, ann, "customer", c.id, "email", "a@b.cn", "补充", NOW)
        assert c.pending == ["phone"]
        await repo.apply_edit(s, ann, "customer", c.id, "phone", "+8613812345678", "补充", NOW)
        assert c.pending == [] and c.pending_since is None


async def test_an_update_is_handled_once_per_chat(db: Database) -> None:
    async with db.sessions.begin() as s:
        assert await repo.first_sight(s, 100, 5, NOW)
    async with db.sessions.begin() as s:
        assert not await repo.first_sight(s, 100, 5, NOW)
        assert await repo.first_sight(s, 100, 4, NOW)  # lower is not a redelivery: ids may restart
        assert await repo.first_sight(s, 100, 6, NOW)
        assert await repo.first_sight(s, 200, 5, NOW)  # each chat on its own
    later = NOW + repo.SEEN_KEPT + dt.timedelta(hours=1)
    async with db.sessions.begin() as s:
        assert await repo.first_sight(s, 100, 7, later)  # and the old ids are let go
        assert await repo.first_sight(s, 100, 5, later)


async def test_the_first_read_of_a_step_also_tells_a_redelivery_and_stores_nothing_for_strangers(
    db: Database,
) -> None:
    """The step's first read with the update id (one statement on PostgreSQL): the same answers as
    first_sight, only for an active user, and the open entry alongside."""
    users = await _users(db)
    ann, bob = users["ann"], users["bob"]
    async with db.sessions.begin() as s:
        await repo.save_conversation(s, 3, ann.id, {"flow": "customer", "seq": 2}, NOW)
        await s.execute(update(User).where(User.id == bob.id).values(active=False))

    async def read(telegram_id: int, update_id: int, at: dt.datetime = NOW) -> tuple[Any, Any, bool]:
        async with db.sessions.begin() as s:
            return await repo.user_conversation_and_sight(s, telegram_id, telegram_id, update_id, at)

    user, entry, fresh = await read(3, 50)
    assert user is not None and user.id == ann.id and fresh
    assert entry is not None and entry.state == {"flow": "customer", "seq": 2}
    assert (await read(3, 50))[2] is False  # the same update again: a redelivery
    assert (await read(3, 49))[2] is True  # a lower id is not: ids restart after a week
    later = NOW + repo.SEEN_KEPT + dt.timedelta(hours=1)
    assert (await read(3, 50, later))[2] is True  # an id seen long ago counts as new
    assert (await read(3, 50, later))[2] is False
    assert await read(99, 50) == (None, None, True)  # a stranger: nothing read, nothing stored
    inactive, _, _ = await read(4, 51)
    assert inactive is not None and not inactive.active
    async with db.sessions() as s:
        stored = (await s.execute(select(SeenUpdate.chat_id, SeenUpdate.update_id))).all()
    assert sorted(tuple(r) for r in stored) == [(3, 49), (3, 50)]  # none for the stranger or Bob


async def test_conversation_state_round_trips_and_times_stay_utc(db: Database) -> None:
    users = await _users(db)
    state = {"flow": "customer", "answers": {"name": "张三", "tags": ["VIP"]}, "seq": 3}
    async with db.sessions.begin() as s:
        await repo.save_conversation(s, 9, users["ann"].id, state, NOW)
    async with db.sessions.begin() as s:
        row = await repo.load_conversation(s, 9, users["ann"].id)
        assert row is not None and row.state == state
        assert row.updated_at == NOW and row.updated_at.tzinfo is not None
        await repo.save_conversation(s, 9, users["ann"].id, None, NOW)
    async with db.sessions.begin() as s:
        assert await repo.load_conversation(s, 9, users["ann"].id) is None
