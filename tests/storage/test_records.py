"""Records keep their rules in the database, on SQLite and PostgreSQL: one live customer per credit code
(also when the check is bypassed, and after migrating a database that already had two), contact
duplicates, follow-up edits in the history, timeliness in hours, and the reminder queries' rules."""

from __future__ import annotations

import datetime as dt
from typing import Any
from zoneinfo import ZoneInfo

import pytest
from alembic import command
from sqlalchemy import insert, select
from sqlalchemy.engine import Connection
from sqlalchemy.exc import IntegrityError

from storage import history, repo
from storage import reminders as store
from storage.db import alembic_config
from storage.models import Audit, Change, Customer, FollowUp, User
from tests.conftest import Database

NOW = dt.datetime(2026, 11, 22, 2, 0, tzinfo=dt.UTC)  # 10:00 in Shanghai
SH = ZoneInfo("Asia/Shanghai")
CODE = "91440300708461136T"
CALL = "电话沟通了报价,对方希望下周收到。"


async def _users(db: Database) -> dict[str, User]:
    async with db.sessions.begin() as s:
        ann = await repo.add_user(s, 3, "Ann", "sales")
        bob = await repo.add_user(s, 4, "Bob", "sales")
        return {"ann": ann, "bob": bob}


async def _customer(db: Database, user: User, **kw: Any) -> Customer:
    answers = {"kind": "enterprise", "name": "华为技术有限公司", "status": "potential"} | kw
    async with db.sessions.begin() as s:
        owner = await s.get(User, user.id)
        assert owner is not None
        return await repo.create_customer(s, owner, answers, [], NOW, NOW.date())


async def test_the_same_credit_code_is_never_saved_twice(db: Database) -> None:
    people = await _users(db)
    first = await _customer(db, people["ann"], credit_code=CODE)
    with pytest.raises(repo.CreditCodeTaken) as taken:
        await _customer(db, people["bob"], name="华为终端有限公司", credit_code=CODE)
    assert taken.value.number == first.number
    other = await _customer(db, people["bob"], name="阿里巴巴集团控股有限公司")
    async with db.sessions.begin() as s:
        bob = await s.get(User, people["bob"].id)
        assert bob is not None
        with pytest.raises(repo.CreditCodeTaken):
            await repo.apply_edit(s, bob, "customer", other.id, "credit_code", CODE, "改代码", NOW)
    # the database itself refuses it, whatever code path tries
    with pytest.raises(IntegrityError):
        async with db.sessions.begin() as s:
            await s.execute(
                insert(Customer).values(
                    number="C202611229999", kind="enterprise", name="X", name_key="x", credit_code=CODE,
                    owner_id=people["ann"].id, created_by=people["ann"].id, tags=[], pending=[],
                )
            )  # fmt: skip
    async with db.sessions.begin() as s:  # a customer merged away keeps its code and blocks nothing
        row = await s.get(Customer, first.id)
        assert row is not None
        row.merged_into_id = other.id
    again = await _customer(db, people["bob"], name="华为技术有限公司", credit_code=CODE)
    assert again.credit_code == CODE


def _migrate(connection: Connection, revision: str, down: bool) -> None:
    cfg = alembic_config()
    cfg.attributes["connection"] = connection
    (command.downgrade if down else command.upgrade)(cfg, revision)


async def test_the_migration_keeps_a_database_that_already_has_two_customers_with_one_code(
    db: Database,
) -> None:
    people = await _users(db)
    async with db.engine.begin() as conn:
        await conn.run_sync(_migrate, "0002", True)
    async with db.sessions.begin() as s:  # as the bug let it happen
        for number in ("C202611010001", "C202611020001"):
            await s.execute(
                insert(Customer).values(
                    number=number, kind="enterprise", name="华为技术有限公司", name_key="华为",
                    credit_code=CODE, owner_id=people["ann"].id, created_by=people["ann"].id, tags=[],
                    pending=[], created_at=NOW, updated_at=NOW,
                )
            )  # fmt: skip
    async with db.engine.begin() as conn:
        await conn.run_sync(_migrate, "head", False)
    async with db.sessions() as s:
        rows = (await s.execute(select(Customer).order_by(Customer.id))).scalars().all()
        assert [(c.number, c.credit_code) for c in rows] == [("C202611010001", CODE), ("C202611020001", None)]
        assert rows[1].pending == ["credit_code"] and rows[1].pending_since is not None
        change = (await s.execute(select(Change))).scalar_one()
        assert (change.entity_id, change.field, change.old_value, change.new_value) == (
            rows[1].id,
            "credit_code",
            CODE,
            None,
        )
        assert "C202611010001" in (change.reason or "")
        assert (
            await s.execute(select(Audit.action).where(Audit.action == "credit_code_release"))
        ).scalar_one()


