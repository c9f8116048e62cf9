"""Dates and times typed in a hurry, in Chinese or English, read relative to the user's "now".

The project's own rules read them: the text is normalised (full-width forms, case, traditional
characters, Chinese numerals), cut into tokens (a day, a weekday, a period such as 下午, a clock
time, an offset such as 3天后), and the tokens are combined under explicit rules. What the rules do
not read is refused with a reason. No general-purpose parser is asked after them: dateparser was,
and over the corpus of bench/bench_dates.py and a grid of amount-of-time phrases what it read
beyond the rules was misread or nonsense ("in 2 days ago" as a date), at 0.6-2.6 ms a call.
Anything unclear is refused with a reason or offered as a choice; never guessed.
"""

from __future__ import annotations

import calendar
import contextlib
import datetime as dt
import re
import unicodedata
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, replace
from functools import cache
from typing import Any, Literal
from zoneinfo import ZoneInfo

from flows import dates_en as en
from flows import dates_zh as zh
from flows.dateformat import EN_MONTHS as _EN_MONTHS
from flows.dateformat import ZH_WEEKDAYS as _ZH_WEEKDAYS
from flows.dateformat import FoundWhen, When, format_date, format_when
from flows.errors import Ambiguous, Invalid

__all__ = ["FoundWhen", "When", "find_when", "format_date", "format_when", "understand_when", "warm_up"]


# Longer answers than this are not a date typed on a phone; refusing early keeps junk cheap.
_MAX_ANSWER = 80
# Notes are scanned up to this many characters (a Telegram message is at most 4096).
_MAX_NOTE = 4096
# Further than this from now is a typo, not a follow-up plan or an interaction.
_MAX_DAYS = 3660
_DIRECTION_KEYS = frozenset({"date.time_passed", "date.need_time", "date.in_past", "date.in_future"})

_EN_WEEKDAY_NAMES = ("Monday", "Tuesday", "Wednesday", "Thursday", "Friday", "Saturday", "Sunday")


def _when_params(at: dt.datetime, today: dt.date) -> dict[str, str]:
    """Error parameters naming a moment in both languages, since the adapter picks the language."""
    return {"when_zh": format_when(at, "zh", today=today), "when_en": format_when(at, "en", today=today)}


def _date_params(year: int | None, month: int, day: int) -> dict[str, Any]:
    """How an impossible date is named back in both languages ("2月30日" / "30 Feb")."""
    month_en = _EN_MONTHS[month - 1] if 1 <= month <= 12 else f"month {month}"
    zh_year = f"{year}年" if year else ""
    en_year = f" {year}" if year else ""
    return {"date_zh": f"{zh_year}{month}月{day}日", "date_en": f"{day} {month_en}{en_year}"}


# ---------------------------------------------------------------- normalisation

_WEEKDAY_NUMERALS = frozenset("一二三四五六七")


@dataclass(frozen=True)
class _Norm:
    """Normalised text and, per character, the span of original text it came from."""

    text: str
    starts: tuple[int, ...]
    ends: tuple[int, ...]
    from_numerals: frozenset[int]

    def span(self, start: int, end: int) -> tuple[int, int]:
        return self.starts[start], self.ends[end - 1]


def _normalise(text: str) -> _Norm:
    """NFKC (full-width digits, letters, colons), lower case, simplified characters, ASCII numerals.

    A Chinese numeral run directly followed by a digit gets a space, so that 周一10点 does not
    become 周110点; after 周/星期/礼拜 one numeral is the weekday, so 周一十点 is 周1 10点.
    """
    chars: list[tuple[str, int, int]] = []
    for i, ch in enumerate(text):
        piece = ch if ch.isascii() else unicodedata.normalize("NFKC", ch)
        piece = piece.lower().translate(zh.TRADITIONAL)
        if piece == "&":  # "1 week & 2 days" is the rules' "1 week and 2 days"
            piece = " and "
        for c in piece:
            chars.append((" " if c.isspace() else c, i, i + 1))
    out: list[str] = []
    starts: list[int] = []
    ends: list[int] = []
    numerals: set[int] = set()
    i = 0
    while i < len(chars):
        c, s, e = chars[i]
        if c not in zh.NUMERAL_CHARS:
            out.append(c)
            starts.append(s)
            ends.append(e)
            i += 1
            continue
        j = i + 1
        after_week = "".join(out[-2:]).endswith(("周", "星期", "礼拜"))
        if not (after_week and c in _WEEKDAY_NUMERALS):  # 周一十点: 一 is the weekday, 十 the hour
            while j < len(chars) and chars[j][0] in zh.NUMERAL_CHARS:
                j += 1
        run = "".join(ch for ch, _, _ in chars[i:j])
        value = zh.numeral_value(run)
        if value is None:
            for ch, s2, e2 in chars[i:j]:
                out.append(ch)
                starts.append(s2)
                ends.append(e2)
        else:
            for digit in value:
                numerals.add(len(out))
                out.append(digit)
                starts.append(s)
                ends.append(chars[j - 1][2])
            if j < len(chars) and (chars[j][0].isdigit() or chars[j][0] in zh.NUMERAL_CHARS):
                out.append(" ")
                starts.append(chars[j][1])
                ends.append(chars[j][1])
        i = j
    return _Norm("".join(out), tuple(starts), tuple(ends), frozenset(numerals))


# ---------------------------------------------------------------- tokens

DayKind = Literal[
    "rel",
    "weekday",
    "abs",
    "monthday",
    "offset",
    "numeric",
    "need",
    "now",
    "monthpart",
    "holiday",
    "lunar",
    "nth",
]


@dataclass(frozen=True)
class _Day:
    """What a token says about the day. Fields used depend on `kind`."""

    kind: DayKind
    n: int = 0  # rel: days from today; offset: signed amount of `unit`; nth: 1-4, or -1 for the last
    unit: str = ""  # offset: minute / day / month
    weekday: int = 0  # 0 = Monday
    mode: str = ""  # weekday: bare / week / this / last
    shift: int = 0  # weekday mode "week": weeks from this one; monthday: months from this one
    year: int | None = None
    year_shift: int | None = None
    month: int = 0
    day: int = 0
    b: int = 0  # numeric: the second number of a/b
    plus: int = 0  # weekday: days added after it ("Monday week")
    part: str = ""  # monthpart: start / mid / end; holiday: its key
    explicit: bool = False  # monthday/monthpart: the month was said (本月15号), so no rolling on
    after: bool = False  # holiday: the first working day after it (春节后)


@dataclass(frozen=True)
class _Time:
    """A clock time as typed; `bare` marks 1-6 o'clock without am/pm/上午/下午 (could be either)."""

    hour: int
    minute: int
    ampm: str | None = None
    bare: bool = False
    midnight: bool = False
    dotted: bool = False  # 10.30: a time only next to a day or a part of the day (12.03 may be a date)


@dataclass(frozen=True)
class _Tok:
    start: int
    end: int
    day: _Day | None = None
    period: str | None = None
    time: _Time | None = None
    week: int | None = None  # English "next week" waiting for a weekday
    shift: _Day | None = None  # "2 weeks from": an offset (kind "offset") from the day phrase that follows
    weak: bool = False  # on its own in a note, probably not a date (便宜一点, 3号楼, "sat down")
    error: Invalid | None = None


def _split(patterns: list[tuple[str, str]], last: str) -> int:
    return next(i for i, (kind, _) in enumerate(patterns) if kind == last) + 1


# Alternatives are tried in this order at each position: dates with a month or a holiday first,
# so that 下个月初 is a part of the month before 下个月 is read alone.
_EN_CUT = _split(en.PATTERNS, "en_ago")
_ZH_CUT = _split(zh.PATTERNS, "zh_day")
_PATTERNS = en.PATTERNS[:_EN_CUT] + zh.PATTERNS[:_ZH_CUT] + en.PATTERNS[_EN_CUT:] + zh.PATTERNS[_ZH_CUT:]
# Every token starts with one of these characters (an English word only at a word start); checking
# that first makes scanning a note several times faster than trying each pattern at each position.
_TOKEN_START = (
    r"(?=[\d@大后前之以今明昨下上本这次周星礼凌清早中午傍晚夜现刚此半去月元春过除年劳端国圣平农阴正冬腊差吃]"
    r"|(?<![a-z])[abcdefhijlmnopqrstwxy])"
)
_TOKEN_RE = re.compile(
    _TOKEN_START + "(?:" + "|".join(f"(?P<{kind}>{pattern})" for kind, pattern in _PATTERNS) + ")"
)


