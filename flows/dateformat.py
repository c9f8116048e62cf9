"""How a date or a moment is shown back, and the values the date reader returns.

Apart from flows/dates.py (the reader) so that what only shows dates (cards, reminders, histories)
does not load the reader's rules, tables and calendars: they load when the first date is read.
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass

__all__ = ["FoundWhen", "When", "format_date", "format_when"]


@dataclass(frozen=True)
class When:
    """A moment the user meant; `has_time` is False when only a day was given and a default hour used."""

    at: dt.datetime
    has_time: bool
    end: dt.datetime | None = None  # the end of a range ("下周二下午两点到三点"), kept for the echo


@dataclass(frozen=True)
class FoundWhen:
    """A date phrase found inside a longer note, with its span in the original text."""

    when: When
    start: int
    end: int


ZH_WEEKDAYS = "一二三四五六日"
EN_WEEKDAYS = ("Mon", "Tue", "Wed", "Thu", "Fri", "Sat", "Sun")
EN_MONTHS = ("Jan", "Feb", "Mar", "Apr", "May", "Jun", "Jul", "Aug", "Sep", "Oct", "Nov", "Dec")


def is_zh(lang: str) -> bool:
    return lang.lower().startswith("zh")


def format_date(d: dt.date, lang: str, *, today: dt.date | None = None) -> str:
    """A day as the user reads it: "11月22日 周日" / "Sun 22 Nov"; the year only when not this year.

    `today` fixes what "this year" is (tests, or the caller's own now); default: the system date.
    """
    if isinstance(d, dt.datetime):
        d = d.date()
    ref = today or dt.date.today()
    show_year = d.year != ref.year
    if is_zh(lang):
        year = f"{d.year}年" if show_year else ""
        return f"{year}{d.month}月{d.day}日 周{ZH_WEEKDAYS[d.weekday()]}"
    year = f" {d.year}" if show_year else ""
    return f"{EN_WEEKDAYS[d.weekday()]} {d.day} {EN_MONTHS[d.month - 1]}{year}"


def format_when(when: When | dt.datetime, lang: str, *, today: dt.date | None = None) -> str:
    """The absolute time echoed back for confirmation: "11月24日 周二 14:00" / "Tue 24 Nov 14:00".

    Shown in the value's own zone, which understand_when makes the user's. "This year" is that of
    `today`, or of the current date in the value's zone.
    """
    at = when.at if isinstance(when, When) else when
    ref = today or dt.datetime.now(at.tzinfo).date()
    shown = f"{format_date(at.date(), lang, today=ref)} {at:%H:%M}"
    end = when.end if isinstance(when, When) else None
    if end is None:
        return shown
    if end.date() == at.date():
        return f"{shown}–{end:%H:%M}"
    return f"{shown} – {format_date(end.date(), lang, today=ref)} {end:%H:%M}"
