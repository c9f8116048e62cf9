"""Pacing outgoing Bot API calls where Telegram has limits, and only there.

Telegram's Bot FAQ: in one chat avoid more than one message a second (short bursts are allowed), at
most 20 messages a minute to one group, and about 30 messages a second to different chats overall.
Those limits are on messages (sends and edits); answering a button press, downloading a file or
setting the menu is not a message and is not paced here.

python-telegram-bot's AIORateLimiter pauses *every* request when any one gets a 429 and knows no
priorities, so one person's flood wait stalled everybody and a burst of reminders queued in front of
people waiting for an answer. This limiter instead:

- keeps a small bucket per chat (private chats and groups by their own limits), taken in order;
- keeps one overall bucket in which waiting interactive calls always go before waiting background
  ones (reminders pass ``rate_limit_args="background"``): reminders get what interactive traffic leaves;
- on a 429 pauses only the chat it was for, then retries (up to max_retries; after that the caller
  hears of it: the reminder loop reschedules, a reply fails like any other error).
"""

from __future__ import annotations

import asyncio
import contextlib
import datetime as dt
import logging
import time
from collections import deque
from collections.abc import Callable, Coroutine
from dataclasses import dataclass, field
from typing import Any

from telegram.error import RetryAfter
from telegram.ext import BaseRateLimiter

log = logging.getLogger(__name__)

BACKGROUND = "background"
INTERACTIVE, _BACKGROUND = 0, 1

_NOT_MESSAGES = frozenset({"sendchataction"})


def is_message(endpoint: str) -> bool:
    """Calls Telegram counts as messages: sends, edits, copies and forwards (not chat actions)."""
    name = endpoint.lower()
    return name.startswith(("send", "edit", "copy", "forward")) and name not in _NOT_MESSAGES


class Bucket:
    """A token bucket: `burst` calls at once, refilled at `rate` a second."""

    def __init__(self, rate: float, burst: float, clock: Callable[[], float] = time.monotonic) -> None:
        self.rate = rate
        self.burst = burst
        self.clock = clock
        self.tokens = burst
        self.stamp = clock()

    def _refill(self) -> None:
        now = self.clock()
        self.tokens = min(self.burst, self.tokens + (now - self.stamp) * self.rate)
        self.stamp = now

    def take(self) -> float:
        """0 when a token was taken; else the seconds until one is there (nothing taken)."""
        self._refill()
        if self.tokens >= 1:
            self.tokens -= 1
            return 0.0
        return (1 - self.tokens) / self.rate

    def full(self) -> bool:
        self._refill()
        return self.tokens >= self.burst


class PriorityGate:
    """The overall budget; waiters are served interactive first, each class in arrival order."""

    def __init__(self, bucket: Bucket) -> None:
        self.bucket = bucket
        self.waiting: tuple[deque[asyncio.Future[None]], deque[asyncio.Future[None]]] = (deque(), deque())
        self._pump: asyncio.Task[None] | None = None

    def queued(self, priority: int) -> int:
        return sum(1 for f in self.waiting[priority] if not f.done())

    async def acquire(self, priority: int) -> None:
        ahead = self.queued(INTERACTIVE) + (self.queued(_BACKGROUND) if priority == _BACKGROUND else 0)
        if not ahead and self.bucket.take() == 0:
            return
        future: asyncio.Future[None] = asyncio.get_running_loop().create_future()
        self.waiting[priority].append(future)
        if self._pump is None or self._pump.done():
            self._pump = asyncio.get_running_loop().create_task(self._serve(), name="rate-limit-gate")
        try:
            await future
        except asyncio.CancelledError:
            if future.done() and not future.cancelled():
                self.bucket.tokens = min(self.bucket.burst, self.bucket.tokens + 1)  # give it back
            raise

    async def _serve(self) -> None:
        while True:
            for q in self.waiting:
                while q and q[0].done():
                    q.popleft()
            head = self.waiting[INTERACTIVE] or self.waiting[_BACKGROUND]
            if not head:
                return
            wait = self.bucket.take()
            if wait:
                await asyncio.sleep(wait)
                continue
            head.popleft().set_result(None)


SWEEP_FROM = 256  # chats remembered before the first sweep of idle ones


@dataclass
class _ChatPace:
    bucket: Bucket
    lock: asyncio.Lock = field(default_factory=asyncio.Lock)
    paused_until: float = 0.0  # after a 429 for this chat


