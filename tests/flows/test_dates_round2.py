"""Date understanding, second round (issue 14): weekends, weeks, parts of the month, holidays and
lunar dates, day parts and idioms, passed days of the month, typos, dates inside a sentence,
ranges and past readings, each under several "now"s; the refusals of round one still hold.

Notation as in test_dates.py: "2026-11-28 09:00*" = a When with a default hour, "!key" = refusal,
"?A|B" = a choice offered. Expected values are worked out by hand from a calendar.
"""

from __future__ import annotations

import datetime as dt
from zoneinfo import ZoneInfo

import pytest

from flows.dates import When, format_when, understand_when, warm_up
from flows.errors import Invalid
from flows.i18n import t
from flows.messages.core import MESSAGES as CORE
from flows.messages.dates import MESSAGES
from tests.flows.date_table import check_case, shown

SH = ZoneInfo("Asia/Shanghai")
NOWS = {
    "SUNEVE": dt.datetime(2026, 11, 22, 20, 0, tzinfo=SH),  # Sunday evening
    "FRI": dt.datetime(2026, 11, 27, 18, 30, tzinfo=SH),  # Friday after work
    "EOMH": dt.datetime(2026, 9, 30, 16, 0, tzinfo=SH),  # last day of a month, National Day tomorrow
    "NYE": dt.datetime(2026, 12, 31, 23, 30, tzinfo=SH),  # New Year's Eve, late (Thursday)
    "PRESF": dt.datetime(2026, 1, 26, 10, 0, tzinfo=SH),  # Monday, three weeks before the Spring Festival
    "AFT": dt.datetime(2026, 11, 24, 15, 30, tzinfo=SH),  # Tuesday mid-afternoon
}
F, P = False, True

