"""Customers: a new one, one question at a time, and edits from the card (owner, manager or admin)."""

from __future__ import annotations

from bot.feature import Command, Feature, Press
from bot.turn import Incoming, Turn, record_id
from flows.engine import Reply
from flows.i18n import t


async def new_customer(turn: Turn, inc: Incoming) -> list[Reply]:
    return await turn.start("customer")


async def edit(turn: Turn, inc: Incoming) -> list[Reply]:
    """The card's Edit: the id is re-checked, so forged data gets nothing."""
    customer_id = record_id(inc.callback, "g|edit|")
    customer = await turn.visible_customer(customer_id) if customer_id else None
    if customer is None:
        return [Reply(t(turn.lang, "bot.not_allowed"))]
    if turn.state is not None:
        await turn.set_state(None)
    return await turn.start_edit("customer", customer.id, customer.id)


FEATURE = Feature(
    name="customers",
    commands=(Command("new_customer", new_customer, help="help.new_customer", starts_entry=True),),
    presses=(Press("g|edit|", edit, "edit a field of the customer (with a reason, kept in the history)"),),
)