class ChatRateLimiter(BaseRateLimiter[str]):
    """Per-chat and overall pacing of messages, interactive before background, 429s per chat."""

    def __init__(
        self,
        *,
        overall_rate: float = 28.0,
        overall_burst: float = 1.0,
        chat_rate: float = 1.0,
        chat_burst: float = 3.0,
        group_per_minute: float = 20.0,
        group_burst: float = 3.0,
        max_retries: int = 3,
        clock: Callable[[], float] = time.monotonic,
        on_flood: Callable[[], Any] | None = None,
    ) -> None:
        # no one-second window above burst + rate: 1 + 28 = 29, under Telegram's overall ~30 with a
        # message to spare for network jitter; a small burst because a queue of replies waiting is
        # served in arrival order anyway, and a large one would only let one second exceed the rate
        self.clock = clock
        self.gate = PriorityGate(Bucket(overall_rate, overall_burst, clock))
        self.chat_rate, self.chat_burst = chat_rate, chat_burst
        # a minute may see the burst plus the refill: keep the two within 20
        self.group_rate = max(group_per_minute - group_burst, 1.0) / 60.0
        self.group_burst = group_burst
        self.max_retries = max_retries
        self._chats: dict[int | str, _ChatPace] = {}
        self._sweep_at = SWEEP_FROM
        self.retry_afters = 0
        self.on_flood = on_flood  # metrics: one call per 429

    async def initialize(self) -> None:
        """Nothing to set up: buckets are made on first use."""

    async def shutdown(self) -> None:
        """Nothing to free."""

    def _pace(self, chat: int | str) -> _ChatPace:
        pace = self._chats.get(chat)
        if pace is None:
            if len(self._chats) >= self._sweep_at:
                self._sweep()
            group = isinstance(chat, str) or chat < 0
            bucket = (
                Bucket(self.group_rate, self.group_burst, self.clock)
                if group
                else Bucket(self.chat_rate, self.chat_burst, self.clock)
            )
            pace = self._chats[chat] = _ChatPace(bucket)
        return pace

    def _sweep(self) -> None:
        """Forget chats whose budget is whole again (a new bucket would be the same).

        Run when the table has doubled since the last sweep: amortised O(1) per new chat, and the
        table stays about twice the chats paced in the last seconds, not every chat ever seen.
        """
        now = self.clock()
        for key, old in list(self._chats.items()):
            if old.bucket.full() and not old.lock.locked() and old.paused_until <= now:
                del self._chats[key]
        self._sweep_at = max(SWEEP_FROM, 2 * len(self._chats))

    @property
    def paced_chats(self) -> int:
        return len(self._chats)

    async def _chat_turn(self, pace: _ChatPace) -> None:
        """Wait for this chat's own budget (and any 429 pause), in the order calls came."""
        async with pace.lock:
            while True:
                wait = max(pace.paused_until - self.clock(), 0.0) or pace.bucket.take()
                if wait <= 0:
                    return
                await asyncio.sleep(wait)

    async def process_request(
        self,
        callback: Callable[..., Coroutine[Any, Any, bool | dict[str, Any] | list[dict[str, Any]]]],
        args: Any,
        kwargs: dict[str, Any],
        endpoint: str,
        data: dict[str, Any],
        rate_limit_args: str | None,
    ) -> bool | dict[str, Any] | list[dict[str, Any]]:
        if not is_message(endpoint):
            return await callback(*args, **kwargs)
        priority = _BACKGROUND if rate_limit_args == BACKGROUND else INTERACTIVE
        chat: int | str | None = data.get("chat_id")
        with contextlib.suppress(TypeError, ValueError):
            chat = int(chat)  # type: ignore[arg-type]
        pace = self._pace(chat) if chat is not None else None
        retries = self.max_retries
        for attempt in range(retries + 1):
            if pace is not None:
                await self._chat_turn(pace)
            await self.gate.acquire(priority)
            try:
                return await callback(*args, **kwargs)
            except RetryAfter as exc:
                self.retry_afters += 1
                if self.on_flood is not None:
                    self.on_flood()
                wait = _seconds(exc) + 0.1
                if pace is not None:
                    pace.paused_until = max(pace.paused_until, self.clock() + wait)
                if attempt == retries:
                    raise
                log.info("flood wait of %.1fs for one chat", wait)
                if pace is None:
                    await asyncio.sleep(wait)
        raise AssertionError("unreachable")  # pragma: no cover


def _seconds(exc: RetryAfter) -> float:
    value: Any = exc._retry_after  # the timedelta, whatever PTB_TIMEDELTA says about .retry_after
    return value.total_seconds() if isinstance(value, dt.timedelta) else float(value)
