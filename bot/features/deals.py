"""Deals (交易记录): /deal or the card's "Add deal", the customer's deals with Edit, and the offer to
mark a customer with its first deal as closed (成交客户)."""

from __future__ import annotations

from decimal import Decimal

from bot import owned
from bot.feature import Command, Feature, Owns, Press
from bot.turn import Incoming, Turn, record_id
from flows.engine import Button, Reply, State
from flows.i18n import t
from flows.money import format_money
from flows.team import FLOWS, deal_values
from flows.team_card import deal_lines
from storage import deals, repo


async def new_deal(turn: Turn, inc: Incoming) -> list[Reply]:
    return await turn.start_on_current("deal")


async def deal_from_card(turn: Turn, inc: Incoming) -> list[Reply]:
    customer_id = record_id(inc.callback, "g|deal|")
    customer = await deals.editable_customer(turn.tx, turn.user, customer_id) if customer_id else None
    if customer is None:
        return [Reply(t(turn.lang, "bot.not_allowed"))]
    lead = await turn.replace_entry()
    picked = {"customer": {"id": customer.id, "name": customer.name, "number": customer.number}}
    return [*lead, *await turn.start("deal", prefill=picked)]


async def _save_deal(turn: Turn, state: State) -> list[Reply]:
    await turn.set_state(None)
    customer_id = int(state.answers["customer"]["id"])
    try:
        deal, first = await deals.record(turn.tx, turn.user, customer_id, state.answers, turn.clock())
    except repo.NotAllowed:
        return [Reply(t(turn.lang, "bot.not_allowed"))]
    lang = turn.lang
    amount = format_money(Decimal(str(deal.amount)), deal.currency, lang)
    replies = [Reply(t(lang, "deal.saved", amount=amount))]
    card = await turn.card(customer_id)
    if card is not None:
        replies.append(card)
    customer = await turn.visible_customer(customer_id)
    if first and customer is not None and customer.status != "deal":
        button = Button(t(lang, "deal.btn.set_status"), f"g|dstat|{customer_id}")
        replies.append(Reply(t(lang, "deal.first", name=customer.name), [[button]]))
    return replies


async def on_deal(turn: Turn, inc: Incoming) -> list[Reply]:
    return await owned.step(turn, inc, _save_deal)


async def set_status(turn: Turn, inc: Incoming) -> list[Reply]:
    """The first deal's offer: status → 成交客户, through the ordinary edit (so it is in the history)."""
    customer_id = record_id(inc.callback, "g|dstat|")
    customer = await deals.editable_customer(turn.tx, turn.user, customer_id) if customer_id else None
    if customer is None:
        return [Reply(t(turn.lang, "bot.not_allowed"))]
    if customer.status == "deal":
        return [Reply(t(turn.lang, "deal.status_already"))]
    reason = t(turn.lang, "deal.status_reason")
    await repo.apply_edit(turn.tx, turn.user, "customer", customer.id, "status", "deal", reason, turn.clock())
    return [Reply(t(turn.lang, "deal.status_set", name=customer.name), edit=True)]


async def list_deals(turn: Turn, inc: Incoming) -> list[Reply]:
    customer_id = record_id(inc.callback, "g|deals|")
    customer = await turn.visible_customer(customer_id) if customer_id else None
    if customer is None:
        return [Reply(t(turn.lang, "bot.not_allowed"))]
    lang = turn.lang
    latest, totals, count = await deals.of_customer(turn.tx, customer.id, limit=20)
    editable = await deals.editable_customer(turn.tx, turn.user, customer.id) is not None
    lines = [customer.name, *deal_lines(tuple(latest), totals, count, lang)]
    rows = (
        [[Button(t(lang, "deal.btn.edit", product=d.product[:20]), f"g|dedit|{d.id}")] for d in latest[:8]]
        if editable
        else []
    )
    return [Reply("\n".join(lines), rows)]


async def edit_deal(turn: Turn, inc: Incoming) -> list[Reply]:
    deal_id = record_id(inc.callback, "g|dedit|")
    deal = await deals.editable_deal(turn.tx, turn.user, deal_id) if deal_id else None
    customer_id = await deals.customer_of(turn.tx, deal.id) if deal else None
    if deal is None or customer_id is None:
        return [Reply(t(turn.lang, "bot.not_allowed"))]
    lead = await turn.replace_entry()
    context = {"deal_id": deal.id, "customer_id": customer_id}
    started = await turn.start("edit_deal", prefill={"current": deal_values(deal)}, context=context)
    return [*lead, *started]


async def _save_edit(turn: Turn, state: State) -> list[Reply]:
    await turn.set_state(None)
    field = str(state.answers["field"])
    try:
        await deals.edit(
            turn.tx,
            turn.user,
            int(state.context["deal_id"]),
            field,
            state.answers.get(field),
            str(state.answers["reason"]),
            turn.clock(),
        )
    except repo.NotAllowed:
        return [Reply(t(turn.lang, "bot.not_allowed"))]
    replies = [Reply(t(turn.lang, "deal.edited"))]
    card = await turn.card(int(state.context["customer_id"]))
    return replies + ([card] if card else [])


async def on_edit(turn: Turn, inc: Incoming) -> list[Reply]:
    return await owned.step(turn, inc, _save_edit)


FEATURE = Feature(
    name="deals",
    commands=(Command("deal", new_deal, help="help.deal", starts_entry=True),),
    presses=(
        Press("g|deal|", deal_from_card, "record a deal for the customer"),
        Press("g|deals|", list_deals, "the customer's deals, with Edit"),
        Press("g|dedit|", edit_deal, "edit a field of a deal (with a reason, kept in the history)"),
        Press("g|dstat|", set_status, "after a first deal: set the customer's status to 成交客户"),
    ),
    owns=(Owns("deal", on_deal), Owns("edit_deal", on_edit)),
    flows=FLOWS,
)
