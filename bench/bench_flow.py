"""Benchmark (not a test): flow steps per second through assistant + engine + storage on SQLite.

Each step is one full turn as in production: a transaction that checks the update id, loads the
conversation, runs the engine (validation, duplicate lookup) and writes the new state.
Prints figures; never fails a build.
"""

from __future__ import annotations

import asyncio
import statistics
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from bot.router import Incoming, Router
from flows.engine import Input
from storage import repo
from storage.db import make_engine, make_sessions, migrate

USER = 42
ANSWERS = [
    ("callback", "p:individual"),
    ("text", "张三"),
    ("callback", "p:potential"),
    ("callback", "p:it"),
    ("callback", "skip"),
    ("callback", "p:A"),
    ("text", "广东省深圳市南山区科苑路15号"),
    ("text", "13812345678"),
    ("text", "zhang@example.com"),
    ("callback", "p:referral"),
    ("callback", "skip"),
    ("callback", "skip"),
    ("callback", "skip"),
    ("callback", "skip"),
    ("callback", "skip"),
    ("callback", "save"),
]


async def main(customers: int = 60) -> None:
    with tempfile.TemporaryDirectory() as tmp:
        engine = make_engine(f"sqlite+aiosqlite:///{Path(tmp) / 'bench.sqlite3'}")
        await migrate(engine)
        sessions = make_sessions(engine)
        async with sessions.begin() as s:
            await repo.add_user(s, USER, "bench", "sales")
        assistant = Router(sessions)
        update_id = 0
        latencies: list[float] = []
        from flows.dates import warm_up

        warm_up()
        started = time.perf_counter()
        for _ in range(customers):
            update_id += 1
            await assistant.handle(Incoming(USER, USER, "", "zh", update_id, command="new_customer"))
            for kind, value in ANSWERS:
                update_id += 1
                seq = await _seq(assistant)
                inc = (
                    Incoming(USER, USER, "", "zh", update_id, callback=f"f|{seq}|{value}")
                    if kind == "callback"
                    else Incoming(USER, USER, "", "zh", update_id, input=Input(kind="text", text=value))
                )
                t0 = time.perf_counter()
                result = await assistant.handle(inc)
                latencies.append(time.perf_counter() - t0)
                assert result.replies, "no reply"
        elapsed = time.perf_counter() - started
        await engine.dispose()
    latencies.sort()
    steps = len(latencies)
    print(f"flow steps: {steps} in {elapsed:.2f} s (customer flow x{customers}, SQLite, duplicate checks on)")
    print(f"steps/second: {steps / elapsed:.0f}")
    print(f"step latency p50: {statistics.median(latencies) * 1000:.2f} ms")
    print(f"step latency p99: {latencies[int(steps * 0.99) - 1] * 1000:.2f} ms")


async def _seq(assistant: Router) -> int:
    async with assistant.sessions() as s:
        user = await repo.user_by_telegram(s, USER)
        assert user is not None
        row = await repo.load_conversation(s, USER, user.id)
        return int(row.state["seq"]) if row else 0


if __name__ == "__main__":
    asyncio.run(main(int(sys.argv[1]) if len(sys.argv) > 1 else 60))
