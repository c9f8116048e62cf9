"""The buttons under a reminder (Log, Done, Snooze, Tomorrow, Pick a time, Still correct, Fill in),
its "Pick a time" question, and /today, the morning digest on demand.

Every button re-checks the reminder and the person's right to act on its record when pressed, and
answers with what is true now (a follow-up already done or moved says so).
"""

from __future__ import annotations

import datetime as dt
from typing import Any

from bot.feature import Command, Feature, Owns, Press
from bot.turn import Incoming, Turn
from flows import reminders as rules
from flows.dateformat import format_when
from flows.engine import Input, Reply, parse_button
from flows.i18n import t
from storage import reminder_buttons as acts
from storage import reminders as store
from storage import repo
from storage.models import Contact, Customer, FollowUp


async def on_button(turn: Turn, inc: Incoming) -> list[Reply]:
    lang = turn.lang
    parsed = rules.parse_button(inc.callback or "")
    target = await acts.target(turn.tx, turn.user, parsed[1]) if parsed else None
    if parsed is None or target is None:
        return [Reply(t(lang, "rem.not_allowed"))]
    action, _, arg = parsed
    row, customer, followup = target.row, target.customer, target.followup
    repo.set_current_customer(turn.user, customer.id, turn.clock())  # /log, files: this customer
    if action == "log":
        picked: dict[str, Any] = {
            "customer": {"id": customer.id, "name": customer.name, "number": customer.number}
        }
        contact = await acts.followup_contact(turn.tx, target)
        if contact is not None:
            picked["contact"] = {"id": contact.id, "name": contact.name}
        return [*await turn.replace_entry(), *await turn.start("followup", prefill=picked)]
    if not target.may_edit:
        return [Reply(t(lang, "rem.not_allowed"))]
    now = turn.clock()
    tz = turn.services.tz
    if action in ("done", "snz", "tmr", "pick"):
        if followup is None or row.kind != "due":
            return [Reply(t(lang, "rem.not_allowed"))]
        stale = _stale(followup, row.ref_at, lang, tz)
        if stale is not None:
            return [stale]
        if action == "done":
            acts.mark_done(turn.tx, followup, turn.user.id, "reminder: done", now)
            return [Reply(t(lang, "rem.done", customer=customer.name))]
        if action == "pick":
            assert followup.next_at is not None
            current = {"next_at": {"at": followup.next_at.astimezone(tz).isoformat(), "has_time": True}}
            context = {"reminder_id": row.id, "followup_id": followup.id}
            lead = await turn.replace_entry()
            return [*lead, *await turn.start(rules.PICK_FLOW, prefill={"current": current}, context=context)]
        if action == "snz":
            at = now + rules.SNOOZE
        else:
            tomorrow = now.astimezone(tz).date() + dt.timedelta(days=1)
            at = rules.at_local(tomorrow, dt.time(rules.TOMORROW_HOUR), tz)
        return [_move(turn, followup, customer, at, f"reminder: {action}", now, "rem.snoozed")]
    if action == "ok" and row.kind == "noupdate":
        acts.verify(customer, now)
        return [Reply(t(lang, "rem.verified", customer=customer.name))]
    if action == "fill" and row.kind == "pending":
        return await _fill(turn, row.detail, customer, target.contact, arg, followup)
    return [Reply(t(lang, "rem.not_allowed"))]


async def on_pick(turn: Turn, inc: Incoming) -> list[Reply]:
    """The typed time and the confirm/retype/cancel buttons of "Pick a time", run by the flow engine;
    once the absolute time is confirmed it is applied at once (no summary to save)."""
    state = turn.state
    assert state is not None
    if inc.input is not None:
        inp = inc.input
    else:
        pressed = parse_button(inc.callback or "")
        if pressed is None:
            return [Reply(t(turn.lang, "bot.no_flow_button"))]
        inp = Input(kind="button", data=pressed[1], seq=pressed[0])
    outcome = await turn.engine.handle(state, inp, turn.services)
    done = outcome.state
    if done is None or done.phase != "summary" or "next_at" not in done.answers:
        await turn.set_state(done)
        return outcome.replies
    await turn.set_state(None)
    lang = turn.lang
    target = await acts.target(turn.tx, turn.user, int(done.context.get("reminder_id", 0)))
    if target is None or target.followup is None or not target.may_edit:
        return [Reply(t(lang, "rem.not_allowed"))]
    stale = _stale(target.followup, target.row.ref_at, lang, turn.services.tz)
    if stale is not None:
        return [stale]
    at = dt.datetime.fromisoformat(done.answers["next_at"]["at"])
    now = turn.clock()
    return [
        _move(turn, target.followup, target.customer, at, "reminder: picked time", now, "rem.rescheduled")
    ]


def _stale(followup: FollowUp, ref_at: dt.datetime | None, lang: str, tz: dt.tzinfo) -> Reply | None:
    """A reminder button pressed after its follow-up was closed or moved answers with what is true now."""
    if followup.next_done:
        return Reply(t(lang, "rem.stale.done"))
    if followup.next_at is None or followup.next_at != ref_at:
        when = format_when(followup.next_at.astimezone(tz), lang) if followup.next_at else "—"
        return Reply(t(lang, "rem.stale.moved", when=when))
    return None


def _move(
    turn: Turn,
    followup: FollowUp,
    customer: Customer,
    at: dt.datetime,
    reason: str,
    now: dt.datetime,
    key: str,
) -> Reply:
    acts.move(turn.tx, followup, at, turn.user.id, reason, now)
    when = format_when(at.astimezone(turn.services.tz), turn.lang)
    return Reply(t(turn.lang, key, customer=customer.name, when=when))


async def _fill(
    turn: Turn,
    detail: dict[str, Any] | None,
    customer: Customer,
    contact: Contact | None,
    field: str,
    followup: FollowUp | None = None,
) -> list[Reply]:
    """Fill in a pending field: the edit flow, opened at that field (its answer and reason are kept)."""
    record = str((detail or {}).get("record", "customer"))
    holder: Customer | Contact | FollowUp | None = {
        "contact": contact,
        "followup": followup,
    }.get(record, customer)
    if holder is None:
        return [Reply(t(turn.lang, "rem.not_allowed"))]
    if field not in holder.pending:
        return [Reply(t(turn.lang, "rem.stale.filled"))]
    if await turn.services.current_values(record, holder.id) is None:
        return [Reply(t(turn.lang, "rem.not_allowed"))]
    lead = await turn.replace_entry()
    return [*lead, *await turn.start_edit(record, holder.id, customer.id, field)]


async def today(turn: Turn, inc: Incoming) -> list[Reply]:
    """/today: the morning digest, on demand."""
    digest = await store.digest(turn.tx, turn.user, turn.clock(), turn.services.tz)
    return [rules.digest_reply(digest, turn.lang)]


FEATURE = Feature(
    name="reminder_buttons",
    commands=(Command("today", today, help="help.today"),),
    presses=(
        Press("r|", on_button, "a reminder's buttons: log, done, snooze, tomorrow, pick a time, fill in"),
    ),
    owns=(Owns(rules.PICK_FLOW, on_pick),),
    flows=rules.FLOWS,
)
