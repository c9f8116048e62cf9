"""Merging duplicates: "Merge into…" on a card (or /merge NUMBER on the open card) → pick the other
→ a preview of what moves, each conflicting field chosen with a button → reason → confirm.
/duplicates lists likely pairs among the customers the user may see.

Every step re-checks that the user manages both customers; the merge itself checks again.
"""

from __future__ import annotations

from bot import owned
from bot.feature import Command, Feature, Owns, Press, Role
from bot.turn import CURRENT_TTL, Incoming, Turn, record_id
from flows.engine import Button, Reply, State
from flows.i18n import t
from flows.team import MERGE_FLOWS, moves_text, taken_from_source
from storage import merge, repo, transfers

MANAGERS: frozenset[Role] = frozenset({"manager", "admin"})


async def merge_button(turn: Turn, inc: Incoming) -> list[Reply]:
    """`g|mrg|<customer>`: pick the customer to merge it into."""
    customer_id = record_id(inc.callback, "g|mrg|")
    source = await transfers.manageable(turn.tx, turn.user, customer_id) if customer_id else None
    if source is None:
        return [Reply(t(turn.lang, "merge.not_allowed"))]
    repo.set_current_customer(turn.user, source.id, turn.clock())  # so /merge NUMBER works on it
    options = await merge.targets(turn.tx, turn.user, source)
    rows = [[Button(f"{c.name[:40]} · {c.number}", f"g|mrgt|{source.id}|{c.id}")] for c in options]
    return [Reply(t(turn.lang, "merge.pick", name=source.name), rows)]


async def merge_command(turn: Turn, inc: Incoming) -> list[Reply]:
    """/merge NUMBER: merge the open customer into the one with that number."""
    current = await repo.current_customer(turn.tx, turn.user, turn.clock(), CURRENT_TTL)
    number = inc.args.strip()
    if current is None or not number:
        return [Reply(t(turn.lang, "merge.usage"))]
    found = await repo.search_customers(turn.tx, turn.user, number, limit=1)
    target = found[0] if found and found[0].number == number.upper() else None
    if target is None:
        return [Reply(t(turn.lang, "bot.find_none", text=number[:20]))]
    return await _preview(turn, current.id, target.id)


async def merge_target(turn: Turn, inc: Incoming) -> list[Reply]:
    """`g|mrgt|<merged>|<survivor>`: the preview, then the conflicting fields and a reason."""
    parts = (inc.callback or "").removeprefix("g|mrgt|").split("|")
    ids = [record_id(p, "") for p in parts] if len(parts) == 2 else []
    if len(ids) != 2 or ids[0] is None or ids[1] is None:
        return [Reply(t(turn.lang, "merge.not_allowed"))]
    return await _preview(turn, ids[0], ids[1])


async def _preview(turn: Turn, source_id: int, target_id: int) -> list[Reply]:
    seen = await merge.preview(turn.tx, turn.user, source_id, target_id)
    source = await turn.visible_customer(source_id)
    target = await turn.visible_customer(target_id)
    if seen is None or source is None or target is None:
        return [Reply(t(turn.lang, "merge.not_allowed"))]
    lang = turn.lang
    lead = await turn.replace_entry()
    prefill = {
        "source": {"id": source.id, "name": f"{source.name} · {source.number}"},
        "target": {"id": target.id, "name": f"{target.name} · {target.number}"},
        "moves": moves_text(seen.moves, lang),
        "conflicts": {f: list(v) for f, v in seen.conflicts.items()},
    }
    intro = t(lang, "merge.preview", source=source.name, target=target.name, moves=prefill["moves"])
    if seen.fills:
        labels = "、".join(t(lang, f"f.customer.{f}") for f in seen.fills)
        intro += "\n" + t(lang, "merge.fills", fields=labels)
    if seen.conflicts:
        intro += "\n" + t(lang, "merge.conflicts", count=len(seen.conflicts))
    context = {"source_id": source.id, "target_id": target.id}
    return [*lead, Reply(intro), *await turn.start("merge", prefill=prefill, context=context)]


async def _save(turn: Turn, state: State) -> list[Reply]:
    await turn.set_state(None)
    ctx = state.context
    try:
        target = await merge.merge(
            turn.tx,
            turn.user,
            int(ctx["source_id"]),
            int(ctx["target_id"]),
            taken_from_source(state.answers),
            str(state.answers["reason"]),
            turn.clock(),
        )
    except repo.NotAllowed:
        return [Reply(t(turn.lang, "merge.not_allowed"))]
    replies = [Reply(t(turn.lang, "merge.done", number=target.number))]
    card = await turn.card(target.id)
    return replies + ([card] if card else [])


async def on_merge(turn: Turn, inc: Incoming) -> list[Reply]:
    return await owned.step(turn, inc, _save)


async def duplicates(turn: Turn, inc: Incoming) -> list[Reply]:
    found = await merge.pairs(turn.tx, turn.user)
    lang = turn.lang
    if not found:
        return [Reply(t(lang, "merge.no_pairs"))]
    lines = [t(lang, "merge.pairs_title", count=len(found))]
    rows = []
    for p in found:
        why = "、".join(t(lang, f"dup.reason.{r}") for r in p.reasons)
        lines.append(f"• {p.b_name} ↔ {p.a_name} ({why})")
        rows.append([Button(t(lang, "merge.btn.pair", name=p.b_name[:24]), f"g|mrgt|{p.b}|{p.a}")])
    return [Reply("\n".join(lines), rows)]


FEATURE = Feature(
    name="merge",
    commands=(
        Command("duplicates", duplicates, help="help.duplicates", roles=MANAGERS),
        Command("merge", merge_command, help="help.merge", roles=MANAGERS, starts_entry=True),
    ),
    presses=(
        Press("g|mrg|", merge_button, "merge the customer into another: pick which"),
        Press("g|mrgt|", merge_target, "merge one customer into another: preview, conflicts, reason"),
    ),
    owns=(Owns("merge", on_merge),),
    flows=MERGE_FLOWS,
)
