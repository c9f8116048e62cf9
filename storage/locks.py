"""Updates of one chat applied one after the other, also across processes on one PostgreSQL.

Several replicas behind a load balancer may each get an update of the same chat at the same moment.
The router takes this lock first thing in its transaction, so the second waits until the first has
committed and then reads the state the first left (never both on the same state). It is a transaction
advisory lock: released by the commit or rollback itself, nothing to clean up after a crash.

SQLite is one process's file and its transactions already take the write lock at BEGIN (see
storage/db.py), so there is nothing to add there.
"""

from __future__ import annotations

from sqlalchemy import text
from sqlalchemy.ext.asyncio import AsyncSession

from storage import precompiled

# the two-key form of pg_advisory_xact_lock: a namespace of our own, then the chat folded to 32 bits
# (two chats sharing a key only wait for each other, they are never mixed up)
NAMESPACE = 0x43524D  # "CRM"
_LOCK = text("SELECT pg_advisory_xact_lock(:ns, :key)")


def chat_key(chat_id: int) -> int:
    """A signed 32-bit key for a chat id (Telegram ids reach 52 bits and are negative for groups)."""
    folded = (chat_id ^ (chat_id >> 32)) & 0xFFFFFFFF
    return folded - (1 << 32) if folded >= 1 << 31 else folded


async def lock_chat(tx: AsyncSession, chat_id: int) -> None:
    """Wait until no other transaction holds this chat; held until this transaction ends."""
    if tx.get_bind().dialect.name != "postgresql":
        return
    await precompiled.run(tx, _LOCK, {"ns": NAMESPACE, "key": chat_key(chat_id)})
