"""Ids from outside are bounded before any query: a huge id is "not found", never OverflowError."""

from __future__ import annotations

import datetime as dt

import pytest

from storage import reminders as rstore
from storage import repo
from storage.ids import MAX_ID, valid_id
from tests.conftest import Database

NOW = dt.datetime(2026, 11, 22, 2, 0, tzinfo=dt.UTC)
HUGE = [99999999999999999999, 2**63, -(2**63) - 1, 0, -5]


def test_valid_id_accepts_ints_and_decimal_text_in_range() -> None:
    assert valid_id(1) == 1
    assert valid_id("42") == 42
    assert valid_id(MAX_ID) == MAX_ID
    for bad in [*HUGE, "99999999999999999999", "①", "²", "", " ", "1e3", True, None, 1.0, "-3"]:
        assert valid_id(bad) is None, bad


async def test_huge_ids_are_not_found_on_every_backend(db: Database) -> None:
    async with db.sessions.begin() as s:
        admin = await repo.add_user(s, 1, "Admin", "admin")
        for big in HUGE:
            assert await repo.visible_customer(s, admin, big) is None
            assert await repo.contact_by_id(s, big) is None
            assert await repo.contacts_of(s, big) == []
            assert await repo.history(s, "customer", big) == []
            assert await rstore.reminder_by_id(s, big) is None
            with pytest.raises(repo.NotAllowed):
                await repo.apply_edit(s, admin, "contact", big, "name", "x", "why", NOW)
            with pytest.raises(repo.NotAllowed):
                await repo.apply_edit(s, admin, "customer", big, "name", "x", "why", NOW)
