"""Follow-ups: /log one question at a time, or Log from a customer card."""

from __future__ import annotations

from bot.feature import Command, Feature, Press
from bot.turn import Incoming, Turn, record_id
from flows.engine import Reply
from flows.i18n import t


async def log_followup(turn: Turn, inc: Incoming) -> list[Reply]:
    return await turn.start_on_current("followup")


async def log_from_card(turn: Turn, inc: Incoming) -> list[Reply]:
    customer_id = record_id(inc.callback, "g|log|")
    picked = await turn.customer_answer(customer_id) if customer_id else None
    if picked is None:
        return [Reply(t(turn.lang, "bot.not_allowed"))]
    if turn.state is not None:
        await turn.set_state(None)
    return await turn.start("followup", prefill=picked)


FEATURE = Feature(
    name="followups",
    commands=(Command("log", log_followup, help="help.log", starts_entry=True),),
    presses=(Press("g|log|", log_from_card, "log a follow-up for the customer"),),
)