async def test_a_contact_with_the_same_name_and_phone_is_found_for_any_owner(db: Database) -> None:
    people = await _users(db)
    bobs = await _customer(db, people["bob"], name="阿里巴巴集团控股有限公司")
    anns = await _customer(db, people["ann"])
    async with db.sessions.begin() as s:
        await repo.create_contact(
            s, people["bob"], bobs.id, {"name": "李 娜", "phone": "+8613900000000"}, [], NOW
        )
        mine = await repo.create_contact(
            s, people["ann"], anns.id, {"name": "李娜", "phone": "+8613900000000"}, [], NOW
        )
    async with db.sessions() as s:
        ann = await s.get(User, people["ann"].id)
        assert ann is not None
        found = await repo.find_contact_duplicates(s, ann, "李娜", "+8613900000000")
        assert {(m.customer_id, m.visible, m.reasons) for m in found} == {
            (bobs.id, False, ("contact",)),
            (anns.id, True, ("contact",)),
        }
        foreign = next(m for m in found if not m.visible)
        assert (foreign.name, foreign.owner_name, foreign.number) == ("阿里巴巴集团控股有限公司", "Bob", None)
        assert await repo.find_contact_duplicates(s, ann, "李娜", "+8613900000001") == []
        assert await repo.find_contact_duplicates(s, ann, "王芳", "+8613900000000") == []
        alone = await repo.find_contact_duplicates(s, ann, "李娜", "+8613900000000", exclude_id=mine.id)
        assert [m.customer_id for m in alone] == [bobs.id]


async def test_timeliness_is_hours_from_the_end_of_the_interaction_day_in_the_users_zone(
    db: Database,
) -> None:
    # 07:00 on Sunday in Shanghai is still Saturday in UTC: a visit on Saturday is 7 hours late, not 0
    entered = dt.datetime(2026, 11, 21, 23, 0, tzinfo=dt.UTC)
    assert repo.entry_delay_hours(dt.date(2026, 11, 21), entered, SH) == 7.0
    assert repo.entry_delay_hours(dt.date(2026, 11, 22), entered, SH) == 0.0  # the same day: on time
    assert repo.entry_delay_hours(dt.date(2026, 11, 20), entered, SH) == 31.0
    people = await _users(db)
    c = await _customer(db, people["ann"])
    async with db.sessions.begin() as s:
        ann = await s.get(User, people["ann"].id)
        assert ann is not None
        answers = {
            "occurred_on": "2026-11-20",
            "mode": "visit",
            "content": "拜访了对方,讨论了报价和实施方案的细节。",
        }
        f = await repo.create_followup(s, ann, c.id, answers, ["demand_status"], entered, SH)
        assert (f.entry_delay_hours, f.pending, f.pending_since) == (31.0, ["demand_status"], entered)
        customer = await s.get(Customer, c.id)
        assert customer is not None and customer.updated_at == NOW  # contact, not a data update


async def test_a_followup_edit_is_kept_in_the_history_and_fills_its_pending_field(db: Database) -> None:
    people = await _users(db)
    c = await _customer(db, people["ann"])
    async with db.sessions.begin() as s:
        ann = await s.get(User, people["ann"].id)
        assert ann is not None
        answers = {
            "occurred_on": "2026-11-21",
            "mode": "phone",
            "content": "电话沟通了报价,对方希望下周收到。",
        }
        f = await repo.create_followup(s, ann, c.id, answers, ["next_at"], NOW, SH)
        later = {"at": "2026-11-24T14:00:00+08:00", "has_time": True}
        await repo.apply_edit(s, ann, "followup", f.id, "next_at", later, "补上时间", NOW)
        await repo.apply_edit(
            s, ann, "followup", f.id, "mode", "visit", "记错了", NOW + dt.timedelta(minutes=1)
        )
        assert (f.pending, f.pending_since, f.next_done) == ([], None, False)
        assert f.next_at == dt.datetime(2026, 11, 24, 6, 0, tzinfo=dt.UTC)
    async with db.sessions.begin() as s:
        bob = await s.get(User, people["bob"].id)
        assert bob is not None
        with pytest.raises(repo.NotAllowed):
            await repo.apply_edit(s, bob, "followup", f.id, "content", "x" * 30, "hijack", NOW)
    async with db.sessions() as s:
        lines, total = await history.changes_page(s, c.id, 0, 10, SH)
        assert total == 2
        assert [(x.entity, x.field, x.new, x.reason, x.who, x.day) for x in lines] == [
            ("followup", "mode", "visit", "记错了", "Ann", dt.date(2026, 11, 21)),
            ("followup", "next_at", "2026-11-24T06:00:00+00:00", "补上时间", "Ann", dt.date(2026, 11, 21)),
        ]


async def test_history_pages_newest_first(db: Database) -> None:
    people = await _users(db)
    c = await _customer(db, people["ann"])
    async with db.sessions.begin() as s:
        ann = await s.get(User, people["ann"].id)
        assert ann is not None
        for day in range(1, 13):
            answers = {
                "occurred_on": f"2026-11-{day:02d}",
                "mode": "phone",
                "content": f"第{day}次沟通,内容足够长了。。。。",
            }
            await repo.create_followup(s, ann, c.id, answers, [], NOW, SH)
    async with db.sessions() as s:
        page, total = await history.followups_page(s, c.id, 5, 5)
        assert total == 12 and [f.occurred_on.day for f in page] == [7, 6, 5, 4, 3]


