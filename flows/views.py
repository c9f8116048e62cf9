"""How records read in the chat: the customer card and list lines. Pure functions of plain data."""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass, field
from decimal import Decimal

from flows.choices import CUSTOMER_STATUS, FOLLOW_MODE, INDUSTRY, INTENT
from flows.dates import format_date, format_when
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
    # the manager's desk (flows/team.py renders these)
    deals: tuple[DealLine, ...] = ()
    deal_totals: dict[str, Decimal] = field(default_factory=dict)
    deal_count: int = 0
    may_manage: bool = False  # the owner's manager or an admin: transfer, merge
    may_propose: bool = False  # may see but not edit: propose a change instead


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
    if view.pending:
        lines.append(
            t(lang, "card.pending", fields=", ".join(t(lang, f"f.customer.{p}") for p in view.pending))
        )
    lines.append("")
    lines.append(t(lang, "card.contacts"))
    if view.contacts:
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
    if view.may_edit:
        rows.append([Button(t(lang, "card.btn.edit"), f"g|edit|{view.id}")])
        editable = [c for c in view.contacts][:6]
        rows.extend(
            [Button(t(lang, "card.btn.edit_contact", name=c.name[:20]), f"g|editc|{c.id}")] for c in editable
        )
    rows += card_rows(view.id, view.may_edit, view.may_propose, view.may_manage, view.deal_count, lang)
    return Reply("\n".join(line for line in lines if line is not None), rows)
