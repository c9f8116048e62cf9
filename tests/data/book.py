"""A small populated CRM for the data tests (backup, export, stats, privacy): a team of four, customers
of both kinds, contacts, follow-ups, attachments on disk, a field change and an audit row."""

from __future__ import annotations

import asyncio
import datetime as dt
from dataclasses import dataclass, field
from pathlib import Path

import pytest

from storage import repo
from storage.files import FileInfo, FileStore
from storage.models import Change, Reminder
from storage.tx import Sessions

ADMIN, BOSS, ANN, BOB = 9001, 9002, 9003, 9004
PDF = b"%PDF-1.4 the signed quote " * 40
PHOTO = b"\xff\xd8\xff\xe0 business card photo" * 30


@dataclass
class Book:
    customers: dict[str, int] = field(default_factory=dict)  # name -> id
    contacts: dict[str, int] = field(default_factory=dict)
    users: dict[int, int] = field(default_factory=dict)  # telegram id -> user id


async def populate(sessions: Sessions, files: FileStore, now: dt.datetime) -> Book:
    book = Book()
    async with sessions.begin() as s:
        admin = await repo.add_user(s, ADMIN, "管理员", "admin")
        boss = await repo.add_user(s, BOSS, "李经理", "manager")
        ann = await repo.add_user(s, ANN, "王芳", "sales", BOSS)
        bob = await repo.add_user(s, BOB, "Bob Smith", "sales")
        for u in (admin, boss, ann, bob):
            book.users[u.telegram_id] = u.id
        shulan = await repo.create_customer(
            s,
            ann,
            {
                "kind": "enterprise",
                "name": "杭州数澜科技有限公司",
                "credit_code": "91330106MA27XUWB6P",
                "status": "potential",
                "industry": "it",
                "grade": "normal",
                "intent": "B",
                "phone": "+8613912345678",
                "email": "info@shulan.cn",
                "source": "trade_show",
                "address": {
                    "province": "浙江省",
                    "city": "杭州市",
                    "district": "西湖区",
                    "full": "浙江省杭州市西湖区文三路1号",
                },
                "tags": ["VIP客户"],
            },
            [],
            now,
            now.date(),
        )
        acme = await repo.create_customer(
            s,
            bob,
            {
                "kind": "enterprise",
                "name": "Acme Trading Co., Ltd.",
                "status": "deal",
                "email": "hi@acme.com",
            },
            ["credit_code", "phone"],
            now,
            now.date(),
        )
        zhang = await repo.create_customer(
            s,
            ann,
            {"kind": "individual", "name": "张三", "status": "potential", "phone": "+8613800000001"},
            ["email"],
            now,
            now.date(),
        )
        book.customers = {"数澜": shulan.id, "Acme": acme.id, "张三": zhang.id}
        zhou = await repo.create_contact(
            s,
            ann,
            shulan.id,
            {
                "name": "周杰",
                "position": "技术总监",
                "phone": "+8613911112222",
                "email": "zhou@shulan.cn",
                "role": "decision_maker",
                "birthday": "05-03",
            },
            [],
            now,
        )
        john = await repo.create_contact(
            s, bob, acme.id, {"name": "John Smith", "email": "john@acme.com", "role": "user"}, ["phone"], now
        )
        book.contacts = {"周杰": zhou.id, "John": john.id}
        yesterday = (now - dt.timedelta(days=1)).date()
        f1 = await repo.create_followup(
            s,
            ann,
            shulan.id,
            {
                "occurred_on": yesterday.isoformat(),
                "mode": "visit",
                "contact": {"id": zhou.id},
                "content": "拜访周杰,演示了系统,对方希望下周二前收到正式报价单和实施计划书。",
                "demand_status": "in_progress",
                "next_at": {"at": (now + dt.timedelta(days=3)).isoformat()},
                "location": {"lat": 30.27, "lon": 120.15},
            },
            [],
            now,
        )
        await repo.create_followup(
            s,
            bob,
            acme.id,
            {
                "occurred_on": now.date().isoformat(),
                "mode": "phone",
                "content": "Called John about the 50-seat quote.",
            },
            ["demand_status"],
            now,
        )
        for data, name, kind, followup in (
            (PDF, "报价单.pdf", "document", f1.id),
            (PHOTO, "card.jpg", "photo", None),
        ):
            staged = files.stage(data, FileInfo(kind, len(data), name, None), f"tg-{name}")
            await files.attach(s, staged, shulan, ann.id, now.date(), followup)
        s.add(
            Change(
                entity="customer",
                entity_id=shulan.id,
                field="grade",
                old_value="low",
                new_value="normal",
                reason="bigger budget",
                user_id=boss.id,
                at=now,
            )
        )
        await repo.audit(s, admin, "test", "populated")
        s.add(
            Reminder(
                key=f"due:{f1.id}",
                kind="due",
                user_id=ann.id,
                customer_id=shulan.id,
                followup_id=f1.id,
                due_at=now + dt.timedelta(days=3),
                detail={"n": 1},
            )
        )
    return book


def cli_book(tmp_path: Path, monkeypatch: pytest.MonkeyPatch, now: dt.datetime | None = None) -> Path:
    """The book in a fresh data folder, where `crm-bot` run in this process finds it (CRM_DATA_DIR,
    SQLite); returns the folder."""
    from storage.db import make_engine, make_sessions, migrate

    data = tmp_path / "data"
    monkeypatch.setenv("CRM_DATA_DIR", str(data))
    monkeypatch.delenv("CRM_DATABASE_URL", raising=False)

    async def setup() -> None:
        data.mkdir()
        engine = make_engine(f"sqlite+aiosqlite:///{data / 'crm.sqlite3'}")
        await migrate(engine)
        await populate(make_sessions(engine), FileStore(data / "attachments"), now or dt.datetime.now(dt.UTC))
        await engine.dispose()

    asyncio.run(setup())
    return data
