"""What a validator accepts, every backend stores (issue 10, item 9).

Each free-text field is filled to its limit as people count it (display_len) with emoji sequences,
combining marks and control characters, parsed by the field's own step, and saved through the
repository functions on SQLite and PostgreSQL.
"""

from __future__ import annotations

import datetime as dt
from typing import Any

import pytest

from flows.definitions import FLOWS
from flows.errors import Invalid
from flows.normalize import display_len
from storage import repo
from storage.models import Contact, Customer, FollowUp, User
from tests.conftest import Database

NOW = dt.datetime(2026, 11, 22, 2, 0, tzinfo=dt.UTC)
HEART = "❤️"  # U+2764 U+FE0F: one shown, two code points
FAMILY = "👨‍👩‍👧"  # joined by ZWJ, which normalize drops: three shown, three code points
MARKS = "x\u0323\u0301"  # no precomposed form: one shown, three code points
FIELDS = {  # flow: fields whose limit the validator counts in shown characters
    "customer": ("industry_other", "main_business", "current_problem", "interest", "remarks"),
    "contact": ("position", "channel_time", "remarks"),
    "followup": ("participants", "content"),
    "edit_customer": ("reason",),
}


def _step(flow: str, name: str) -> Any:
    return next(s for s in FLOWS[flow].steps if s.name == name)


def _limit(step: Any) -> int:
    """The largest display length the step accepts (found by asking it, not by copying numbers)."""
    low, high = 1, 5000
    while low < high:
        mid = (low + high + 1) // 2
        try:
            step.parse("字" * mid, None)
            low = mid
        except Invalid:
            high = mid - 1
    return low


def _fill(unit: str, shown: int, limit: int) -> str:
    text = unit * (limit // shown)
    return text + "字" * (limit - display_len(text))


def _values(flow: str, name: str) -> list[str]:
    step = _step(flow, name)
    limit = _limit(step)
    raw = [
        _fill(HEART, 1, limit),
        _fill(FAMILY, 3, limit),
        _fill(MARKS, 1, limit),
        "a\x00b\x07c\x1b" + "字" * 20,
    ]
    parsed = [step.parse(text, None) for text in raw]
    assert all(display_len(p) <= limit for p in parsed)
    assert max(len(p) for p in parsed) > limit  # more code points than the limit: what broke varchar
    assert all("\x00" not in p and "\x07" not in p for p in parsed)
    return parsed


async def _users(db: Database) -> User:
    async with db.sessions.begin() as s:
        return await repo.add_user(s, 1, "Admin", "admin")


@pytest.mark.parametrize("name", FIELDS["customer"])
async def test_customer_text_fields_at_their_limit_are_saved(db: Database, name: str) -> None:
    admin = await _users(db)
    for i, value in enumerate(_values("customer", name)):
        async with db.sessions.begin() as s:
            user = await s.get(User, admin.id)
            assert user is not None
            answers = {"kind": "individual", "name": "王小明", name: value}
            saved = await repo.create_customer(s, user, answers, [], NOW, NOW.date())
        async with db.sessions.begin() as s:
            row = await s.get(Customer, saved.id)
            assert row is not None and getattr(row, name) == value, (name, i)


@pytest.mark.parametrize("name", FIELDS["contact"])
async def test_contact_text_fields_at_their_limit_are_saved(db: Database, name: str) -> None:
    admin = await _users(db)
    async with db.sessions.begin() as s:
        user = await s.get(User, admin.id)
        assert user is not None
        customer = await repo.create_customer(
            s, user, {"kind": "individual", "name": "王小明"}, [], NOW, NOW.date()
        )
    for value in _values("contact", name):
        async with db.sessions.begin() as s:
            user = await s.get(User, admin.id)
            assert user is not None
            contact = await repo.create_contact(s, user, customer.id, {"name": "李四", name: value}, [], NOW)
        async with db.sessions.begin() as s:
            row = await s.get(Contact, contact.id)
            assert row is not None and getattr(row, name) == value


@pytest.mark.parametrize("name", FIELDS["followup"])
async def test_followup_text_fields_at_their_limit_are_saved(db: Database, name: str) -> None:
    admin = await _users(db)
    async with db.sessions.begin() as s:
        user = await s.get(User, admin.id)
        assert user is not None
        customer = await repo.create_customer(
            s, user, {"kind": "individual", "name": "王小明"}, [], NOW, NOW.date()
        )
    for value in _values("followup", name):
        answers = {"occurred_on": "2026-11-21", "mode": "phone", "content": "电话沟通了报价" * 4, name: value}
        async with db.sessions.begin() as s:
            user = await s.get(User, admin.id)
            assert user is not None
            followup = await repo.create_followup(s, user, customer.id, answers, [], NOW)
        async with db.sessions.begin() as s:
            row = await s.get(FollowUp, followup.id)
            assert row is not None and getattr(row, name) == value


async def test_edits_with_long_reasons_and_values_are_saved(db: Database) -> None:
    admin = await _users(db)
    async with db.sessions.begin() as s:
        user = await s.get(User, admin.id)
        assert user is not None
        customer = await repo.create_customer(
            s, user, {"kind": "individual", "name": "王小明"}, [], NOW, NOW.date()
        )
    remarks = _values("customer", "remarks")
    for reason, value in zip(_values("edit_customer", "reason"), remarks, strict=True):
        async with db.sessions.begin() as s:
            user = await s.get(User, admin.id)
            assert user is not None
            change = await repo.apply_edit(s, user, "customer", customer.id, "remarks", value, reason, NOW)
            assert change.reason == reason


async def test_an_address_with_combining_marks_at_its_limit_is_saved(db: Database) -> None:
    admin = await _users(db)
    step = _step("customer", "address")
    head = "广西南宁市青秀区民族大道15号"
    answer = step.parse(head + MARKS * (200 - display_len(head)), None)
    assert len(answer["full"]) > 300  # longer than the old varchar(300) in code points
    async with db.sessions.begin() as s:
        user = await s.get(User, admin.id)
        assert user is not None
        saved = await repo.create_customer(
            s, user, {"kind": "individual", "name": "王小明", "address": answer}, [], NOW, NOW.date()
        )
    async with db.sessions.begin() as s:
        row = await s.get(Customer, saved.id)
        assert row is not None and row.address == answer["full"]


async def test_find_with_control_characters_does_not_crash(db: Database) -> None:
    admin = await _users(db)
    async with db.sessions.begin() as s:
        user = await s.get(User, admin.id)
        assert user is not None
        await repo.create_customer(s, user, {"kind": "individual", "name": "王小明"}, [], NOW, NOW.date())
    async with db.sessions.begin() as s:
        user = await s.get(User, admin.id)
        assert user is not None
        found = await repo.search_customers(s, user, "王\x00小明")
        assert [c.name for c in found] == ["王小明"]
        assert await repo.search_customers(s, user, "\x00\x01") == []
