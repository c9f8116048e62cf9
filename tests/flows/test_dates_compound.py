"""Date understanding, compound forms (issue 14, p99): "<N> <units> from/after <day phrase>",
"the <nth> <weekday> of <month>" (下个月第一个周一) and "the 15th of next month" are read by the
project's rules (dateparser, 1.8-2.9 ms a call, used to read some of them, several wrongly). Each
form under several "now"s, both readings, and the refusals.

Notation as in test_dates.py: "2026-12-07 09:00*" = a When with the default hour, "!key" = refusal,
"?A|B" = a choice offered. Expected values are worked out by hand from a calendar (Nov 2026 starts
on a Sunday, Dec 2026 on a Tuesday, Jan 2027 on a Friday, May 2026 on a Friday, Oct 2026 on a
Thursday).
"""

from __future__ import annotations

import datetime as dt
from zoneinfo import ZoneInfo

import pytest

from flows.dates import find_when, understand_when
from tests.flows.date_table import check_case, shown

SH = ZoneInfo("Asia/Shanghai")
NY = ZoneInfo("America/New_York")
NOWS = {
    "SUN": dt.datetime(2026, 11, 22, 10, 30, tzinfo=SH),  # a Sunday morning
    "AFT": dt.datetime(2026, 11, 24, 15, 30, tzinfo=SH),  # Tuesday mid-afternoon
    "FRI": dt.datetime(2026, 11, 27, 18, 30, tzinfo=SH),  # Friday after work
    "EOM": dt.datetime(2026, 4, 30, 16, 0, tzinfo=SH),  # last day of a month, a Thursday
    "EOY": dt.datetime(2026, 12, 31, 23, 59, tzinfo=SH),  # last day of a year, a Thursday
    "NYC": dt.datetime(2026, 3, 7, 12, 0, tzinfo=NY),  # Saturday before the US DST jump (8 Mar)
}
F, P = False, True