def _words(words: Iterable[str]) -> str:
    parts = []
    for w in sorted(words, key=len, reverse=True):
        body = re.escape(w).replace(r"\ ", r"\s*")
        parts.append(rf"(?<![a-z]){body}(?![a-z])" if w.isascii() else body)
    return "|".join(parts)


_PUNCT = r"[\s,，、.。;；:：!！?？~～\-–—()（）\[\]【】\"'“”‘’/@]"
_WORD_RE = re.compile(r"[a-z]{2}")
_FILLER_RE = re.compile(rf"(?:{_PUNCT}|{_words(en.FILLERS + zh.FILLERS)})*")
_JOIN_RE = re.compile(rf"(?:[\s,，、]|{_words(('at', 'on', 'the', 'of', '@', '的', '在', '于'))})*")
_COMMA_RE = re.compile(r"[,，、]")
# Date words: English gaps with these are part of a date phrase (read or refused), not remarks around it.
_DATE_WORD_RE = re.compile(
    r"(?<![a-z])(?:[a-z]*day|weeks?|fortnights?|months?|years?|hours?|minutes?|noon|night|morning|evening"
    rf"|tomorrow|tonight|ago|next|last|from|now|before|after|[ap]\.?m\.?|o'?clock|{en.MONTH})s?(?![a-z])"
)
# An hour said as a word next to a date ("tomorrow at ten" with no rule for it) must not be dropped.
_NUMBER_WORD = rf"(?<![a-z])(?:{en.HOUR_WORD}|half|quarter|thirty|fifteen|forty[\s-]*five)(?![a-z])"
_NUMBER_WORD_BEFORE = re.compile(rf"{_NUMBER_WORD}(?:[\s-]*(?:ish|at|around|about|@))*[\s-]*$")
_NUMBER_WORD_AFTER = re.compile(rf"^(?:[\s-]*(?:at|around|about|@))*[\s-]*{_NUMBER_WORD}")
_RANGE_RE = re.compile(r"\s*(?:到|至|-|–|—|~|～|(?<![a-z])(?:to|till|until|til)(?![a-z]))\s*")
_HARD_STOP_RE = re.compile(r"[,，。;；!！?？\n]")
_VAGUE_RE = re.compile(_words(en.VAGUE + zh.VAGUE))
_ISO_RE = re.compile(r"\d{4}-\d{2}-\d{2}[t ]\d{2}:\d{2}(?::\d{2}(?:\.\d+)?)?(?:z|[+-]\d{2}:?\d{2})?")


def _int(value: str | None) -> int:
    return int(value) if value else 0


def _en_number(word: str) -> int:
    word = re.sub(r"\s+", " ", word)
    if word.isdigit():
        return int(word)
    return en.NUMBER_WORDS[word]


def _bad_time(hour: int, minute: int) -> Invalid:
    return Invalid("date.bad_time", time=f"{hour}:{minute:02d}")


def _clock(hour: int, minute: int, *, ampm: str | None = None, bare: bool = False) -> _Time | Invalid:
    """A clock time, or the reason it is not one (25:00, 10:75, 13pm)."""
    if minute > 59 or (ampm is not None and not 1 <= hour <= 12) or hour > 23:
        return _bad_time(hour, minute)
    return _Time(hour, minute, ampm=ampm, bare=bare and 1 <= hour <= 6)


def _time_token(start: int, end: int, clock: _Time | Invalid, weak: bool = False) -> _Tok:
    if isinstance(clock, Invalid):
        return _Tok(start, end, error=clock, weak=True)  # "比分25:00" in a note is no date
    return _Tok(start, end, time=clock, weak=weak)


def _weekday_token(start: int, end: int, weekday: int, mode: str, shift: int = 0, weak: bool = False) -> _Tok:
    if not 0 <= weekday <= 6:
        return _Tok(start, end, error=Invalid("date.bad_weekday"))
    return _Tok(start, end, day=_Day("weekday", weekday=weekday, mode=mode, shift=shift), weak=weak)


