"""Date understanding (issue 3): a phrase table for fixed "now" values, the note finder, the echo
formats, the messages, arbitrary input, and the `when` command.

Expected values are written out by hand. Notation in the table:
  "2026-11-24 14:00"      a When at that wall time with has_time=True
  "2026-11-23 09:00*"     the same with has_time=False (a default hour was applied)
  "... -04:00"            also checks the UTC offset
  "!in_past"              Invalid("date.in_past")
  "?A|B"                  Ambiguous with exactly the readings A and B, in that order
"""

from __future__ import annotations

import argparse
import datetime as dt
import io
import os
import re
import subprocess
import sys
from pathlib import Path
from zoneinfo import ZoneInfo

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from bot import when_cmd
from flows.dates import FoundWhen, When, find_when, format_date, format_when, understand_when, warm_up
from flows.errors import Ambiguous, Invalid
from flows.i18n import catalog, t
from flows.messages.dates import MESSAGES

SH = ZoneInfo("Asia/Shanghai")
NY = ZoneInfo("America/New_York")
NOWS = {
    "SUN": dt.datetime(2026, 11, 22, 10, 30, tzinfo=SH),  # a Sunday
    "EOM": dt.datetime(2026, 4, 30, 16, 0, tzinfo=SH),  # last day of a month, a Thursday
    "EOY": dt.datetime(2026, 12, 31, 23, 59, tzinfo=SH),  # last day of a year, a Thursday
    "NYC": dt.datetime(2026, 3, 7, 12, 0, tzinfo=NY),  # Saturday before the US DST jump
}
F, P = False, True

