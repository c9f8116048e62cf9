"""The reminder outbox on SQLite and PostgreSQL: idempotent creation, atomic claims with leases,
fenced transitions, the due scan and its index, recipients, the digest query, the migration."""

from __future__ import annotations

import datetime as dt
from zoneinfo import ZoneInfo

import pytest
from alembic import command
from sqlalchemy import select, text
from sqlalchemy.engine import Connection

from storage import reminders as store
from storage import repo
from storage.db import alembic_config
from storage.models import Customer, FollowUp, Reminder, User
from tests.conftest import Clock, Database

NOW = dt.datetime(2026, 11, 22, 2, 0, tzinfo=dt.UTC)
LEASE = dt.timedelta(seconds=60)


def row(key: str, user_id: int, due_at: dt.datetime = NOW, **extra: object) -> dict[str, object]:
    return {"key": key, "kind": "due", "user_id": user_id, "due_at": due_at, "created_at": NOW, **extra}


async def _people(db: Database) -> dict[str, User]:
    async with db.sessions.begin() as s:
        boss = await repo.add_user(s, 1, "Boss", "manager")
        ann = await repo.add_user(s, 2, "Ann", "sales", manager_telegram_id=1)
        admin = await repo.add_user(s, 3, "Root", "admin")
        return {"boss": boss, "ann": ann, "admin": admin}


async def _customer(db: Database, owner: User, name: str = "华为技术有限公司") -> Customer:
    async with db.sessions.begin() as s:
        return await repo.create_customer(s, owner, {"kind": "enterprise", "name": name}, [], NOW, NOW.date())


async def _followup(db: Database, customer: Customer, next_at: dt.datetime | None, done: bool = False) -> int:
    async with db.sessions.begin() as s:
        f = FollowUp(
            customer_id=customer.id, occurred_on=NOW.date(), mode="phone", content="x" * 20,
            next_at=next_at, next_done=done, created_by=customer.owner_id,
        )  # fmt: skip
        s.add(f)
        await s.flush()
        return f.id


async def test_creating_the_same_occurrence_twice_keeps_one_row(db: Database) -> None:
    people = await _people(db)
    uid = people["ann"].id
    async with db.sessions.begin() as s:
        assert await store.add(s, [row("due:1:a", uid), row("due:2:a", uid)]) == 2
    async with db.sessions.begin() as s:
        assert await store.add(s, [row("due:1:a", uid), row("due:3:a", uid)]) == 1
        assert await store.add(s, []) == 0
    async with db.sessions() as s:
        keys = (await s.execute(select(Reminder.key).order_by(Reminder.key))).scalars().all()
        assert keys == ["due:1:a", "due:2:a", "due:3:a"]
        assert await store.existing_keys(s, ["due:1:a", "nope"]) == {"due:1:a"}


async def test_a_claim_takes_due_rows_once_and_expired_leases_come_back_flagged(db: Database) -> None:
    uid = (await _people(db))["ann"].id
    async with db.sessions.begin() as s:
        await store.add(s, [row(f"k{i}", uid, NOW - dt.timedelta(minutes=i)) for i in range(5)])
        await store.add(s, [row("later", uid, NOW + dt.timedelta(hours=1))])
    async with db.sessions.begin() as s:
        first = await store.claim(s, "a", NOW, LEASE, 3)
    assert [r.key for r in first] == ["k4", "k3", "k2"]  # oldest first
    assert all((r.state, r.claimed_by, r.attempts) == ("claimed", "a", 1) for r in first)
    async with db.sessions.begin() as s:
        second = await store.claim(s, "b", NOW, LEASE, 10)
        assert [r.key for r in second] == ["k1", "k0"]
        assert await store.claim(s, "c", NOW, LEASE, 10) == []
    # "a" starts sending k4 and dies; "b" gives k1 back cleanly
    async with db.sessions.begin() as s:
        assert await store.move(s, first[0].id, "a", "claimed", state="sending")
        assert not await store.move(s, first[0].id, "b", "sending", state="sent")  # not b's
        assert await store.release(s, "b") == 2
    async with db.sessions.begin() as s:
        later = NOW + dt.timedelta(seconds=30)
        assert sorted(r.key for r in await store.claim(s, "c", later, LEASE, 10)) == ["k0", "k1"]
        assert await store.claim(s, "c", NOW + LEASE - dt.timedelta(seconds=1), LEASE, 10) == []
        back = await store.claim(s, "c", NOW + LEASE, LEASE, 10)
    assert {r.key: r.unconfirmed for r in back} == {"k4": True, "k3": False, "k2": False}
    async with db.sessions.begin() as s:
        assert not await store.finish(s, first[0].id, "a", state="sent")  # the dead worker is fenced off
        assert await store.extend(s, "c", NOW + 3 * LEASE) == 5


