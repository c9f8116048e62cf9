"""Handover: a manager (or an admin) moves all of one person's customers to another from the chat,
when someone leaves or changes territory; an admin can take the person's access away in the same
step. /handover → whose → to whom → confirm. Each button carries ids only and every one is checked
again when pressed (storage/transfers.py), so a forged or stale button moves nothing it should not.
"""

from __future__ import annotations

from bot.feature import Command, Feature, Press, Role
from bot.turn import Incoming, Turn, record_id
from flows.engine import Button, Reply
from flows.i18n import t
from storage import repo, transfers
from storage.models import User

MANAGERS: frozenset[Role] = frozenset({"manager", "admin"})
SHOWN = 30  # people per list of buttons
NAME = 40  # characters of a name on a button


def _ids(data: str | None, prefix: str, count: int) -> list[int] | None:
    """The `count` ids after `prefix` in button data like `g|ho|t|12|34`, or None for anything else."""
    ids = [record_id(part, "") for part in (data or "").removeprefix(prefix).split("|")]
    return [i for i in ids if i is not None] if len(ids) == count and None not in ids else None


def _not_allowed(turn: Turn) -> list[Reply]:
    return [Reply(t(turn.lang, "handover.not_allowed"), edit=True)]


async def handover_command(turn: Turn, inc: Incoming) -> list[Reply]:
    people = await transfers.handover_people(turn.tx, turn.user)
    if not people:
        return [Reply(t(turn.lang, "handover.nobody"))]
    rows = [
        [Button(t(turn.lang, "handover.person", name=u.name[:NAME], count=n), f"g|ho|f|{u.id}")]
        for u, n in people[:SHOWN]
    ]
    return [Reply(t(turn.lang, "handover.pick_from"), rows)]


async def _source(turn: Turn, from_id: int) -> tuple[User, int, list[User]] | None:
    """The person handed over from, their live customers, and who may take them; None: not allowed."""
    if turn.user.role not in MANAGERS:
        return None
    heirs = await transfers.handover_heirs(turn.tx, turn.user, from_id)
    if heirs is None:
        return None
    count = (await transfers.live_counts(turn.tx, [from_id])).get(from_id, 0)
    source = await turn.tx.get(User, from_id)
    return (source, count, heirs) if source is not None else None


async def pick_heir(turn: Turn, inc: Incoming) -> list[Reply]:
    """`g|ho|f|<from>`: who takes over."""
    ids = _ids(inc.callback, "g|ho|f|", 1)
    found = await _source(turn, ids[0]) if ids else None
    if found is None:
        return _not_allowed(turn)
    source, count, heirs = found
    if not heirs:
        return [Reply(t(turn.lang, "xfer.nobody"), edit=True)]
    rows = [[Button(u.name[:NAME], f"g|ho|t|{source.id}|{u.id}")] for u in heirs[:SHOWN]]
    rows.append([Button(t(turn.lang, "handover.btn.cancel"), "g|ho|x")])
    text = t(turn.lang, "handover.pick_to", name=source.name, count=count)
    return [Reply(text, rows, edit=True)]


async def confirm(turn: Turn, inc: Incoming) -> list[Reply]:
    """`g|ho|t|<from>|<to>`: what will happen, said before it does."""
    ids = _ids(inc.callback, "g|ho|t|", 2)
    found = await _source(turn, ids[0]) if ids else None
    if ids is None or found is None:
        return _not_allowed(turn)
    source, count, heirs = found
    heir = next((u for u in heirs if u.id == ids[1]), None)
    if heir is None:
        return _not_allowed(turn)
    lang = turn.lang
    rows = [[Button(t(lang, "handover.btn.move"), f"g|ho|go|{source.id}|{heir.id}|0")]]
    if turn.user.role == "admin":
        label = t(lang, "handover.btn.deactivate", name=source.name[:NAME])
        rows.append([Button(label, f"g|ho|go|{source.id}|{heir.id}|1")])
    rows.append([Button(t(lang, "handover.btn.cancel"), "g|ho|x")])
    reason = t(lang, "handover.reason")
    text = t(lang, "handover.confirm", name=source.name, count=count, to=heir.name, reason=reason)
    return [Reply(text, rows, edit=True)]


async def hand_over(turn: Turn, inc: Incoming) -> list[Reply]:
    """`g|ho|go|<from>|<to>|<0, or 1: deactivate>`: the move itself (pressed twice: nothing is left)."""
    head, _, flag = (inc.callback or "").removeprefix("g|ho|go|").rpartition("|")
    ids = _ids(head, "", 2)
    if ids is None or flag not in ("0", "1") or turn.user.role not in MANAGERS:
        return _not_allowed(turn)
    source, heir = await turn.tx.get(User, ids[0]), await turn.tx.get(User, ids[1])
    if source is None or heir is None:
        return _not_allowed(turn)
    reason, deactivate = t(turn.lang, "handover.reason"), flag == "1"
    try:
        moved = await transfers.handover(
            turn.tx, turn.user, source.id, heir.id, reason, turn.clock(), deactivate=deactivate
        )
    except repo.NotAllowed:
        return _not_allowed(turn)
    text = t(turn.lang, "handover.done", name=source.name, count=moved, to=heir.name)
    if deactivate:
        text += "\n" + t(turn.lang, "handover.deactivated", name=source.name)
    return [Reply(text, edit=True)]


async def cancel(turn: Turn, inc: Incoming) -> list[Reply]:
    return [Reply(t(turn.lang, "handover.cancelled"), edit=True)]


FEATURE = Feature(
    name="handover",
    commands=(Command("handover", handover_command, help="help.handover", roles=MANAGERS),),
    presses=(
        Press("g|ho|f|", pick_heir, "handover: whose customers; then who takes them"),
        Press("g|ho|t|", confirm, "handover: confirm moving all of them (an admin may also deactivate)"),
        Press("g|ho|go|", hand_over, "handover: move them (and deactivate, when chosen)"),
        Press("g|ho|x", cancel, "handover: cancel"),
    ),
)