TABLE: list[tuple[str, bool, str, str]] = [
    # --- Sunday 2026-11-22 10:30, Chinese, next follow-up
    ("SUN", F, "下周二下午两点", "2026-11-24 14:00"),
    ("SUN", F, "明天上午10点", "2026-11-23 10:00"),
    ("SUN", F, "后天下午3点", "2026-11-24 15:00"),
    ("SUN", F, "本周五下午4点", "!in_past"),
    ("SUN", F, "下周一", "2026-11-23 09:00*"),
    ("SUN", F, "今天", "!need_time"),
    ("SUN", F, "今天下午3点", "2026-11-22 15:00"),
    ("SUN", F, "明天", "2026-11-23 09:00*"),
    ("SUN", F, "后天", "2026-11-24 09:00*"),
    ("SUN", F, "大后天", "2026-11-25 09:00*"),
    ("SUN", F, "昨天", "!in_past"),
    ("SUN", F, "前天", "!in_past"),
    ("SUN", F, "周一", "2026-11-23 09:00*"),
    ("SUN", F, "周日", "2026-11-29 09:00*"),
    ("SUN", F, "星期三", "2026-11-25 09:00*"),
    ("SUN", F, "礼拜五", "2026-11-27 09:00*"),
    ("SUN", F, "星期天", "2026-11-29 09:00*"),
    ("SUN", F, "下周日", "2026-11-29 09:00*"),
    ("SUN", F, "这周三", "!in_past"),
    ("SUN", F, "本周日", "!need_time"),
    ("SUN", F, "本周日下午", "2026-11-22 14:00*"),
    ("SUN", F, "下下周一", "2026-11-30 09:00*"),
    ("SUN", F, "上周五", "!in_past"),
    ("SUN", F, "下周二 14:00", "2026-11-24 14:00"),
    ("SUN", F, "明天10am", "2026-11-23 10:00"),
    ("SUN", F, "今晚", "2026-11-22 20:00*"),
    ("SUN", F, "今晚8点", "2026-11-22 20:00"),
    ("SUN", F, "明早", "2026-11-23 09:00*"),
    ("SUN", F, "明早8点", "2026-11-23 08:00"),
    ("SUN", F, "明天中午", "2026-11-23 12:00*"),
    ("SUN", F, "明天中午12点", "2026-11-23 12:00"),
    ("SUN", F, "明天晚上七点半", "2026-11-23 19:30"),
    ("SUN", F, "明天下午两点一刻", "2026-11-23 14:15"),
    ("SUN", F, "明天下午3点三刻", "2026-11-23 15:45"),
    ("SUN", F, "明天上午十点半", "2026-11-23 10:30"),
    ("SUN", F, "明天 14:30", "2026-11-23 14:30"),
    ("SUN", F, "三天后", "2026-11-25 09:00*"),
    ("SUN", F, "3天后", "2026-11-25 09:00*"),
    ("SUN", F, "3天后下午2点", "2026-11-25 14:00"),
    ("SUN", F, "两周后", "2026-12-06 09:00*"),
    ("SUN", F, "一个月后", "2026-12-22 09:00*"),
    ("SUN", F, "一小时后", "2026-11-22 11:30"),
    ("SUN", F, "半小时后", "2026-11-22 11:00"),
    ("SUN", F, "10分钟后", "2026-11-22 10:40"),
    ("SUN", F, "一个半小时后", "2026-11-22 12:00"),
    ("SUN", F, "半个月后", "2026-12-07 09:00*"),
    ("SUN", F, "3天前", "!in_past"),
    ("SUN", F, "12月3日", "2026-12-03 09:00*"),
    ("SUN", F, "12月3号下午3点", "2026-12-03 15:00"),
    ("SUN", F, "下个月15号", "2026-12-15 09:00*"),
    ("SUN", F, "明年1月10号", "2027-01-10 09:00*"),
    ("SUN", F, "1月10号", "2027-01-10 09:00*"),
    ("SUN", F, "11月20日", "!in_past"),
    ("SUN", F, "2026年12月3日", "2026-12-03 09:00*"),
    ("SUN", F, "二〇二七年一月五日", "2027-01-05 09:00*"),
    ("SUN", F, "15号", "2026-12-15 09:00*"),  # issue 14: a passed day of the month is next month's
    ("SUN", F, "30号", "2026-11-30 09:00*"),
    ("SUN", F, "2月30日", "!no_such_date"),
    ("SUN", F, "12月32日", "!no_such_date"),
    ("SUN", F, "13月1日", "!no_such_date"),
    ("SUN", F, "25:00", "!bad_time"),
    ("SUN", F, "25点", "!bad_time"),
    ("SUN", F, "10:75", "!bad_time"),
    ("SUN", F, "下周八", "!bad_weekday"),
    ("SUN", F, "周八", "!bad_weekday"),
    ("SUN", F, "3月", "!need_day"),
    ("SUN", F, "下周", "2026-11-23 09:00*"),  # issue 14: next week alone = its Monday
    ("SUN", F, "下个月", "!need_day"),
    ("SUN", F, "12:00", "2026-11-22 12:00"),
    ("SUN", F, "10:00", "!time_passed"),
    ("SUN", F, "明天3点", "?2026-11-23 15:00|2026-11-23 03:00"),
    ("SUN", F, "下午3点", "2026-11-22 15:00"),
    ("SUN", F, "上午9点", "!time_passed"),
    ("SUN", F, "晚上2点", "!period_mismatch"),
    ("SUN", F, "上午3pm", "!period_mismatch"),
    ("SUN", F, "明天今天", "!conflict"),
    ("SUN", F, "明天周五", "!weekday_mismatch"),
    ("SUN", F, "11月24日周二下午2点", "2026-11-24 14:00"),
    ("SUN", F, "11月24日 周三", "!weekday_mismatch"),
    ("SUN", F, "随便写点什么", "!unknown"),
    ("SUN", F, "下午", "2026-11-22 14:00*"),
    ("SUN", F, "中午", "2026-11-22 12:00*"),
    ("SUN", F, "１４：００", "2026-11-22 14:00"),
    ("SUN", F, "  明天  上午 10 点 ", "2026-11-23 10:00"),
    ("SUN", F, "明天 下午 3:30", "2026-11-23 15:30"),
    ("SUN", F, "下礼拜二", "2026-11-24 09:00*"),
    ("SUN", F, "下个星期三", "2026-11-25 09:00*"),
    ("SUN", F, "明天下午三点左右", "2026-11-23 15:00"),
    ("SUN", F, "後天", "2026-11-24 09:00*"),
    ("SUN", F, "下週二下午兩點", "2026-11-24 14:00"),
    ("SUN", F, "现在", "!time_passed"),
    ("SUN", F, "", "!empty"),
    ("SUN", F, "   ", "!empty"),
    ("SUN", F, "明天凌晨", "2026-11-23 06:00*"),
    ("SUN", F, "今晚12点", "2026-11-23 00:00"),
    ("SUN", F, "三天后上午10点", "2026-11-25 10:00"),
    ("SUN", F, "周一10点", "2026-11-23 10:00"),
    ("SUN", F, "周一十点", "2026-11-23 10:00"),
    ("SUN", F, "星期五下午", "2026-11-27 14:00*"),
    ("SUN", F, "下周二下午两点再跟进", "2026-11-24 14:00"),
    ("SUN", F, "12-3", "?2026-12-03 09:00*|2027-03-12 09:00*"),
    # --- Sunday, Chinese, interaction date
    ("SUN", P, "今天", "2026-11-22 09:00*"),
    ("SUN", P, "昨天", "2026-11-21 09:00*"),
    ("SUN", P, "前天", "2026-11-20 09:00*"),
    ("SUN", P, "大前天", "2026-11-19 09:00*"),
    ("SUN", P, "周日", "2026-11-22 09:00*"),
    ("SUN", P, "周一", "2026-11-16 09:00*"),
    ("SUN", P, "周五", "2026-11-20 09:00*"),
    ("SUN", P, "上周五", "2026-11-13 09:00*"),
    ("SUN", P, "上上周一", "2026-11-02 09:00*"),
    ("SUN", P, "本周三", "2026-11-18 09:00*"),
    ("SUN", P, "3天前", "2026-11-19 09:00*"),
    ("SUN", P, "两周前", "2026-11-08 09:00*"),
    ("SUN", P, "一个月前", "2026-10-22 09:00*"),
    ("SUN", P, "两小时前", "2026-11-22 08:30"),
    ("SUN", P, "明天", "!in_future"),
    ("SUN", P, "下周一", "!in_future"),
    ("SUN", P, "3天后", "!in_future"),
    ("SUN", P, "下午2点", "!in_future"),
    ("SUN", P, "上午9点", "2026-11-22 09:00"),
    ("SUN", P, "11月20日", "2026-11-20 09:00*"),
    ("SUN", P, "12月3日", "!in_future"),
    ("SUN", P, "1月10号", "2026-01-10 09:00*"),
    ("SUN", P, "12月25日", "2025-12-25 09:00*"),
    ("SUN", P, "昨天下午3点", "2026-11-21 15:00"),
    ("SUN", P, "昨晚", "2026-11-21 20:00*"),
    ("SUN", P, "前天上午十点", "2026-11-20 10:00"),
    ("SUN", P, "15号", "2026-11-15 09:00*"),
    ("SUN", P, "刚才", "2026-11-22 10:30"),
    ("SUN", P, "今晚", "!in_future"),
    ("SUN", P, "昨天3点", "?2026-11-21 15:00|2026-11-21 03:00"),
    ("SUN", P, "2月30日", "!no_such_date"),
    ("SUN", P, "星期天", "2026-11-22 09:00*"),
    ("SUN", P, "上周日", "2026-11-15 09:00*"),
    ("SUN", P, "", "!empty_past"),
    ("SUN", P, "不知道", "!unknown_past"),
    # --- Sunday, English, next follow-up
    ("SUN", F, "next Tuesday 2pm", "2026-11-24 14:00"),
    ("SUN", F, "Friday 10:00", "2026-11-27 10:00"),
    ("SUN", F, "tomorrow at noon", "2026-11-23 12:00"),
    ("SUN", F, "in 3 days", "2026-11-25 09:00*"),
    ("SUN", F, "in 3 days at 10am", "2026-11-25 10:00"),
    ("SUN", F, "in 2 hours", "2026-11-22 12:30"),
    ("SUN", F, "in 30 minutes", "2026-11-22 11:00"),
    ("SUN", F, "3 days ago", "!in_past"),
    ("SUN", F, "2026-12-03", "2026-12-03 09:00*"),
    ("SUN", F, "Dec 3", "2026-12-03 09:00*"),
    ("SUN", F, "3 Dec 2026", "2026-12-03 09:00*"),
    ("SUN", F, "December 3rd at 4:30pm", "2026-12-03 16:30"),
    ("SUN", F, "2pm", "2026-11-22 14:00"),
    ("SUN", F, "14:00", "2026-11-22 14:00"),
    ("SUN", F, "2:30 pm", "2026-11-22 14:30"),
    ("SUN", F, "noon", "2026-11-22 12:00"),
    ("SUN", F, "12/3", "?2026-12-03 09:00*|2027-03-12 09:00*"),
    ("SUN", F, "13/3", "2027-03-13 09:00*"),
    ("SUN", F, "3/13", "2027-03-13 09:00*"),
    ("SUN", F, "today", "!need_time"),
    ("SUN", F, "tomorrow", "2026-11-23 09:00*"),
    ("SUN", F, "yesterday", "!in_past"),
    ("SUN", F, "Monday", "2026-11-23 09:00*"),
    ("SUN", F, "Sunday", "2026-11-29 09:00*"),
    ("SUN", F, "this Friday", "2026-11-27 09:00*"),
    ("SUN", F, "next Friday", "2026-11-27 09:00*"),
    ("SUN", F, "last Friday", "!in_past"),
    ("SUN", F, "Tuesday next week", "2026-11-24 09:00*"),
    ("SUN", F, "next week", "2026-11-23 09:00*"),  # issue 14: its Monday
    ("SUN", F, "TOMORROW 10AM", "2026-11-23 10:00"),
    ("SUN", F, "tmr 9am", "2026-11-23 09:00"),
    ("SUN", F, "tomorrow morning", "2026-11-23 09:00*"),
    ("SUN", F, "tomorrow afternoon", "2026-11-23 14:00*"),
    ("SUN", F, "tonight", "2026-11-22 20:00*"),
    ("SUN", F, "tonight at 8", "2026-11-22 20:00"),
    ("SUN", F, "the day after tomorrow", "2026-11-24 09:00*"),
    ("SUN", F, "in a week", "2026-11-29 09:00*"),
    ("SUN", F, "in 2 weeks", "2026-12-06 09:00*"),
    ("SUN", F, "in one month", "2026-12-22 09:00*"),
    ("SUN", F, "in an hour", "2026-11-22 11:30"),
    ("SUN", F, "in half an hour", "2026-11-22 11:00"),
    ("SUN", F, "2 weeks from now", "2026-12-06 09:00*"),
    ("SUN", F, "at 3", "2026-11-22 15:00"),
    ("SUN", F, "tomorrow at 3", "?2026-11-23 15:00|2026-11-23 03:00"),
    ("SUN", F, "Feb 30", "!no_such_date"),
    ("SUN", F, "2026-02-30", "!no_such_date"),
    ("SUN", F, "13pm", "!bad_time"),
    ("SUN", F, "March", "!need_day"),
    ("SUN", F, "next month", "!need_day"),
    ("SUN", F, "blah blah", "!unknown"),
    ("SUN", F, "Thu 3 Dec", "2026-12-03 09:00*"),
    ("SUN", F, "Wed 3 Dec", "!weekday_mismatch"),
    ("SUN", F, "Fri 12/3", "2027-03-12 09:00*"),
    ("SUN", F, "2 weeks from tomorrow", "2026-12-07 09:00*"),
    ("SUN", F, "2026-12-03T14:00:00+08:00", "2026-12-03 14:00"),
    ("SUN", F, "2026-12-03T06:00:00Z", "2026-12-03 14:00"),
    ("SUN", F, "tomorrow 2:30am", "2026-11-23 02:30"),
    ("SUN", F, "morning 8pm", "!period_mismatch"),
    ("SUN", F, "now", "!time_passed"),
    ("SUN", F, "midnight", "2026-11-23 00:00"),
    ("SUN", F, "10am", "!time_passed"),
    ("SUN", F, "in 0 minutes", "!time_passed"),
    ("SUN", F, "in 99999 years", "!too_far"),
    ("SUN", F, "2099-01-01", "!too_far"),
    ("SUN", F, "follow up Friday 10am", "2026-11-27 10:00"),
    ("SUN", F, "Friday, 10am", "2026-11-27 10:00"),
    ("SUN", F, "x" * 500, "!too_long"),
    # --- Sunday, English, interaction date
    ("SUN", P, "yesterday", "2026-11-21 09:00*"),
    ("SUN", P, "today", "2026-11-22 09:00*"),
    ("SUN", P, "3 days ago", "2026-11-19 09:00*"),
    ("SUN", P, "last Friday", "2026-11-20 09:00*"),
    ("SUN", P, "Friday", "2026-11-20 09:00*"),
    ("SUN", P, "Sunday", "2026-11-22 09:00*"),
    ("SUN", P, "last Sunday", "2026-11-15 09:00*"),
    ("SUN", P, "2pm", "!in_future"),
    ("SUN", P, "9am", "2026-11-22 09:00"),
    ("SUN", P, "2 hours ago", "2026-11-22 08:30"),
    ("SUN", P, "a week ago", "2026-11-15 09:00*"),
    ("SUN", P, "12/3", "2026-03-12 09:00*"),
    ("SUN", P, "5/6", "?2026-05-06 09:00*|2026-06-05 09:00*"),
    ("SUN", P, "tomorrow", "!in_future"),
    ("SUN", P, "next Monday", "!in_future"),
    ("SUN", P, "Nov 20", "2026-11-20 09:00*"),
    ("SUN", P, "this morning", "2026-11-22 09:00*"),
    ("SUN", P, "yesterday afternoon", "2026-11-21 14:00*"),
    ("SUN", P, "in 2 days", "!in_future"),
    ("SUN", P, "just now", "2026-11-22 10:30"),
    # --- last day of a month, Thursday 2026-04-30 16:00
    ("EOM", F, "明天", "2026-05-01 09:00*"),
    ("EOM", F, "下个月15号", "2026-05-15 09:00*"),
    ("EOM", F, "一个月后", "2026-05-30 09:00*"),
    ("EOM", F, "31号", "!no_such_date"),
    ("EOM", F, "下个月31号", "2026-05-31 09:00*"),
    ("EOM", F, "30号", "!need_time"),
    ("EOM", F, "今天下午3点", "!time_passed"),
    ("EOM", F, "今天下午5点", "2026-04-30 17:00"),
    ("EOM", F, "下周一", "2026-05-04 09:00*"),
    ("EOM", F, "周五", "2026-05-01 09:00*"),
    ("EOM", F, "本周日", "2026-05-03 09:00*"),
    ("EOM", F, "下周四", "2026-05-07 09:00*"),
    ("EOM", F, "周四", "2026-05-07 09:00*"),
    ("EOM", F, "4月31日", "!no_such_date"),
    ("EOM", F, "5月1日", "2026-05-01 09:00*"),
    ("EOM", F, "今晚", "2026-04-30 20:00*"),
    ("EOM", F, "in 2 hours", "2026-04-30 18:00"),
    ("EOM", F, "tomorrow", "2026-05-01 09:00*"),
    ("EOM", F, "next Monday", "2026-05-04 09:00*"),
    ("EOM", F, "this Thursday", "!need_time"),
    ("EOM", F, "Friday 3pm", "2026-05-01 15:00"),
    ("EOM", F, "May 31", "2026-05-31 09:00*"),
    ("EOM", F, "in a month", "2026-05-30 09:00*"),
    ("EOM", F, "31 April", "!no_such_date"),
    ("EOM", P, "下午3点", "2026-04-30 15:00"),
    ("EOM", P, "周四", "2026-04-30 09:00*"),
    ("EOM", P, "上周四", "2026-04-23 09:00*"),
    ("EOM", P, "上个月15号", "2026-03-15 09:00*"),
    ("EOM", P, "31号", "!no_such_date"),
    ("EOM", P, "一个月前", "2026-03-30 09:00*"),
    ("EOM", P, "last Thursday", "2026-04-23 09:00*"),
    ("EOM", P, "4/31", "!no_such_date"),
    ("EOM", P, "3/31", "2026-03-31 09:00*"),
    ("EOM", P, "昨天", "2026-04-29 09:00*"),
    # --- last day of a year, Thursday 2026-12-31 23:59
    ("EOY", F, "明天", "2027-01-01 09:00*"),
    ("EOY", F, "明天上午10点", "2027-01-01 10:00"),
    ("EOY", F, "今晚", "!need_time"),
    ("EOY", F, "今晚12点", "2027-01-01 00:00"),
    ("EOY", F, "下周一", "2027-01-04 09:00*"),
    ("EOY", F, "周五", "2027-01-01 09:00*"),
    ("EOY", F, "这周日", "2027-01-03 09:00*"),
    ("EOY", F, "下个月15号", "2027-01-15 09:00*"),
    ("EOY", F, "1月10号", "2027-01-10 09:00*"),
    ("EOY", F, "12月30日", "!in_past"),
    ("EOY", F, "一个月后", "2027-01-31 09:00*"),
    ("EOY", F, "in 2 hours", "2027-01-01 01:59"),
    ("EOY", F, "in 1 minute", "2027-01-01 00:00"),
    ("EOY", F, "tomorrow at noon", "2027-01-01 12:00"),
    ("EOY", F, "next Tuesday 2pm", "2027-01-05 14:00"),
    ("EOY", F, "明年1月10号", "2027-01-10 09:00*"),
    ("EOY", F, "Jan 10", "2027-01-10 09:00*"),
    ("EOY", F, "2月29日", "!no_such_date"),
    ("EOY", F, "下下周一", "2027-01-11 09:00*"),
    ("EOY", F, "23:59", "!time_passed"),
    ("EOY", P, "今天", "2026-12-31 09:00*"),
    ("EOY", P, "12月30日", "2026-12-30 09:00*"),
    ("EOY", P, "1月10号", "2026-01-10 09:00*"),
    ("EOY", P, "上周五", "2026-12-25 09:00*"),
    ("EOY", P, "周五", "2026-12-25 09:00*"),
    ("EOY", P, "周四", "2026-12-31 09:00*"),
    ("EOY", P, "last Friday", "2026-12-25 09:00*"),
    ("EOY", P, "今晚8点", "2026-12-31 20:00"),
    ("EOY", P, "明天", "!in_future"),
    ("EOY", P, "12/25", "2026-12-25 09:00*"),
    ("EOY", P, "去年12月31日", "2025-12-31 09:00*"),
    ("EOY", P, "3 days ago", "2026-12-28 09:00*"),
    ("EOY", P, "12/31/2026", "2026-12-31 09:00*"),
    # --- New York, the day before clocks go forward (2026-03-08 02:00 -> 03:00)
    ("NYC", F, "tomorrow 2:30am", "2026-03-08 03:30 -04:00"),
    ("NYC", F, "in 24 hours", "2026-03-08 13:00 -04:00"),
    ("NYC", F, "tomorrow 9am", "2026-03-08 09:00 -04:00"),
    ("NYC", F, "明天下午3点", "2026-03-08 15:00 -04:00"),
    ("NYC", F, "today 5pm", "2026-03-07 17:00 -05:00"),
]


