"""/import: a manager or admin sends a CSV or XLSX of customers or contacts.

Why a command and a flow of its own, rather than files.py recognising spreadsheets: a document sent
with nothing open already means "an attachment" (or a business card) there, and .xlsx is a valid
attachment type. `/import` opens a one-question engine flow ("send the file"); while it is open this
feature owns its inputs (Owns), so the document comes here before files.py sees it, and /cancel,
expiry and "discard the open entry?" work as for any entry.

Steps: download and keep the file (deferred work) → match the headers, asking about any it cannot
place (buttons) → check every row with the flows' own parsers and look for duplicates, in a thread
→ a preview with Import / Cancel and, when rows fail, an XLSX of those rows with the reason → on
Import, the rows checked again against the book as it is now and inserted in this one transaction.
"""

from __future__ import annotations

import asyncio
import dataclasses
import hashlib
import logging
import threading
from collections.abc import Awaitable, Callable
from pathlib import Path
from typing import Any

from bot.feature import Command, Feature, Owns, Press, Takes
from bot.turn import Fetch, Incoming, Turn, Work
from flows.engine import Button, Flow, Input, Reply, Step, parse_button
from flows.errors import Invalid
from flows.i18n import t
from flows.imports import IGNORE, Kind, Mapping_, check_rows, field_label, fields_of, match_headers
from storage import imports as store
from storage.export import sweep

FLOW = "import"
IMPORTERS = ("manager", "admin")
EXTENSIONS = (".csv", ".xlsx")
MAX_MB = 10  # what the bot may download from Telegram here (storage.files.MAX_BYTES)
IMPORT_FLOW = Flow(FLOW, FLOW, (Step("file", kind="files", prompt="q.import.file"),))
PROGRESS_FROM = 1000  # rows: a smaller file is checked and imported in about a second, without "⏳"

log = logging.getLogger(__name__)


def folder(turn: Turn) -> Path:
    return turn.files.root.parent / "imports"


async def start(turn: Turn, inc: Incoming) -> list[Reply]:
    if turn.user.role not in IMPORTERS:
        return [Reply(t(turn.lang, "data.import.refused"))]
    return await turn.start(FLOW)


async def on_sheet(turn: Turn, inc: Incoming) -> list[Reply]:
    """A spreadsheet sent with nothing open (the files feature hands it over): the import starts
    with it, as if /import had been typed first."""
    assert inc.input is not None
    if turn.user.role not in IMPORTERS:
        return [Reply(t(turn.lang, "data.import.refused"))]
    outcome = await turn.engine.start(FLOW, turn.services)
    await turn.set_state(outcome.state)
    sent = dataclasses.replace(inc, input=Input(kind="file", file=inc.input.file))
    return await on_input(turn, sent)


async def on_input(turn: Turn, inc: Incoming) -> list[Reply]:
    """Everything typed, sent or pressed (flow buttons) while the import is open."""
    lang = turn.lang
    if inc.callback:
        parsed = parse_button(inc.callback)
        if parsed is not None and parsed[1] == "cancel":
            return await cancel(turn, inc)
        return await turn.resume()
    inp = inc.input
    if inp is None or inp.kind != "file" or not inp.file:
        return [Reply(t(lang, "q.import.file"))]
    file = dict(inp.file)
    if "import_path" in file:
        return await _received(turn, file)
    name = str(file.get("name") or "")
    if Path(name).suffix.lower() not in EXTENSIONS:
        return [Reply(t(lang, "data.import.bad_file"))]
    size = file.get("size")
    if isinstance(size, int) and size > MAX_MB * 1024 * 1024:
        return [Reply(t(lang, "data.import.too_big", size_mb=f"{size / 1024 / 1024:.1f}", limit_mb=MAX_MB))]
    if turn.fetch is None:
        return [Reply(t(lang, "capture.no_download"))]
    fetch, target = turn.fetch, folder(turn)
    turn.defer(Work(lambda: _download(fetch, target, file, lang)))
    return []


async def _download(fetch: Fetch, target: Path, file: dict[str, Any], lang: str) -> Input | list[Reply]:
    try:
        data = await fetch(file)
    except Invalid as bad:
        return [Reply(t(lang, bad.key, **bad.params))]
    ext = Path(str(file.get("name"))).suffix.lower()
    path = target / f"{hashlib.sha256(data).hexdigest()[:20]}{ext}"

    def keep() -> None:
        sweep(target)  # earlier uploads, previews and reports: a day is long enough
        target.mkdir(parents=True, exist_ok=True)
        path.write_bytes(data)

    await asyncio.to_thread(keep)
    return Input(kind="file", file={"import_path": str(path), "name": file.get("name")})


