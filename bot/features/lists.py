"""Finding and listing customers: /find, /my with paging, and opening a card from a list."""

from __future__ import annotations

from bot.feature import Command, Feature, Press
from bot.turn import PAGE, Incoming, Turn, record_id
from flows.engine import Button, Reply
from flows.i18n import t
from flows.normalize import typed_number
from storage import repo


async def find(turn: Turn, inc: Incoming) -> list[Reply]:
    return await turn.find(inc.args)


async def my(turn: Turn, inc: Incoming) -> list[Reply]:
    return await _page(turn, 0, edit=False)


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
