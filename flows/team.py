"""The manager's desk as data and pure rendering: the deal flows, list filters, and card additions.

No SQL and no Telegram: storage/deals.py and storage/team.py gather, the features under
bot/features/ (deals, team) wire them to commands and buttons.
"""

from __future__ import annotations

import datetime as dt
import re
from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any

from flows.choices import CUSTOMER_STATUS, GRADE, INDUSTRY, INTENT, Choices, Option
from flows.definitions import CONTACT, CUSTOMER, edit_flow
from flows.engine import Button, Env, Flow, Reply, Step
from flows.fields import Choice, CustomerPick, PastDate, Pick, Text
from flows.i18n import t
from flows.money import format_money, parse_money
from flows.team_card import DealLine

PAYMENT = Choices(
    "payment",
    (
        Option("transfer", "银行转账", "Bank transfer"),
        Option("wechat", "微信支付", "WeChat Pay"),
        Option("alipay", "支付宝", "Alipay"),
        Option("cash", "现金", "Cash"),
        Option("card", "刷卡", "Card"),
        Option("cheque", "支票", "Cheque"),
        Option("other", "其他", "Other"),
    ),
)


def _show_money(value: Any, lang: str) -> str:
    return format_money(value["amount"], value["currency"], lang)


def _confirm_money(value: Any, lang: str) -> str:
    return t(lang, "deal.confirm_amount", amount=_show_money(value, lang), currency=value["currency"])


def Money(name: str = "amount", **kw: Any) -> Step:
    """An amount with its currency (default CNY), always echoed back before it is kept."""
    return Step(
        name,
        parse=lambda text, env: parse_money(text).as_answer(),
        show=_show_money,
        confirm=_confirm_money,
        **kw,
    )


DEAL = Flow(
    "deal",
    "deal",
    (
        CustomerPick(on_edit=False),
        PastDate("on"),
        Text("product", max_len=200),
        Money(),
        Choice("payment_method", PAYMENT, optional=True),
    ),
)

FLOWS: dict[str, Flow] = {f.name: f for f in (DEAL, edit_flow(DEAL))}


async def _people(env: Env) -> list[tuple[str, Any]]:
    """Whom to pick, as the feature found them when the flow started (re-checked on saving)."""
    return [(str(p["name"]), p) for p in env.answers.get("people") or []]


def _fixed(name: str) -> Step:
    """An answer given when the flow starts (shown in the summary, never asked)."""
    return Step(
        name, show=lambda value, lang: str(value.get("name", "")) if isinstance(value, dict) else str(value)
    )


TRANSFER = Flow(
    "transfer",
    "transfer",
    (
        _fixed("customer"),
        Pick("to", _people),
        Text("reason", min_len=2, max_len=200),
    ),
)
TEAM_FLOWS: dict[str, Flow] = {TRANSFER.name: TRANSFER}


def _renamed(flow: Flow, name: str) -> Flow:
    from dataclasses import replace

    return replace(flow, name=name)


# a change request: the edit flow's questions (field, new value validated like entry, reason)
PROPOSE_CUSTOMER = _renamed(edit_flow(CUSTOMER), "propose_customer")
PROPOSE_CONTACT = _renamed(edit_flow(CONTACT), "propose_contact")
REJECT = Flow("reject_request", "reject_request", (Text("reason", min_len=2, max_len=200),))
REQUEST_FLOWS: dict[str, Flow] = {f.name: f for f in (PROPOSE_CUSTOMER, PROPOSE_CONTACT, REJECT)}


# ---------------------------------------------------------------- merging duplicates

MERGE_FIELDS = (
    "kind", "name", "credit_code", "status", "industry", "grade", "intent", "address", "phone", "email",
    "source", "main_business", "current_problem", "interest", "remarks",
)  # fmt: skip
MOVES = ("contacts", "followups", "deals", "attachments", "reminders", "requests", "history")


def _keep(name: str) -> Step:
    """Which value of a conflicting field wins: the merged customer's or the survivor's (buttons)."""

    choices = CUSTOMER.step(name).choices

    async def options(env: Env) -> list[tuple[str, Any]]:
        a, b = (env.answers.get("conflicts") or {}).get(name, ("", ""))
        if choices is not None:  # codes are stored; people read labels
            a, b = choices.label(a, env.lang), choices.label(b, env.lang)
        return [
            (f"{a[:44]} · {t(env.lang, 'merge.side.source')}", {"label": a, "side": "source"}),
            (f"{b[:44]} · {t(env.lang, 'merge.side.target')}", {"label": b, "side": "target"}),
        ]

    return Pick(f"keep_{name}", options, ask_if=lambda a: name in (a.get("conflicts") or {}))


MERGE = Flow(
    "merge",
    "merge",
    (
        _fixed("source"),
        _fixed("target"),
        _fixed("moves"),
        *(_keep(f) for f in MERGE_FIELDS),
        Text("reason", min_len=2, max_len=200),
    ),
)
MERGE_FLOWS: dict[str, Flow] = {MERGE.name: MERGE}


