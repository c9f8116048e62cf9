"""Business cards: a photo read with OCR starts a contact (and, for a new company, the customer first).

Reading takes a second of CPU, so it runs as deferred work after the transaction: the photo arrives
as a `card` input without text, the OCR runs outside any transaction and off the event loop, and its
text comes back as a `card` input with text, which starts the pre-filled flow.
"""

from __future__ import annotations

import asyncio
import logging
from pathlib import Path
from typing import Any

from bot.feature import Feature, Press, Takes
from bot.turn import Incoming, Turn, Work
from flows import validators as v
from flows.drafts import keep_valid
from flows.engine import Input, Reply
from flows.fields import address_answer
from flows.i18n import t
from flows.names import similarity
from flows.ports import DupProbe
from storage import repo

log = logging.getLogger(__name__)


async def card_input(turn: Turn, inc: Incoming) -> list[Reply]:
    assert inc.input is not None
    staged = dict(inc.input.file or {})
    if not staged.get("read"):
        turn.defer(Work(lambda: _read(staged)))
        return []
    return await business_card(turn, inc.input.text)


async def _read(staged: dict[str, Any]) -> Input | list[Reply]:
    from bot.ocr import OcrError, read_card_text  # pytesseract and Pillow load on the first card

    try:
        data = await asyncio.to_thread(Path(str(staged["path"])).read_bytes)
        text = await asyncio.to_thread(read_card_text, data)
    except (OcrError, OSError) as exc:  # not installed, not a picture, or too slow: type it instead
        log.warning("business card not read: %s", type(exc).__name__)
        text = ""
    return Input(kind="card", text=text, file={**staged, "read": True})


async def staged_photo(turn: Turn, inc: Incoming) -> list[Reply]:
    """'A business card' as the answer to 'card or attachment?' for a photo staged a moment ago."""
    token = (inc.callback or "").removeprefix("g|pcard|")
    path = turn.files.staged(token)
    if path is None:
        return [Reply(t(turn.lang, "file.lost"))]
    turn.defer(Work(lambda: _read({"path": str(path)})))
    return []


async def business_card(turn: Turn, text: str) -> list[Reply]:
    from flows.business_card import parse_card  # its patterns and phonenumbers: ~20 ms off start-up

    lang = turn.lang
    fields = parse_card(text)
    contact: dict[str, Any] = {}
    if fields.name:
        keep_valid(contact, "name", lambda: v.parse_person_name(str(fields.name)))
    if fields.position:
        keep_valid(contact, "position", lambda: v.parse_text(str(fields.position), max_len=50))
    if fields.phones:
        keep_valid(contact, "phone", lambda: v.parse_phone(fields.phones[0]))
    if fields.email:
        keep_valid(contact, "email", lambda: v.parse_email(str(fields.email)))
    if not contact:
        return [Reply(t(lang, "capture.card_unreadable")), *await turn.start("contact")]

    notes = [Reply(t(lang, "capture.card_read", fields=_listing(fields)))]
    matches = await repo.find_duplicates(
        turn.tx, turn.user, DupProbe(phone=contact.get("phone"), email=contact.get("email"))
    )
    for m in matches:
        key = "capture.card_known" if m.visible else "capture.card_known_foreign"
        notes.append(Reply(t(lang, key, name=m.name, owner=m.owner_name)))

    company = await _company(turn, fields.company) if fields.company else None
    if company is not None:
        draft = {"customer": {"id": company.id, "name": company.name, "number": company.number}, **contact}
        return notes + await turn.start("contact", draft=draft)
    if fields.company:
        customer: dict[str, Any] = {"kind": "enterprise"}
        keep_valid(customer, "name", lambda: v.parse_enterprise_name(str(fields.company)))
        if fields.address:
            keep_valid(customer, "address", lambda: address_answer(str(fields.address)))
        if "name" in customer:
            notes.append(Reply(t(lang, "capture.card_new_company", company=customer["name"])))
            then = {"flow": "contact", "draft": contact}
            return notes + await turn.start("customer", draft=customer, context={"then": then})
    return notes + await turn.start("contact", draft=contact)


def _listing(fields: Any) -> str:
    parts = [
        fields.name,
        fields.position,
        fields.company,
        *(v.format_phone(p) for p in fields.phones),
        fields.email,
    ]
    return " · ".join(str(p) for p in parts if p)


async def _company(turn: Turn, company: str) -> Any:
    found = await repo.search_customers(turn.tx, turn.user, company, limit=3)
    best = max(found, key=lambda c: similarity(company, c.name), default=None)
    return best if best is not None and similarity(company, best.name) >= 88 else None


FEATURE = Feature(
    name="cards",
    presses=(Press("g|pcard|", staged_photo, "read the photo just sent as a business card"),),
    takes=(Takes("card", card_input, when="always", help="help.card_photo"),),
)
