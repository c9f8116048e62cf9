"""Contacts under a customer: typed, from a shared phone contact card, added or edited from the card."""

from __future__ import annotations

from bot.feature import Command, Feature, Press, Takes
from bot.turn import Incoming, Turn, record_id
from flows.engine import Reply
from flows.i18n import t
from storage import cards


async def new_contact(turn: Turn, inc: Incoming) -> list[Reply]:
    return await turn.start_on_current("contact")


async def shared_card(turn: Turn, inc: Incoming) -> list[Reply]:
    """A phone contact shared with no entry open starts a new contact with it."""
    assert inc.input is not None
    outcome = await turn.engine.start("contact", turn.services)
    assert outcome.state is not None
    turn.state = outcome.state
    return await turn.step(inc.input)


async def add_contact(turn: Turn, inc: Incoming) -> list[Reply]:
    customer_id = record_id(inc.callback, "g|addc|")
    picked = await turn.customer_answer(customer_id) if customer_id else None
    if picked is None:
        return [Reply(t(turn.lang, "bot.not_allowed"))]
    if turn.state is not None:
        await turn.set_state(None)
    return await turn.start("contact", prefill=picked)


async def edit_contact(turn: Turn, inc: Incoming) -> list[Reply]:
    contact_id = record_id(inc.callback, "g|editc|")
    customer_id = await cards.customer_of_contact(turn.tx, contact_id) if contact_id else None
    customer = await turn.visible_customer(customer_id) if customer_id else None
    if contact_id is None or customer is None:
        return [Reply(t(turn.lang, "bot.not_allowed"))]
    if turn.state is not None:
        await turn.set_state(None)
    return await turn.start_edit("contact", contact_id, customer.id)


FEATURE = Feature(
    name="contacts",
    commands=(Command("new_contact", new_contact, help="help.new_contact", starts_entry=True),),
    presses=(
        Press("g|addc|", add_contact, "add a contact to the customer"),
        Press("g|editc|", edit_contact, "edit a field of the contact"),
    ),
    takes=(Takes("contact", shared_card, help="help.shared_contact"),),
)
