"""The rate limiter: messages paced per chat and overall, interactive first, a 429 stalls its chat only."""

from __future__ import annotations

import asyncio
from typing import Any

import pytest
from telegram.error import RetryAfter

from bot.ratelimit import BACKGROUND, ChatRateLimiter, is_message


def _call(log: list[str], name: str, fail_first: int = 0) -> Any:
    failures = [fail_first]

    async def callback() -> dict[str, Any]:
        if failures[0]:
            failures[0] -= 1
            log.append(f"{name} 429")
            raise RetryAfter(1)
        log.append(name)
        return {"ok": True}

    return callback


async def _send(
    limiter: ChatRateLimiter, log: list[str], name: str, chat: int | None, *, endpoint: str = "sendMessage",
    priority: str | None = None, fail_first: int = 0,
) -> Any:  # fmt: skip
    data = {"chat_id": chat} if chat is not None else {}
    return await limiter.process_request(_call(log, name, fail_first), (), {}, endpoint, data, priority)


def test_only_messages_are_paced() -> None:
    assert is_message("sendMessage") and is_message("editMessageText") and is_message("copyMessage")
    assert not is_message("answerCallbackQuery") and not is_message("sendChatAction")
    assert not is_message("getFile") and not is_message("setMyCommands") and not is_message("getUpdates")


async def test_a_429_for_one_chat_delays_that_chat_only() -> None:
    limiter = ChatRateLimiter()
    log: list[str] = []
    first = asyncio.create_task(_send(limiter, log, "ann", 1, fail_first=1))
    await asyncio.sleep(0.01)
    await asyncio.wait_for(_send(limiter, log, "bob", 2), 0.5)  # not held up by Ann's flood wait
    assert log == ["ann 429", "bob"]
    await first  # Ann's message goes after her own wait, retried
    assert log == ["ann 429", "bob", "ann"] and limiter.retry_afters == 1


async def test_a_429_gives_up_after_its_retries() -> None:
    limiter = ChatRateLimiter(max_retries=0)
    with pytest.raises(RetryAfter):
        await asyncio.wait_for(_send(limiter, [], "reminder", 1, priority=BACKGROUND, fail_first=1), 0.5)


async def test_waiting_interactive_replies_go_before_waiting_reminders() -> None:
    limiter = ChatRateLimiter(overall_rate=20, overall_burst=1)
    log: list[str] = []
    reminders = [
        asyncio.create_task(_send(limiter, log, f"reminder {i}", 100 + i, priority=BACKGROUND))
        for i in range(6)
    ]
    await asyncio.sleep(0)  # the reminders are queued (the first took the one token there was)
    reply = asyncio.create_task(_send(limiter, log, "reply", 1))
    await asyncio.gather(reply, *reminders)
    assert log.index("reply") <= 1, log  # ahead of every reminder still waiting


async def test_a_button_answer_is_not_paced_behind_messages() -> None:
    limiter = ChatRateLimiter(overall_rate=5, overall_burst=1)
    log: list[str] = []
    queued = [asyncio.create_task(_send(limiter, log, f"message {i}", 100 + i)) for i in range(4)]
    await asyncio.sleep(0)
    await asyncio.wait_for(_send(limiter, log, "answer", None, endpoint="answerCallbackQuery"), 0.1)
    assert log.index("answer") <= 1, log
    await asyncio.gather(*queued)


async def test_one_chat_is_paced_without_holding_up_another() -> None:
    limiter = ChatRateLimiter(chat_rate=5, chat_burst=2)
    log: list[str] = []
    busy = [asyncio.create_task(_send(limiter, log, f"ann {i}", 1)) for i in range(4)]
    await asyncio.sleep(0)
    await _send(limiter, log, "bob", 2)
    assert log[:3] == ["ann 0", "ann 1", "bob"]  # Ann's burst, then Bob while Ann waits for her budget
    await asyncio.gather(*busy)
    assert log[3:] == ["ann 2", "ann 3"]  # and Ann's in the order they were sent


def test_groups_get_telegrams_twenty_a_minute() -> None:
    limiter = ChatRateLimiter()
    group = limiter._pace(-100123)
    assert group.bucket.burst + group.bucket.rate * 60 <= 20
    private = limiter._pace(42)
    assert private.bucket.rate == 1.0


async def test_chats_whose_budget_is_whole_again_are_forgotten() -> None:
    """Each chat's pacing is kept only while it matters: 2,000 people once each do not all stay in
    memory, and a chat still inside its budget keeps its place (its next message is paced)."""
    now = [0.0]
    limiter = ChatRateLimiter(
        chat_rate=1, chat_burst=1, overall_rate=1e6, overall_burst=10_000, clock=lambda: now[0]
    )
    log: list[str] = []
    for chat in range(1, 2_001):
        await _send(limiter, log, "once", chat)
        now[0] += 0.002  # 2,000 chats over 4 s: a chat's budget is whole again after 1 s
    assert len(log) == 2_000
    assert limiter.paced_chats < 1_100  # swept each time the table doubled, not 2,000 buckets
    assert 2_000 in limiter._chats and not limiter._chats[2_000].bucket.full()  # still inside its second
    now[0] += 5.0
    for chat in range(5_000, 5_600):
        await _send(limiter, log, "later", chat)
    assert limiter.paced_chats <= 600 and 1 not in limiter._chats  # the quiet ones went at the next sweep
