"""Capture from the field in one move: a note in one message, a business card photo, files.

Each turns what arrived into a flow started with a *draft* (guessed answers the person can still
change) so that only what could not be told is asked, and nothing is saved without Save.
"""

from __future__ import annotations

import asyncio
import contextlib
import datetime as dt
import logging
from collections.abc import Awaitable, Callable
from pathlib import Path
from typing import TYPE_CHECKING, Any

from flows import validators as v
from flows.business_card import parse_card
from flows.errors import Invalid
from flows.fields import address_answer
from flows.i18n import t
from flows.names import similarity
from flows.notes import understand_note
from flows.ports import DupProbe
from storage import repo
from storage.files import FileInfo, check

if TYPE_CHECKING:
    from bot.assistant import Assistant, Incoming, Turn
    from flows.engine import Input, Reply

log = logging.getLogger(__name__)

Fetch = Callable[[dict[str, Any]], Awaitable[bytes]]
CURRENT_TTL = dt.timedelta(hours=2)
NOTE_MIN_LEN = 6


def file_info(file: dict[str, Any]) -> FileInfo:
    return FileInfo(
        kind=str(file.get("type") or "document"),
        size=file.get("size"),
        name=file.get("name"),
        mime=file.get("mime"),
    )


async def local_fetch(file: dict[str, Any]) -> bytes:
    """The terminal's 'download': the file is already on this machine."""
    return await asyncio.to_thread(Path(str(file["path"])).read_bytes)


# ------------------------------------------------------------------ a note in one message


async def note(assistant: Assistant, turn: Turn, inc: Incoming, text: str) -> list[Reply] | None:
    """A free-text note outside a flow becomes a follow-up draft; None when it reads like no note."""
    from flows.engine import Reply

    text = text.strip()
    if not text:
        return None
    customers = await repo.own_customer_refs(turn.session, turn.user)
    now = turn.services.now()
    draft_note = understand_note(text, customers, now=now, default_hour=turn.services.default_hour)
    if draft_note.just_a_name:  # "Acme": show it, as /find would
        return await assistant._find(turn, text)
    if len(text) < NOTE_MIN_LEN or not draft_note.recognised:
        return None
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
    _try(draft, "content", lambda: v.parse_text(draft_note.content, min_len=20, max_len=2000))
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
    return [*lead, *await assistant._start(turn, inc, "followup", draft=draft, context=context)]


# ------------------------------------------------------------------ a business card photo


async def business_card(assistant: Assistant, turn: Turn, inc: Incoming, data: bytes) -> list[Reply]:
    """Read a card with OCR and start a contact (and, for a new company, first the customer) pre-filled."""
    from bot.ocr import OcrError, read_card_text  # pytesseract and Pillow load on the first card
    from flows.engine import Reply

    lang = turn.lang
    try:
        text = await asyncio.to_thread(read_card_text, data)
    except OcrError as exc:  # not installed, not a picture, or too slow: type it instead
        log.warning("business card not read: %s", type(exc).__name__)
        text = ""
    fields = parse_card(text)
    contact: dict[str, Any] = {}
    if fields.name:
        _try(contact, "name", lambda: v.parse_person_name(str(fields.name)))
    if fields.position:
        _try(contact, "position", lambda: v.parse_text(str(fields.position), max_len=50))
    if fields.phones:
        _try(contact, "phone", lambda: v.parse_phone(fields.phones[0]))
    if fields.email:
        _try(contact, "email", lambda: v.parse_email(str(fields.email)))
    if not contact:
        lead = Reply(t(lang, "capture.card_unreadable"))
        return [lead, *await assistant._start(turn, inc, "contact")]

    notes = [Reply(t(lang, "capture.card_read", fields=_listing(fields, lang)))]
    matches = await repo.find_duplicates(
        turn.session, turn.user, DupProbe(phone=contact.get("phone"), email=contact.get("email"))
    )
    for m in matches:
        key = "capture.card_known" if m.visible else "capture.card_known_foreign"
        notes.append(Reply(t(lang, key, name=m.name, owner=m.owner_name)))

    company = await _company(turn, fields.company) if fields.company else None
    if company is not None:
        draft = {"customer": {"id": company.id, "name": company.name, "number": company.number}, **contact}
        return notes + await assistant._start(turn, inc, "contact", draft=draft)
    if fields.company:
        customer: dict[str, Any] = {"kind": "enterprise"}
        _try(customer, "name", lambda: v.parse_enterprise_name(str(fields.company)))
        if fields.address:
            _try(customer, "address", lambda: address_answer(str(fields.address)))
        if "name" in customer:
            notes.append(Reply(t(lang, "capture.card_new_company", company=customer["name"])))
            then = {"flow": "contact", "draft": contact}
            return notes + await assistant._start(
                turn, inc, "customer", draft=customer, context={"then": then}
            )
    return notes + await assistant._start(turn, inc, "contact", draft=contact)