def moves_text(moves: dict[str, int], lang: str) -> str:
    """What moves to the survivor, e.g. "联系人 2 · 跟进 3 · 交易 1"."""
    parts = [t(lang, f"merge.moves.{k}", count=moves[k]) for k in MOVES if moves.get(k)]
    return " · ".join(parts) or t(lang, "merge.moves.nothing")


def taken_from_source(answers: dict[str, Any]) -> set[str]:
    """The fields whose merged-customer value was chosen to win."""
    return {
        f
        for f in MERGE_FIELDS
        if isinstance(answers.get(f"keep_{f}"), dict) and answers[f"keep_{f}"].get("side") == "source"
    }


# ---------------------------------------------------------------- deals on the card


def deal_values(d: DealLine) -> dict[str, Any]:
    """A deal's stored values as its edit flow shows them."""
    return {
        "on": d.on.isoformat(),
        "product": d.product,
        "amount": {"amount": str(d.amount), "currency": d.currency},
        "payment_method": d.payment_method,
    }


# ---------------------------------------------------------------- lists


@dataclass(frozen=True)
class Line:
    """A customer as a list shows it: `Company - main contact (A) · status · owner · next follow-up`."""

    id: int
    name: str
    main_contact: str | None
    intent: str | None
    status: str | None
    owner: str
    next_at: dt.datetime | None


def line_label(line: Line, lang: str, tz: dt.tzinfo) -> str:
    from flows.dateformat import format_when
    from flows.views import list_line

    text = list_line(line.name, line.main_contact, line.intent, line.status, lang)
    text += f" · {line.owner}"
    if line.next_at is not None:
        text += f" · ⏰{format_when(line.next_at.astimezone(tz), lang)}"
    return text


