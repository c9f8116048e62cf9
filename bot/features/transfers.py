"""Transfers: the owner's manager (or an admin) moves a customer to another person, with a reason,
from the card's "Transfer" or /transfer on the open card. All of a person's customers move with
/handover (bot/features/handover.py) or `crm-bot customers transfer --from ID --to ID`."""

from __future__ import annotations

from bot import owned
from bot.feature import Command, Feature, Owns, Press
from bot.turn import CURRENT_TTL, Incoming, Turn, record_id
from flows.engine import Reply, State
from flows.i18n import t
from flows.team import TEAM_FLOWS
from storage import repo, transfers


async def transfer_command(turn: Turn, inc: Incoming) -> list[Reply]:
    current = await repo.current_customer(turn.tx, turn.user, turn.clock(), CURRENT_TTL)
    if current is None:
        return [Reply(t(turn.lang, "xfer.open_card_first"))]
    return await _start(turn, current.id)


async def transfer_button(turn: Turn, inc: Incoming) -> list[Reply]:
    customer_id = record_id(inc.callback, "g|xfer|")
    return await _start(turn, customer_id) if customer_id else [Reply(t(turn.lang, "bot.not_allowed"))]


async def _start(turn: Turn, customer_id: int) -> list[Reply]:
    customer = await transfers.manageable(turn.tx, turn.user, customer_id)
    if customer is None:
        return [Reply(t(turn.lang, "xfer.not_allowed"))]
    people = await transfers.candidates(turn.tx, turn.user, customer)
    if not people:
        return [Reply(t(turn.lang, "xfer.nobody"))]
    lead = await turn.replace_entry()
    prefill = {
        "customer": {"id": customer.id, "name": f"{customer.name} · {customer.number}"},
        "people": [{"id": u.id, "name": u.name} for u in people[:20]],
    }
    return [*lead, *await turn.start("transfer", prefill=prefill)]


async def _save(turn: Turn, state: State) -> list[Reply]:
    await turn.set_state(None)
    a = state.answers
    try:
        customer = await transfers.transfer(
            turn.tx, turn.user, int(a["customer"]["id"]), int(a["to"]["id"]), str(a["reason"]), turn.clock()
        )
    except repo.NotAllowed:
        return [Reply(t(turn.lang, "xfer.not_allowed"))]
    replies = [Reply(t(turn.lang, "xfer.done", name=customer.name, to=a["to"]["name"]))]
    card = await turn.card(customer.id)
    return replies + ([card] if card else [])


async def on_transfer(turn: Turn, inc: Incoming) -> list[Reply]:
    return await owned.step(turn, inc, _save)


FEATURE = Feature(
    name="transfers",
    commands=(
        Command(
            "transfer",
            transfer_command,
            help="help.transfer",
            starts_entry=True,
            roles=frozenset({"manager", "admin"}),
        ),
    ),
    presses=(Press("g|xfer|", transfer_button, "transfer the customer to another owner (with a reason)"),),
    owns=(Owns("transfer", on_transfer),),
    flows=TEAM_FLOWS,
)