def _make_token(m: re.Match[str], norm: _Norm) -> _Tok | None:
    """Turn one regex match into what it says; lexical impossibilities become an error token, and
    None means the match is no token where it stands (its text stays in the gaps)."""
    kind = m.lastgroup or ""
    g = m.group
    s, e = m.start(), m.end()
    need = _Tok(s, e, day=_Day("need"), weak=True)
    if kind == "en_iso":
        return _Tok(
            s, e, day=_Day("abs", year=int(g("en_iso_y")), month=int(g("en_iso_m")), day=int(g("en_iso_d")))
        )
    if kind == "en_num":
        year = g("en_num_y")
        num_year = None if year is None else int(year) + (2000 if len(year) == 2 else 0)
        return _Tok(
            s,
            e,
            day=_Day("numeric", year=num_year, month=int(g("en_num_a")), b=int(g("en_num_b"))),
            weak=True,
        )
    if kind in ("en_mdy", "en_dmy"):
        p = kind
        year = g(f"{p}_y")
        return _Tok(
            s,
            e,
            day=_Day(
                "abs", year=int(year) if year else None, month=en.MONTHS[g(f"{p}_mon")], day=int(g(f"{p}_d"))
            ),
        )
    if kind in ("en_month", "en_later", "zh_year"):
        return need
    if kind == "en_ord":
        mod = g("en_ord_mod")
        if mod is not None:  # "the 15th of next month", like 下个月15号
            month_day = _Day("monthday", shift=en.MONTH_MODS[mod], day=int(g("en_ord_d")), explicit=True)
            return _Tok(s, e, day=month_day)
        return _Tok(s, e, day=_Day("monthday", day=int(g("en_ord_d"))), weak=True)
    if kind == "en_nth":
        mod, mon = g("en_nth_mod"), g("en_nth_mon")
        nth = _Day(
            "nth",
            n=en.NTH[g("en_nth_o")],
            weekday=en.WEEKDAYS[g("en_nth_w")],
            shift=en.MONTH_MODS[mod] if mod else 0,
            month=en.MONTHS[mon] if mon else 0,
        )
        return _Tok(s, e, day=nth)
    if kind == "en_from":
        if g("en_from_day"):  # "the day after/before <day>"
            sign = -1 if g("en_from_dd") == "before" else 1
            return _Tok(s, e, shift=_Day("offset", n=sign, unit="day"), weak=True)
        if g("en_from_fn"):  # "fortnight from today" (dateparser read it as today)
            unit, amount = "day", 14
        else:
            unit, mult = next(v for k, v in en.UNITS.items() if g("en_from_unit").startswith(k))
            amount = _en_number(re.sub(r"\s+", " ", g("en_from_n"))) * mult
        sign = -1 if g("en_from_dir") == "before" else 1
        return _Tok(s, e, shift=_Day("offset", n=amount * sign, unit=unit), weak=True)
    if kind == "en_hol":
        key = _en_holiday_key(g("en_hol_w"))
        return _Tok(s, e, day=_Day("holiday", part=key, after=g("en_hol_after") is not None))
    if kind == "en_mpart":
        if g("en_mp_eom"):
            part, mod = "end", None
        elif g("en_mp_mid"):
            part, mod = "mid", None
        else:
            part, mod = en.MONTH_PARTS[g("en_mp_p")], g("en_mp_mod")
        shift = {None: 0, "this": 0, "next": 1, "nxt": 1, "last": -1}[mod]
        return _Tok(s, e, day=_Day("monthpart", part=part, shift=shift, explicit=mod is not None))
    if kind == "en_bare":
        if norm.text[:s].strip(" ,.") or norm.text[e:].strip(" ,.!?"):
            return None  # only a whole answer ("2 weeks"); "in 1 day and 2 hours" is not two dates
        unit, mult = next(v for k, v in en.UNITS.items() if g("en_bare_unit").startswith(k))
        amount = _en_number(g("en_bare_n")) * mult
        return _Tok(s, e, day=_Day("offset", n=amount, unit=unit, mode="either"), weak=True)
    if kind == "en_tonight":
        clock = _clock(int(g("en_tn_h")), 0)
        if isinstance(clock, Invalid):
            return _Tok(s, e, error=clock)
        return _Tok(s, e, day=_Day("rel", n=0), period="evening", time=clock)
    if kind == "en_fortnight":
        return _Tok(s, e, day=_Day("offset", n=14, unit="day"))
    if kind == "en_weekend":
        mod = g("en_we_mod")
        if mod in ("next", "nxt"):
            return _weekday_token(s, e, 5, "week", 1)
        if mod == "last":
            return _weekday_token(s, e, 5, "week", -1)
        return _weekday_token(s, e, 5, "weekend")
    if kind == "en_dayword":
        word = re.sub(r"\s+", " ", g("en_dw_w"))
        hour, ampm = en.DAY_WORDS.get(word, (5, "pm"))  # end of (business) day, close of business
        return _Tok(s, e, time=_Time(hour, 0, ampm=ampm))
    if kind == "en_eow":
        shift = 1 if g("en_eow_mod") in ("next", "nxt") else 0
        if shift:
            return _weekday_token(s, e, 4, "week", 1)
        return _weekday_token(s, e, 4, "this")
    if kind == "en_dot":
        clock = _clock(int(g("en_dot_h")), int(g("en_dot_m")))
        if isinstance(clock, Invalid):
            return _Tok(s, e, error=clock, weak=True)
        return _Tok(s, e, time=_Time(clock.hour, clock.minute, dotted=True), weak=True)
    if kind == "en_sum":
        whole = not norm.text[:s].strip(" ,.") and not norm.text[e:].strip(" ,.!?")
        return _unit_sum(s, e, g("en_sum_body"), g("en_sum_in") is not None, g("en_sum_dir"), whole)
    if kind in ("en_in", "en_ago"):
        p = kind
        word = re.sub(r"\s+", " ", g(f"{p}_n"))
        unit_word = g(f"{p}_unit")
        unit, mult = next(v for k, v in en.UNITS.items() if unit_word.startswith(k))
        sign = -1 if kind == "en_ago" and g("en_ago_dir") in ("ago", "before") else 1
        if word.startswith("half") or word.endswith("half"):
            if unit != "minute" or mult != 60:
                return _Tok(s, e, error=Invalid("date.unknown"), weak=True)
            return _Tok(s, e, day=_Day("offset", n=30 * sign, unit="minute"))
        amount = _en_number(word) * mult
        if kind == "en_in" and g("en_in_half"):  # "in an hour and a half"
            if unit != "minute" or mult != 60:
                return _Tok(s, e, error=Invalid("date.unknown"), weak=True)
            amount += 30
        return _Tok(s, e, day=_Day("offset", n=amount * sign, unit=unit))
    if kind == "en_rel":
        word = re.sub(r"\s+", " ", g("en_rel_w")).removeprefix("the ")
        if word == "day after tomorrow":
            return _Tok(s, e, day=_Day("rel", n=2))
        if word == "day before yesterday":
            return _Tok(s, e, day=_Day("rel", n=-2))
        n, period = en.REL_DAYS[word]
        return _Tok(s, e, day=_Day("rel", n=n), period=period)
    if kind == "en_week":
        mod = g("en_week_mod") or g("en_week_zh")
        shift = 2 if mod is None else {"this": 0, "next": 1, "nxt": 1, "last": -1, "previous": -1}[mod]
        return _Tok(s, e, week=shift, weak=True)
    if kind == "en_wd":
        mod = g("en_wd_mod")
        name = g("en_wd_w")
        mode = "bare" if mod is None else en.WEEKDAY_MODS[re.sub(r"\s+", " ", mod)]
        if mode == "next":
            tok = _weekday_token(s, e, en.WEEKDAYS[name], "week", 1)
            if g("en_wd_plus") and tok.day is not None:  # "next Monday week": a week after it
                return _Tok(s, e, day=replace(tok.day, plus=7))
            if g("en_wd_an"):
                return _Tok(s, e, error=Invalid("date.conflict"))
            return tok
        tok = _weekday_token(s, e, en.WEEKDAYS[name], mode, weak=mod is None and name in en.WEAK_WEEKDAYS)
        if g("en_wd_an") and tok.day is not None:  # "the Friday after next": in the week after next
            if mod is not None:
                return _Tok(s, e, error=Invalid("date.conflict"))
            return _weekday_token(s, e, tok.day.weekday, "week", 2)
        if g("en_wd_plus") and tok.day is not None:  # "Monday week": a week after the coming Monday
            return _Tok(s, e, day=_Day("weekday", weekday=tok.day.weekday, mode=mode, plus=7))
        return tok
    if kind == "en_ap":
        ampm = "pm" if g("en_ap_ap").startswith("p") else "am"
        return _time_token(s, e, _clock(int(g("en_ap_h")), _int(g("en_ap_m")), ampm=ampm))
    if kind == "en_past":
        q, h = g("en_past_q"), g("en_past_h")
        minutes = 30 if q == "half" else 15 if q.endswith("quarter") else _en_number(q)
        hour = _en_number(h)
        if g("en_past_dir") == "to":
            if not 1 <= minutes <= 59:
                return _Tok(s, e, error=_bad_time(hour, 0), weak=True)
            hour, minutes = (hour - 1) % 24, 60 - minutes
        ap = g("en_past_ap")
        said = None if ap is None else "pm" if ap.startswith("p") else "am"
        if said is not None and hour == 0:
            hour = 12
        return _time_token(s, e, _clock(hour, minutes, ampm=said, bare=said is None))
    if kind == "en_hw":
        if g("en_hw_at"):
            return _time_token(s, e, _clock(_en_number(g("en_hw_at")), 0, bare=True), weak=True)
        ap = g("en_hw_ap")
        hour = _en_number(g("en_hw_h"))
        if ap is None:  # "ten o'clock"
            return _time_token(s, e, _clock(hour, 0, bare=True))
        return _time_token(s, e, _clock(hour, 0, ampm="pm" if ap.startswith("p") else "am"))
    if kind == "en_col":
        h = g("en_col_h")
        return _time_token(s, e, _clock(int(h), int(g("en_col_m")), bare=not h.startswith("0")))
    if kind == "en_oclock":
        return _time_token(s, e, _clock(int(g("en_oc_h")), 0, bare=True))
    if kind == "en_at":
        return _time_token(s, e, _clock(int(g("en_at_h")), 0, bare=True), weak=True)
    if kind == "en_word":
        if g("en_word_w") == "midnight":
            return _Tok(s, e, time=_Time(0, 0, midnight=True))
        return _Tok(s, e, time=_Time(12, 0, ampm="pm"))
    if kind == "en_period":
        return _Tok(s, e, period=en.PERIODS[re.sub(r"\s+", " ", g("en_period_w"))], weak=True)
    if kind in ("en_now", "zh_now"):
        return _Tok(s, e, day=_Day("now"), weak=True)
    if kind == "zh_ymd":
        y, yr, mon, mr, d = g("zh_ymd_y"), g("zh_ymd_yr"), g("zh_ymd_m"), g("zh_ymd_mr"), g("zh_ymd_d")
        if d is None:
            return need
        if mr is not None:
            if y or yr:
                return _Tok(s, e, error=Invalid("date.unknown"), weak=True)
            return _Tok(s, e, day=_Day("monthday", shift=zh.MONTH_SHIFTS[mr], day=int(d), explicit=True))
        return _Tok(
            s,
            e,
            day=_Day(
                "abs",
                year=int(y) if y else None,
                year_shift=zh.YEAR_SHIFTS[yr] if yr else None,
                month=int(mon),
                day=int(d),
            ),
        )
    if kind == "zh_nth":
        mr, mon, wd = g("zh_nth_mr"), g("zh_nth_m"), g("zh_nth_wd")
        weekday = 6 if wd in "日天" else int(wd) - 1
        if not 0 <= weekday <= 6:
            return _Tok(s, e, error=Invalid("date.bad_weekday"))
        nth = _Day(
            "nth",
            n=-1 if g("zh_nth_last") else int(g("zh_nth_n")),
            weekday=weekday,
            shift=zh.MONTH_SHIFTS[mr] if mr else 0,
            month=int(mon) if mon else 0,
        )
        return _Tok(s, e, day=nth)
    if kind == "zh_offset":
        n_text = g("zh_off_n")
        unit, mult = zh.OFFSET_UNITS[g("zh_off_unit")]
        if unit == "month" and mult == 1 and "个" not in m.group(0):
            return _Tok(s, e, error=Invalid("date.unknown"), weak=True)  # "3月后" is not "3个月后"
        half = g("zh_off_half") or g("zh_off_half2")
        if n_text == "半" and half:
            return _Tok(s, e, error=Invalid("date.unknown"), weak=True)
        total = ((0.5 if n_text == "半" else int(n_text)) + (0.5 if half else 0)) * mult
        if unit == "month" and total != int(total):
            unit, total = "day", total * 30  # 半个月 = 15 days
        if total != int(total):
            return _Tok(s, e, error=Invalid("date.unknown"), weak=True)  # 半天后, 半分钟后
        sign = 1 if g("zh_off_dir") in zh.AFTER_WORDS else -1
        return _Tok(s, e, day=_Day("offset", n=int(total) * sign, unit=unit))
    if kind == "zh_post":
        unit, mult = zh.OFFSET_UNITS["月" if g("zh_post_ge") else g("zh_post_unit")]
        after = g("zh_post_dir") in zh.AFTER_WORDS
        amount = int(g("zh_post_n")) * mult * (1 if after else -1)
        return _Tok(s, e, shift=_Day("offset", n=amount, unit=unit, after=after), weak=True)
    if kind == "zh_day":
        return _Tok(s, e, day=_Day("monthday", day=int(g("zh_day_d"))), weak=True)
    if kind == "zh_rel":
        n, period = zh.REL_DAYS[g("zh_rel_w")]
        return _Tok(s, e, day=_Day("rel", n=n), period=period)
    if kind == "zh_week":
        wd = g("zh_week_wd")
        if wd is None:  # 下周 alone: Monday of that week (resolved with the other tokens)
            return _Tok(s, e, week=zh.WEEK_SHIFTS[g("zh_week_mod2")], weak=True)
        mod = g("zh_week_mod")
        if wd == "末":  # 周末 = Saturday; 这周末 on a Sunday is today
            shift = 0 if mod is None else zh.WEEK_SHIFTS[mod]
            return _weekday_token(s, e, 5, "weekend" if shift == 0 else "week", shift)
        weekday = 6 if wd in "日天" else int(wd) - 1
        if mod is None:
            return _weekday_token(s, e, weekday, "bare")
        return _weekday_token(s, e, weekday, "week", zh.WEEK_SHIFTS[mod])
    if kind == "zh_period":
        return _Tok(s, e, period=zh.PERIODS[g("zh_period_w")], weak=True)
    if kind in ("zh_time", "zh_cha"):
        p = kind
        h = int(g(f"{p}_h"))
        hour_from_numerals = m.start(f"{p}_h") in norm.from_numerals
        less_q, less_m = (
            (g("zh_cha_q"), g("zh_cha_m")) if p == "zh_cha" else (g("zh_time_lq"), g("zh_time_lm"))
        )
        if less_q or less_m:  # 差五分三点 / 三点差一刻: minutes before the hour
            less = 15 * int(less_q) if less_q else int(less_m)
            if not 1 <= less <= 59 or h > 23:
                return _Tok(s, e, error=_bad_time(h, 0), weak=True)
            hour = (h - 1) % 24
            return _time_token(s, e, _Time(hour, 60 - less, bare=1 <= h <= 6), weak=hour_from_numerals)
        quarter, half, minute = g("zh_time_q"), g("zh_time_half"), g("zh_time_m")
        mins = 15 * int(quarter) if quarter else 30 if half else _int(minute)
        return _time_token(s, e, _clock(h, mins, bare=True), weak=hour_from_numerals)
    if kind == "zh_holiday":
        key = zh.HOLIDAYS[g("zh_hol_w")]
        return _Tok(s, e, day=_Day("holiday", part=key, after=g("zh_hol_after") is not None))
    if kind == "zh_lunar":
        month_text = g("zh_lun_m1") or g("zh_lun_m3")
        month = int(month_text) if month_text else zh.LUNAR_MONTHS[g("zh_lun_m2")]
        day_text = g("zh_lun_d1") or g("zh_lun_d3")
        lunar_day = int(day_text) if day_text else 20 + int(g("zh_lun_d2"))
        return _Tok(s, e, day=_Day("lunar", month=month, day=lunar_day))
    if kind == "zh_mpart":
        mr, mon = g("zh_mp_mr"), g("zh_mp_m")
        part = zh.MONTH_PARTS[g("zh_mp_p")]
        if mon:
            return _Tok(s, e, day=_Day("monthpart", part=part, month=int(mon), explicit=True))
        shift = zh.MONTH_SHIFTS[mr] if mr else 0
        return _Tok(s, e, day=_Day("monthpart", part=part, shift=shift, explicit=mr is not None))
    raise AssertionError(f"no token rule for {kind}")  # pragma: no cover - every pattern has a rule