def _shown(when: When) -> str:
    return when.at.strftime("%Y-%m-%d %H:%M") + ("" if when.has_time else "*")


def _expect_when(when: object, expected: str, now: dt.datetime) -> None:
    assert isinstance(when, When)
    text, _, offset = expected.partition(" -")
    if not offset:
        text, _, offset = expected.partition(" +")
    assert _shown(when) == text
    assert when.at.tzinfo is now.tzinfo
    if offset:
        assert when.at.strftime("%z") in ("-" + offset.replace(":", ""), "+" + offset.replace(":", ""))


def test_table_is_large_and_covers_every_now() -> None:
    assert len(TABLE) >= 150
    assert {now for now, *_ in TABLE} == set(NOWS)
    assert {past for _, past, *_ in TABLE} == {True, False}


@pytest.mark.parametrize(("now_key", "past", "phrase", "expected"), TABLE)
def test_phrase_table(now_key: str, past: bool, phrase: str, expected: str) -> None:
    now = NOWS[now_key]
    if expected.startswith("!"):
        with pytest.raises(Invalid) as info:
            understand_when(phrase, now=now, past=past)
        assert not isinstance(info.value, Ambiguous)
        assert info.value.key == "date." + expected[1:]
    elif expected.startswith("?"):
        with pytest.raises(Ambiguous) as amb:
            understand_when(phrase, now=now, past=past)
        assert amb.value.key == "date.ambiguous"
        readings = expected[1:].split("|")
        assert len(amb.value.options) == len(readings)
        for option, reading in zip(amb.value.options, readings, strict=True):
            _expect_when(option, reading, now)
    else:
        _expect_when(understand_when(phrase, now=now, past=past), expected, now)


