"""Messages for someone other than the person in the chat (a new owner, an approver, a proposer).

They go through the reminder outbox as kind "notice", so they are sent once, in the recipient's
language, respecting their quiet hours and a blocked chat, like every reminder.
"""

from __future__ import annotations

import datetime as dt
from typing import Any

from sqlalchemy.ext.asyncio import AsyncSession

from storage import reminders


async def notify(
    session: AsyncSession,
    user_id: int,
    key: str,
    detail: dict[str, Any],
    now: dt.datetime,
    customer_id: int | None = None,
) -> bool:
    """Queue one notice; `key` makes it once-only (the same event notified twice is one message)."""
    row = {
        "key": f"notice:{key}"[:120],
        "kind": "notice",
        "user_id": user_id,
        "customer_id": customer_id,
        "due_at": now,
        "created_at": now,
        "detail": detail,
    }
    return await reminders.add(session, [row]) == 1