_SUM_TERM_RE = re.compile(rf"({en.NUMBER})\s*({en.UNIT})")


def _unit_sum(
    start: int, end: int, body: str, said_in: bool, direction: str | None, whole: bool
) -> _Tok | None:
    """ "in 1 day and 2 hours" / "2 weeks 3 days ago" as one offset, and said alone ("1 day and 2
    hours") like "2 weeks": ahead, or ago for an interaction. None (no token) without "in" or a
    direction inside a longer text; a refusal for months mixed with days or hours (no one offset)."""
    either = not said_in and direction is None
    if either and not whole:
        return None
    if said_in and direction == "ago":
        return _Tok(start, end, error=Invalid("date.unknown"), weak=True)
    totals = {"minute": 0, "day": 0, "month": 0}
    for number, unit_word in _SUM_TERM_RE.findall(body):
        unit, mult = next(v for k, v in en.UNITS.items() if unit_word.startswith(k))
        totals[unit] += _en_number(number) * mult
    sign = -1 if direction == "ago" else 1
    mode = "either" if either else ""
    if totals["month"]:
        if totals["minute"] or totals["day"]:
            return _Tok(start, end, error=Invalid("date.unknown"), weak=True)
        return _Tok(start, end, day=_Day("offset", n=sign * totals["month"], unit="month", mode=mode))
    if totals["minute"]:
        minutes = sign * (totals["minute"] + 1440 * totals["day"])
        return _Tok(start, end, day=_Day("offset", n=minutes, unit="minute", mode=mode))
    return _Tok(start, end, day=_Day("offset", n=sign * totals["day"], unit="day", mode=mode))


def _en_holiday_key(words: str) -> str:
    """The key of an English holiday name however it was spaced or apostrophed (new years day)."""
    plain = re.sub(r"\s+", " ", words).replace("'", "")
    return next(key for name, key in en.HOLIDAYS.items() if name.replace("'", "") == plain)


def _tokens(norm: _Norm) -> list[_Tok]:
    found = (_make_token(m, norm) for m in _TOKEN_RE.finditer(norm.text) if m.end() > m.start())
    return [tok for tok in found if tok is not None]


# ---------------------------------------------------------------- resolution


def _slots(tok: _Tok) -> set[str]:
    """What a token fills in a phrase; two tokens filling the same slot contradict each other."""
    slots: set[str] = set()
    if tok.day is not None:
        slots.add("weekday" if tok.day.kind == "weekday" else "day")
    if tok.time is not None:
        slots.add("time")
    if tok.period is not None:
        slots.add("period:" + tok.period)
    if tok.week is not None:
        slots.add("week")
    if tok.shift is not None:
        slots.add("shift")
    return slots


def _compatible(group: Sequence[_Tok], tok: _Tok) -> bool:
    taken: set[str] = set().union(*(_slots(t) for t in group))
    new = _slots(tok)
    if taken & new - {s for s in new if s.startswith("period:")}:
        return False
    periods = {s for s in taken | new if s.startswith("period:")}
    return len(periods) <= 1


def _add_months(d: dt.date, months: int) -> dt.date:
    """Calendar months later (or earlier), keeping the day or the month's last day (31 Jan + 1 → 28 Feb)."""
    index = d.year * 12 + d.month - 1 + months
    year, month = divmod(index, 12)
    if not 1 <= year <= 9999:
        raise Invalid("date.too_far")
    return dt.date(year, month + 1, min(d.day, calendar.monthrange(year, month + 1)[1]))


