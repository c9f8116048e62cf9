"""How records read in the chat: the customer card and list lines. Pure functions of plain data."""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass, field
from decimal import Decimal

from flows.choices import CUSTOMER_STATUS, FOLLOW_MODE, INDUSTRY, INTENT
from flows.dateformat import format_date, format_when
from flows.engine import Button, Reply
from flows.i18n import t
from flows.refs import ContactRef
from flows.team_card import DealLine, card_rows, deal_lines


@dataclass(frozen=True)
class FollowUpLine:
    occurred_on: dt.date
    mode: str
    content: str


@dataclass(frozen=True)
class CustomerView:
    id: int
    number: str
    name: str
    status: str | None
    intent: str | None
    industry: str | None
    phone: str | None
    email: str | None
    address: str | None
    owner_name: str
    pending: tuple[str, ...] = ()
    contacts: tuple[ContactRef, ...] = ()
    recent: tuple[FollowUpLine, ...] = ()
    next_at: dt.datetime | None = None
    location: tuple[float, float] | None = None
    may_edit: bool = False
    tags: tuple[str, ...] = field(default_factory=tuple)
    files: int = 0
    details: dict[str, object] = field(default_factory=dict)  # every other stored field, by name
    people: tuple[ContactLine, ...] = ()  # the contacts in full (role, phone, e-mail)
    followups: int = 0  # how many follow-ups in all (the History button)
    changes: int = 0  # how many changes in the history (the Changes button)

    # the manager's desk (flows/team.py renders these)
    deals: tuple[DealLine, ...] = ()
    deal_totals: dict[str, Decimal] = field(default_factory=dict)
    deal_count: int = 0
    may_manage: bool = False  # the owner's manager or an admin: transfer, merge
    may_propose: bool = False  # may see but not edit: propose a change instead


@dataclass(frozen=True)
class ContactLine:
    """A contact as the card lists it."""

    id: int
    name: str
    position: str | None = None
    role: str | None = None
    phone: str | None = None
    email: str | None = None
    active: bool = True
    pending: tuple[str, ...] = ()


def list_line(name: str, main_contact: str | None, intent: str | None, status: str | None, lang: str) -> str:
    """`Company - main contact (A)` with status, so a list reads without opening records."""
    line = name
    if main_contact:
        line += f" - {main_contact}"
    if intent:
        line += f" ({intent})"
    if status:
        line += f" · {CUSTOMER_STATUS.label(status, lang)}"
    return line