TABLE: list[tuple[str, bool, str, str]] = [
    # --- weekends (周末 = Saturday; 这周末 on a Sunday is that Sunday)
    ("SUNEVE", F, "周末", "!need_time"),
    ("SUNEVE", F, "这周末晚上9点", "2026-11-22 21:00"),
    ("SUNEVE", F, "下周末", "2026-11-28 09:00*"),
    ("SUNEVE", F, "next weekend", "2026-11-28 09:00*"),
    ("SUNEVE", P, "上周末", "2026-11-14 09:00*"),
    ("SUNEVE", P, "周末", "2026-11-21 09:00*"),
    ("SUNEVE", P, "last weekend", "2026-11-14 09:00*"),
    ("FRI", F, "周末", "2026-11-28 09:00*"),
    ("FRI", F, "这周末下午", "2026-11-28 14:00*"),
    ("FRI", F, "this weekend", "2026-11-28 09:00*"),
    ("FRI", F, "next weekend", "2026-12-05 09:00*"),
    ("FRI", F, "下周末上午10点", "2026-12-05 10:00"),
    ("FRI", P, "上周末", "2026-11-21 09:00*"),
    ("FRI", P, "周末", "2026-11-21 09:00*"),
    ("NYE", F, "周末", "2027-01-02 09:00*"),
    ("NYE", F, "下周末", "2027-01-09 09:00*"),
    ("NYE", F, "the weekend", "2027-01-02 09:00*"),
    ("NYE", P, "上周末", "2026-12-26 09:00*"),
    # --- weeks
    ("SUNEVE", F, "下周", "2026-11-23 09:00*"),
    ("SUNEVE", F, "next week", "2026-11-23 09:00*"),
    ("FRI", F, "下周", "2026-11-30 09:00*"),
    ("FRI", F, "下下周", "2026-12-07 09:00*"),
    ("NYE", F, "next week", "2027-01-04 09:00*"),
    ("FRI", F, "这周", "!need_day"),
    ("SUNEVE", F, "first thing Monday", "2026-11-23 09:00"),
    ("FRI", F, "first thing monday", "2026-11-30 09:00"),
    ("FRI", F, "first thing tomorrow", "2026-11-28 09:00"),
    ("FRI", F, "Monday week", "2026-12-07 09:00*"),
    ("SUNEVE", F, "Monday week 2pm", "2026-11-30 14:00"),
    ("AFT", F, "周二下午5点", "2026-11-24 17:00"),
    ("AFT", F, "Tuesday 5pm", "2026-11-24 17:00"),
    ("AFT", F, "周二下午3点", "2026-12-01 15:00"),
    ("AFT", F, "周二", "2026-12-01 09:00*"),
    ("PRESF", F, "周一下午3点", "2026-01-26 15:00"),
    ("PRESF", F, "monday 3pm", "2026-01-26 15:00"),
    ("FRI", F, "周五晚上8点", "2026-11-27 20:00"),
    # --- parts of the month (月初 = the 1st, 月中/中旬 = the 15th, 月底 = the last day)
    ("SUNEVE", F, "月初", "2026-12-01 09:00*"),
    ("SUNEVE", F, "月底", "2026-11-30 09:00*"),
    ("SUNEVE", F, "下个月初", "2026-12-01 09:00*"),
    ("SUNEVE", F, "下月中旬", "2026-12-15 09:00*"),
    ("SUNEVE", F, "下个月底", "2026-12-31 09:00*"),
    ("SUNEVE", F, "本月初", "!in_past"),
    ("SUNEVE", F, "12月中", "2026-12-15 09:00*"),
    ("SUNEVE", F, "end of the month", "2026-11-30 09:00*"),
    ("SUNEVE", F, "mid next month", "2026-12-15 09:00*"),
    ("SUNEVE", F, "start of next month", "2026-12-01 09:00*"),
    ("SUNEVE", P, "上个月底", "2026-10-31 09:00*"),
    ("SUNEVE", P, "end of last month", "2026-10-31 09:00*"),
    ("SUNEVE", P, "月初", "2026-11-01 09:00*"),
    ("EOMH", F, "月底", "!need_time"),
    ("EOMH", F, "月底下午5点", "2026-09-30 17:00"),
    ("EOMH", F, "月初", "2026-10-01 09:00*"),
    ("EOMH", F, "下个月底", "2026-10-31 09:00*"),
    ("EOMH", F, "end of month", "!need_time"),
    ("EOMH", F, "mid-month", "2026-10-15 09:00*"),
    ("EOMH", P, "月底", "2026-09-30 09:00*"),
    ("EOMH", P, "中秋", "2026-09-25 09:00*"),
    ("NYE", F, "下个月初", "2027-01-01 09:00*"),
    ("NYE", F, "月中", "2027-01-15 09:00*"),
    ("NYE", F, "下月底", "2027-01-31 09:00*"),
    ("PRESF", F, "下个月底", "2026-02-28 09:00*"),
    ("PRESF", P, "上个月底", "2025-12-31 09:00*"),
    # --- holidays, lunar ones from the lunar calendar
    ("PRESF", F, "元旦", "2027-01-01 09:00*"),
    ("PRESF", F, "春节", "2026-02-17 09:00*"),
    ("PRESF", F, "除夕", "2026-02-16 09:00*"),
    ("PRESF", F, "除夕晚上8点", "2026-02-16 20:00"),
    ("PRESF", F, "正月初八", "2026-02-24 09:00*"),
    ("PRESF", F, "元宵节", "2026-03-03 09:00*"),
    ("PRESF", F, "清明", "2026-04-05 09:00*"),
    ("PRESF", F, "端午", "2026-06-19 09:00*"),
    ("PRESF", F, "中秋节", "2026-09-25 09:00*"),
    ("PRESF", F, "国庆", "2026-10-01 09:00*"),
    ("PRESF", F, "圣诞节", "2026-12-25 09:00*"),
    ("PRESF", F, "New Year's Day", "2027-01-01 09:00*"),
    ("PRESF", F, "Christmas", "2026-12-25 09:00*"),
    ("PRESF", F, "chinese new year", "2026-02-17 09:00*"),
    ("PRESF", F, "春节后", "2026-02-24 09:00*"),  # holiday 15-23 Feb 2026, back at work Tue 24th
    ("PRESF", F, "过年后上午10点", "2026-02-24 10:00"),
    ("PRESF", F, "after CNY", "2026-02-24 09:00*"),
    ("PRESF", F, "国庆后", "2026-10-08 09:00*"),
    ("PRESF", F, "农历八月十五", "2026-09-25 09:00*"),
    ("PRESF", F, "腊月二十三", "2026-02-10 09:00*"),  # lunar 2025 ends on 16 Feb 2026
    ("PRESF", P, "圣诞节", "2025-12-25 09:00*"),
    ("PRESF", P, "元旦", "2026-01-01 09:00*"),
    ("PRESF", P, "春节", "2025-01-29 09:00*"),
    ("EOMH", F, "国庆后", "2026-10-08 09:00*"),  # 1-7 Oct off, the 8th a working day
    ("EOMH", F, "国庆节", "2026-10-01 09:00*"),
    ("EOMH", F, "中秋", "2027-09-15 09:00*"),
    ("NYE", F, "元旦", "2027-01-01 09:00*"),
    ("NYE", F, "春节", "2027-02-06 09:00*"),
    ("NYE", F, "春节后", "!no_schedule"),  # the 2027 schedule is not published in the library yet
    ("NYE", P, "圣诞节", "2026-12-25 09:00*"),
    ("NYE", P, "christmas", "2026-12-25 09:00*"),
    ("NYE", P, "元旦", "2026-01-01 09:00*"),
    ("AFT", F, "正月十五", "2027-02-20 09:00*"),
    ("AFT", F, "腊月三十", "!no_such_lunar_date"),  # 腊月 has 29 days in each lunar year around then
    ("AFT", F, "农历13月1", "!no_such_lunar_date"),
    # --- day parts and idioms
    ("AFT", F, "午饭后", "!need_time"),
    ("AFT", F, "明天午饭后", "2026-11-25 13:00*"),
    ("AFT", F, "after lunch tomorrow", "2026-11-25 13:00*"),
    ("PRESF", F, "午饭后", "2026-01-26 13:00*"),
    ("AFT", F, "tonight 8", "2026-11-24 20:00"),
    ("AFT", F, "EOD", "2026-11-24 17:00"),
    ("AFT", F, "end of day", "2026-11-24 17:00"),
    ("AFT", F, "COB Friday", "2026-11-27 17:00"),
    ("AFT", F, "end of week", "2026-11-27 09:00*"),
    ("FRI", F, "EOD", "!time_passed"),
    ("AFT", F, "明天差五分三点", "?2026-11-25 14:55|2026-11-25 02:55"),
    ("AFT", F, "明天下午差五分三点", "2026-11-25 14:55"),
    ("AFT", F, "明天下午三点差一刻", "2026-11-25 14:45"),
    ("AFT", F, "一刻钟后", "2026-11-24 15:45"),
    ("AFT", F, "a fortnight", "2026-12-08 09:00*"),
    ("AFT", F, "in a fortnight", "2026-12-08 09:00*"),
    ("AFT", F, "明天10.30", "2026-11-25 10:30"),
    ("AFT", F, "tomorrow 9.45", "2026-11-25 09:45"),
    ("AFT", F, "12.03", "!unknown"),  # alone, a dotted pair may be a date
    ("AFT", P, "一刻钟前", "2026-11-24 15:15"),
    # --- a day of the month already passed is next month's
    ("AFT", F, "5号", "2026-12-05 09:00*"),
    ("AFT", F, "the 15th", "2026-12-15 09:00*"),
    ("AFT", F, "30号", "2026-11-30 09:00*"),
    ("AFT", F, "本月5号", "!in_past"),
    ("AFT", P, "25号", "2026-10-25 09:00*"),
    ("AFT", P, "20号", "2026-11-20 09:00*"),
    ("NYE", F, "5号", "2027-01-05 09:00*"),
    ("EOMH", F, "15号下午3点", "2026-10-15 15:00"),
    # --- typos and mixed language
    ("AFT", F, "nxt tue", "2026-12-01 09:00*"),
    ("AFT", F, "next wk", "2026-11-30 09:00*"),
    ("AFT", F, "next 周二", "2026-12-01 09:00*"),
    ("AFT", F, "tmorrow 3pm", "2026-11-25 15:00"),
    ("AFT", F, "2moro 10am", "2026-11-25 10:00"),
    ("AFT", F, "wensday 10am", "2026-11-25 10:00"),
    ("AFT", F, "thurday afternoon", "2026-11-26 14:00*"),
    ("FRI", F, "firday 3pm", "2026-12-04 15:00"),
    # --- a date inside a sentence
    ("AFT", F, "let's say tomorrow 10am", "2026-11-25 10:00"),
    ("AFT", F, "maybe thursday afternoon", "2026-11-26 14:00*"),
    ("AFT", F, "call back friday at 4pm pls", "2026-11-27 16:00"),
    ("AFT", F, "我看明天下午3点吧", "2026-11-25 15:00"),
    ("AFT", F, "那就下周一上午10点", "2026-11-30 10:00"),
    ("AFT", F, "明天下午3点，带上报价单", "2026-11-25 15:00"),
    ("AFT", F, "明天下午3点，带上报价单2份", "2026-11-25 15:00"),
    ("AFT", F, "昨天聊过，明天下午3点再联系", "2026-11-25 15:00"),
    ("AFT", F, "明天上午10点或者周五下午3点", "?2026-11-25 10:00|2026-11-27 15:00"),
    ("AFT", F, "tomorrow 10am or friday 2pm", "?2026-11-25 10:00|2026-11-27 14:00"),
    ("AFT", F, "tomorrow 3", "!unknown"),  # the 3 would be dropped: not read as a sentence
    ("AFT", F, "Tue 2-3pm", "!unknown"),  # nor the pm of a range written like a date
    ("SUNEVE", F, "客户说下周再约", "2026-11-23 09:00*"),
    # --- vague words and impossible times are still refused, with a reason
    ("AFT", F, "soon", "!vague"),
    ("AFT", F, "asap", "!vague"),
    ("AFT", F, "过几天", "!vague"),
    ("AFT", F, "过几天下午", "!vague"),
    ("AFT", F, "call me soon", "!vague"),
    ("AFT", P, "最近", "!vague"),
    ("AFT", F, "25点", "!bad_time"),
    ("AFT", F, "明天25点", "!bad_time"),
    ("AFT", F, "2月30日", "!no_such_date"),
    ("AFT", F, "下周三 周五", "!conflict"),
    ("AFT", F, "随便", "!unknown"),
    # --- past readings
    ("AFT", P, "3点", "2026-11-24 15:00"),  # 15:00 and 03:00 are both today and past: no question
    ("AFT", P, "昨天3点", "?2026-11-23 15:00|2026-11-23 03:00"),
    ("PRESF", P, "3点", "2026-01-26 03:00"),  # 15:00 is still ahead
    ("FRI", P, "上个月底", "2026-10-31 09:00*"),
    ("FRI", P, "月底", "2026-10-31 09:00*"),
]