def _make_date(year: int, month: int, day: int) -> dt.date:
    if not (1 <= month <= 12 and 1 <= day <= 31):
        raise Invalid("date.no_such_date", **_date_params(None, month, day))
    if not 1 <= year <= 9999:
        raise Invalid("date.too_far")
    try:
        return dt.date(year, month, day)
    except ValueError:
        raise Invalid("date.no_such_date", **_date_params(year, month, day)) from None


def _guess_year(month: int, day: int, today: dt.date, past: bool) -> int:
    """The year of a date typed without one: this year unless that is more than a month the wrong way.

    "1月10号" typed in November is next January; "11月20号" typed on 22 November stays this year
    and is then refused as past, because rolling a fresh typo a whole year on would be a silent guess.
    """
    if not (1 <= month <= 12 and 1 <= day <= 31):
        raise Invalid("date.no_such_date", **_date_params(None, month, day))
    approx = dt.date(today.year, month, min(day, 28))
    days_wrong_way = (approx - today).days * (1 if past else -1)
    if (month, day) == (today.month, today.day) or days_wrong_way <= 30:
        return today.year
    return today.year + (-1 if past else 1)


def _weekday_date(day: _Day, today: dt.date, past: bool) -> dt.date:
    """Weeks run Monday to Sunday. 下周X/next X = X of next week; a bare weekday = its next
    occurrence after today (for an interaction date: its most recent one, today included)."""
    if day.plus:
        return _weekday_date(replace(day, plus=0), today, past) + dt.timedelta(days=day.plus)
    delta_fwd = (day.weekday - today.weekday()) % 7
    monday = today - dt.timedelta(days=today.weekday())
    if day.mode == "weekend":  # this week's Saturday; on a Sunday that weekend is today
        saturday = monday + dt.timedelta(days=5)
        if past:
            return saturday if saturday <= today else saturday - dt.timedelta(days=7)
        return max(saturday, today)
    if day.mode == "week":
        monday = today - dt.timedelta(days=today.weekday())
        return monday + dt.timedelta(days=7 * day.shift + day.weekday)
    if day.mode == "last":
        return today - dt.timedelta(days=(today.weekday() - day.weekday) % 7 or 7)
    if past:
        return today - dt.timedelta(days=(today.weekday() - day.weekday) % 7)
    if day.mode == "this":
        return today + dt.timedelta(days=delta_fwd)
    return today + dt.timedelta(days=delta_fwd or 7)


def _offset_date(d: dt.date, offset: _Day) -> dt.date:
    """A day moved by an offset of whole days or calendar months (3天后, "2 weeks from tomorrow")."""
    if abs(offset.n) > _MAX_DAYS * (12 if offset.unit == "month" else 1):
        raise Invalid("date.too_far")
    if offset.unit == "month":
        return _add_months(d, offset.n)
    try:
        return d + dt.timedelta(days=offset.n)
    except OverflowError:
        raise Invalid("date.too_far") from None


def _nth_weekday(day: _Day, today: dt.date, past: bool) -> dt.date:
    """ "The first Monday of next month", "the last Friday of December": the month is always said."""
    if day.month:
        first = dt.date(_guess_year(day.month, 1, today, past), day.month, 1)
    else:
        first = _add_months(today.replace(day=1), day.shift)
    if day.n > 0:
        return first + dt.timedelta(days=(day.weekday - first.weekday()) % 7 + 7 * (day.n - 1))
    last = first.replace(day=calendar.monthrange(first.year, first.month)[1])
    return last - dt.timedelta(days=(last.weekday() - day.weekday) % 7)


def _month_part_date(year: int, month: int, part: str) -> dt.date:
    """月初 = the 1st, 月中/中旬/mid-month = the 15th, 月底/end of the month = the last day."""
    last = calendar.monthrange(year, month)[1]
    return dt.date(year, month, {"start": 1, "mid": 15, "end": last}[part])


def _month_part(day: _Day, today: dt.date, past: bool) -> dt.date:
    """A part of a month; said without a month (月底) it rolls on a month once passed, like 5号."""
    if day.month:
        if not 1 <= day.month <= 12:
            raise Invalid("date.no_such_date", **_date_params(None, day.month, 1))
        year = _guess_year(day.month, 15, today, past)
        return _month_part_date(year, day.month, day.part)
    first = _add_months(today.replace(day=1), day.shift)
    found = _month_part_date(first.year, first.month, day.part)
    if not day.explicit and (found > today if past else found < today):
        first = _add_months(first, -1 if past else 1)
        found = _month_part_date(first.year, first.month, day.part)
    return found


@cache
def _lunar_months(year: int) -> dict[int, tuple[dt.date, int]]:
    """Each ordinary month of a lunar year: (its first day as a Gregorian date, its length in days).

    From lunar_python, once per year: the library rebuilds a whole year for every date in another
    year (10-20 ms), so one table per year keeps each later lookup at microseconds.
    """
    from lunar_python import LunarYear, Solar

    months: dict[int, tuple[dt.date, int]] = {}
    for source in (year, year + 1):
        for m in LunarYear.fromYear(source).getMonths():
            if m.getYear() == year and m.getMonth() > 0:  # a leap month has a negative number
                solar = Solar.fromJulianDay(m.getFirstJulianDay())
                first = dt.date(solar.getYear(), solar.getMonth(), solar.getDay())
                months[m.getMonth()] = (first, m.getDayCount())
        if len(months) == 12:
            break
    return months


def _lunar_to_solar(year: int, month: int, day: int) -> dt.date | None:
    """A Chinese lunar date (not a leap month) as a Gregorian one; None if that month is shorter."""
    if not 1900 <= year <= 2100:
        raise Invalid("date.too_far")
    first, length = _lunar_months(year).get(month, (None, 0))
    if first is None or not 1 <= day <= length:
        return None
    return first + dt.timedelta(days=day - 1)


@cache
def _qingming(year: int) -> dt.date:
    """清明 is a solar term, not a lunar date: its day comes from lunar_python's solar-term table."""
    from lunar_python import Lunar

    solar = Lunar.fromYmd(year, 1, 1).getJieQiTable()["清明"]
    return dt.date(solar.getYear(), solar.getMonth(), solar.getDay())


_SOLAR_HOLIDAYS = {
    "new_year": (1, 1),
    "labour": (5, 1),
    "national": (10, 1),
    "christmas_eve": (12, 24),
    "christmas": (12, 25),
    "new_year_eve": (12, 31),
}
_LUNAR_HOLIDAYS = {"spring": (1, 1), "lantern": (1, 15), "dragon": (5, 5), "mid_autumn": (8, 15)}


def _holiday_date(key: str, year: int) -> dt.date | None:
    """The holiday's day in a Gregorian year (lunar ones in the lunar year that starts in it)."""
    if key in _SOLAR_HOLIDAYS:
        return dt.date(year, *_SOLAR_HOLIDAYS[key])
    if key == "qingming":
        return _qingming(year)
    if key == "eve":  # 除夕: the last day of the lunar year, i.e. the day before 正月初一
        first = _lunar_to_solar(year, 1, 1)
        return None if first is None else first - dt.timedelta(days=1)
    return _lunar_to_solar(year, *_LUNAR_HOLIDAYS[key])


@cache
def _schedule(year: int) -> dict[str, bool]:
    """The State Council's published days off and make-up working days of a year (lunar_python's
    copy): ISO date -> is a working day. Empty when that year's schedule is not published yet."""
    from lunar_python.util import HolidayUtil

    return {h.getDay(): bool(h.isWork()) for h in HolidayUtil.getHolidays(year)}


def _first_working_day_after(d: dt.date) -> dt.date:
    """The first working day after `d` by the official schedule (days off and make-up Saturdays)."""
    day = d + dt.timedelta(days=1)
    for _ in range(40):
        schedule = _schedule(day.year)
        if not schedule:
            raise Invalid("date.no_schedule", year=str(day.year))
        listed = schedule.get(day.isoformat())
        if listed if listed is not None else day.weekday() < 5:
            return day
        day += dt.timedelta(days=1)
    raise Invalid("date.no_schedule", year=str(day.year))  # pragma: no cover - no break is that long


# Holidays with an official break (days off by the State Council's schedule) in mainland China.
_BREAK_HOLIDAYS = frozenset(
    {"new_year", "spring", "eve", "qingming", "labour", "dragon", "mid_autumn", "national"}
)


