"""A follow-up from one message: plain text outside an entry, or /note TEXT, becomes a draft.

Only what the note does not tell is asked, and nothing is saved before Save. A bare customer name
("Acme") opens it, as /find would.
"""

from __future__ import annotations

from typing import Any

from bot.feature import Command, Feature, Takes
from bot.turn import Incoming, Turn
from flows import validators as v
from flows.drafts import keep_valid
from flows.engine import Reply
from flows.i18n import t
from flows.notes import understand_note
from storage import repo

NOTE_MIN_LEN = 6


async def note_command(turn: Turn, inc: Incoming) -> list[Reply]:
    drafted = await note(turn, inc.args) if inc.args.strip() else []
    return drafted or [Reply(t(turn.lang, "capture.note_usage"))]


async def typed(turn: Turn, inc: Incoming) -> list[Reply]:
    assert inc.input is not None
    return await note(turn, inc.input.text)


async def note(turn: Turn, text: str) -> list[Reply]:
    """The note as a follow-up draft; [] when it reads like no note (the router then says what to do)."""
    text = text.strip()
    if not text:
        return []
    customers = await repo.own_customer_refs(turn.tx, turn.user)
    now = turn.services.now()
    draft_note = understand_note(text, customers, now=now, default_hour=turn.services.default_hour)
    if draft_note.just_a_name:  # "Acme": show it, as /find would
        return await turn.find(text)
    if len(text) < NOTE_MIN_LEN or not draft_note.recognised:
        return []
    draft: dict[str, Any] = {
        "occurred_on": draft_note.occurred_on.isoformat(),
        "participants": None,
        "attachments": None,
    }
    if draft_note.customer is not None:
        c = draft_note.customer
        draft["customer"] = {"id": c.id, "name": c.name, "number": c.number}
        if draft_note.contact is not None:  # else the contact is asked, with the customer's as buttons
            draft["contact"] = {"id": draft_note.contact.id, "name": draft_note.contact.name}
    if draft_note.mode:
        draft["mode"] = draft_note.mode
        if draft_note.mode != "visit":
            draft["location"] = None
    # a note too short to be the record of a conversation leaves the content to be asked
    keep_valid(draft, "content", lambda: v.parse_text(draft_note.content, min_len=20, max_len=2000))
    if draft_note.next_at is not None:
        draft["next_at"] = {"at": draft_note.next_at.at.isoformat(), "has_time": draft_note.next_at.has_time}
    context: dict[str, Any] = {}
    if draft_note.customer is None and draft_note.candidates:
        context["candidates"] = [
            {"label": f"{c.name} · {c.number}", "value": {"id": c.id, "name": c.name, "number": c.number}}
            for c in draft_note.candidates[:6]
        ]
    lead = [Reply(t(turn.lang, "capture.note_draft"))]
    problem = draft_note.date_problem
    if problem is not None and isinstance(problem.params.get("start"), int):
        phrase = draft_note.content[problem.params["start"] : problem.params.get("end")]
        lead.append(Reply(t(turn.lang, "capture.note_time_unclear", phrase=phrase[:40])))
    return [*lead, *await turn.start("followup", draft=draft, context=context)]


FEATURE = Feature(
    name="notes",
    commands=(Command("note", note_command, help="help.note", starts_entry=True, abandon_to="log"),),
    takes=(Takes("text", typed, help="help.typed_note"),),
)