def list_reply(
    title: str,
    lines: list[Line],
    total: int,
    offset: int,
    page: int,
    data: str | None,
    lang: str,
    tz: dt.tzinfo,
    *,
    edit: bool = False,
) -> Reply:
    """A page of customers, each a button opening its card; `data` + offset pages (None: no paging)."""
    if total == 0:
        return Reply(t(lang, "list.empty", title=title), edit=edit)
    pages = (total + page - 1) // page
    head = t(lang, "list.title", title=title, page=offset // page + 1, pages=pages, total=total)
    body = [line_label(x, lang, tz) for x in lines]
    rows = [[Button(label[:60], f"g|cust|{x.id}")] for label, x in zip(body, lines, strict=True)]
    nav = []
    if data is not None and offset > 0:
        nav.append(Button(t(lang, "bot.btn.prev"), data.format(offset=max(0, offset - page))))
    if data is not None and offset + page < total:
        nav.append(Button(t(lang, "bot.btn.next"), data.format(offset=offset + page)))
    if nav:
        rows.append(nav)
    return Reply("\n".join([head, *(f"• {b}" for b in body)]), rows, edit=edit)


def scope_buttons(role: str, lang: str) -> list[list[Button]]:
    """/my for a manager: mine, my team, one person; an admin also everyone."""
    row = [
        Button(t(lang, "list.scope.mine"), "g|sc|mine|0"),
        Button(t(lang, "list.scope.team"), "g|sc|team|0"),
        Button(t(lang, "list.scope.person"), "g|people"),
    ]
    rows = [row]
    if role == "admin":
        rows.append([Button(t(lang, "list.scope.all"), "g|sc|all|0")])
    return rows


# ---------------------------------------------------------------- list filters


@dataclass
class Filter:
    """What /list narrows to; every part optional, all parts combined (AND)."""

    status: str | None = None
    intent: str | None = None
    grade: str | None = None
    industry: str | None = None
    place: str | None = None  # a province or city, as typed (杭州 matches 杭州市)
    tag: str | None = None
    owner: str | None = None  # an owner's name
    overdue: bool = False
    pending: bool = False
    silent: bool = False  # no contact for 30 days
    unknown: list[str] = field(default_factory=list)

    def empty(self) -> bool:
        return not any(
            (self.status, self.intent, self.grade, self.industry, self.place, self.tag, self.owner)
        ) and not (self.overdue or self.pending or self.silent)

    def to_args(self) -> str:
        """The filter typed back, so a page button and the title can carry it."""
        parts = [p for p in (self.status, self.intent, self.grade, self.industry) if p]
        parts += [f"@{self.place}"] if self.place else []
        parts += [f"#{self.tag}"] if self.tag else []
        parts += [f"owner:{self.owner}"] if self.owner else []
        parts += ["overdue"] * self.overdue + ["pending"] * self.pending + ["silent"] * self.silent
        return " ".join(parts)


FLAG_WORDS = {
    "overdue": ("overdue", "逾期", "超期"),
    "pending": ("pending", "待补充"),
    "silent": ("silent", "nocontact", "30天未联系", "未联系"),
}
_PLACE = re.compile(r"^[\u4e00-\u9fff]{2,8}$")


def parse_filter(text: str, places: set[str], tags: set[str], owners: set[str]) -> Filter:
    """Typed words, each recognised as a code or label of a list, a flag, a place, a tag or an owner.

    `places`, `tags` and `owners` are what the user's visible customers actually have, so "VIP"
    is known to be a tag and "杭州" a city without a dictionary of either.
    """
    f = Filter()
    for word in text.replace(",", " ").replace(",", " ").split():
        low = word.casefold()
        if low.startswith("owner:"):
            f.owner = word[6:]
            continue
        if word.startswith("#"):
            f.tag = word[1:]
            continue
        if word.startswith("@"):
            f.place = word[1:]
            continue
        flag = next((k for k, words in FLAG_WORDS.items() if low in words), None)
        if flag is not None:
            setattr(f, flag, True)
            continue
        if len(word) == 1 and word.upper() in INTENT.codes():
            f.intent = word.upper()
            continue
        matched = False
        for attr, choices in (("status", CUSTOMER_STATUS), ("grade", GRADE), ("industry", INDUSTRY)):
            option = next(
                (o for o in choices.options if low in (o.code.casefold(), o.zh.casefold(), o.en.casefold())),
                None,
            )
            if option is not None:
                setattr(f, attr, option.code)
                matched = True
                break
        if matched:
            continue
        tag = next((x for x in tags if x.casefold() == low or x.casefold().startswith(low)), None)
        if tag is not None:
            f.tag = tag
            continue
        place = next(
            (p for p in places if p == word or p.removesuffix("市").removesuffix("省") == word), None
        )
        if place is not None or (_PLACE.match(word) and word not in owners):
            f.place = place or word
            continue
        if word in owners:
            f.owner = word
            continue
        f.unknown.append(word)
    return f


def describe(f: Filter, lang: str) -> str:
    """The filter in words for the list's title."""
    parts = []
    if f.status:
        parts.append(CUSTOMER_STATUS.label(f.status, lang))
    if f.intent:
        parts.append(f.intent)
    if f.grade:
        parts.append(GRADE.label(f.grade, lang))
    if f.industry:
        parts.append(INDUSTRY.label(f.industry, lang))
    if f.place:
        parts.append(f.place)
    if f.tag:
        parts.append(f"#{f.tag}")
    if f.owner:
        parts.append(t(lang, "list.owner_is", owner=f.owner))
    for flag in ("overdue", "pending", "silent"):
        if getattr(f, flag):
            parts.append(t(lang, f"list.flag.{flag}"))
    return " · ".join(parts) or t(lang, "list.all")


def filter_buttons(lang: str) -> list[list[Button]]:
    """Quick filters for /list with nothing typed: one tap each (typing combines them)."""
    quick = [
        ("list.flag.overdue", "overdue"),
        ("list.flag.pending", "pending"),
        ("list.flag.silent", "silent"),
    ]
    rows = [[Button(t(lang, key), f"g|lst|{arg}") for key, arg in quick]]
    rows.append([Button(o.label(lang)[:14], f"g|lst|{o.code}") for o in INTENT.options[:3]])
    rows.append([Button(o.label(lang), f"g|lst|{o.code}") for o in CUSTOMER_STATUS.options])
    rows.append([Button(o.label(lang), f"g|lst|{o.code}") for o in GRADE.options])
    return rows


# ---------------------------------------------------------------- notices


def notice(key: str, params: dict[str, Any], buttons: Sequence[tuple[str, str]] = ()) -> dict[str, Any]:
    """A message for someone else (rendered in their language when it is sent): key, params, buttons."""
    return {"key": key, "params": params, "buttons": [list(b) for b in buttons]}


def notice_reply(detail: dict[str, Any], lang: str) -> Reply:
    params = dict(detail.get("params") or {})
    for name in [k for k in params if k.endswith("_key")]:  # a catalog key: said in the reader's language
        params[name.removesuffix("_key")] = t(lang, str(params[name]))
    rows = [[Button(t(lang, label), data)] for label, data in detail.get("buttons") or []]
    return Reply(t(lang, str(detail.get("key", "")), **params), rows)


# ---------------------------------------------------------------- a manager's morning


def manager_digest_lines(
    requests: int, team_overdue: Sequence[tuple[str, int]], new_yesterday: Sequence[str], lang: str
) -> list[str]:
    """What the morning digest adds for someone who decides requests or leads a team."""
    lines: list[str] = []
    if requests:
        lines += ["", t(lang, "digest.requests", count=requests)]
    if team_overdue:
        lines += ["", t(lang, "digest.team_overdue")]
        lines += [f"  • {name}: {count}" for name, count in team_overdue]
    if new_yesterday:
        lines += ["", t(lang, "digest.new_yesterday", count=len(new_yesterday))]
        shown = list(new_yesterday[:5])
        lines += [f"  • {name}" for name in shown]
        if len(new_yesterday) > len(shown):
            lines.append(t(lang, "rem.digest.more", count=len(new_yesterday) - len(shown)))
    return lines