@pytest.mark.parametrize("db", [pytest.param("postgres", marks=pytest.mark.postgres)], indirect=True)
async def test_on_postgresql_concurrent_claims_skip_each_others_locked_rows(db: Database) -> None:
    uid = (await _people(db))["ann"].id
    async with db.sessions.begin() as s:
        await store.add(s, [row(f"k{i}", uid) for i in range(6)])
    async with db.sessions() as a, db.sessions() as b:
        taken_a = await store.claim(a, "a", NOW, LEASE, 4)  # not committed: its rows stay locked
        taken_b = await store.claim(b, "b", NOW, LEASE, 4)  # does not wait, takes the others
        assert len(taken_a) == 4 and len(taken_b) == 2
        assert not {r.id for r in taken_a} & {r.id for r in taken_b}
        await a.rollback()  # a crashed before committing: its rows are free again at once
        await b.commit()
    async with db.sessions.begin() as s:
        assert len(await store.claim(s, "c", NOW, LEASE, 10)) == 4


async def test_the_due_scan_finds_each_open_followup_once_in_its_window(db: Database) -> None:
    people = await _people(db)
    customer = await _customer(db, people["ann"])
    due = await _followup(db, customer, NOW - dt.timedelta(minutes=5))
    await _followup(db, customer, NOW - dt.timedelta(minutes=5), done=True)
    await _followup(db, customer, NOW + dt.timedelta(minutes=5))
    await _followup(db, customer, None)
    old = await _followup(db, customer, NOW - dt.timedelta(days=10))
    async with db.sessions() as s:
        found = await store.due_followups(s, None, NOW)
        assert sorted(d.followup_id for d in found) == [due, old]
        assert found[0].owner_id == people["ann"].id
        windowed = await store.due_followups(s, NOW - dt.timedelta(hours=1), NOW)
        assert [d.followup_id for d in windowed] == [due]
    async with db.sessions.begin() as s:
        await store.add(
            s, [row("r", people["ann"].id, followup_id=due, ref_at=NOW - dt.timedelta(minutes=5))]
        )
    async with db.sessions() as s:
        assert [d.followup_id for d in await store.due_followups(s, None, NOW)] == [old]  # has its reminder


async def test_the_due_scan_uses_the_followups_due_index(db: Database) -> None:
    sql = (
        "SELECT id FROM followups WHERE next_done = false AND next_at > :lo AND next_at <= :hi"
        if db.backend == "postgres"
        else "SELECT id FROM followups WHERE next_done = 0 AND next_at > :lo AND next_at <= :hi"
    )
    lo, hi = "2026-11-22 00:00:00", "2026-11-22 02:00:00"
    async with db.engine.connect() as conn:
        if db.backend == "postgres":
            await conn.execute(text("SET enable_seqscan = off"))  # an empty table: ask whether it can
            plan = (await conn.execute(text(f"EXPLAIN {sql}"), {"lo": NOW, "hi": NOW})).scalars().all()
        else:
            plan = [
                r[-1] for r in (await conn.execute(text(f"EXPLAIN QUERY PLAN {sql}"), {"lo": lo, "hi": hi}))
            ]
    assert any("ix_followups_due" in str(line) for line in plan), plan


async def test_recipients_follow_the_manager_chain_then_an_admin(db: Database) -> None:
    people = await _people(db)
    ann, boss, admin = people["ann"].id, people["boss"].id, people["admin"].id
    async with db.sessions.begin() as s:
        users = await store.users_by_id(s)
        assert store.resolve(users, ann).id == ann  # type: ignore[union-attr]
        assert (await store.recipient(s, ann)).id == ann  # type: ignore[union-attr]
        (await s.get(User, ann)).active = False  # type: ignore[union-attr]
    async with db.sessions.begin() as s:
        assert store.resolve(await store.users_by_id(s), ann).id == boss  # type: ignore[union-attr]
        assert (await store.recipient(s, ann)).id == boss  # type: ignore[union-attr]
        (await s.get(User, boss)).active = False  # type: ignore[union-attr]
    async with db.sessions.begin() as s:
        assert store.resolve(await store.users_by_id(s), ann).id == admin  # type: ignore[union-attr]
        assert (await store.recipient(s, ann)).id == admin  # type: ignore[union-attr]
        (await s.get(User, admin)).active = False  # type: ignore[union-attr]
    async with db.sessions() as s:
        assert store.resolve(await store.users_by_id(s), ann) is None
        assert await store.recipient(s, ann) is None