def test_default_hour_is_configurable_but_periods_keep_theirs() -> None:
    now = NOWS["SUN"]
    assert _shown(understand_when("明天", now=now, default_hour=10)) == "2026-11-23 10:00*"
    assert _shown(understand_when("in 3 days", now=now, default_hour=14)) == "2026-11-25 14:00*"
    assert _shown(understand_when("明早", now=now, default_hour=8)) == "2026-11-23 08:00*"
    assert _shown(understand_when("明天下午", now=now, default_hour=8)) == "2026-11-23 14:00*"
    assert _shown(understand_when("明天下午", now=now, default_hour=8)) == "2026-11-23 14:00*"
    assert _shown(understand_when("明天10点", now=now, default_hour=8)) == "2026-11-23 10:00"


def test_today_as_interaction_date_is_never_later_today() -> None:
    early = dt.datetime(2026, 11, 22, 7, 45, 30, tzinfo=SH)
    when = understand_when("今天", now=early, past=True)
    assert when == When(dt.datetime(2026, 11, 22, 7, 45, tzinfo=SH), False)


def test_refusal_carries_the_understood_time_in_both_languages() -> None:
    with pytest.raises(Invalid) as info:
        understand_when("本周五下午4点", now=NOWS["SUN"])
    assert info.value.params == {"when_zh": "11月20日 周五 16:00", "when_en": "Fri 20 Nov 16:00"}
    assert t("zh", info.value.key, **info.value.params).startswith("11月20日 周五 16:00 已经过去了")
    assert "Fri 20 Nov 16:00 is in the past" in t("en", info.value.key, **info.value.params)


