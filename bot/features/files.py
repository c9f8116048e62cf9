"""Photos, documents and voice notes: into the open follow-up's attachments, or onto the open customer.

The download is deferred work: the first turn checks what Telegram announced (type, size) and
whether anything wants the file, the bytes are fetched and staged outside any transaction, and the
staged file comes back as a new input. A photo with nothing open is handed to the business cards.
"""

from __future__ import annotations

import asyncio
from pathlib import Path
from typing import Any

from bot.feature import Feature, Press, Takes
from bot.turn import CURRENT_TTL, Fetch, Incoming, Turn, Work, record_id
from flows.engine import Button, Input, Reply
from flows.errors import Invalid
from flows.i18n import t
from storage import cards, repo
from storage.files import FileInfo, FileStore, check


def file_info(file: dict[str, Any]) -> FileInfo:
    return FileInfo(
        kind=str(file.get("type") or "document"),
        size=file.get("size"),
        name=file.get("name"),
        mime=file.get("mime"),
    )


async def file_input(turn: Turn, inc: Incoming) -> list[Reply]:
    assert inc.input is not None
    lang = turn.lang
    file = dict(inc.input.file or {})
    if "staged" in file:
        return await _staged(turn, file)
    if turn.state is None and await _is_import(turn, file):
        return await turn.hand_over(Input(kind="sheet", file=file))
    try:
        check(file_info(file))
    except Invalid as bad:
        return [Reply(t(lang, bad.key, **bad.params))]
    state = turn.state
    wants_file = (
        state is not None
        and state.step is not None
        and turn.engine.flows[state.flow].step(state.step).kind == "files"
    )
    if state is not None and not wants_file:
        return await turn.step(inc.input)  # the question asked is not for a file: it says so
    if state is None:
        current = await repo.current_customer(turn.tx, turn.user, turn.clock(), CURRENT_TTL)
        if current is None and file.get("type") != "photo":  # a photo alone may be a business card
            return [Reply(t(lang, "capture.no_customer_for_file"))]
    if turn.fetch is None:
        return [Reply(t(lang, "capture.no_download"))]
    turn.defer(Work(lambda: _download(turn.fetch, turn.files, file, lang)))  # type: ignore[arg-type]
    return []


async def _is_import(turn: Turn, file: dict[str, Any]) -> bool:
    """A CSV, or an Excel file with no customer open, sent by someone who may import: an import
    (with a customer card open an Excel file is that customer's attachment, as before)."""
    if file.get("type") != "document" or turn.user.role not in ("manager", "admin"):
        return False
    suffix = Path(str(file.get("name") or "")).suffix.lower()
    if suffix == ".csv":
        return True
    if suffix == ".xlsx":
        return await repo.current_customer(turn.tx, turn.user, turn.clock(), CURRENT_TTL) is None
    return False


async def _download(fetch: Fetch, files: FileStore, file: dict[str, Any], lang: str) -> Input | list[Reply]:
    try:  # the size Telegram announced may be missing or wrong: the bytes are checked again
        data = await fetch(file)
        staged = await asyncio.to_thread(files.stage, data, file_info(file), file.get("file_id"))
    except Invalid as bad:
        return [Reply(t(lang, bad.key, **bad.params))]
    return Input(kind="file", file={**file, "staged": staged})


async def _staged(turn: Turn, file: dict[str, Any]) -> list[Reply]:
    lang = turn.lang
    staged = file["staged"]
    if turn.state is not None:
        return await turn.step(Input(kind="file", file=staged))
    current = await repo.current_customer(turn.tx, turn.user, turn.clock(), CURRENT_TTL)
    if current is None:
        return await turn.hand_over(Input(kind="card", file=staged))
    if file.get("type") == "photo":
        # a photo with a customer open: a card, or a picture for that customer? Ask, keep the bytes.
        repo.set_current_customer(turn.user, current.id, turn.clock())
        await turn.set_state(None)
        token = staged["sha256"][:16]
        return [
            Reply(
                t(lang, "capture.photo_what", name=current.name),
                [
                    [Button(t(lang, "capture.btn.card"), f"g|pcard|{token}")],
                    [Button(t(lang, "capture.btn.attach", name=current.name[:20]), f"g|pattach|{token}")],
                ],
            )
        ]
    await turn.files.attach(turn.tx, staged, current, turn.user.id, turn.services.now().date())
    return [Reply(t(lang, "capture.attached", name=current.name))]


async def attach_staged(turn: Turn, inc: Incoming) -> list[Reply]:
    """'An attachment' as the answer to 'card or attachment?' for a photo staged a moment ago."""
    lang = turn.lang
    path = turn.files.staged((inc.callback or "").removeprefix("g|pattach|"))
    if path is None:
        return [Reply(t(lang, "file.lost"))]
    current = await repo.current_customer(turn.tx, turn.user, turn.clock(), CURRENT_TTL)
    if current is None:
        return [Reply(t(lang, "capture.no_customer_for_file"))]
    data = await asyncio.to_thread(path.read_bytes)
    staged = turn.files.stage(data, FileInfo("photo", None, path.name, "image/jpeg"))
    await turn.files.attach(turn.tx, staged, current, turn.user.id, turn.services.now().date())
    return [Reply(t(lang, "capture.attached", name=current.name))]


async def list_files(turn: Turn, inc: Incoming) -> list[Reply]:
    """The card's Attachments button: the files, sent back by the front end after the transaction."""
    customer_id = record_id(inc.callback, "g|files|")
    customer = await turn.visible_customer(customer_id) if customer_id else None
    if customer is None:
        return [Reply(t(turn.lang, "bot.not_allowed"))]
    listing = await cards.attachment_list(turn.tx, customer.id)
    return [Reply(t(turn.lang, "capture.files", name=customer.name, count=len(listing)), files=listing)]


FEATURE = Feature(
    name="files",
    presses=(
        Press("g|pattach|", attach_staged, "keep the photo just sent as an attachment of the open customer"),
        Press("g|files|", list_files, "send the customer's attachments back"),
    ),
    takes=(Takes("file", file_input, when="always", help="help.files"),),
)