async def test_the_scan_cursor_only_moves_forward(db: Database) -> None:
    async with db.sessions.begin() as s:
        assert await store.read_cursor(s, "due", lock=True) is None
        await store.write_cursor(s, "due", NOW)
    async with db.sessions.begin() as s:
        await store.write_cursor(s, "due", NOW - dt.timedelta(minutes=1))  # a slower process
    async with db.sessions.begin() as s:
        assert await store.read_cursor(s, "due", lock=True) == NOW
        await store.write_cursor(s, "due", NOW + dt.timedelta(minutes=1))
    async with db.sessions() as s:
        assert await store.read_cursor(s, "due") == NOW + dt.timedelta(minutes=1)


async def test_held_reminders_come_back_when_the_person_unblocks_the_bot(db: Database) -> None:
    uid = (await _people(db))["ann"].id
    async with db.sessions.begin() as s:
        await store.add(s, [row("h", uid, state="held")])
        (await s.get(User, uid)).blocked_at = NOW  # type: ignore[union-attr]
    async with db.sessions.begin() as s:
        assert await store.unhold(s) == 0
        (await s.get(User, uid)).blocked_at = None  # type: ignore[union-attr]
    async with db.sessions.begin() as s:
        assert await store.unhold(s) == 1
        assert await store.counts(s) == {"pending": 1}


async def test_the_digest_counts_overdue_today_and_pending_on_own_customers(
    db: Database, clock: Clock
) -> None:
    people = await _people(db)
    mine = await _customer(db, people["ann"])
    other = await _customer(db, people["boss"], "阿里巴巴集团控股有限公司")
    for minutes in (-120, -5):
        await _followup(db, mine, NOW + dt.timedelta(minutes=minutes))
    await _followup(db, mine, NOW + dt.timedelta(hours=5))  # 15:00 in Shanghai: later today
    await _followup(db, mine, NOW + dt.timedelta(hours=20))  # tomorrow
    await _followup(db, other, NOW - dt.timedelta(hours=1))  # not Ann's
    async with db.sessions.begin() as s:
        c = await s.get(Customer, mine.id)
        assert c is not None
        c.pending, c.pending_since = ["email"], NOW
        await repo.create_contact(s, people["ann"], mine.id, {"name": "张伟"}, ["phone"], NOW)
    async with db.sessions() as s:
        ann = await s.get(User, people["ann"].id)
        assert ann is not None
        digest = await store.digest(s, ann, NOW, ZoneInfo("Asia/Shanghai"))
    assert (digest.overdue_count, digest.today_count, digest.pending_count) == (2, 1, 2)
    assert digest.day == dt.date(2026, 11, 22)
    assert [line.at.hour for line in digest.today if line.at] == [15]
    assert {(p.record, p.fields) for p in digest.pending} == {
        ("customer", ("email",)),
        ("contact", ("phone",)),
    }


def _migrate(connection: Connection, revision: str, down: bool) -> None:
    cfg = alembic_config()
    cfg.attributes["connection"] = connection
    (command.downgrade if down else command.upgrade)(cfg, revision)


async def test_the_reminders_migration_goes_down_and_up_again(db: Database) -> None:
    async with db.engine.begin() as conn:
        await conn.run_sync(_migrate, "0001", True)
        tables = await conn.run_sync(lambda c: set(c.dialect.get_table_names(c)))
        assert "reminders" not in tables and "reminder_cursors" not in tables
        await conn.run_sync(_migrate, "head", False)
        tables = await conn.run_sync(lambda c: set(c.dialect.get_table_names(c)))
        assert {"reminders", "reminder_cursors"} <= tables
    uid = (await _people(db))["ann"].id
    async with db.sessions.begin() as s:
        assert await store.add(s, [row("after-migration", uid)]) == 1
