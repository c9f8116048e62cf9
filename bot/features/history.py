"""A customer's history from its card: every follow-up (five a page, newest first, the full text one
tap away, editable by whoever may edit the customer) and every change (who, when, old → new, why).

Each button re-checks that the person may see the customer, so forged data gets nothing.
"""

from __future__ import annotations

from bot.feature import Feature, Press
from bot.turn import Incoming, Turn, record_id
from flows.engine import Reply
from flows.history import (
    CHANGES_PAGE,
    FOLLOWUPS_PAGE,
    changes_reply,
    followup_reply,
    history_reply,
    page_of,
)
from flows.i18n import t
from storage import history

MAX_PAGE = 10_000


async def followups(turn: Turn, inc: Incoming) -> list[Reply]:
    """`g|hist|<customer>|<page>`: one page of the customer's follow-ups."""
    wanted = page_of(inc.callback or "", "g|hist|")
    customer = await turn.visible_customer(wanted[0]) if wanted and wanted[1] < MAX_PAGE else None
    if wanted is None or customer is None:
        return [Reply(t(turn.lang, "bot.not_allowed"))]
    page = wanted[1]
    items, total = await history.followups_page(turn.tx, customer.id, page * FOLLOWUPS_PAGE, FOLLOWUPS_PAGE)
    return [history_reply(customer.id, customer.name, items, page, total, turn.lang)]


async def one_followup(turn: Turn, inc: Incoming) -> list[Reply]:
    """`g|fu|<follow-up>`: the follow-up in full."""
    followup_id = record_id(inc.callback, "g|fu|")
    detail = (
        await history.followup_detail(turn.tx, turn.user, followup_id, turn.services.tz)
        if followup_id
        else None
    )
    if detail is None:
        return [Reply(t(turn.lang, "bot.not_allowed"))]
    return [followup_reply(detail, turn.lang)]


async def edit_followup(turn: Turn, inc: Incoming) -> list[Reply]:
    """`g|fedit|<follow-up>[|field]`: correct a saved follow-up, or fill in one of its pending fields."""
    data = (inc.callback or "").removeprefix("g|fedit|")
    head, _, field = data.partition("|")
    followup_id = record_id(head, "")
    detail = (
        await history.followup_detail(turn.tx, turn.user, followup_id, turn.services.tz)
        if followup_id
        else None
    )
    if detail is None or followup_id is None:
        return [Reply(t(turn.lang, "bot.not_allowed"))]
    if not detail.may_edit:
        return [Reply(t(turn.lang, "bot.not_owner"))]
    if field and field not in detail.pending:
        return [Reply(t(turn.lang, "rem.stale.filled")), followup_reply(detail, turn.lang)]
    lead = await turn.replace_entry()
    return [*lead, *await turn.start_edit("followup", followup_id, detail.customer_id, field or None)]


async def changes(turn: Turn, inc: Incoming) -> list[Reply]:
    """`g|chg|<customer>|<page>`: the change history of the customer, its contacts and follow-ups."""
    wanted = page_of(inc.callback or "", "g|chg|")
    customer = await turn.visible_customer(wanted[0]) if wanted and wanted[1] < MAX_PAGE else None
    if wanted is None or customer is None:
        return [Reply(t(turn.lang, "bot.not_allowed"))]
    page = wanted[1]
    items, total = await history.changes_page(
        turn.tx, customer.id, page * CHANGES_PAGE, CHANGES_PAGE, turn.services.tz
    )
    return [changes_reply(customer.id, customer.name, items, page, total, turn.lang)]


FEATURE = Feature(
    name="history",
    presses=(
        Press("g|hist|", followups, "a page of the customer's follow-ups, newest first"),
        Press("g|fu|", one_followup, "one follow-up in full"),
        Press("g|fedit|", edit_followup, "correct a saved follow-up or fill in its pending field"),
        Press("g|chg|", changes, "the customer's change history"),
    ),
)
