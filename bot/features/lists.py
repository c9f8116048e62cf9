"""Finding and listing customers: /find, /my with paging, and opening a card from a list."""

from __future__ import annotations

from bot.feature import Command, Feature, Press
from bot.turn import PAGE, Incoming, Turn, record_id
from flows.engine import Button, Reply
from flows.i18n import t
from flows.normalize import typed_number
from flows.team import Filter, describe, list_reply, scope_buttons
from storage import merge, repo, team


async def find(turn: Turn, inc: Incoming) -> list[Reply]:
    merged = await merge.merged_by_number(turn.tx, turn.user, inc.args) if inc.args.strip() else None
    if merged is not None:  # a merged customer stays readable by its old number
        old, survivor = merged
        text = t(
            turn.lang,
            "merge.merged_card",
            number=old.number,
            name=old.name,
            target=survivor.number,
            reason=old.merge_reason or "",
        )
        button = Button(
            t(turn.lang, "merge.btn.open_target", target=survivor.number), f"g|cust|{survivor.id}"
        )
        return [Reply(text, [[button]])]
    return await find_by_tag_or_place(turn, inc)


async def my(turn: Turn, inc: Incoming) -> list[Reply]:
    if turn.user.role in ("manager", "admin"):  # mine / my team / one person (/ everyone)
        return [Reply(t(turn.lang, "list.scope.pick"), scope_buttons(turn.user.role, turn.lang))]
    return await _page(turn, 0, edit=False)


async def find_by_tag_or_place(turn: Turn, inc: Incoming) -> list[Reply]:
    """/find 杭州 or /find VIP客户: a city, province or tag lists its customers; anything else is a search."""
    text = inc.args.strip()
    if text and " " not in text:
        places, tags, _ = await team.vocabulary(turn.tx, turn.user)
        wanted = text.lstrip("#")
        f: Filter | None = None
        if wanted in tags or any(x.casefold() == wanted.casefold() for x in tags):
            f = Filter(tag=next(x for x in tags if x.casefold() == wanted.casefold()))
        elif any(p == text or p.removesuffix("市").removesuffix("省") == text for p in places):
            f = Filter(place=text)
        if f is not None:
            lines, total = await team.filtered(turn.tx, turn.user, f, turn.clock(), 0, PAGE)
            data = f"g|lp|{{offset}}|{f.to_args()}"
            page = list_reply(
                describe(f, turn.lang), lines, total, 0, PAGE, data, turn.lang, turn.services.tz
            )
            return [page]
    return await turn.find(text)


async def my_page(turn: Turn, inc: Incoming) -> list[Reply]:
    offset = typed_number((inc.callback or "").removeprefix("g|my|"))
    if offset is None:
        return [Reply(t(turn.lang, "bot.not_allowed"))]
    return await _page(turn, offset, edit=True)


async def _page(turn: Turn, offset: int, *, edit: bool) -> list[Reply]:
    lang = turn.lang
    offset = max(0, offset)
    rows_, total = await repo.my_customers(turn.tx, turn.user, offset, PAGE)
    if total == 0:
        return [Reply(t(lang, "bot.my_empty"), edit=edit)]
    pages = (total + PAGE - 1) // PAGE
    rows = [[Button(await turn.line(c), f"g|cust|{c.id}")] for c in rows_]
    nav = []
    if offset > 0:
        nav.append(Button(t(lang, "bot.btn.prev"), f"g|my|{max(0, offset - PAGE)}"))
    if offset + PAGE < total:
        nav.append(Button(t(lang, "bot.btn.next"), f"g|my|{offset + PAGE}"))
    if nav:
        rows.append(nav)
    title = t(lang, "bot.my_title", page=offset // PAGE + 1, pages=pages, total=total)
    return [Reply(title, rows, edit=edit)]


async def open_card(turn: Turn, inc: Incoming) -> list[Reply]:
    customer_id = record_id(inc.callback, "g|cust|")
    card = await turn.card(customer_id) if customer_id else None
    return [card] if card is not None else [Reply(t(turn.lang, "bot.not_allowed"))]


FEATURE = Feature(
    name="lists",
    commands=(Command("find", find, help="help.find"), Command("my", my, help="help.my")),
    presses=(
        Press("g|my|", my_page, "another page of /my"),
        Press("g|cust|", open_card, "open a customer card"),
    ),
)