def test_naive_now_is_a_programming_error() -> None:
    with pytest.raises(ValueError):
        understand_when("明天", now=dt.datetime(2026, 11, 22, 10, 30))


# ---------------------------------------------------------------- find_when

NOTE_CASES: list[tuple[str, bool, str, str | None]] = [
    ("刚和华为张总通了电话,他们要报价单,下周二下午两点再跟进", F, "下周二下午两点", "2026-11-24 14:00"),
    (
        "Visited Acme, met John, they want a quote, follow up Friday 10am",
        F,
        "Friday 10am",
        "2026-11-27 10:00",
    ),
    (
        "Visited Acme, met John, they want a quote, follow up Friday 10am",
        P,
        "Friday 10am",
        "2026-11-20 10:00",
    ),
    ("昨天拜访了客户,他们希望便宜一点,下周三再联系", F, "下周三", "2026-11-25 09:00*"),
    ("昨天拜访了客户,他们希望便宜一点,下周三再联系", P, "昨天", "2026-11-21 09:00*"),
    (
        "客户在3号楼,我们sat down and talked; 下个月15号上午十点回访",
        F,
        "下个月15号上午十点",
        "2026-12-15 10:00",
    ),
    ("Met them yesterday. Next call tomorrow at 2:30pm.", F, "tomorrow at 2:30pm", "2026-11-23 14:30"),
    ("Friday, 10am", F, "Friday, 10am", "2026-11-27 10:00"),
    ("ＦＲＩＤＡＹ　１０ＡＭ　ok", F, "ＦＲＩＤＡＹ　１０ＡＭ", "2026-11-27 10:00"),
    ("等了半天后才见到客户,明天下午3点再联系", F, "明天下午3点", "2026-11-23 15:00"),
    ("lunch at noon", F, "noon", "2026-11-22 12:00"),
    ("昨天拜访了客户", F, "", None),
    ("会议时长1:30,效果不错", F, "", None),
    ("follow up at 14:00", F, "", None),
    ("需要3/4的预算,便宜一点", F, "", None),
    ("C202405150001 电话 13812345678 邮箱 zhangsan@qq.com", F, "", None),
    ("没有日期的内容", P, "", None),
    ("", F, "", None),
]


