"""Change requests: "Propose a change" on a card the user may see but not edit (field, new value
checked like entry, reason); the owner and the owner's manager get it with Approve / Reject; the
proposer is told the outcome. /requests lists what waits for the user's decision.

Every button re-reads the request and the presser's right to decide it; a stale request (the
record changed since) shows the value it would overwrite and can only be approved "anyway" from
that screen, whose button carries a fingerprint of that value.
"""

from __future__ import annotations

from bot import owned
from bot.feature import Command, Feature, Owns, Press
from bot.turn import Incoming, Turn, record_id
from flows.engine import Button, Reply, State
from flows.i18n import t
from flows.team import REQUEST_FLOWS
from storage import repo, requests
from storage.requests import RequestView


async def propose_button(turn: Turn, inc: Incoming) -> list[Reply]:
    """`g|prop|<customer>`: the customer itself, or one of its contacts."""
    customer_id = record_id(inc.callback, "g|prop|")
    found = await requests.proposable(turn.tx, turn.user, "customer", customer_id) if customer_id else None
    if found is None or customer_id is None:
        return [Reply(t(turn.lang, "bot.not_allowed"))]
    customer, current = found
    contacts = [c for c in await repo.contacts_of(turn.tx, customer.id)][:6]
    if not contacts:
        return await _start(turn, "customer", customer.id, customer.id, current)
    rows = [[Button(t(turn.lang, "req.which.customer"), f"g|propx|{customer.id}")]]
    rows += [
        [Button(t(turn.lang, "req.which.contact", name=c.name[:20]), f"g|propc|{c.id}")] for c in contacts
    ]
    return [Reply(t(turn.lang, "req.which"), rows)]


async def propose_customer(turn: Turn, inc: Incoming) -> list[Reply]:
    customer_id = record_id(inc.callback, "g|propx|")
    found = await requests.proposable(turn.tx, turn.user, "customer", customer_id) if customer_id else None
    if found is None:
        return [Reply(t(turn.lang, "bot.not_allowed"))]
    return await _start(turn, "customer", found[0].id, found[0].id, found[1])


async def propose_contact(turn: Turn, inc: Incoming) -> list[Reply]:
    contact_id = record_id(inc.callback, "g|propc|")
    found = await requests.proposable(turn.tx, turn.user, "contact", contact_id) if contact_id else None
    if found is None or contact_id is None:
        return [Reply(t(turn.lang, "bot.not_allowed"))]
    return await _start(turn, "contact", contact_id, found[0].id, found[1])


async def _start(turn: Turn, entity: str, entity_id: int, customer_id: int, current: dict) -> list[Reply]:  # type: ignore[type-arg]
    lead = await turn.replace_entry()
    context = {"entity": entity, "entity_id": entity_id, "customer_id": customer_id}
    started = await turn.start(f"propose_{entity}", prefill={"current": current}, context=context)
    return [*lead, Reply(t(turn.lang, "req.intro")), *started]


async def _save_proposal(turn: Turn, state: State) -> list[Reply]:
    await turn.set_state(None)
    field = str(state.answers["field"])
    ctx = state.context
    try:
        request = await requests.propose(
            turn.tx,
            turn.user,
            str(ctx["entity"]),
            int(ctx["entity_id"]),
            field,
            state.answers.get(field),
            str(state.answers["reason"]),
            turn.clock(),
        )
    except repo.NotAllowed:
        return [Reply(t(turn.lang, "bot.not_allowed"))]
    customer = await turn.visible_customer(request.customer_id)
    who = [u.name for u in await requests.deciders(turn.tx, customer)] if customer else []
    return [Reply(t(turn.lang, "req.sent", to="、".join(who) or "—"))]


async def on_proposal(turn: Turn, inc: Incoming) -> list[Reply]:
    return await owned.step(turn, inc, _save_proposal)


