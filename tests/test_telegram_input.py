"""What the Telegram adapter makes of each kind of message (no network: Message objects only)."""

from __future__ import annotations

import datetime as dt
from typing import Any

import pytest
from telegram import Audio, Chat, Document, Message, PhotoSize, Sticker, Video, Voice

from bot.telegram_app import TelegramFrontend

CHAT = Chat(1, "private")


def _message(**kw: Any) -> Message:
    return Message(message_id=1, date=dt.datetime(2026, 12, 1, tzinfo=dt.UTC), chat=CHAT, **kw)


@pytest.mark.parametrize(
    ("kw", "expected"),
    [
        ({"document": Document("d", "ud", file_name="报价单.pdf", file_size=9)}, ("document", "报价单.pdf")),
        ({"voice": Voice("v", "uv", duration=3, file_size=9)}, ("voice", None)),
        ({"photo": (PhotoSize("p1", "u1", 90, 90, 2), PhotoSize("p2", "u2", 900, 900, 9))}, ("photo", None)),
        (
            {"audio": Audio("a", "ua", duration=3, file_name="call.m4a", file_size=9)},
            ("document", "call.m4a"),
        ),
        ({"video": Video("m", "um", 1, 1, 3, file_name="site.mp4", file_size=9)}, ("document", "site.mp4")),
    ],
)
def test_every_kind_of_file_becomes_a_file_input(
    kw: dict[str, Any], expected: tuple[str, str | None]
) -> None:
    inp = TelegramFrontend.__new__(TelegramFrontend)._input(_message(**kw))
    assert inp is not None and inp.kind == "file" and inp.file is not None
    assert (inp.file["type"], inp.file["name"]) == expected
    assert inp.file["size"] == 9
    if "photo" in kw:
        assert inp.file["file_id"] == "p2"  # the largest size


def test_a_sticker_is_no_input() -> None:
    sticker = Sticker("s", "us", 1, 1, False, False, "regular")
    assert TelegramFrontend.__new__(TelegramFrontend)._input(_message(sticker=sticker)) is None
