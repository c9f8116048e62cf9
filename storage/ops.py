"""What operating the bot needs from the database: a health probe and statement latency."""

from __future__ import annotations

import time
from collections.abc import Callable
from typing import Any

from sqlalchemy import event, text
from sqlalchemy.ext.asyncio import AsyncEngine


async def ping(engine: AsyncEngine) -> None:
    """One round trip; raises when the database cannot be reached."""
    async with engine.connect() as conn:
        await conn.execute(text("SELECT 1"))


def time_statements(engine: AsyncEngine, observe: Callable[[float], None]) -> None:
    """Call observe(seconds) after every statement this engine runs (for a latency histogram)."""
    sync = engine.sync_engine

    @event.listens_for(sync, "before_cursor_execute")
    def _start(conn: Any, cursor: Any, statement: Any, params: Any, context: Any, many: bool) -> None:
        conn.info.setdefault("crm_started", []).append(time.perf_counter())

    @event.listens_for(sync, "after_cursor_execute")
    def _stop(conn: Any, cursor: Any, statement: Any, params: Any, context: Any, many: bool) -> None:
        started = conn.info.get("crm_started")
        if started:
            observe(time.perf_counter() - started.pop())
