"""Benchmark (not a test): completed customer entries through assistant + engine + storage on SQLite.

Each step is one full turn as in production: a transaction that checks the update id, loads the
conversation, runs the engine (validation, duplicate lookup) and writes the new state. Every entry
has its own name, phone and e-mail, so no duplicate warning stops it; saves are counted from the
database at the end, and re-asks (a step that did not advance) are reported apart from steps.
Prints figures; never fails a build.
"""

from __future__ import annotations

import asyncio
import statistics
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from sqlalchemy import func, select

from bot.router import Incoming, Router
from flows.engine import Input
from storage import repo
from storage.db import make_engine, make_sessions, migrate
from storage.models import Customer

USER = 42
SURNAMES = "王李张刘陈杨黄赵吴周徐孙马朱胡郭何高林罗郑梁谢宋唐许韩冯邓曹彭曾肖田董袁潘于蒋蔡余杜叶程苏魏吕丁"
GIVEN = "伟芳娜秀英敏静丽强磊军洋勇艳杰娟涛明超兰霞平刚桂华玉萍红玲芬燕彩春菊凤洁梅琳素云莲真环雪荣爱"
NAME, PHONE, EMAIL = "{name}", "{phone}", "{email}"
ANSWERS = [
    ("callback", "p:individual"),
    ("text", NAME),
    ("callback", "p:potential"),
    ("callback", "p:it"),
    ("callback", "skip"),
    ("callback", "p:A"),
    ("text", "广东省深圳市南山区科苑路15号"),
    ("text", PHONE),
    ("text", EMAIL),
    ("callback", "p:referral"),
    ("callback", "skip"),
    ("callback", "skip"),
    ("callback", "skip"),
    ("callback", "skip"),
    ("callback", "skip"),
    ("callback", "save"),
]


def entry(i: int) -> dict[str, str]:
    """The i-th entry's own person: distinct two-character names are never 88-similar."""
    name = SURNAMES[i % len(SURNAMES)] + GIVEN[(i // len(SURNAMES)) % len(GIVEN)]
    return {NAME: name, PHONE: f"138{i:08d}", EMAIL: f"client{i}@example.com"}


async def main(customers: int = 60) -> None:
    assert customers <= len(SURNAMES) * len(GIVEN), "not enough distinct names"
    with tempfile.TemporaryDirectory() as tmp:
        engine = make_engine(f"sqlite+aiosqlite:///{Path(tmp) / 'bench.sqlite3'}")
        await migrate(engine)
        sessions = make_sessions(engine)
        async with sessions.begin() as s:
            await repo.add_user(s, USER, "bench", "sales")
        assistant = Router(sessions)
        update_id = 0
        latencies: list[float] = []
        reasks = dup_warnings = unfinished = 0
        from flows.dates import warm_up

        warm_up()
        started = time.perf_counter()
        for i in range(customers):
            values = entry(i)
            update_id += 1
            await assistant.handle(Incoming(USER, USER, "", "zh", update_id, command="new_customer"))
            for kind, template in ANSWERS:
                value = values.get(template, template)
                update_id += 1
                before = await _state(assistant)
                seq = int(before["seq"]) if before else 0
                inc = (
                    Incoming(USER, USER, "", "zh", update_id, callback=f"f|{seq}|{value}")
                    if kind == "callback"
                    else Incoming(USER, USER, "", "zh", update_id, input=Input(kind="text", text=value))
                )
                t0 = time.perf_counter()
                result = await assistant.handle(inc)
                latencies.append(time.perf_counter() - t0)
                assert result.replies, "no reply"
                after = await _state(assistant)
                if after is not None and before is not None:
                    if (after["step"], after["phase"]) == (before["step"], before["phase"]):
                        reasks += 1
                    dup_warnings += bool(after.get("dups")) and not before.get("dups")
            unfinished += await _state(assistant) is not None
        elapsed = time.perf_counter() - started
        async with sessions() as s:
            saved = (await s.execute(select(func.count()).select_from(Customer))).scalar_one()
        await engine.dispose()
    latencies.sort()
    steps = len(latencies)
    print(f"customer entries: {customers} attempted, {saved} saved (counted in the database), SQLite")
    print(f"steps: {steps} in {elapsed:.2f} s; re-asks: {reasks}; duplicate warnings: {dup_warnings}")
    print(f"entries left open at the end: {unfinished}")
    busy = sum(latencies)  # the turns themselves, without the bench's own state reads
    print(
        f"steps/second: {steps / busy:.0f}; entries saved/second: {saved / busy:.1f} (turn time {busy:.2f} s)"
    )
    print(f"step latency p50: {statistics.median(latencies) * 1000:.2f} ms")
    print(f"step latency p99: {latencies[max(0, int(steps * 0.99) - 1)] * 1000:.2f} ms")


async def _state(assistant: Router) -> dict[str, Any] | None:
    """The open conversation's state (read outside the timed turn), None when no flow is open."""
    async with assistant.sessions() as s:
        user = await repo.user_by_telegram(s, USER)
        assert user is not None
        row = await repo.load_conversation(s, USER, user.id)
        return dict(row.state) if row else None


if __name__ == "__main__":
    asyncio.run(main(int(sys.argv[1]) if len(sys.argv) > 1 else 60))
