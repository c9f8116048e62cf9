"""A long step's progress in Telegram: one message per turn, sent once and then edited (bot/turn.py
Turn.progress calls it; the front end settles it before sending the turn's replies)."""

from __future__ import annotations

import asyncio
import logging
import time
from collections.abc import Callable
from typing import Any

from telegram.error import BadRequest

log = logging.getLogger(__name__)

PROGRESS_EVERY = 1.5  # seconds between two sends/edits of a progress message (Telegram: ~1 a second a chat)


class ProgressMessage:
    """What a long step (a big import) says about how far it is, in one message per turn.

    A call never waits on Telegram, so a step that reports inside its transaction is not held up by
    the network: it starts a send (the first time) or an edit in the background, unless one is still
    on its way or the last ended under PROGRESS_EVERY ago; then the text is only remembered. settle()
    waits for the one on its way and shows the newest text if it was skipped, so the message ends on
    the last numbers before the replies are sent. "Message is not modified" is no failure; any other
    Telegram error turns the display off for the turn and the step goes on.
    """

    def __init__(
        self,
        bot: Any,
        chat_id: int,
        every: float = PROGRESS_EVERY,
        clock: Callable[[], float] = time.monotonic,
        on_sent: Callable[[int], None] | None = None,
    ) -> None:
        self._bot, self._chat_id, self._every, self._clock = bot, chat_id, every, clock
        self._on_sent = on_sent  # the front end keeps track of the chat's newest message
        self.message_id: int | None = None
        self._newest: str | None = None
        self._shown: str | None = None
        self._ended: float | None = None  # when the last send or edit finished
        self._task: asyncio.Task[None] | None = None
        self._off = False

    async def __call__(self, text: str) -> None:
        self._newest = text
        if self._off or (self._task is not None and not self._task.done()):
            return
        if self._ended is not None and self._clock() - self._ended < self._every:
            return
        self._task = asyncio.create_task(self._show(text))

    async def _show(self, text: str) -> None:
        try:
            if self.message_id is None:
                sent = await self._bot.send_message(self._chat_id, text)
                self.message_id = int(sent.message_id)
                if self._on_sent is not None:
                    self._on_sent(self.message_id)
            else:
                await self._bot.edit_message_text(text, chat_id=self._chat_id, message_id=self.message_id)
            self._shown = text
        except BadRequest as exc:
            if "not modified" not in str(exc):
                self._stop(exc)
        except Exception as exc:  # a courtesy display: whatever went wrong, the step's replies still go
            self._stop(exc)
        finally:
            self._ended = self._clock()

    def _stop(self, exc: Exception) -> None:
        log.info("progress message off for this turn: %s", type(exc).__name__)
        self._off = True

    async def settle(self) -> None:
        if self._task is not None:
            await self._task  # _show catches Telegram's errors; the rate limiter bounds its retries
        if self._off or self.message_id is None or self._newest in (None, self._shown):
            return
        assert self._newest is not None and self._ended is not None
        await asyncio.sleep(max(0.0, self._every - (self._clock() - self._ended)))
        await self._show(self._newest)