def test_table_covers_every_now_and_both_readings() -> None:
    assert {now for now, *_ in TABLE} == set(NOWS)
    for now in NOWS:
        assert {past for key, past, *_ in TABLE if key == now} == {True, False}, now


@pytest.mark.parametrize(("now_key", "past", "phrase", "expected"), TABLE)
def test_phrase_table_round2(now_key: str, past: bool, phrase: str, expected: str) -> None:
    check_case(NOWS[now_key], past, phrase, expected)


@pytest.mark.parametrize(
    ("now_key", "phrase", "start", "end"),
    [
        ("AFT", "下周二下午两点到三点", "2026-12-01 14:00", "15:00"),
        ("AFT", "明天下午2点-4点半", "2026-11-25 14:00", "16:30"),
        ("AFT", "tomorrow 2pm-3pm", "2026-11-25 14:00", "15:00"),
        ("AFT", "friday 10am to 11:30", "2026-11-27 10:00", "11:30"),
        ("FRI", "下周一上午10点到下午2点", "2026-11-30 10:00", "14:00"),
    ],
)
def test_a_range_gives_its_start_and_keeps_the_end(now_key: str, phrase: str, start: str, end: str) -> None:
    when = understand_when(phrase, now=NOWS[now_key])
    assert shown(when) == start
    assert when.end is not None and f"{when.end:%H:%M}" == end
    assert format_when(when, "zh", today=NOWS[now_key].date()).endswith(f"{start[-5:]}–{end}")