@pytest.mark.parametrize(("note", "past", "span", "expected"), NOTE_CASES)
def test_find_when(note: str, past: bool, span: str, expected: str | None) -> None:
    found = find_when(note, now=NOWS["SUN"], past=past)
    if expected is None:
        assert found is None
        return
    assert isinstance(found, FoundWhen)
    assert note[found.start : found.end] == span
    _expect_when(found.when, expected, NOWS["SUN"])


def test_find_when_raises_for_a_clear_but_wrong_or_two_way_phrase() -> None:
    note = "今天和王总见面,明天3点再打电话"
    with pytest.raises(Ambiguous) as amb:
        find_when(note, now=NOWS["SUN"])
    assert note[amb.value.params["start"] : amb.value.params["end"]] == "明天3点"
    assert [_shown(w) for w in amb.value.options] == ["2026-11-23 15:00", "2026-11-23 03:00"]
    with pytest.raises(Invalid) as info:
        find_when("方案改好了,下周八再说", now=NOWS["SUN"])
    assert info.value.key == "date.bad_weekday"
    with pytest.raises(Invalid) as info:
        find_when("约在明天25:00", now=NOWS["SUN"])
    assert (info.value.key, info.value.params["start"], info.value.params["end"]) == ("date.bad_time", 2, 9)


