"""Fixtures for end-to-end tests that run the real PTB Application against the local fake Bot API."""

from __future__ import annotations

import asyncio
import subprocess
import sys
import uuid
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import text
from telegram.ext import Application

from bot.config import Settings
from bot.ratelimit import ChatRateLimiter
from bot.runtime import Runtime
from bot.telegram_app import build_application
from storage.db import make_engine
from tests.conftest import PG_URL
from tests.e2e.fake_bot_api import FakeBotApi, FakeUser

ROOT = Path(__file__).resolve().parents[2]
QUICK_BURST = 1_000.0  # replies a scripted chat may get at once (see application)


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


def application(
    api: FakeBotApi, settings: Settings, runtime: Runtime, *, quick_typist: bool = False
) -> Application[Any, Any, Any, Any, Any, Any]:
    """The production Application, its HTTP pointed at the stand-in (tests start it with `started`).

    quick_typist: a scripted person answers within milliseconds, far faster than anyone types, so
    from the fourth reply on each waits a second for the chat's pace (one message a second, bursts
    of three). A test about what the conversation says, not about pacing, gives the chat a bigger
    burst; the overall and group limits stay as in production, and the pacing has its own tests
    (tests/test_ratelimit.py, the reminder and busy-floor end-to-end tests)."""
    options: dict[str, Any] = {}
    if quick_typist:
        options["rate_limiter"] = ChatRateLimiter(chat_burst=QUICK_BURST)
    return build_application(
        settings,
        runtime,
        request=api.request(),
        get_updates_request=api.request(connection_pool_size=1),
        **options,
    )


def spawn_bot(env: dict[str, str]) -> subprocess.Popen[bytes]:
    """`crm-bot run` as its own process, so a test can kill it as a crash would."""
    return subprocess.Popen(
        [sys.executable, "-m", "bot.cli", "run"],
        cwd=ROOT,
        env=env,
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
    )


async def fresh_database(backend: str, tmp_path: Path) -> tuple[str, Any]:
    """A database URL another process can open, and how to drop it (None for a SQLite file)."""
    if backend == "sqlite":
        return f"sqlite+aiosqlite:///{tmp_path / 'killed.sqlite3'}", None
    name = f"crm_e2e_{uuid.uuid4().hex[:10]}"
    admin = make_engine(PG_URL, isolation_level="AUTOCOMMIT")
    async with admin.connect() as conn:
        await conn.execute(text(f'CREATE DATABASE "{name}"'))

    async def drop() -> None:
        async with admin.connect() as conn:
            await conn.execute(text(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))
        await admin.dispose()

    return f"{PG_URL.rsplit('/', 1)[0]}/{name}", drop