def _try(target: dict[str, Any], key: str, parse: Callable[[], Any]) -> None:
    """Keep a value read from a card only if it passes the same check as a typed one."""
    with contextlib.suppress(Invalid):
        target[key] = parse()


def _listing(fields: Any, lang: str) -> str:
    parts = [
        fields.name,
        fields.position,
        fields.company,
        *(v.format_phone(p) for p in fields.phones),
        fields.email,
    ]
    return " · ".join(str(p) for p in parts if p)


async def _company(turn: Turn, company: str) -> Any:
    found = await repo.search_customers(turn.session, turn.user, company, limit=3)
    best = max(found, key=lambda c: similarity(company, c.name), default=None)
    return best if best is not None and similarity(company, best.name) >= 88 else None


# ------------------------------------------------------------------ files


async def file_input(
    assistant: Assistant, turn: Turn, inc: Incoming, inp: Input, fetch: Fetch | None
) -> list[Reply]:
    """A photo, document or voice note: into the open flow's attachment step, onto the open customer
    card, or (a photo with nothing open) read as a business card."""
    from flows.engine import Button, Input, Reply

    lang = turn.lang
    file = dict(inp.file or {})
    try:
        check(file_info(file))
    except Invalid as bad:
        return [Reply(t(lang, bad.key, **bad.params))]
    state = turn.state
    wants_file = (
        state is not None
        and state.step is not None
        and assistant.engine.flows[state.flow].step(state.step).kind == "files"
    )
    if state is not None and not wants_file:
        return await assistant._apply(turn, inc, await assistant.engine.handle(state, inp, turn.services))
    current = None
    if state is None:
        current = await repo.current_customer(turn.session, turn.user, assistant.clock(), CURRENT_TTL)
        if current is None and file.get("type") != "photo":  # a photo alone may be a business card
            return [Reply(t(lang, "capture.no_customer_for_file"))]
    if fetch is None:
        return [Reply(t(lang, "capture.no_download"))]
    try:  # the size Telegram announced may be missing or wrong: the bytes are checked again
        data = await fetch(file)
        staged = assistant.files.stage(data, file_info(file), file.get("file_id"))
    except Invalid as bad:
        return [Reply(t(lang, bad.key, **bad.params))]
    if state is not None:
        staged_input = Input(kind="file", file=staged)
        return await assistant._apply(
            turn, inc, await assistant.engine.handle(state, staged_input, turn.services)
        )
    if current is None:
        return await business_card(assistant, turn, inc, data)
    if file.get("type") == "photo":
        # a photo with a customer open: a card, or a picture for that customer? Ask, keep the bytes.
        turn.user.current_customer_at = assistant.clock()
        await assistant._save_state(turn, inc.chat_id, None)
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
    await assistant.files.attach(turn.session, staged, current, turn.user.id, turn.services.now().date())
    return [Reply(t(lang, "capture.attached", name=current.name))]


async def staged_photo(
    assistant: Assistant, turn: Turn, inc: Incoming, action: str, token: str
) -> list[Reply]:
    """The answer to 'card or attachment?' for a photo staged a moment ago."""
    from flows.engine import Reply

    lang = turn.lang
    matches = (
        sorted((assistant.files.root / "incoming").glob(f"{token}*"))
        if len(token) == 16 and token.isalnum()
        else []
    )
    if not matches:
        return [Reply(t(lang, "file.lost"))]
    path = matches[0]
    if action == "pcard":
        return await business_card(assistant, turn, inc, path.read_bytes())
    current = await repo.current_customer(turn.session, turn.user, assistant.clock(), CURRENT_TTL)
    if current is None:
        return [Reply(t(lang, "capture.no_customer_for_file"))]
    staged = assistant.files.stage(path.read_bytes(), FileInfo("photo", None, path.name, "image/jpeg"))
    await assistant.files.attach(turn.session, staged, current, turn.user.id, turn.services.now().date())
    return [Reply(t(lang, "capture.attached", name=current.name))]