# ---------------------------------------------------------------- formatting and messages


def test_format_when_and_format_date() -> None:
    today = dt.date(2026, 11, 22)
    at = dt.datetime(2026, 11, 24, 14, 0, tzinfo=SH)
    assert format_when(When(at, True), "zh", today=today) == "11月24日 周二 14:00"
    assert format_when(When(at, True), "en", today=today) == "Tue 24 Nov 14:00"
    assert format_when(at, "zh-hans", today=today) == "11月24日 周二 14:00"
    next_year = dt.datetime(2027, 1, 1, 9, 0, tzinfo=SH)
    assert format_when(When(next_year, False), "zh", today=today) == "2027年1月1日 周五 09:00"
    assert format_when(next_year, "en", today=today) == "Fri 1 Jan 2027 09:00"
    assert format_date(dt.date(2026, 11, 22), "zh", today=today) == "11月22日 周日"
    assert format_date(dt.date(2026, 11, 22), "en", today=today) == "Sun 22 Nov"
    assert format_date(dt.date(2025, 12, 25), "en", today=today) == "Thu 25 Dec 2025"


def test_format_without_today_uses_the_current_year() -> None:
    this_year = dt.datetime.now(SH).year
    assert format_date(dt.date(this_year, 3, 1), "en").endswith("1 Mar")
    assert format_date(dt.date(this_year + 1, 3, 1), "en").endswith(f"1 Mar {this_year + 1}")


def test_every_message_exists_in_both_languages_with_examples() -> None:
    assert set(MESSAGES["zh"]) == set(MESSAGES["en"])
    assert all(key.startswith("date.") for key in MESSAGES["zh"])
    merged = catalog()
    for lang, marker in (("zh", "例如"), ("en", "e.g.")):
        for key, text in MESSAGES[lang].items():
            assert merged[lang][key] == text
            if key != "date.default_hour_note":
                assert marker in text.lower(), (lang, key)
    assert t("zh", "date.default_hour_note", hour="09:00") == "(没写几点,按 09:00 记录。)"


REFUSALS = sorted({(now, past, phrase) for now, past, phrase, exp in TABLE if exp[0] in "!?"})


@pytest.mark.parametrize(("now_key", "past", "phrase"), REFUSALS)
def test_every_refusal_renders_fully_in_both_languages(now_key: str, past: bool, phrase: str) -> None:
    with pytest.raises(Invalid) as info:
        understand_when(phrase, now=NOWS[now_key], past=past)
    for lang in ("zh", "en"):
        text = t(lang, info.value.key, **info.value.params)
        assert text != info.value.key
        assert not re.search(r"\{\w+\}", text), text


# ---------------------------------------------------------------- arbitrary input

PIECES = [
    "明天", "下周", "二", "八", "下午", "3", "点", "半", "天后", "月", "号", "12", "/", ":", "00", "pm",
    "next", " ", "tomorrow", "in", "days", "ago", "周", "星期", "十", "两", "个", "小时", "前", "年", "2026",
    "-", "at", "noon", "晚上", "，", "１", "：", "Dec", "3rd", "of", "の", "😀", "\u0301", "\x00",
]  # fmt: skip


