"""Telegram's size limits, counted the way Telegram counts them: in UTF-16 code units.

Every message the product sends must fit: a text of at most 4,096 units, a caption of at most 1,024,
callback data of at most 64 bytes. Long replies are split at line breaks into several messages, the
buttons staying under the last one, so nothing is cut.
"""

from __future__ import annotations

from flows.engine import Reply

MAX_TEXT = 4096
MAX_CAPTION = 1024
MAX_CALLBACK_BYTES = 64


def utf16_len(text: str) -> int:
    return len(text.encode("utf-16-le")) // 2


def _cut(text: str, limit: int) -> int:
    """The longest prefix (in code points) of `text` that fits `limit` UTF-16 units."""
    units = 0
    for i, ch in enumerate(text):
        units += 2 if ord(ch) > 0xFFFF else 1
        if units > limit:
            return i
    return len(text)


def split_text(text: str, limit: int = MAX_TEXT) -> list[str]:
    """Pieces of at most `limit` UTF-16 units, cut at a line break where one is near, else at a space."""
    pieces: list[str] = []
    rest = text
    while utf16_len(rest) > limit:
        end = _cut(rest, limit)
        head = rest[:end]
        cut = head.rfind("\n")
        if cut < end // 2:
            cut = head.rfind(" ")
        if cut < end // 2:
            cut = end
        pieces.append(rest[:cut].rstrip("\n"))
        rest = rest[cut:].lstrip("\n")
    pieces.append(rest)
    return [p for p in pieces if p] or [""]


def fit(replies: list[Reply]) -> list[Reply]:
    """Each reply that is too long becomes several; buttons, files and the location request go last."""
    out: list[Reply] = []
    for reply in replies:
        pieces = split_text(reply.text)
        if len(pieces) == 1:
            out.append(reply)
            continue
        for i, piece in enumerate(pieces):
            last = i == len(pieces) - 1
            out.append(
                Reply(
                    piece,
                    reply.buttons if last else [],
                    request_location=reply.request_location and last,
                    edit=reply.edit and i == 0,
                    files=reply.files if last else [],
                )
            )
    return out