def _break_end(key: str, d: dt.date) -> dt.date:
    """The last day off of the official break a holiday day is in (国庆 → 7 Oct), so that
    "国庆后三天" counts from when work starts again; a day with no break is itself."""
    if key not in _BREAK_HOLIDAYS:
        return d
    if not _schedule(d.year):
        raise Invalid("date.no_schedule", year=str(d.year))
    while _schedule((d + dt.timedelta(days=1)).year).get((d + dt.timedelta(days=1)).isoformat()) is False:
        d += dt.timedelta(days=1)
    return d


def _holiday(day: _Day, today: dt.date, past: bool, shift: _Day | None = None) -> dt.date:
    """The nearest such holiday the right way from today (today counts); 春节后 = the first
    working day after it by the official schedule. With an offset ("2 days after Christmas",
    国庆后三天) the moved day is what must lie the right way, so that 国庆后三天 said during
    the break is this year's."""
    years = range(today.year - 1, today.year + 2)
    unpublished: Invalid | None = None
    for year in reversed(years) if past else years:
        found = _holiday_date(day.part, year)
        if found is None:
            continue
        try:
            if day.after:
                found = _first_working_day_after(found)
            if shift is not None:
                if shift.after and not day.after:
                    found = _break_end(day.part, found)  # 国庆后三天: counted from the last day off
                found = _offset_date(found, shift)
        except Invalid as exc:
            if exc.key != "date.no_schedule":
                raise
            unpublished = unpublished or exc  # next year's schedule: an earlier year may still fit
            continue
        if (found <= today) if past else (found >= today):
            return found
    if unpublished is not None:
        raise unpublished
    raise Invalid("date.too_far")  # pragma: no cover - every holiday is once a year


def _lunar(month: int, lunar_day: int, today: dt.date, past: bool) -> dt.date:
    """A lunar date (正月初八, 农历八月十五) in the nearest lunar year the right way from today."""
    if not 1 <= lunar_day <= 30 or not 1 <= month <= 12:
        raise Invalid("date.no_such_lunar_date", month=str(month), day=str(lunar_day))
    years = range(today.year - 1, today.year + 2)
    seen = False
    for year in reversed(years) if past else years:
        found = _lunar_to_solar(year, month, lunar_day)
        if found is None:
            continue
        seen = True
        if (found <= today) if past else (found >= today):
            return found
    if not seen:
        raise Invalid("date.no_such_lunar_date", month=str(month), day=str(lunar_day))
    raise Invalid("date.too_far")  # pragma: no cover


def _dates(day: _Day | None, today: dt.date, past: bool) -> list[dt.date | Invalid]:
    """The day(s) a phrase can mean; two when a numeric date like 12/3 reads both ways."""
    if day is None or day.kind == "now":
        return [today]
    if day.kind == "rel":
        return [today + dt.timedelta(days=day.n)]
    if day.kind == "weekday":
        return [_weekday_date(day, today, past)]
    if day.kind == "offset":
        return [_offset_date(today, day)]
    if day.kind == "nth":
        return [_nth_weekday(day, today, past)]
    if day.kind == "monthday":
        first = _add_months(today.replace(day=1), day.shift)
        if not 1 <= day.day <= 31:
            raise Invalid("date.no_such_date", **_date_params(None, first.month, day.day))
        found = _make_date(first.year, first.month, day.day)
        if not day.explicit and (found > today if past else found < today):
            # "5号" after the 5th is next month's (last month's for an interaction); echoed to confirm
            first = _add_months(first, -1 if past else 1)
            found = _make_date(first.year, first.month, day.day)
        return [found]
    if day.kind == "monthpart":
        return [_month_part(day, today, past)]
    if day.kind == "holiday":
        return [_holiday(day, today, past)]
    if day.kind == "lunar":
        return [_lunar(day.month, day.day, today, past)]
    if day.kind == "abs":
        if day.year is not None:
            year = day.year
        elif day.year_shift is not None:
            year = today.year + day.year_shift
        else:
            year = _guess_year(day.month, day.day, today, past)
        return [_make_date(year, day.month, day.day)]
    if day.kind == "numeric":
        readings = [(day.month, day.b), (day.b, day.month)] if day.month != day.b else [(day.month, day.b)]
        out: list[dt.date | Invalid] = []
        for month, dom in readings:
            try:
                out.extend(_dates(_Day("abs", year=day.year, month=month, day=dom), today, past))
            except Invalid as exc:
                out.append(exc)
        return out
    raise Invalid("date.need_day")


_PERIOD_DEFAULTS = {"dawn": 6, "noon": 12, "afternoon": 14, "afterlunch": 13, "dusk": 18, "evening": 20}


def _period_hour(period: str, hour: int) -> tuple[int, bool] | None:
    """An hour said with 上午/下午/晚上… as 24-hour clock (+ next day for 晚上12点), or None if they clash."""
    ranges: dict[str, list[tuple[range, int]]] = {
        "dawn": [(range(0, 7), 0)],
        "morning": [(range(0, 13), 0)],
        "noon": [(range(11, 16), 0), (range(1, 4), 12)],
        "afternoon": [(range(12, 24), 0), (range(1, 12), 12)],
        "afterlunch": [(range(13, 24), 0), (range(1, 12), 12)],
        "dusk": [(range(16, 21), 0), (range(4, 9), 12)],
        "evening": [(range(17, 24), 0), (range(5, 12), 12), (range(12, 13), -12), (range(0, 1), 0)],
    }
    for hours, add in ranges[period]:
        if hour in hours:
            if period == "evening" and hour in (0, 12):
                return 0, True
            return hour + add, False
    return None


def _clock_readings(
    time: _Time | None, period: str | None, default_hour: int
) -> tuple[list[tuple[int, int, bool]], bool]:
    """(hour, minute, next day) readings and whether a time was given; two readings for a bare 3点."""
    if time is None:
        if period is None:
            return [(default_hour, 0, False)], False
        if period == "morning":
            return [(default_hour if 5 <= default_hour <= 11 else 9, 0, False)], False
        return [(_PERIOD_DEFAULTS[period], 0, False)], False
    if time.midnight:
        if period not in (None, "evening"):
            raise Invalid("date.period_mismatch")
        return [(0, 0, True)], True
    if time.ampm is not None:
        hour = time.hour % 12 + (12 if time.ampm == "pm" else 0)
        fits = {"am": ("dawn", "morning"), "pm": ("noon", "afternoon", "afterlunch", "dusk", "evening")}[
            time.ampm
        ]
        if period is not None and period not in fits:
            raise Invalid("date.period_mismatch")
        return [(hour, time.minute, False)], True
    if period is not None:
        reading = _period_hour(period, time.hour)
        if reading is None:
            raise Invalid("date.period_mismatch")
        return [(reading[0], time.minute, reading[1])], True
    if time.bare:
        return [(time.hour + 12, time.minute, False), (time.hour, time.minute, False)], True
    return [(time.hour, time.minute, False)], True


def _local(d: dt.date, hour: int, minute: int, tz: dt.tzinfo) -> dt.datetime:
    """A wall-clock time on a day in the user's zone (a time skipped by a DST jump moves forward)."""
    naive = dt.datetime.combine(d, dt.time(hour, minute))
    localize = getattr(tz, "localize", None)  # pytz zones need localize()
    if callable(localize):
        result: dt.datetime = localize(naive)
        return result
    return naive.replace(tzinfo=tz).astimezone(dt.UTC).astimezone(tz)


def _check(at: dt.datetime, has_time: bool, now: dt.datetime, past: bool) -> When:
    """Apply the direction rule: a follow-up after now, an interaction not after now."""
    today = now.date()
    if abs((at.date() - today).days) > _MAX_DAYS:
        raise Invalid("date.too_far")
    if past and at > now:
        raise Invalid("date.in_future", **_when_params(at, today))
    if not past and at <= now:
        if at.date() == today:
            raise Invalid("date.time_passed" if has_time else "date.need_time", **_when_params(at, today))
        raise Invalid("date.in_past", **_when_params(at, today))
    return When(at, has_time)


