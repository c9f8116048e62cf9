"""Circled, superscript and full-width digits pick choices and buttons, never crash (issue 10, item 8)."""

from __future__ import annotations

import pytest

from flows.choices import CUSTOMER_STATUS
from flows.engine import parse_button
from flows.normalize import typed_number
from flows.reminders import parse_button as parse_reminder_button


@pytest.mark.parametrize("typed", ["2", "２", "②", "²", " 2 "])
def test_every_way_of_typing_two_picks_the_second_option(typed: str) -> None:
    option = CUSTOMER_STATUS.match(typed)
    assert option is not None and option.code == CUSTOMER_STATUS.options[1].code


@pytest.mark.parametrize("typed", ["⑳", "፩", "0", "99", "1" * 5000, "²³", "-1", "1.0"])
def test_digit_lookalikes_out_of_range_or_not_a_number_pick_nothing(typed: str) -> None:
    assert CUSTOMER_STATUS.match(typed) is None


def test_typed_number_is_bounded() -> None:
    assert typed_number("③") == 3
    assert typed_number("１２") == 12
    assert typed_number("፩") is None  # Ethiopic one: isdigit() but not decimal, int() refuses it
    assert typed_number("9" * 10) is None
    assert typed_number("") is None


def test_flow_buttons_with_odd_digits_read_as_digits_or_stale_never_a_crash() -> None:
    assert parse_button("f|①|x") == (1, "x")
    assert parse_button("f|²|o:1") == (2, "o:1")
    assert parse_button("f|፩|x") is None
    assert parse_button("f|" + "9" * 40 + "|x") is None


def test_reminder_buttons_with_odd_digits_never_crash_and_stay_in_id_range() -> None:
    assert parse_reminder_button("r|done|③") == ("done", 3, "")
    assert parse_reminder_button("r|done|፩") is None
    assert parse_reminder_button("r|done|" + "9" * 20) is None
    assert parse_reminder_button("r|done|12") == ("done", 12, "")