def customer_card(view: CustomerView, lang: str) -> Reply:
    from flows.validators import format_phone

    lines = [
        f"🏢 {view.name}  ·  {view.number}",
        " · ".join(
            p
            for p in (
                CUSTOMER_STATUS.label(view.status, lang) if view.status else "",
                INTENT.label(view.intent, lang) if view.intent else "",
                INDUSTRY.label(view.industry, lang) if view.industry else "",
            )
            if p
        ),
        t(lang, "card.owner", owner=view.owner_name),
    ]
    if view.phone:
        lines.append(f"📞 {format_phone(view.phone)}")
    if view.email:
        lines.append(f"✉️ {view.email}")
    if view.address:
        lines.append(f"📍 {view.address}")
    if view.tags:
        lines.append("🏷 " + "、".join(view.tags))
    lines += _detail_lines(view, lang)
    if view.pending:
        lines.append(
            t(lang, "card.pending", fields=", ".join(t(lang, f"f.customer.{p}") for p in view.pending))
        )
    lines.append("")
    lines.append(t(lang, "card.contacts"))
    if view.people:
        lines += [_contact_line(c, lang) for c in view.people]
    elif view.contacts:
        for c in view.contacts:
            state = "" if c.active else t(lang, "card.left")
            phone = f" {format_phone(c.phone)}" if c.phone else ""
            lines.append(f"  • {c.name}" + (f" ({c.position})" if c.position else "") + phone + state)
    else:
        lines.append("  " + t(lang, "card.none"))
    lines.append(t(lang, "card.recent"))
    if view.recent:
        for f in view.recent:
            snippet = f.content if len(f.content) <= 40 else f.content[:40] + "…"
            lines.append(
                f"  • {format_date(f.occurred_on, lang)} {FOLLOW_MODE.label(f.mode, lang)}: {snippet}"
            )
    else:
        lines.append("  " + t(lang, "card.none"))
    if view.next_at:
        lines.append(t(lang, "card.next", when=format_when(view.next_at, lang)))
    if view.location:
        lines.append(t(lang, "card.location", lat=f"{view.location[0]:.5f}", lon=f"{view.location[1]:.5f}"))
    lines += deal_lines(view.deals, view.deal_totals, view.deal_count, lang)
    rows = [
        [
            Button(t(lang, "card.btn.log"), f"g|log|{view.id}"),
            Button(t(lang, "card.btn.contact"), f"g|addc|{view.id}"),
        ]
    ]
    if view.files:
        rows.append([Button(t(lang, "card.btn.files", count=view.files), f"g|files|{view.id}")])
    record_row = []
    if view.followups:
        record_row.append(Button(t(lang, "card.btn.history", count=view.followups), f"g|hist|{view.id}|0"))
    if view.changes:
        record_row.append(Button(t(lang, "card.btn.changes"), f"g|chg|{view.id}|0"))
    if record_row:
        rows.append(record_row)
    if view.may_edit:
        rows.append([Button(t(lang, "card.btn.edit"), f"g|edit|{view.id}")])
        editable = [c for c in view.contacts][:6]
        rows.extend(
            [Button(t(lang, "card.btn.edit_contact", name=c.name[:20]), f"g|editc|{c.id}")] for c in editable
        )
    rows += card_rows(view.id, view.may_edit, view.may_propose, view.may_manage, view.deal_count, lang)
    return Reply("\n".join(line for line in lines if line is not None), rows)


# what the card shows besides the header: every stored field with a value, pending ones marked
DETAIL_FIELDS = (
    "kind", "credit_code", "grade", "industry_other", "source", "main_business", "current_problem",
    "interest", "remarks",
)  # fmt: skip
PENDING_SHOWN = ("phone", "email", "address", "status", "industry", "intent")  # shown in the header


def _detail_lines(view: CustomerView, lang: str) -> list[str]:
    from flows.choices import CUSTOMER_KIND, GRADE, SOURCE

    choices = {"kind": CUSTOMER_KIND, "grade": GRADE, "source": SOURCE}
    lines = []
    for name in DETAIL_FIELDS:
        value = view.details.get(name)
        label = t(lang, f"f.customer.{name}")
        if name in view.pending:
            lines.append(t(lang, "card.field", label=label, value=t(lang, "card.pending_mark")))
        elif value not in (None, "", []):
            shown = choices[name].label(str(value), lang) if name in choices else str(value)
            lines.append(t(lang, "card.field", label=label, value=shown))
    for name in PENDING_SHOWN:  # a pending header field has no value line of its own
        if name in view.pending:
            label = t(lang, f"f.customer.{name}")
            lines.append(t(lang, "card.field", label=label, value=t(lang, "card.pending_mark")))
    return lines


def _contact_line(c: ContactLine, lang: str) -> str:
    from flows.choices import CONTACT_ROLE
    from flows.validators import format_phone

    head = (
        f"  • {c.name}"
        + (f" ({c.position})" if c.position else "")
        + ("" if c.active else t(lang, "card.left"))
    )
    parts = []
    if c.role:
        parts.append(t(lang, "card.contact_role", role=CONTACT_ROLE.label(c.role, lang)))
    elif "role" in c.pending:
        parts.append(t(lang, "card.contact_role", role=t(lang, "card.pending_mark")))
    if c.phone:
        parts.append(f"📞 {format_phone(c.phone)}")
    elif "phone" in c.pending:
        parts.append(f"📞 {t(lang, 'card.pending_mark')}")
    if c.email:
        parts.append(f"✉️ {c.email}")
    elif "email" in c.pending:
        parts.append(f"✉️ {t(lang, 'card.pending_mark')}")
    return head + ("\n    " + " · ".join(parts) if parts else "")