async def _received(turn: Turn, file: dict[str, Any]) -> list[Reply]:
    lang = turn.lang
    path = Path(file["import_path"])
    try:
        table = await asyncio.to_thread(store.load_table, path)
    except ValueError as exc:
        return [Reply(t(lang, "data.import.unreadable", reason=str(exc)))]
    if len(table) < 2:
        return [Reply(t(lang, "data.import.empty"))]
    mapping = match_headers(table[0])
    context = {
        "path": str(path),
        "name": str(file.get("name") or path.name),
        "kind": mapping.kind,
        "columns": mapping.columns,
        "unknown": mapping.unknown,
        "headers": table[0],
    }
    return await _next(turn, context)


async def _save_context(turn: Turn, context: dict[str, Any]) -> None:
    assert turn.state is not None
    state = turn.state.clone()
    state.context = {**state.context, "import": context}
    state.updated_at = turn.clock()
    await turn.set_state(state)


def _context(turn: Turn) -> dict[str, Any] | None:
    if turn.state is None or turn.state.flow != FLOW:
        return None
    found = turn.state.context.get("import")
    return found if isinstance(found, dict) else None


async def _next(turn: Turn, context: dict[str, Any]) -> list[Reply]:
    """The next header to ask about, or the preview when every column is placed."""
    await _save_context(turn, context)
    if context["unknown"]:
        return [_ask_header(turn.lang, context)]
    return await _preview(turn, context)


def _ask_header(lang: str, context: dict[str, Any]) -> Reply:
    col = int(context["unknown"][0])
    kind: Kind = context["kind"]
    free = [f for f in fields_of(kind) if f not in context["columns"]]
    buttons = [Button(field_label(kind, f, lang), f"g|imp|map|{col}|{f}") for f in free]
    rows = [buttons[i : i + 3] for i in range(0, len(buttons), 3)]
    rows.append([Button(t(lang, "data.import.btn_ignore"), f"g|imp|map|{col}|{IGNORE}")])
    header = str(context["headers"][col])[:40]
    return Reply(t(lang, "data.import.ask_header", col=col + 1, header=header), rows)


async def on_map(turn: Turn, inc: Incoming) -> list[Reply]:
    context = _context(turn)
    if context is None or turn.user.role not in IMPORTERS:
        return [Reply(t(turn.lang, "data.import.gone"))]
    col_text, _, name = (inc.callback or "").removeprefix("g|imp|map|").partition("|")
    if not col_text.isdigit() or int(col_text) not in context["unknown"]:
        return [Reply(t(turn.lang, "data.import.gone"))]
    col = int(col_text)
    if name != IGNORE:
        if name not in fields_of(context["kind"]) or name in context["columns"]:
            return [_ask_header(turn.lang, context)]
        context["columns"][col] = name
    context["unknown"] = [c for c in context["unknown"] if c != col]
    return await _next(turn, context)


async def _preview(turn: Turn, context: dict[str, Any]) -> list[Reply]:
    lang = turn.lang
    path = Path(context["path"])
    kind: Kind = context["kind"]
    try:
        table = await asyncio.to_thread(store.load_table, path)
    except ValueError:  # swept after a day of waiting
        await turn.set_state(None)
        return [Reply(t(lang, "data.import.gone"))]
    keys = await store.book_keys(turn.tx, turn.user, kind)
    mapping = Mapping_(kind, list(context["columns"]))
    relay = None
    if len(table) - 1 >= PROGRESS_FROM:
        relay = Relay(
            asyncio.get_running_loop(),
            lambda done, total: turn.progress(t(lang, "data.import.checking", done=done, total=total)),
        )
    checked = await asyncio.to_thread(check_rows, table, mapping, keys, lang, relay)
    if relay is not None:
        await relay.settle()  # the last "⏳" goes out before the preview
    rows_path = path.with_suffix(".rows.json")
    await asyncio.to_thread(store.save_payload, rows_path, store.payload(checked))
    report = path.with_name(f"{Path(context['name']).stem}-errors.xlsx")
    has_report = await asyncio.to_thread(store.write_report, report, table, checked, lang)
    new = len(checked.new)
    context.update(stage="preview", rows=str(rows_path), new=new)
    await _save_context(turn, context)
    columns = ", ".join(field_label(kind, c, lang) for c in context["columns"] if c != IGNORE)
    text = t(
        lang,
        "data.import.preview",
        kind=t(lang, f"data.kind.{kind}"),
        total=len(checked.rows),
        new=new,
        errors=len(checked.errors),
        dups=len(checked.duplicates),
        columns=t(lang, "data.import.columns", columns=columns),
    )
    buttons = [[Button(t(lang, "data.import.btn_cancel"), "g|imp|cancel")]]
    if new:
        buttons.insert(0, [Button(t(lang, "data.import.btn_go", new=new), "g|imp|go")])
    else:
        text += "\n" + t(lang, "data.import.nothing")
    replies = [Reply(text, buttons)]
    if has_report:
        replies.append(
            Reply(t(lang, "data.import.report"), files=[{"path": str(report), "name": report.name}])
        )
    return replies


