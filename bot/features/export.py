"""/export for managers and admins: what they may see as one XLSX (customers, contacts, follow-ups),
headers in their language, sent in the chat; every export is written to the audit log first.
/audit exports: an admin reads that log. The rows are read in the transaction; the workbook is
written after it, off the event loop."""

from __future__ import annotations

import asyncio

from bot.feature import Command, Feature, Role
from bot.turn import Incoming, Turn, Work
from flows.engine import Reply
from flows.exports import workbook
from flows.i18n import t
from storage import export as store
from storage.sheets import write_xlsx

ADMINS: frozenset[Role] = frozenset({"admin"})
EXPORTERS = ("manager", "admin")


async def export(turn: Turn, inc: Incoming) -> list[Reply]:
    lang = turn.lang
    if turn.user.role not in EXPORTERS:
        return [Reply(t(lang, "data.export_refused"))]
    rows = await store.visible_rows(turn.tx, turn.user)
    counts = rows.counts()
    now = turn.services.now()
    name = f"crm-export-{now:%Y%m%d-%H%M%S}-{turn.user.id}.xlsx"
    scope = "all" if turn.user.role == "admin" else "team"
    await store.record_export(turn.tx, turn.user, scope, "all visible", counts, name)
    folder = turn.files.root.parent / "exports"
    path = folder / name
    sheets = workbook(rows.by_sheet(), lang, turn.services.tz)

    async def run() -> list[Reply]:
        try:
            await asyncio.to_thread(write_xlsx, path, sheets)
            await asyncio.to_thread(store.sweep, folder)
        except OSError:
            return [Reply(t(lang, "data.export_failed"))]
        return [Reply(t(lang, "data.export_done", name=name), files=[{"path": str(path), "name": name}])]

    turn.defer(Work(run))
    return [Reply(t(lang, "data.export_started", **counts))]


async def audit(turn: Turn, inc: Incoming) -> list[Reply]:
    lang = turn.lang
    if inc.args.strip().lower() not in ("exports", "export", "导出"):
        return [Reply(t(lang, "data.audit_usage"))]
    entries = await store.recent_exports(turn.tx)
    if not entries:
        return [Reply(t(lang, "data.audit_none"))]
    tz = turn.services.tz
    lines = [t(lang, "data.audit_head", count=len(entries))]
    for e in entries:
        d = e.detail
        lines.append(
            t(
                lang,
                "data.audit_line",
                at=e.at.astimezone(tz).strftime("%Y-%m-%d %H:%M"),
                who=e.who,
                scope=t(lang, f"data.scope.{d.get('scope', 'team')}"),
                customers=d.get("customers", 0),
                contacts=d.get("contacts", 0),
                followups=d.get("followups", 0),
            )
        )
    return [Reply("\n".join(lines))]


FEATURE = Feature(
    name="export",
    commands=(
        Command("export", export, help="help.export", roles=frozenset({"manager", "admin", "sales"})),
        Command("audit", audit, help="help.audit", roles=ADMINS),
    ),
)
