"""Fixtures for end-to-end tests that run the real PTB Application against the local fake Bot API."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from typing import Any

import pytest

from tests.e2e.fake_bot_api import FakeBotApi, FakeUser


@pytest.fixture
async def fake_api() -> AsyncIterator[FakeBotApi]:
    """A started FakeBotApi; at teardown it fails the test if the bot used an unimplemented method."""
    async with FakeBotApi() as api:
        yield api
        api.assert_clean()


class Chat:
    """One person's side of a private chat with the bot: type, tap, and wait for what the bot says."""

    def __init__(self, api: FakeBotApi, user: FakeUser) -> None:
        self.api = api
        self.user = user

    def say(self, words: str) -> None:
        self.api.push_text(self.user.id, words, user=self.user)

    async def tap(self, label: str, message: dict[str, Any] | None = None) -> None:
        """Tap an inline button by (part of) its label, on message or on the newest bot message with one."""
        message_id = message["message_id"] if message else None
        await self.api.press(self.user.id, label, user=self.user, message_id=message_id)

    async def expect(self, fragment: str, timeout: float = 10.0) -> dict[str, Any]:
        """The next bot message (or edit) containing fragment; others are passed over. Fails showing the
        chat if none comes within timeout."""
        loop = asyncio.get_running_loop()
        deadline = loop.time() + timeout
        seen: list[str | None] = []
        while (remaining := deadline - loop.time()) > 0:
            try:
                message = await self.api.next_message(self.user.id, timeout=remaining)
            except AssertionError:
                break
            seen.append(message.get("text"))
            if fragment in (message.get("text") or ""):
                return message
        raise AssertionError(
            f"no bot message with {fragment!r}; saw {seen}\n{self.api.transcript(self.user.id)}"
        )
