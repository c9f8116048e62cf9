"""Who puts a reminder in front of a person: the Telegram bot, the terminal, or a test's stand-in.

The delivery loop only knows `Sender` and the three outcomes it can raise; TelegramSender maps
python-telegram-bot's errors onto them.
"""

from __future__ import annotations

import datetime as dt
import warnings
from collections.abc import Callable
from typing import TYPE_CHECKING, Any, Protocol

from flows.engine import Reply

if TYPE_CHECKING:
    from telegram import Bot


class RetryLater(Exception):
    """Not sent now; try again after `after` seconds (None: back off). `unconfirmed`: may have arrived."""

    def __init__(self, after: float | None = None, *, reason: str = "network", unconfirmed: bool = False):
        super().__init__(reason)
        self.after = after
        self.reason = reason
        self.unconfirmed = unconfirmed


class Blocked(Exception):
    """The person blocked the bot (or never started it): mark them and stop trying until they return."""


class Rejected(Exception):
    """Refused for good (a bad request): retrying would fail the same way."""


class Sender(Protocol):
    """Puts one reminder in front of a person; returns the message id or raises one of the above."""

    async def send(self, chat_id: int, reply: Reply) -> int: ...


class TelegramSender:
    """Sends through the Application's bot, so its rate limiter applies; reminders go as background
    traffic there (people waiting for an answer go first). `sent(chat_id, message_id)` hears of each."""

    def __init__(self, bot: Bot, sent: Callable[[int, int], None] | None = None) -> None:
        self.bot = bot
        self.sent = sent
        # only a bot with a rate limiter takes rate_limit_args (an ExtBot built by an Application)
        self._paced: dict[str, Any] = (
            {"rate_limit_args": "background"} if getattr(bot, "rate_limiter", None) else {}
        )

    async def send(self, chat_id: int, reply: Reply) -> int:
        from telegram import InlineKeyboardButton, InlineKeyboardMarkup
        from telegram.error import BadRequest, Forbidden, NetworkError, RetryAfter, TelegramError, TimedOut

        markup = (
            InlineKeyboardMarkup(
                [[InlineKeyboardButton(b.label, callback_data=b.data) for b in row] for row in reply.buttons]
            )
            if reply.buttons
            else None
        )
        try:
            message = await self.bot.send_message(
                chat_id, reply.text[:4096] or "…", reply_markup=markup, **self._paced
            )
        except RetryAfter as exc:
            raise RetryLater(_seconds(exc) + 0.5, reason="retry_after") from None
        except Forbidden:
            raise Blocked() from None
        except BadRequest as exc:
            if "chat not found" in str(exc).lower():
                raise Blocked() from None
            raise Rejected(type(exc).__name__) from None
        except TimedOut as exc:
            # a read timeout may come after Telegram delivered the message; a connect one may not
            unsure = "connect" not in type(exc.__cause__).__name__.lower()
            raise RetryLater(reason="timeout", unconfirmed=unsure) from None
        except NetworkError:
            raise RetryLater(reason="network") from None
        except TelegramError as exc:
            raise Rejected(type(exc).__name__) from None
        if self.sent is not None:
            self.sent(chat_id, int(message.message_id))
        return int(message.message_id)


def _seconds(exc: Any) -> float:
    """RetryAfter.retry_after is an int or a timedelta depending on PTB_TIMEDELTA; take either."""
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        value = exc.retry_after
    return value.total_seconds() if isinstance(value, dt.timedelta) else float(value)
