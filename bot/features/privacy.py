"""Privacy requests (admins): /erase a contact's or an individual customer's personal data, with a
reason, then optionally the follow-up texts that name them; /subject_export everything stored about
one person, as a file. The erasure is logged (storage/privacy.py) and journalled beside the backups,
so restoring an older backup applies it again."""

from __future__ import annotations

import asyncio
import json
from pathlib import Path

from bot.config import Settings
from bot.feature import Command, Feature, Owns, Press, Role
from bot.turn import Incoming, Turn, Work, record_id
from flows.engine import Button, Flow, Reply, parse_button
from flows.fields import Text
from flows.i18n import t
from storage import privacy as store
from storage import repo
from storage.export import sweep

FLOW = "erase"
ADMINS: frozenset[Role] = frozenset({"admin"})
ERASE_FLOW = Flow(FLOW, FLOW, (Text("reason", min_len=4, max_len=200, prompt="q.erase.reason"),))
KINDS = {"c": "customer", "k": "contact"}


def _journal_folder(turn: Turn) -> Path:
    return Settings.load().backup_dir or turn.files.root.parent / "backups"


async def _pick(turn: Turn, inc: Incoming, prefix: str, usage: str) -> list[Reply]:
    lang = turn.lang
    found = await store.targets(turn.tx, inc.args)
    if not inc.args.strip():
        return [Reply(t(lang, usage))]
    if not found:
        return [Reply(t(lang, "data.privacy.none", text=inc.args.strip()[:40]))]
    code = {"customer": "c", "contact": "k"}
    rows = [
        [
            Button(
                t(lang, f"data.privacy.btn_{x.entity}", label=x.label[:40]),
                f"{prefix}{code[x.entity]}|{x.id}",
            )
        ]
        for x in found
    ]
    return [Reply(t(lang, "data.privacy.pick"), rows)]


async def erase_command(turn: Turn, inc: Incoming) -> list[Reply]:
    return await _pick(turn, inc, "g|erase|", "data.erase.usage")


async def erase_pick(turn: Turn, inc: Incoming) -> list[Reply]:
    if turn.user.role != "admin":
        return [Reply(t(turn.lang, "bot.not_allowed"))]
    rest = (inc.callback or "").removeprefix("g|erase|")
    kind, _, _ = rest.partition("|")
    entity_id = record_id(rest, f"{kind}|")
    if kind not in KINDS or entity_id is None:
        return [Reply(t(turn.lang, "bot.not_allowed"))]
    lead = await turn.replace_entry()
    context = {"entity": KINDS[kind], "entity_id": entity_id}
    return [*lead, *await turn.start(FLOW, context=context)]


async def on_reason(turn: Turn, inc: Incoming) -> list[Reply]:
    """The reason typed: the erasure happens now, in this transaction."""
    lang = turn.lang
    state = turn.state
    assert state is not None
    if inc.callback:
        parsed = parse_button(inc.callback)
        if parsed is not None and parsed[1] == "cancel":
            await turn.set_state(None)
            return [Reply(t(lang, "data.erase.cancelled"))]
        return await turn.resume()
    text = (inc.input.text or "").strip() if inc.input is not None and inc.input.kind == "text" else ""
    if len(text) < 4 or turn.user.role != "admin":
        return [Reply(t(lang, "q.erase.reason"))]
    entity, entity_id = str(state.context["entity"]), int(state.context["entity_id"])
    made = await store.erase(turn.tx, turn.user, entity, entity_id, text, turn.clock())
    await turn.set_state(None)
    if made is None:
        return [Reply(t(lang, "data.erase.not_possible"))]
    row, files, mentions = made
    await repo.audit(turn.tx, turn.user, "erase", f"{entity} {entity_id}, {len(row.fields)} fields")
    if mentions:
        await repo.audit(
            turn.tx, turn.user, "erase_offer", json.dumps({"erasure": row.id, "followups": mentions})
        )
    folder = _journal_folder(turn)
    await asyncio.to_thread(store.append_journal, folder, store.journal_entry(row))
    if files:

        async def remove() -> None:
            for path in files:
                await asyncio.to_thread(path.unlink, True)

        turn.defer(Work(remove))
    replies = [Reply(t(lang, "data.erase.done", fields=len(row.fields), files=len(files)))]
    if mentions:
        replies.append(
            Reply(
                t(lang, "data.erase.mentions", count=len(mentions)),
                [
                    [Button(t(lang, "data.erase.btn_redact", count=len(mentions)), f"g|erred|{row.id}")],
                    [Button(t(lang, "data.erase.btn_keep"), "g|erkeep")],
                ],
            )
        )
    return replies