async def test_silence_counts_an_overdue_plan_as_no_contact(db: Database) -> None:
    people = await _users(db)
    c = await _customer(db, people["ann"])
    async with db.sessions.begin() as s:
        row = await s.get(Customer, c.id)
        assert row is not None
        row.last_contact_at = NOW - dt.timedelta(days=40)
        s.add(
            FollowUp(
                customer_id=c.id, occurred_on=dt.date(2026, 10, 13), mode="phone", content="x" * 20,
                next_at=NOW - dt.timedelta(days=20), created_by=people["ann"].id, created_at=NOW,
            )
        )  # fmt: skip
    before = NOW - dt.timedelta(days=30)
    async with db.sessions() as s:
        assert [x.id for x in await store.silent_customers(s, before, NOW)] == [c.id]
    async with db.sessions.begin() as s:
        s.add(
            FollowUp(
                customer_id=c.id, occurred_on=dt.date(2026, 10, 13), mode="phone", content="x" * 20,
                next_at=NOW + dt.timedelta(days=2), created_by=people["ann"].id, created_at=NOW,
            )
        )  # fmt: skip
    async with db.sessions() as s:
        assert await store.silent_customers(s, before, NOW) == []  # a contact is planned


async def test_pending_followups_are_found_after_seven_days(db: Database) -> None:
    people = await _users(db)
    c = await _customer(db, people["ann"])
    async with db.sessions.begin() as s:
        ann = await s.get(User, people["ann"].id)
        assert ann is not None
        answers = {
            "occurred_on": "2026-11-21",
            "mode": "phone",
            "content": "电话沟通了报价,对方希望下周收到。",
        }
        f = await repo.create_followup(s, ann, c.id, answers, ["demand_status"], NOW, SH)
    async with db.sessions() as s:
        assert await store.pending_followups(s, NOW - dt.timedelta(days=7)) == []
        found = await store.pending_followups(s, NOW + dt.timedelta(minutes=1))
        assert [(x.id, y.id) for x, y in found] == [(f.id, c.id)]


async def test_the_digest_lists_a_followups_pending_fields(db: Database) -> None:
    people = await _users(db)
    c = await _customer(db, people["ann"])
    async with db.sessions.begin() as s:
        ann = await s.get(User, people["ann"].id)
        assert ann is not None
        answers = {"occurred_on": "2026-11-21", "mode": "phone", "content": CALL}
        await repo.create_followup(s, ann, c.id, answers, ["next_at"], NOW, SH)
    async with db.sessions() as s:
        ann = await s.get(User, people["ann"].id)
        assert ann is not None
        digest = await store.digest(s, ann, NOW, SH)
    assert [(p.record, p.fields) for p in digest.pending] == [("followup", ("next_at",))]


async def test_a_race_past_the_check_is_stopped_by_the_index_with_the_same_clear_refusal(
    db: Database, monkeypatch: pytest.MonkeyPatch
) -> None:
    people = await _users(db)
    first = await _customer(db, people["ann"], credit_code=CODE)

    async def not_seen(*_: object) -> None:  # as if the other entry committed just after our check
        return None

    monkeypatch.setattr(repo, "_claim_credit_code", not_seen)
    async with db.sessions.begin() as s:
        bob = await s.get(User, people["bob"].id)
        assert bob is not None
        answers = {"kind": "enterprise", "name": "华为终端有限公司", "credit_code": CODE}
        with pytest.raises(repo.CreditCodeTaken) as taken:
            await repo.create_customer(s, bob, answers, [], NOW, NOW.date())
        assert taken.value.number == first.number
        # the transaction goes on (the conversation state is saved with it)
        other = await repo.create_customer(s, bob, {**answers, "credit_code": None}, [], NOW, NOW.date())
    async with db.sessions() as s:
        assert {c.id for c in (await s.execute(select(Customer))).scalars()} == {first.id, other.id}


async def test_an_edit_racing_to_an_existing_credit_code_gets_the_same_clear_refusal(
    db: Database, monkeypatch: pytest.MonkeyPatch
) -> None:
    people = await _users(db)
    first = await _customer(db, people["ann"], credit_code=CODE)
    async with db.sessions.begin() as s:
        bob = await s.get(User, people["bob"].id)
        assert bob is not None
        mine = await repo.create_customer(
            s, bob, {"kind": "enterprise", "name": "华为终端有限公司"}, [], NOW, NOW.date()
        )

    async def not_seen(*_: object) -> None:  # as if the other entry committed just after our check
        return None

    monkeypatch.setattr(repo, "_claim_credit_code", not_seen)
    async with db.sessions.begin() as s:
        bob = await s.get(User, people["bob"].id)
        assert bob is not None
        with pytest.raises(repo.CreditCodeTaken) as taken:
            await repo.apply_edit(s, bob, "customer", mine.id, "credit_code", CODE, "from the licence", NOW)
        assert taken.value.number == first.number
        await repo.apply_edit(s, bob, "customer", mine.id, "remarks", "still editable", "note", NOW)
    async with db.sessions() as s:
        again = await s.get(Customer, mine.id)
        assert again is not None and again.credit_code is None and again.remarks == "still editable"
