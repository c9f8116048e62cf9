"""Which updates may run at the same time: different chats yes, one chat's never (and in order).

A conversation is a sequence: the answer to question 3 must be applied to the state that question 2's
answer left. PTB's SimpleUpdateProcessor runs any updates concurrently, so two quick answers of one
person could both be applied to the same state; without concurrency one slow step stalls everybody.
This processor chains each chat's updates behind one another and lets different chats overlap, with a
global cap on how many run at once.
"""

from __future__ import annotations

import asyncio
import inspect
import time
from collections.abc import Awaitable, Callable
from typing import Any

from telegram import Update
from telegram.ext import BaseUpdateProcessor

# PTB's own semaphore is entered in arrival order without waiting (so each chat's place in its line is
# taken in the order Telegram gave the updates); the real cap is ours, taken only once it is the
# chat's turn, so one person's backlog never holds the places other chats need.
_OPEN = 1 << 30


def chat_key(update: object) -> int | None:
    """The chat an update belongs to (the user for the few kinds without one); None: not ordered."""
    if not isinstance(update, Update):
        return None
    if update.effective_chat is not None:
        return update.effective_chat.id
    if update.effective_user is not None:
        return update.effective_user.id
    return None


Observer = Callable[[object, float, BaseException | None], None]


class ChatOrderedProcessor(BaseUpdateProcessor):
    """Per-chat order, cross-chat concurrency, at most `limit` updates in progress."""

    def __init__(self, limit: int = 32, observe: Observer | None = None) -> None:
        super().__init__(max_concurrent_updates=_OPEN)
        if limit < 1:
            raise ValueError("limit must be at least 1")
        self.limit = limit
        self.observe = observe  # metrics: (update, seconds, error) after each update
        self._slots = asyncio.Semaphore(limit)
        self._tails: dict[int, asyncio.Future[None]] = {}
        self.running = 0

    @property
    def waiting_chats(self) -> int:
        return len(self._tails)

    async def do_process_update(self, update: object, coroutine: Awaitable[Any]) -> None:
        key = chat_key(update)
        before = self._tails.get(key) if key is not None else None
        mine: asyncio.Future[None] | None = None
        if key is not None:
            mine = asyncio.get_running_loop().create_future()
            self._tails[key] = mine
        try:
            if before is not None:
                await asyncio.wait([before])  # never cancels the predecessor's future
            async with self._slots:
                await self._run(update, coroutine)
        finally:
            if mine is not None:
                mine.set_result(None)
                if self._tails.get(key) is mine:  # type: ignore[arg-type]
                    del self._tails[key]  # type: ignore[arg-type]
            if inspect.iscoroutine(coroutine) and inspect.getcoroutinestate(coroutine) == "CORO_CREATED":
                coroutine.close()  # cancelled while waiting: not "never awaited"

    async def _run(self, update: object, coroutine: Awaitable[Any]) -> None:
        self.running += 1
        started = time.perf_counter()
        error: BaseException | None = None
        try:
            await coroutine
        except BaseException as exc:
            error = exc
            raise
        finally:
            self.running -= 1
            if self.observe is not None:
                self.observe(update, time.perf_counter() - started, error)

    async def initialize(self) -> None:
        """Nothing to set up."""

    async def shutdown(self) -> None:
        """Nothing to free: PTB waits for the updates in progress itself."""