async def redact(turn: Turn, inc: Incoming) -> list[Reply]:
    lang = turn.lang
    erasure_id = record_id(inc.callback, "g|erred|")
    if turn.user.role != "admin" or erasure_id is None:
        return [Reply(t(lang, "bot.not_allowed"))]
    offer = await repo_offer(turn, erasure_id)
    row = await store.erasure(turn.tx, erasure_id)
    if row is None or offer is None:
        return [Reply(t(lang, "bot.not_allowed"))]
    count = await store.redact(turn.tx, erasure_id, offer)
    await asyncio.to_thread(store.append_journal, _journal_folder(turn), store.journal_entry(row, offer))
    return [Reply(t(lang, "data.erase.redacted", count=count), edit=True)]


async def repo_offer(turn: Turn, erasure_id: int) -> list[int] | None:
    from storage.stats import audit_details

    for detail in await audit_details(turn.tx, "erase_offer"):
        try:
            data = json.loads(detail)
        except ValueError:
            continue
        if data.get("erasure") == erasure_id:
            return [int(i) for i in data.get("followups", [])]
    return None


async def keep(turn: Turn, inc: Incoming) -> list[Reply]:
    return [Reply(t(turn.lang, "data.erase.kept"), edit=True)]


async def subject_command(turn: Turn, inc: Incoming) -> list[Reply]:
    return await _pick(turn, inc, "g|subj|", "data.subject.usage")


async def subject_pick(turn: Turn, inc: Incoming) -> list[Reply]:
    lang = turn.lang
    rest = (inc.callback or "").removeprefix("g|subj|")
    kind, _, _ = rest.partition("|")
    entity_id = record_id(rest, f"{kind}|")
    if turn.user.role != "admin" or kind not in KINDS or entity_id is None:
        return [Reply(t(lang, "bot.not_allowed"))]
    data = await store.subject_data(turn.tx, KINDS[kind], entity_id)
    if data is None:
        return [Reply(t(lang, "bot.not_allowed"))]
    await repo.audit(turn.tx, turn.user, "subject_export", f"{KINDS[kind]} {entity_id}")
    name = f"subject-{KINDS[kind]}-{entity_id}.json"
    path = turn.files.root.parent / "exports" / name

    async def write() -> list[Reply]:
        def dump() -> None:
            sweep(path.parent)
            path.parent.mkdir(parents=True, exist_ok=True)
            path.write_text(json.dumps(data, ensure_ascii=False, indent=1), encoding="utf-8")

        await asyncio.to_thread(dump)
        return [Reply(t(lang, "data.subject.done"), files=[{"path": str(path), "name": name}])]

    turn.defer(Work(write))
    return []


FEATURE = Feature(
    name="privacy",
    commands=(
        Command("erase", erase_command, help="help.erase", roles=ADMINS),
        Command("subject_export", subject_command, help="help.subject_export", roles=ADMINS),
    ),
    presses=(
        Press("g|erase|", erase_pick, "erase this person's personal data (asks the reason)"),
        Press("g|erred|", redact, "remove the follow-up texts that name the erased person"),
        Press("g|erkeep", keep, "keep those follow-up texts"),
        Press("g|subj|", subject_pick, "send everything stored about this person"),
    ),
    owns=(Owns(FLOW, on_reason),),
    flows={FLOW: ERASE_FLOW},
)