def test_a_range_ending_before_it_starts_is_refused() -> None:
    with pytest.raises(Invalid) as info:
        understand_when("明天下午3点到2点", now=NOWS["AFT"])
    assert info.value.key == "date.conflict"


def test_a_when_without_an_end_formats_as_before() -> None:
    at = dt.datetime(2026, 11, 24, 14, 0, tzinfo=SH)
    assert format_when(When(at, True), "en", today=at.date()) == "Tue 24 Nov 14:00"
    later = dt.datetime(2026, 11, 25, 9, 0, tzinfo=SH)
    assert format_when(When(at, True, later), "en", today=at.date()) == "Tue 24 Nov 14:00 – Wed 25 Nov 09:00"


def test_lunar_dates_agree_with_the_library_over_decades() -> None:
    """The per-year month table must give what lunar_python gives date by date."""
    from lunar_python import Lunar

    from flows.dates import _lunar_to_solar

    for year in range(2000, 2041, 3):
        for month in range(1, 13):
            for day in (1, 15, 29, 30):
                try:
                    solar = Lunar.fromYmd(year, month, day).getSolar()
                    expected: dt.date | None = dt.date(solar.getYear(), solar.getMonth(), solar.getDay())
                except Exception:
                    expected = None
                assert _lunar_to_solar(year, month, day) == expected, (year, month, day)


def test_new_messages_exist_in_both_languages_with_examples() -> None:
    for key in ("date.vague", "date.no_schedule", "date.no_such_lunar_date"):
        assert "例如" in MESSAGES["zh"][key]
        assert "e.g." in MESSAGES["en"][key]
    assert "2027" in t("en", "date.no_schedule", year="2027")


def test_the_next_follow_up_help_lists_the_new_forms_and_rules() -> None:
    zh, en = CORE["zh"]["q.followup.next_at"], CORE["en"]["q.followup.next_at"]
    for form in ("周末", "月初", "月底", "春节后", "正月初八", "午饭后", "1号", "15号", "工作日"):
        assert form in zh, form
    for form in (
        "weekend",
        "end of the month",
        "mid next month",
        "Christmas",
        "after lunch",
        "EOD",
        "1st",
        "15th",
    ):
        assert form in en, form


def test_warm_up_loads_the_calendar_so_first_holidays_are_quick() -> None:
    warm_up()
    from flows.dates import _lunar_months

    assert _lunar_months.cache_info().currsize >= 4
    assert shown(understand_when("春节后", now=NOWS["PRESF"])) == "2026-02-24 09:00*"
