"""How a customer's history reads in the chat: follow-ups five a page (newest first) with the full
text one tap away, and the change history (who, when, old → new, reason). Pure functions of data."""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass

from flows.choices import (
    CHANNEL,
    CONTACT_ROLE,
    CUSTOMER_KIND,
    CUSTOMER_STATUS,
    DEMAND_STATUS,
    FOLLOW_MODE,
    GRADE,
    INDUSTRY,
    INTENT,
    SOURCE,
    Choices,
)
from flows.dateformat import format_date, format_when
from flows.engine import Button, Reply
from flows.i18n import t

FOLLOWUPS_PAGE = 5
CHANGES_PAGE = 8
SNIPPET = 60

_CHOICES: dict[str, Choices] = {
    "kind": CUSTOMER_KIND,
    "status": CUSTOMER_STATUS,
    "industry": INDUSTRY,
    "grade": GRADE,
    "intent": INTENT,
    "source": SOURCE,
    "role": CONTACT_ROLE,
    "channel": CHANNEL,
    "mode": FOLLOW_MODE,
    "demand_status": DEMAND_STATUS,
}


@dataclass(frozen=True)
class FollowUpItem:
    id: int
    occurred_on: dt.date
    mode: str
    content: str
    contact: str | None = None
    pending: tuple[str, ...] = ()


@dataclass(frozen=True)
class FollowUpDetail:
    id: int
    customer_id: int
    customer: str
    occurred_on: dt.date
    mode: str
    content: str
    contact: str | None
    demand_status: str | None
    next_at: dt.datetime | None  # in the reader's zone
    next_done: bool
    participants: str | None
    location: tuple[float, float] | None
    pending: tuple[str, ...]
    entered_at: dt.datetime  # in the reader's zone
    entered_by: str
    delay_hours: float
    may_edit: bool


@dataclass(frozen=True)
class ChangeLine:
    at: dt.datetime  # in the reader's zone
    who: str
    entity: str  # customer | contact | followup
    field: str
    old: str | None
    new: str | None
    reason: str | None
    contact: str | None = None
    day: dt.date | None = None


def page_of(data: str, prefix: str) -> tuple[int, int] | None:
    """(record id, page) from button data like `g|hist|42|1`; None for anything else."""
    parts = data.removeprefix(prefix).split("|")
    if len(parts) != 2 or not all(p.isascii() and p.isdecimal() and len(p) <= 9 for p in parts):
        return None
    record, page = int(parts[0]), int(parts[1])
    return (record, page) if record > 0 else None


def _clip(text: str, limit: int) -> str:
    text = " ".join(text.split())
    return text if len(text) <= limit else text[: limit - 1] + "…"


def _pager(prefix: str, record: int, page: int, total: int, size: int, lang: str) -> list[Button]:
    row = []
    if page > 0:
        row.append(Button(t(lang, "hist.btn.prev"), f"{prefix}{record}|{page - 1}"))
    if (page + 1) * size < total:
        row.append(Button(t(lang, "hist.btn.next"), f"{prefix}{record}|{page + 1}"))
    return row


def history_reply(
    customer_id: int, customer: str, items: list[FollowUpItem], page: int, total: int, lang: str
) -> Reply:
    """One page of follow-ups; each number opens that follow-up in full."""
    back = [Button(t(lang, "rem.btn.open"), f"g|cust|{customer_id}")]
    if not total:
        return Reply(t(lang, "hist.none", customer=customer), [back])
    first = page * FOLLOWUPS_PAGE + 1
    lines = [t(lang, "hist.title", customer=customer, first=first, last=first + len(items) - 1, total=total)]
    opens = []
    for n, f in enumerate(items, first):
        contact = f" · {f.contact}" if f.contact else ""
        mark = " ⏳" if f.pending else ""
        lines.append(
            t(
                lang,
                "hist.line",
                n=n,
                date=format_date(f.occurred_on, lang),
                mode=FOLLOW_MODE.label(f.mode, lang),
                contact=contact,
                snippet=_clip(f.content, SNIPPET) + mark,
            )
        )
        opens.append(Button(t(lang, "hist.btn.open", n=n), f"g|fu|{f.id}"))
    rows = [opens]
    pager = _pager("g|hist|", customer_id, page, total, FOLLOWUPS_PAGE, lang)
    if pager:
        rows.append(pager)
    rows.append(back)
    return Reply("\n".join(lines), rows)