@settings(max_examples=400, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(
    text=st.one_of(st.text(max_size=60), st.lists(st.sampled_from(PIECES), max_size=12).map("".join)),
    past=st.booleans(),
)
def test_arbitrary_text_is_a_when_or_a_refusal(text: str, past: bool) -> None:
    now = NOWS["SUN"]
    try:
        when = understand_when(text, now=now, past=past)
    except Ambiguous as amb:
        assert amb.options and all(isinstance(o, When) for o in amb.options)
        return
    except Invalid as exc:
        assert exc.key in MESSAGES["en"]
        return
    assert when.at.tzinfo is now.tzinfo
    assert (when.at <= now) if past else (when.at > now)


@settings(max_examples=200, deadline=None)
@given(text=st.lists(st.sampled_from([*PIECES, "客户", "quote", ",", "。"]), max_size=30).map("".join))
def test_arbitrary_notes_give_a_span_none_or_a_refusal(text: str) -> None:
    try:
        found = find_when(text, now=NOWS["SUN"])
    except Invalid as exc:
        assert exc.key in MESSAGES["en"]
        assert 0 <= exc.params["start"] < exc.params["end"] <= len(text)
        return
    if found is not None:
        assert 0 <= found.start < found.end <= len(text)
        assert found.when.at > NOWS["SUN"]


def test_very_long_junk_is_refused() -> None:
    junk = "下周二下午两点" * 20_000
    with pytest.raises(Invalid) as info:
        understand_when(junk, now=NOWS["SUN"])
    assert info.value.key == "date.too_long"
    found = find_when("噪音" * 50_000 + "明天下午3点", now=NOWS["SUN"])
    assert found is None  # beyond the part of a note that is scanned


def test_warm_up_runs() -> None:
    warm_up()
    assert _shown(understand_when("下周二下午两点", now=NOWS["SUN"])) == "2026-11-24 14:00"


# ---------------------------------------------------------------- the `when` command


def _args(
    *text: str, now: str | None = "2026-11-22T10:30", tz: str | None = "Asia/Shanghai", past: bool = False
) -> argparse.Namespace:
    return argparse.Namespace(now=now, tz=tz, past=past, default_hour=9, text=list(text))


def test_command_prints_iso_with_offset(capsys: pytest.CaptureFixture[str]) -> None:
    assert when_cmd.run(_args("下周二下午两点")) == 0
    assert capsys.readouterr().out == "2026-11-24T14:00:00+08:00\n"
    assert when_cmd.run(_args("next", "Tuesday", "2pm", now="2026-11-22T02:30:00+00:00")) == 0
    assert capsys.readouterr().out == "2026-11-24T14:00:00+08:00\n"
    assert when_cmd.run(_args("yesterday", past=True, tz="America/New_York")) == 0
    assert capsys.readouterr().out == "2026-11-21T09:00:00-05:00\n"


def test_command_refusal_is_one_english_line_and_exit_1(capsys: pytest.CaptureFixture[str]) -> None:
    assert when_cmd.run(_args("2月30日")) == 1
    assert (
        capsys.readouterr().out
        == "ERROR: There is no 30 Feb 2027. Please check the month and day, e.g. 28 Feb, 1 Mar.\n"
    )
    assert when_cmd.run(_args("12/3")) == 1
    out = capsys.readouterr().out
    assert out.startswith("ERROR: That can be read two ways")
    assert out.endswith("Readings: 2026-12-03T09:00:00+08:00 or 2027-03-12T09:00:00+08:00\n")
    assert out.count("\n") == 1


def test_command_reads_stdin_one_line_per_phrase(
    monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    monkeypatch.setattr(sys, "stdin", io.StringIO("明天上午10点\n\n下周八\r\nin 2 hours\n"))
    assert when_cmd.run(_args()) == 0
    lines = capsys.readouterr().out.splitlines()
    assert lines[0] == "2026-11-23T10:00:00+08:00"
    assert lines[1].startswith("ERROR: Please type when to follow up")
    assert lines[2].startswith("ERROR: There are only seven weekdays")
    assert lines[3] == "2026-11-22T12:30:00+08:00"
    assert len(lines) == 4


def test_command_zone_from_environment_and_bad_options(
    monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    monkeypatch.setenv("CRM_TIMEZONE", "Europe/London")
    assert when_cmd.run(_args("tomorrow 9am", tz=None)) == 0
    assert capsys.readouterr().out == "2026-11-23T09:00:00+00:00\n"
    assert when_cmd.run(_args("tomorrow", tz="Not/AZone")) == 2
    assert capsys.readouterr().out.startswith("ERROR: bad --now or --tz")
    assert when_cmd.run(_args("tomorrow", now="yesterday-ish")) == 2


def test_command_registers_on_a_parent_parser() -> None:
    parser = argparse.ArgumentParser(prog="crm-bot")
    when_cmd.add_parser(parser.add_subparsers(dest="command"))
    args = parser.parse_args(["when", "--now", "2026-11-22T10:30", "--past", "昨天"])
    assert (args.command, args.now, args.past, args.text) == ("when", "2026-11-22T10:30", True, ["昨天"])


def test_command_runs_as_a_module() -> None:
    root = Path(__file__).resolve().parents[2]
    env = {
        **os.environ,
        "PYTHONPATH": str(root),
        "CRM_TIMEZONE": "Asia/Shanghai",
        "PYTHONIOENCODING": "utf-8",
    }
    done = subprocess.run(
        [sys.executable, "-m", "bot.when_cmd", "--now", "2026-11-22T10:30"],
        input="下周二下午两点\n\n3天前\n",
        capture_output=True,
        text=True,
        encoding="utf-8",
        cwd=root,
        env=env,
        timeout=60,
        check=False,
    )
    assert done.returncode == 0, done.stderr
    assert done.stdout.splitlines() == [
        "2026-11-24T14:00:00+08:00",
        "ERROR: Please type when to follow up, e.g. tomorrow 10am, next Tuesday 2pm, in 3 days.",
        "ERROR: Thu 19 Nov 09:00 is in the past. A follow-up must be in the future, e.g. tomorrow 10am, next"
        " Tuesday 2pm, in 3 days.",
    ]
