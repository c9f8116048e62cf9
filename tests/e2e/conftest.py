"""Fixtures for end-to-end tests that run the real PTB Application against the local fake Bot API."""

from __future__ import annotations

from collections.abc import AsyncIterator

import pytest

from tests.e2e.fake_bot_api import FakeBotApi


@pytest.fixture
async def fake_api() -> AsyncIterator[FakeBotApi]:
    """A started FakeBotApi; at teardown it fails the test if the bot used an unimplemented method."""
    async with FakeBotApi() as api:
        yield api
        api.assert_clean()
