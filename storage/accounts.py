"""A user's own settings and whereabouts, changed from the chat."""

from __future__ import annotations

from storage.models import User


def note_chat(user: User, chat_id: int) -> None:
    """The chat the user last wrote from; writing again also means they have not blocked the bot.

    Set only when it changes: an attribute set, even to the same value, makes the commit flush the
    user (~0.3 ms a step for nothing)."""
    if user.chat_id != chat_id:
        user.chat_id = chat_id
    if user.blocked_at is not None:
        user.blocked_at = None


def set_language(user: User, lang: str) -> None:
    user.lang = lang


def set_zone(user: User, zone: str) -> None:
    user.tz = zone


def set_quiet(user: User, start: str, end: str) -> None:
    user.quiet_start, user.quiet_end = start, end


def note_language(user: User, lang: str) -> None:
    """The language seen on the user's messages: reminders use it until they choose one with /lang."""
    if user.lang_seen != lang:
        user.lang_seen = lang