def _resolve(toks: Sequence[_Tok], now: dt.datetime, past: bool, default_hour: int) -> When:
    """Combine a phrase's tokens into one When, a choice of readings, or a reason to re-ask."""
    for tok in toks:
        if tok.error is not None:
            raise tok.error
    for i, tok in enumerate(toks):
        if not _compatible(toks[:i], tok):
            raise Invalid("date.conflict")
    days = [t.day for t in toks if t.day is not None]
    weekdays = [d for d in days if d.kind == "weekday"]
    others = [d for d in days if d.kind != "weekday"]
    time = next((t.time for t in toks if t.time is not None), None)
    period = next((t.period for t in toks if t.period is not None), None)
    week = next((t.week for t in toks if t.week is not None), None)
    shift = next((t.shift for t in toks if t.shift is not None), None)
    day = others[0] if others else weekdays[0] if weekdays else None
    if day is not None and day.kind == "offset" and day.mode == "either" and past:
        day = replace(day, n=-day.n)  # "3 days" for an interaction: 3 days ago
    check = weekdays[0] if others and weekdays else None
    if week is not None:
        if day is None:
            if week < 1:  # 这周 / this week / 上周 alone name no day
                raise Invalid("date.need_day")
            day = _Day("weekday", weekday=0, mode="week", shift=week)  # 下周 / next week = its Monday
        elif day.kind != "weekday" or day.mode != "bare":
            raise Invalid("date.conflict")
        else:
            day = _Day("weekday", weekday=day.weekday, mode="week", shift=week, plus=day.plus)
    if time is not None and time.dotted and day is None and period is None:
        raise Invalid("date.unknown")  # a lone 12.03 may be a date as much as a time
    tz = now.tzinfo
    assert tz is not None
    if day is not None and day.kind == "need":
        raise Invalid("date.need_day")
    if shift is not None:
        if day is None or (day.kind == "offset" and day.unit == "minute"):
            raise Invalid("date.unknown")  # "2 weeks from" what? (or from "in 2 hours")
        if day.kind == "now":
            day = _Day("rel", n=0)  # "2 weeks from right now" = from today, like "2 weeks from now"
    if day is not None and (day.kind == "now" or (day.kind == "offset" and day.unit == "minute")):
        if time is not None or period is not None or check is not None:
            raise Invalid("date.conflict")
        if day.kind == "now":
            return _check(now, True, now, past)
        if abs(day.n) > _MAX_DAYS * 24 * 60:
            raise Invalid("date.too_far")
        moment = (now.astimezone(dt.UTC) + dt.timedelta(minutes=day.n)).astimezone(tz)
        return _check(moment.replace(second=0, microsecond=0), True, now, past)

    today = now.date()
    clocks, has_time = _clock_readings(time, period, default_hour)
    results: list[When | Invalid] = []
    if shift is not None and check is None and day is not None and day.kind == "holiday":
        candidates: list[dt.date | Invalid] = [_holiday(day, today, past, shift)]
        shift = None  # already moved
    else:
        candidates = _dates(day, today, past)
    if (
        not past
        and day is not None
        and day.kind == "weekday"
        and day.mode == "bare"
        and not day.plus
        and day.weekday == today.weekday()
        and (time is not None or period is not None)
        and any(_local(today, h, m, tz) > now for h, m, nd in clocks if not nd)
    ):
        candidates = [today]  # 周二下午3点 said on a Tuesday morning is this afternoon
    for d in candidates:
        if isinstance(d, Invalid):
            results.append(d)
            continue
        if check is not None and check.weekday != d.weekday():
            results.append(
                Invalid(
                    "date.weekday_mismatch",
                    **_date_params(None, d.month, d.day),
                    weekday_zh="周" + _ZH_WEEKDAYS[d.weekday()],
                    weekday_en=_EN_WEEKDAY_NAMES[d.weekday()],
                )
            )
            continue
        if shift is not None:  # the anchor was checked above; now move it ("a week from Thu 3 Dec")
            try:
                d = _offset_date(d, shift)
            except Invalid as exc:
                results.append(exc)
                continue
        for hour, minute, next_day in clocks:
            at = _local(d + dt.timedelta(days=1) if next_day else d, hour, minute, tz)
            if past and not has_time and period is None and at.date() == today and at > now:
                # "today" as an interaction date must not become "later today" through the default hour
                at = now.replace(second=0, microsecond=0)
            try:
                results.append(_check(at, has_time, now, past))
            except Invalid as exc:
                results.append(exc)
    valid: list[When] = []
    for r in results:
        if isinstance(r, When) and r not in valid:
            valid.append(r)
    if past and day is None and len(valid) > 1 and all(w.at.date() == today for w in valid):
        valid = [max(valid, key=lambda w: w.at)]  # 3点 at 15:30 is today either way: the nearer one
    if len(valid) == 1:
        return valid[0]
    if valid:
        raise Ambiguous("date.ambiguous", options=valid)
    errors = [r for r in results if isinstance(r, Invalid)]
    errors.sort(key=lambda exc: exc.key == "date.no_such_date")  # a real date's reason is more useful
    raise errors[0]


def _iso(text: str, now: dt.datetime, past: bool) -> When:
    """A machine-style timestamp (2026-12-03T14:00+08:00), e.g. pasted or from the command line."""
    try:
        parsed = dt.datetime.fromisoformat(text.upper())
    except ValueError:
        year, month, day = (int(part) for part in text[:10].split("-"))
        _make_date(year, month, day)  # names the impossible date, if that is what is wrong
        raise Invalid("date.bad_time", time=text[11:16]) from None
    tz = now.tzinfo
    assert tz is not None
    if parsed.tzinfo is None:
        at = _local(parsed.date(), parsed.hour, parsed.minute, tz)
    else:
        at = parsed.astimezone(tz)
    return _check(at.replace(second=0, microsecond=0), True, now, past)


# ---------------------------------------------------------------- public API


def _validate(now: dt.datetime, default_hour: int) -> None:
    if now.tzinfo is None or now.utcoffset() is None:
        raise ValueError("now must be timezone-aware (the user's zone)")
    if not 0 <= default_hour <= 23:
        raise ValueError("default_hour must be 0-23")


def _range_end(start: When, toks: Sequence[_Tok], start_period: str | None, default_hour: int) -> When:
    """The start with the end of a range ("下周二下午两点到三点"): the same day, the start's part of
    the day unless the end names its own, and the first reading after the start."""
    time = next((t.time for t in toks if t.time is not None), None)
    period = next((t.period for t in toks if t.period is not None), start_period)
    clocks, _ = _clock_readings(time, period, default_hour)
    tz = start.at.tzinfo
    assert tz is not None
    ends = sorted(
        at
        for h, m, next_day in clocks
        if (at := _local(start.at.date() + dt.timedelta(days=int(next_day)), h, m, tz)) > start.at
    )
    if not ends or ends[0] - start.at > dt.timedelta(hours=24):
        raise Invalid("date.conflict")
    return When(start.at, start.has_time, ends[0])


def _resolve_phrase(
    toks: Sequence[_Tok], norm: _Norm, now: dt.datetime, past: bool, default_hour: int
) -> When:
    """_resolve, but a time range ("两点到三点", "2pm-3pm") keeps its end instead of conflicting."""
    for i in range(1, len(toks)):
        gap = norm.text[toks[i - 1].end : toks[i].start]
        head, tail = toks[:i], toks[i:]
        if (
            _RANGE_RE.fullmatch(gap)
            and any(t.time is not None for t in head)
            and any(t.time is not None for t in tail)
            and all(t.day is None and t.week is None for t in tail)
        ):
            start = _resolve(head, now, past, default_hour)
            if not start.has_time:
                break
            period = next((t.period for t in head if t.period is not None), None)
            if any(t.error is not None for t in tail):
                raise next(t.error for t in tail if t.error is not None)
            return _range_end(start, tail, period, default_hour)
    return _resolve(toks, now, past, default_hour)


def _digit_touches(gaps: Sequence[str]) -> bool:
    """Whether a number (or a number word) stands next to a date phrase without a comma or full
    stop between ("tomorrow 3", "tomorrow at eleven-ish"): dropping it would change the time, so
    such an answer is not read as a sentence."""
    for i, gap in enumerate(gaps):
        parts = _HARD_STOP_RE.split(gap)
        ends = ([parts[-1]] if i == 0 else []) + ([parts[0]] if i == len(gaps) - 1 else [])
        if 0 < i < len(gaps) - 1:
            ends = [parts[0], parts[-1]]
        if any(re.search(r"\d", part) for part in ends):
            return True
        if (i > 0 and _NUMBER_WORD_AFTER.search(parts[0])) or (
            i < len(gaps) - 1 and _NUMBER_WORD_BEFORE.search(parts[-1])
        ):
            return True
    return False