def _describe(view: RequestView, lang: str) -> str:
    lines = [
        t(
            lang,
            "req.show",
            proposer=view.proposer,
            customer=view.customer,
            field=t(lang, f"f.{view.entity}.{view.field}"),
            old=view.old or "—",
            new=view.new or "—",
            reason=view.reason,
        )
    ]
    if view.stale:
        lines.append(t(lang, "req.stale", current=view.current or "—"))
    return "\n".join(lines)


def _decide_buttons(view: RequestView, lang: str) -> list[list[Button]]:
    if view.stale:
        approve = Button(
            t(lang, "req.btn.approve_anyway"), f"g|crq|f|{view.id}|{requests.seen(view.current)}"
        )
    else:
        approve = Button(t(lang, "req.btn.approve"), f"g|crq|a|{view.id}")
    return [[approve, Button(t(lang, "req.btn.reject"), f"g|crq|r|{view.id}")]]


async def decide(turn: Turn, inc: Incoming) -> list[Reply]:
    """`g|crq|a|<id>` approve, `g|crq|f|<id>|<seen>` approve a stale one, `g|crq|r|<id>` reject."""
    parts = (inc.callback or "").split("|")
    lang = turn.lang
    request_id = record_id(parts[3] if len(parts) >= 4 else None, "")
    action = parts[2] if len(parts) >= 4 else ""
    view = await requests.decidable(turn.tx, turn.user, request_id) if request_id else None
    if view is None or action not in ("a", "f", "r") or request_id is None:
        return [Reply(t(lang, "bot.not_allowed"))]
    if view.state != "pending":
        return [Reply(t(lang, f"req.already.{view.state}"))]
    if action == "r":
        lead = await turn.replace_entry()
        started = await turn.start("reject_request", context={"request_id": view.id})
        return [*lead, *started]
    seen = parts[4] if action == "f" and len(parts) == 5 else None
    try:
        await requests.approve(turn.tx, turn.user, view.id, turn.clock(), seen_current=seen)
    except ValueError:  # stale: show what it would overwrite, and decide from there
        return [Reply(_describe(view, lang), _decide_buttons(view, lang))]
    replies = [Reply(t(lang, "req.approved", customer=view.customer))]
    card = await turn.card(view.customer_id)
    return replies + ([card] if card else [])


async def _save_rejection(turn: Turn, state: State) -> list[Reply]:
    await turn.set_state(None)
    try:
        view = await requests.reject(
            turn.tx, turn.user, int(state.context["request_id"]), str(state.answers["reason"]), turn.clock()
        )
    except repo.NotAllowed:
        return [Reply(t(turn.lang, "bot.not_allowed"))]
    except ValueError:
        return [Reply(t(turn.lang, "req.already.approved"))]
    return [Reply(t(turn.lang, "req.rejected", customer=view.customer))]


async def on_rejection(turn: Turn, inc: Incoming) -> list[Reply]:
    return await owned.step(turn, inc, _save_rejection)


async def list_requests(turn: Turn, inc: Incoming) -> list[Reply]:
    views, total = await requests.waiting_for(turn.tx, turn.user)
    if not total:
        return [Reply(t(turn.lang, "req.none"))]
    replies = [Reply(t(turn.lang, "req.list_title", count=total))]
    replies += [Reply(_describe(v, turn.lang), _decide_buttons(v, turn.lang)) for v in views]
    return replies


FEATURE = Feature(
    name="requests",
    commands=(Command("requests", list_requests, help="help.requests"),),
    presses=(
        Press("g|prop|", propose_button, "propose a change to a customer the user may see but not edit"),
        Press("g|propx|", propose_customer, "propose a change to the customer itself"),
        Press("g|propc|", propose_contact, "propose a change to one of the customer's contacts"),
        Press("g|crq|", decide, "approve or reject a change request"),
    ),
    owns=(
        Owns("propose_customer", on_proposal),
        Owns("propose_contact", on_proposal),
        Owns("reject_request", on_rejection),
    ),
    flows=REQUEST_FLOWS,
)
