"""Quality numbers (the seeds' 完整率, 及时率, pending, overdue), the pure part: which fields count,
the period asked for, and the numbers from plain rows. storage/stats.py reads the rows.

Completeness: the share of required fields filled (a pending field counts as not filled) over the
records created in the period, per record type. Pending and overdue: as they stand now, on the
person's customers. Within 24 hours: the share of the period's follow-ups entered at most a day
after the interaction (entry_delay_hours <= 24).
"""

from __future__ import annotations

import datetime as dt
import re
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

from flows.i18n import t

REQUIRED: Mapping[str, tuple[str, ...]] = {
    "customer": ("kind", "name", "credit_code", "status", "industry", "address", "phone", "email", "source"),
    "contact": ("name", "phone", "email", "role"),
    "followup": ("occurred_on", "mode", "content", "demand_status", "next_at"),
}
ON_TIME_HOURS = 24.0
_MONTH = re.compile(r"^(\d{4})-(\d{1,2})$")


@dataclass(frozen=True)
class Period:
    start: dt.date  # first day
    end: dt.date  # the day after the last
    label: str

    def bounds(self, tz: dt.tzinfo) -> tuple[dt.datetime, dt.datetime]:
        """The period as UTC instants, its days taken in the reader's zone."""
        return (
            dt.datetime.combine(self.start, dt.time(), tzinfo=tz).astimezone(dt.UTC),
            dt.datetime.combine(self.end, dt.time(), tzinfo=tz).astimezone(dt.UTC),
        )


def month_period(year: int, month: int) -> Period:
    start = dt.date(year, month, 1)
    end = dt.date(year + (month == 12), month % 12 + 1, 1)
    return Period(start, end, f"{year:04d}-{month:02d}")


def period(text: str, today: dt.date) -> Period | None:
    """'' or 'week' / '本周': this week (Monday on); 'month' / '本月': this month; '2026-11' a month."""
    text = text.strip().lower()
    if text in ("", "week", "本周", "周"):
        start = today - dt.timedelta(days=today.weekday())
        return Period(start, start + dt.timedelta(days=7), f"{start:%Y-%m-%d}+7")
    if text in ("month", "本月", "月"):
        return month_period(today.year, today.month)
    if text in ("last", "上月", "lastmonth"):
        first = today.replace(day=1) - dt.timedelta(days=1)
        return month_period(first.year, first.month)
    m = _MONTH.match(text)
    if m and 1 <= int(m.group(2)) <= 12 and 2000 <= int(m.group(1)) <= 2100:
        return month_period(int(m.group(1)), int(m.group(2)))
    return None


def previous_month(today: dt.date) -> Period:
    last = today.replace(day=1) - dt.timedelta(days=1)
    return month_period(last.year, last.month)


def filled(record: Mapping[str, Any], kind: str) -> tuple[int, int]:
    """(required fields filled, required fields that apply) of one record."""
    names = [n for n in REQUIRED[kind] if not (n == "credit_code" and record.get("kind") != "enterprise")]
    pending = set(record.get("pending") or ())
    done = sum(1 for n in names if n not in pending and record.get(n) not in (None, "", []))
    return done, len(names)


@dataclass
class Numbers:
    """One person's (or the team's) numbers for a period."""

    name: str
    filled: dict[str, list[int]] = field(default_factory=lambda: {k: [0, 0] for k in REQUIRED})
    pending: int = 0
    overdue: int = 0
    followups: int = 0
    on_time: int = 0
    new_customers: int = 0

    def completeness(self, kind: str) -> float | None:
        done, total = self.filled[kind]
        return done / total if total else None

    @property
    def on_time_share(self) -> float | None:
        return self.on_time / self.followups if self.followups else None

    def add(self, other: Numbers) -> None:
        for k in REQUIRED:
            self.filled[k][0] += other.filled[k][0]
            self.filled[k][1] += other.filled[k][1]
        self.pending += other.pending
        self.overdue += other.overdue
        self.followups += other.followups
        self.on_time += other.on_time
        self.new_customers += other.new_customers


def tally(
    people: Mapping[int, str],
    customers: Iterable[Mapping[str, Any]],
    contacts: Iterable[Mapping[str, Any]],
    followups: Iterable[Mapping[str, Any]],
    pending: Mapping[int, int],
    overdue: Mapping[int, int],
) -> list[Numbers]:
    """Per person (by id, in the order given). Records of the period carry `who`: the customer's owner,
    a contact's customer's owner, a follow-up's author."""
    out = {uid: Numbers(name) for uid, name in people.items()}
    for kind, rows in (("customer", customers), ("contact", contacts), ("followup", followups)):
        for row in rows:
            numbers = out.get(int(row["who"]))
            if numbers is None:
                continue
            done, total = filled(row, kind)
            numbers.filled[kind][0] += done
            numbers.filled[kind][1] += total
            if kind == "customer":
                numbers.new_customers += 1
            if kind == "followup":
                numbers.followups += 1
                numbers.on_time += float(row.get("entry_delay_hours") or 0.0) <= ON_TIME_HOURS
    for uid, n in pending.items():
        if uid in out:
            out[uid].pending = n
    for uid, n in overdue.items():
        if uid in out:
            out[uid].overdue = n
    return list(out.values())


def team(numbers: Sequence[Numbers], name: str) -> Numbers:
    total = Numbers(name)
    for n in numbers:
        total.add(n)
    return total


def pct(value: float | None) -> str:
    return "—" if value is None else f"{value * 100:.0f}%"


def render(numbers: Sequence[Numbers], total: Numbers | None, period_label: str, lang: str) -> str:
    """The short text: one block per person, then the team's."""
    lines = [t(lang, "data.stats.head", period=period_label)]
    for n in [*numbers, *([total] if total is not None else [])]:
        lines.append(
            t(
                lang,
                "data.stats.person",
                name=n.name,
                customer=pct(n.completeness("customer")),
                contact=pct(n.completeness("contact")),
                followup=pct(n.completeness("followup")),
                pending=n.pending,
                overdue=n.overdue,
                on_time=pct(n.on_time_share),
                followups=n.followups,
                new=n.new_customers,
            )
        )
    return "\n\n".join(lines)