def followup_reply(d: FollowUpDetail, lang: str) -> Reply:
    """A follow-up in full: every field, when and by whom it was entered, pending fields marked."""
    pending = t(lang, "card.pending_mark")

    def line(name: str, value: str | None) -> str:
        shown = pending if name in d.pending else (value or "—")
        return f"{t(lang, f'f.followup.{name}')}: {shown}"

    lines = [
        t(lang, "hist.detail", customer=d.customer),
        "",
        line("occurred_on", format_date(d.occurred_on, lang)),
        line("mode", FOLLOW_MODE.label(d.mode, lang)),
        line("contact", d.contact),
        line("content", d.content),
        line("demand_status", DEMAND_STATUS.label(d.demand_status, lang) if d.demand_status else None),
        line("next_at", format_when(d.next_at, lang) if d.next_at else None)
        + (" ✅" if d.next_done and d.next_at else ""),
        line("participants", d.participants),
    ]
    if d.location:
        lines.append(line("location", f"{d.location[0]:.5f}, {d.location[1]:.5f}"))
    lines += ["", t(lang, "hist.entered", when=format_when(d.entered_at, lang), by=d.entered_by)]
    if d.delay_hours > 24:
        lines.append(t(lang, "hist.late", hours=int(d.delay_hours)))
    rows: list[list[Button]] = []
    if d.may_edit:
        for name in d.pending[:3]:
            label = t(lang, f"f.followup.{name}")
            rows.append([Button(t(lang, "rem.btn.fill", field=label), f"g|fedit|{d.id}|{name}")])
        rows.append([Button(t(lang, "hist.btn.edit"), f"g|fedit|{d.id}")])
    rows.append([Button(t(lang, "hist.btn.back"), f"g|hist|{d.customer_id}|0")])
    return Reply("\n".join(lines), rows)


def _value(field: str, value: str | None, lang: str) -> str:
    if value is None or value == "":
        return t(lang, "chg.empty")
    choices = _CHOICES.get(field)
    if choices is not None and choices.get(value) is not None:
        return choices.label(value, lang)
    if field in ("next_at",):
        try:
            return format_when(dt.datetime.fromisoformat(value), lang)
        except ValueError:
            return value
    if field in ("active", "next_done"):
        return t(lang, "chg.yes") if value == "yes" else t(lang, "chg.no")
    return _clip(value, 80)


def changes_reply(
    customer_id: int, customer: str, items: list[ChangeLine], page: int, total: int, lang: str
) -> Reply:
    back = [Button(t(lang, "rem.btn.open"), f"g|cust|{customer_id}")]
    if not total:
        return Reply(t(lang, "chg.none", customer=customer), [back])
    first = page * CHANGES_PAGE + 1
    lines = [t(lang, "chg.title", customer=customer, first=first, last=first + len(items) - 1, total=total)]
    for c in items:
        label = t(lang, f"f.{c.entity}.{c.field}")
        what = t(
            lang,
            f"chg.what.{c.entity}",
            field=label,
            name=c.contact or "",
            date=format_date(c.day, lang) if c.day else "",
        )
        new = _value(c.field, c.new, lang)
        lines.append(
            t(
                lang,
                "chg.line",
                when=format_when(c.at, lang),
                who=c.who,
                what=what,
                old=_value(c.field, c.old, lang),
                new=new,
            )
        )
        if c.reason:
            lines.append(t(lang, "chg.reason", reason=_clip(c.reason, 100)))
    rows = []
    pager = _pager("g|chg|", customer_id, page, total, CHANGES_PAGE, lang)
    if pager:
        rows.append(pager)
    rows.append(back)
    return Reply("\n".join(lines), rows)