def _group(toks: Sequence[_Tok], norm: _Norm) -> list[list[_Tok]]:
    """Tokens joined into phrases as a note is read; a range separator also joins ("2点到3点")."""
    groups: list[list[_Tok]] = []
    for tok in toks:
        last = groups[-1] if groups else None
        gap = norm.text[last[-1].end : tok.start] if last else ""
        if last and (_joins(gap, last, tok) or (_RANGE_RE.fullmatch(gap) and tok.time is not None)):
            last.append(tok)
        else:
            groups.append([tok])
    return groups


def _sentence(
    toks: Sequence[_Tok], norm: _Norm, now: dt.datetime, past: bool, default_hour: int, vague: bool
) -> When:
    """An answer with other words around the date ("我看明天下午3点吧", "let's say tomorrow 10am").

    Clear phrases win over weak ones (便宜一点, "sat"); a phrase pointing the wrong way is skipped;
    two different times are offered as a choice rather than one being picked.
    """
    groups = _group(toks, norm)
    if any(_lone_shift(g) for g in groups):
        raise Invalid("date.unknown")  # "2 weeks from our meeting, Friday": Friday alone would be wrong
    chosen = [g for g in groups if _worth_reading(g)] or groups
    if vague and not any(t.day is not None or t.week is not None for g in chosen for t in g):
        raise Invalid("date.vague")
    found: list[When] = []
    wrong_way: list[Invalid] = []
    for group in chosen:
        try:
            when = _resolve_phrase(group, norm, now, past, default_hour)
        except Ambiguous:
            raise
        except Invalid as exc:
            if exc.key in _DIRECTION_KEYS and len(chosen) > 1:
                wrong_way.append(exc)
                continue
            raise
        if when not in found:
            found.append(when)
    if len(found) == 1:
        return found[0]
    if found:
        raise Ambiguous("date.ambiguous", options=found)
    raise wrong_way[0]


def understand_when(text: str, *, now: dt.datetime, past: bool = False, default_hour: int = 9) -> When:
    """Read a whole answer as one date/time relative to `now` (aware, in the user's zone).

    past=False: a next follow-up, which must be after now; past=True: an interaction, not after
    now. Raises Invalid("date.<reason>") to re-ask, Ambiguous("date.ambiguous", options=[When…])
    when it reads two ways (12/3, 明天3点).
    """
    _validate(now, default_hour)
    unknown = "date.unknown_past" if past else "date.unknown"
    if len(text) > _MAX_ANSWER * 4:
        raise Invalid("date.too_long")
    norm = _normalise(text)
    stripped = norm.text.strip()
    if not stripped:
        raise Invalid("date.empty_past" if past else "date.empty")
    if len(stripped) > _MAX_ANSWER:
        raise Invalid("date.too_long")
    if _ISO_RE.fullmatch(stripped):
        return _iso(stripped, now, past)
    toks = _tokens(norm)
    edges = [0, *(x for t in toks for x in (t.start, t.end)), len(norm.text)]
    gaps = [norm.text[edges[i] : edges[i + 1]] for i in range(0, len(edges), 2)]
    vague = bool(_VAGUE_RE.search(" ".join(gaps)))
    try:
        if toks and all(_FILLER_RE.fullmatch(gap) for gap in gaps):
            return _resolve_phrase(toks, norm, now, past, default_hour)
        if toks and not _digit_touches(gaps) and not any(_DATE_WORD_RE.search(gap) for gap in gaps):
            return _sentence(toks, norm, now, past, default_hour, vague)
    except Invalid as exc:
        if exc.key == "date.unknown":
            raise Invalid(unknown) from None
        raise
    # Not read by the rules: refused. Vague words ("in a few days") are the reason given unless the
    # text has a number or an offset the rules could not place ("tomorrow 3", "3 days from <words>").
    only_numbers = bool(toks) and not any(_WORD_RE.search(gap) for gap in gaps)
    if vague and not only_numbers and not any(t.shift is not None for t in toks):
        raise Invalid("date.vague")
    raise Invalid(unknown)


def _joins(gap: str, group: Sequence[_Tok], tok: _Tok) -> bool:
    """Whether `tok` continues the phrase in `group` in a note: only small words between them, no
    contradiction, and across a comma only a time after a day ("Friday, 10am", not "便宜一点,下周三")."""
    if not _JOIN_RE.fullmatch(gap) or not _compatible(group, tok):
        return False
    if _COMMA_RE.search(gap):
        return tok.day is None and any(t.day is not None and not t.weak for t in group)
    return True


def _lone_shift(group: Sequence[_Tok]) -> bool:
    """Whether a phrase is an offset with no day after it to count from ("2 weeks from" + words)."""
    return any(t.shift is not None for t in group) and not any(
        t.day is not None or t.week is not None for t in group
    )


def _worth_reading(group: Sequence[_Tok]) -> bool:
    """Whether a phrase in a note is clearly meant as a date: a day, or a time with am/pm or 下午…

    A lone clock time ("时长1:30", "at 14:00") or a weak word (便宜一点, 3号楼) is not enough.
    """
    has_period = any(t.period is not None for t in group)
    for tok in group:
        if tok.weak:
            continue
        if tok.day is not None or tok.error is not None:
            return True
        if tok.time is not None and (tok.time.ampm is not None or tok.time.midnight or has_period):
            return True
    return False


def find_when(text: str, *, now: dt.datetime, past: bool = False, default_hour: int = 9) -> FoundWhen | None:
    """The first date phrase in a free-text note that fits the reading, with its span in `text`.

    Phrases pointing the wrong way are skipped ("昨天拜访…下周二再跟进" gives 下周二 for a
    follow-up), as are ones that are usually not dates on their own (便宜一点, 3号楼, a lone
    14:00). None if nothing fits. A phrase that is clearly a date but wrong (下周八) or reads two
    ways (明天3点) raises Invalid/Ambiguous as understand_when does, with `start`/`end` in params.
    """
    _validate(now, default_hour)
    norm = _normalise(text[:_MAX_NOTE])
    groups: list[list[_Tok]] = []
    for tok in _tokens(norm):
        last = groups[-1] if groups else None
        if last and _joins(norm.text[last[-1].end : tok.start], last, tok):
            last.append(tok)
        else:
            groups.append([tok])
    for group in groups:
        if not _worth_reading(group):
            continue
        start, end = norm.span(group[0].start, group[-1].end)
        try:
            when = _resolve(group, now, past, default_hour)
        except Ambiguous as amb:
            raise Ambiguous(amb.key, amb.options, start=start, end=end, **amb.params) from None
        except Invalid as exc:
            if exc.key in _DIRECTION_KEYS:
                continue
            key = "date.unknown_past" if past and exc.key == "date.unknown" else exc.key
            raise Invalid(key, start=start, end=end, **exc.params) from None
        return FoundWhen(when, start, end)
    return None


_WARM_PHRASES = (
    "2 days before christmas",
    "国庆后三天",
    "quarter past ten tomorrow",
    "2 weeks",
    "下周二下午两点",
    "tomorrow 2pm",
    "in 3 days",
    "12月3日",
    "春节后",
    "正月初八",
    "清明",
    "中秋",
    "下个月底",
    "周末",
    "我看明天下午3点吧",
    "下周二下午两点到三点",
    "let's say tomorrow 10am",
    "过几天",
    "2 weeks from tomorrow",
    "the first monday of next month",
)


def warm_up() -> None:
    """Load the lunar calendar and the holiday schedule and touch every code path once, so that the
    first user of each kind of phrase waits for nothing."""
    now = dt.datetime(2026, 1, 5, 10, 0, tzinfo=ZoneInfo("Asia/Shanghai"))
    for phrase in _WARM_PHRASES:
        with contextlib.suppress(Invalid):
            understand_when(phrase, now=now)
    this_year = dt.date.today().year
    for year in range(this_year - 2, this_year + 3):  # lunar years a phrase can reach (once each)
        _lunar_months(year)