TABLE: list[tuple[str, bool, str, str]] = [
    # --- "<N> <units> from <day>": the day as the rules read it alone, then moved on
    ("SUN", F, "2 weeks from tomorrow", "2026-12-07 09:00*"),
    ("SUN", F, "two weeks from tomorrow", "2026-12-07 09:00*"),
    ("SUN", F, "2 weeks after tomorrow", "2026-12-07 09:00*"),
    ("SUN", F, "a fortnight from tomorrow", "2026-12-07 09:00*"),
    ("SUN", F, "3 weeks from next monday", "2026-12-14 09:00*"),
    ("SUN", F, "a week from friday", "2026-12-04 09:00*"),
    ("SUN", F, "A WEEK FROM FRIDAY", "2026-12-04 09:00*"),
    ("SUN", F, "10 days from tomorrow", "2026-12-03 09:00*"),  # dateparser dropped "10 days from"
    ("SUN", F, "2 weeks from today", "2026-12-06 09:00*"),  # dateparser read this as 2 weeks ago
    ("SUN", F, "a fortnight from today", "2026-12-06 09:00*"),
    ("SUN", F, "2 weeks from now", "2026-12-06 09:00*"),
    ("SUN", F, "2 weeks from right now", "2026-12-06 09:00*"),
    ("SUN", F, "a month from tomorrow", "2026-12-23 09:00*"),
    ("SUN", F, "3 days from the 15th", "2026-12-18 09:00*"),  # the 15th has passed: December's
    ("SUN", F, "a week from next week", "2026-11-30 09:00*"),
    ("SUN", F, "one month after christmas", "2027-01-25 09:00*"),
    # the time is the anchor's: said with it, kept; not said, the default hour; a bare 3 asks
    ("SUN", F, "two weeks from tomorrow 3pm", "2026-12-07 15:00"),
    ("SUN", F, "2 weeks from tomorrow at 3", "?2026-12-07 15:00|2026-12-07 03:00"),
    ("AFT", F, "3 days from tonight", "2026-11-27 20:00*"),
    ("AFT", F, "one week after friday 2pm", "2026-12-04 14:00"),
    ("AFT", F, "2 weeks from tomorrow", "2026-12-09 09:00*"),
    # a bare weekday is its next one; with a later time on that very day, today (as "周二下午5点")
    ("AFT", F, "a week from tuesday", "2026-12-08 09:00*"),
    ("AFT", F, "a week from tuesday 5pm", "2026-12-01 17:00"),
    ("FRI", F, "a week from friday", "2026-12-11 09:00*"),
    ("FRI", F, "a week from today", "2026-12-04 09:00*"),
    ("FRI", F, "3 weeks from monday 10am", "2026-12-21 10:00"),
    ("EOM", F, "2 weeks from tomorrow", "2026-05-15 09:00*"),
    ("EOM", F, "a month from tomorrow", "2026-06-01 09:00*"),
    ("EOM", F, "one month after today", "2026-05-30 09:00*"),
    ("EOY", F, "2 weeks from tomorrow", "2027-01-15 09:00*"),
    ("EOY", F, "a week from next monday", "2027-01-11 09:00*"),
    ("EOY", F, "a year from tomorrow", "2028-01-01 09:00*"),
    ("NYC", F, "1 day from tomorrow 9am", "2026-03-09 09:00 -04:00"),
    # the past reading: the anchor's past reading, moved on, and it must not be after now
    ("SUN", P, "2 weeks from tomorrow", "!in_future"),
    ("SUN", P, "3 days after last monday", "2026-11-19 09:00*"),
    ("SUN", P, "a week from yesterday", "!in_future"),  # dateparser read this as a week before
    ("AFT", P, "2 days after last friday", "2026-11-22 09:00*"),
    ("AFT", P, "a week after the 10th", "2026-11-17 09:00*"),
    ("EOM", P, "a week after last thursday", "2026-04-30 09:00*"),
    # --- "the <nth> <weekday> of <month>"
    ("SUN", F, "the first monday of next month", "2026-12-07 09:00*"),
    ("SUN", F, "first monday of next month 10am", "2026-12-07 10:00"),
    ("SUN", F, "the 1st monday of december", "2026-12-07 09:00*"),  # dateparser said Tue 1 Dec
    ("SUN", F, "the second tuesday of december", "2026-12-08 09:00*"),
    ("SUN", F, "the last friday of this month", "2026-11-27 09:00*"),
    ("SUN", F, "the last friday of next month", "2026-12-25 09:00*"),
    ("SUN", F, "the first monday of this month", "!in_past"),
    ("SUN", P, "the first monday of this month", "2026-11-02 09:00*"),
    ("SUN", P, "the first monday of last month", "2026-10-05 09:00*"),
    ("SUN", P, "the first monday of next month", "!in_future"),
    ("AFT", F, "the first monday of next month", "2026-12-07 09:00*"),
    ("FRI", F, "the first friday of next month", "2026-12-04 09:00*"),
    ("EOM", F, "the first monday of next month", "2026-05-04 09:00*"),
    ("EOM", F, "the last monday of next month", "2026-05-25 09:00*"),
    ("EOY", F, "the first monday of next month", "2027-01-04 09:00*"),
    ("EOY", P, "the last friday of this month", "2026-12-25 09:00*"),
    ("EOY", F, "a week from the first monday of next month", "2027-01-11 09:00*"),
    # --- the Chinese counterpart: 下个月第一个周一 (numerals and 星期/礼拜 as elsewhere)
    ("SUN", F, "下个月第一个周一", "2026-12-07 09:00*"),
    ("SUN", F, "下个月的第一个星期一上午10点", "2026-12-07 10:00"),
    ("SUN", F, "下月最后一个周五", "2026-12-25 09:00*"),
    ("SUN", F, "12月第二个礼拜二", "2026-12-08 09:00*"),
    ("SUN", F, "本月最后一个周日", "2026-11-29 09:00*"),
    ("SUN", F, "这个月第三个周四", "!in_past"),
    ("SUN", P, "上个月第一个周一", "2026-10-05 09:00*"),
    ("SUN", F, "下个月第一个周八", "!bad_weekday"),
    ("EOY", F, "下个月第一个周一下午3点", "2027-01-04 15:00"),
    # --- "the 15th of next month" (the need_day help suggests it) and "the 15th of December"
    ("SUN", F, "the 3rd of next month", "2026-12-03 09:00*"),
    ("SUN", F, "the 15th of next month", "2026-12-15 09:00*"),
    ("SUN", F, "the 15th of december", "2026-12-15 09:00*"),
    ("SUN", F, "the 20th of this month", "!in_past"),  # said with its month: not rolled on
    ("SUN", P, "the 3rd of next month", "!in_future"),
    ("SUN", P, "the 20th of last month", "2026-10-20 09:00*"),
    ("EOM", F, "the 3rd of next month", "2026-05-03 09:00*"),
    # --- refusals, each with its reason
    ("SUN", F, "2 weeks from", "!unknown"),
    ("SUN", P, "2 weeks from", "!unknown_past"),
    ("SUN", F, "99999 weeks from today", "!too_far"),
    ("SUN", P, "99999 weeks from today", "!too_far"),
    ("SUN", F, "9999 months from tomorrow", "!too_far"),
    ("SUN", F, "2 weeks from our meeting tomorrow", "!unknown"),  # not "tomorrow" alone
    ("SUN", F, "3 days from the day we met", "!unknown"),
    ("SUN", F, "a week from in 2 hours", "!unknown"),
    ("SUN", F, "2 weeks from 3pm", "!unknown"),
    ("SUN", F, "2 weeks from tomorrow friday", "!weekday_mismatch"),  # the anchor is checked
    ("SUN", F, "the fifth monday of next month", "!need_day"),
    ("AFT", F, "a week from eod", "!unknown"),
]


def test_table_covers_every_now_and_both_readings() -> None:
    assert {now for now, *_ in TABLE} == set(NOWS)
    assert {past for _, past, *_ in TABLE} == {True, False}


@pytest.mark.parametrize(("now_key", "past", "phrase", "expected"), TABLE)
def test_compound_phrases(now_key: str, past: bool, phrase: str, expected: str) -> None:
    check_case(NOWS[now_key], past, phrase, expected)


def test_the_default_hour_applies_to_a_moved_day() -> None:
    when = understand_when("2 weeks from tomorrow", now=NOWS["SUN"], default_hour=14)
    assert shown(when) == "2026-12-07 14:00*"


def test_a_note_gives_the_whole_compound_phrase() -> None:
    note = "Met them today, follow up 2 weeks from tomorrow with the quote"
    found = find_when(note, now=NOWS["SUN"])
    assert found is not None
    assert note[found.start : found.end] == "2 weeks from tomorrow"
    assert shown(found.when) == "2026-12-07 09:00*"
    note = "客户说 the first monday of next month 再谈"
    found = find_when(note, now=NOWS["SUN"])
    assert found is not None
    assert note[found.start : found.end] == "the first monday of next month"
    assert shown(found.when) == "2026-12-07 09:00*"
    assert find_when("he drove 3 days from the office", now=NOWS["SUN"]) is None