async def on_go(turn: Turn, inc: Incoming) -> list[Reply]:
    """Import: all rows in this one transaction, or none (any failure rolls the whole turn back)."""
    lang = turn.lang
    context = _context(turn)
    if context is None or context.get("stage") != "preview" or turn.user.role not in IMPORTERS:
        return [Reply(t(lang, "data.import.gone"))]
    kind: Kind = context["kind"]
    try:
        rows = await asyncio.to_thread(store.load_payload, Path(context["rows"]))
    except (OSError, ValueError):  # swept after a day of waiting
        await turn.set_state(None)
        return [Reply(t(lang, "data.import.gone"))]
    rows = store.still_new(rows, await store.book_keys(turn.tx, turn.user, kind), kind)
    now = turn.clock()

    async def on_batch(done: int, total: int) -> None:
        await turn.progress(t(lang, "data.import.inserting", done=done, total=total))

    batches = on_batch if len(rows) >= PROGRESS_FROM else None
    if kind == "contacts":
        count = await store.insert_contacts(turn.tx, turn.user, rows, now, batches)
    else:
        try:
            count = await store.insert_customers(turn.tx, turn.user, turn.user, rows, now, batches)
        except store.TooMany as exc:  # checked before anything is written
            return [Reply(t(lang, "data.import.too_many", left=exc.left))]
    await store.record_import(
        turn.tx, turn.user, kind, {"rows": count, "checked": int(context.get("new", 0))}
    )
    await turn.set_state(None)
    text = t(lang, "data.import.done", count=count, kind=t(lang, f"data.kind.{kind}"), owner=turn.user.name)
    # after a "⏳" message the preview is no longer the last one: the result goes under the progress
    # (the pressed preview is closed) rather than being edited in out of sight
    return [Reply(text, edit=batches is None)]


class Relay:
    """check_rows' progress, from its worker thread to the event loop: the thread only stores the
    newest (done, total) and, if no report is pending, schedules one with call_soon_threadsafe; the
    loop then reports the newest numbers. So at most one report is ever queued (a slow front end
    cannot pile them up), none is awaited by the thread, and the last numbers are never lost."""

    def __init__(
        self, loop: asyncio.AbstractEventLoop, report: Callable[[int, int], Awaitable[None]]
    ) -> None:
        self._loop = loop
        self._report = report
        self._lock = threading.Lock()
        self._newest: tuple[int, int] | None = None
        self._pending = False
        self._task: asyncio.Task[None] | None = None

    def __call__(self, done: int, total: int) -> None:  # in the worker thread
        with self._lock:
            self._newest = (done, total)
            if self._pending:
                return
            self._pending = True
        self._loop.call_soon_threadsafe(self._start)

    def _start(self) -> None:
        self._task = self._loop.create_task(self._drain())

    async def _drain(self) -> None:
        while True:
            with self._lock:
                newest, self._newest = self._newest, None
                if newest is None:
                    self._pending = False
                    return
            try:
                await self._report(*newest)
            except Exception as exc:  # progress is a courtesy: never fail the import over it
                log.warning("import progress not reported: %s", type(exc).__name__)

    async def settle(self) -> None:
        """Wait for the report in flight (call after the thread is done: its last schedule has run)."""
        await asyncio.sleep(0)
        if self._task is not None:
            await self._task


async def cancel(turn: Turn, inc: Incoming) -> list[Reply]:
    if _context(turn) is not None or (turn.state is not None and turn.state.flow == FLOW):
        await turn.set_state(None)
    return [Reply(t(turn.lang, "data.import.cancelled"))]


FEATURE = Feature(
    name="imports",
    commands=(
        Command(
            "import",
            start,
            help="help.import",
            starts_entry=True,
            roles=frozenset({"sales", "manager", "admin"}),
        ),
    ),
    presses=(
        Press("g|imp|map|", on_map, "place a column whose header the import did not know"),
        Press("g|imp|go", on_go, "import the previewed rows"),
        Press("g|imp|cancel", cancel, "cancel the import"),
    ),
    takes=(Takes("sheet", on_sheet, when="always", help="help.import_sheet"),),
    owns=(Owns(FLOW, on_input),),
    flows={FLOW: IMPORT_FLOW},
)
