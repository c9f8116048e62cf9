"""The update processor: one chat strictly in order, different chats side by side, a global cap."""

from __future__ import annotations

import asyncio
import datetime as dt

import pytest
from telegram import Chat, Message, Update, User
from telegram.ext import SimpleUpdateProcessor

from bot.updates import ChatOrderedProcessor, chat_key


def _update(update_id: int, chat_id: int) -> Update:
    user = User(chat_id, "x", is_bot=False)
    message = Message(update_id, dt.datetime.now(dt.UTC), Chat(chat_id, "private"), from_user=user, text="hi")
    return Update(update_id, message=message)


async def _run(
    processor: ChatOrderedProcessor | SimpleUpdateProcessor, plan: list[tuple[int, float]]
) -> list[str]:
    """Feed updates (chat, seconds it takes) as the Application does: one task each, in order."""
    log: list[str] = []

    async def step(n: int, seconds: float) -> None:
        log.append(f"start {n}")
        await asyncio.sleep(seconds)
        log.append(f"end {n}")

    tasks = [
        asyncio.create_task(processor.process_update(_update(n, chat), step(n, seconds)))
        for n, (chat, seconds) in enumerate(plan)
    ]
    await asyncio.gather(*tasks)
    return log


async def test_one_chats_updates_run_one_after_another_in_arrival_order() -> None:
    # the first answer takes longest: run concurrently, the later ones would overtake it
    plan = [(1, 0.15), (1, 0.01), (1, 0.05), (1, 0.0)]
    log = await _run(ChatOrderedProcessor(8), plan)
    assert log == [f"{what} {n}" for n in range(4) for what in ("start", "end")]
    # and PTB's plain concurrent processor does not keep them so (what this processor is for)
    assert await _run(SimpleUpdateProcessor(8), plan) != log


async def test_different_chats_run_side_by_side() -> None:
    log = await _run(ChatOrderedProcessor(8), [(1, 0.2), (2, 0.0), (2, 0.0)])
    assert log.index("end 2") < log.index("end 0")  # chat 2 did not wait for chat 1's slow step


async def test_the_cap_bounds_updates_in_progress_and_a_backlog_holds_no_places() -> None:
    processor = ChatOrderedProcessor(2)
    peak = 0

    async def step(seconds: float) -> None:
        nonlocal peak
        peak = max(peak, processor.running)
        await asyncio.sleep(seconds)

    # chat 1 has a backlog of five; chat 2 must still get a place while chat 1's first runs
    tasks = [asyncio.create_task(processor.process_update(_update(n, 1), step(0.05))) for n in range(5)]
    tasks += [asyncio.create_task(processor.process_update(_update(9, 2), step(0.0)))]
    done, _ = await asyncio.wait(tasks[-1:], timeout=0.15)
    assert done, "chat 2 waited behind chat 1's backlog"
    await asyncio.gather(*tasks)
    assert peak <= 2
    assert processor.waiting_chats == 0  # nothing kept once a chat is idle


async def test_updates_without_a_chat_are_not_ordered_but_still_capped() -> None:
    assert chat_key(object()) is None
    assert chat_key(_update(1, 42)) == 42
    with pytest.raises(ValueError):
        ChatOrderedProcessor(0)
