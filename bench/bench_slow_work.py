"""Benchmark (not a test): one person's step while another's business card is read (issue 15, item 2).

The bot runs as deployed (`crm-bot run`, its own process) against the Bot API stand-in
(tests/e2e/fake_bot_api.py) in this process; bench_load's pieces do the plumbing. Person B walks
bench_load's per-step pair (the typed company name of /new_customer, then Back, >= 1.05 s apart:
Telegram's one message a second in a chat). Idle and busy windows alternate, so drifting load on a
shared machine falls on both alike. In a busy window people A send business-card photos
(tests/cardgen.py, as JPEG), one card read at a time: each read card is answered (the fields read),
its sender cancels the flow it opened and sends the next (three A take turns, so that the next card is
read while the last one's paced answer is still arriving). B's step starts a moment after a photo is
sent, and only steps answered before that card count as "while a card is read"; the cards read and
their time to the first answer are counted too, so the figure shows OCR really ran. Printed for
SQLite and PostgreSQL: B's p50 idle and busy, their ratio (target <= 1.5x), cards read, their p50 time
to the first answer, and the load average at start. Prints figures; never fails a build.
"""

from __future__ import annotations

import asyncio
import io
import os
import statistics
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))
sys.path.insert(0, str(ROOT / "bench"))

import bench_load as load  # noqa: E402  (bench/ is not a package: imported as a module)

WINDOWS = 4  # idle and busy windows, alternating
STEPS = 6  # B's steps per window
# a read card is answered with the fields read, "a new company", the customer flow's first question
CARD_ANSWER = 3
SETTLE = 0.25  # s after A's photo before B's step: the download is done, the card is being read
PHOTO_GAP = 1.1  # s between photos: B's pace


def card_photos() -> list[bytes]:
    """A few rendered cards as phone-like JPEGs (different companies: each opens a new customer)."""
    from PIL import Image

    from tests.cardgen import Card, Layout, render

    liming = Card(
        "李明", "上海云帆信息技术有限公司", "销售总监", "139 1234 5678", email="liming@yunfan-tech.cn"
    )
    zhangwei = Card(
        "张伟", "北京华信通科技有限公司", "采购经理", "138 0013 8000", address="北京市海淀区中关村大街1号"
    )
    wangfang = Card(
        "王芳",
        "深圳市腾达电子有限公司",
        "市场部经理",
        "136 6666 8888",
        email="wangfang@tenda.cn",
        name_en="Fang Wang",
        company_en="Tenda Electronics",
        position_en="Marketing Manager",
    )
    cards: list[tuple[Layout, Card]] = [("zh", liming), ("zh", zhangwei), ("bilingual", wangfang)]
    out = []
    for layout, card in cards:
        image = Image.open(io.BytesIO(render(card, layout=layout))).convert("RGB")
        jpeg = io.BytesIO()
        image.save(jpeg, format="JPEG", quality=85)
        out.append(jpeg.getvalue())
    return out


class Readers:
    """People A (three of them, taking turns): one card is read at a time, never two.

    Each sends a card, waits for it to be read and answered, cancels the flow it opened and sends
    the next. Three take turns because one person's answer is paced (three messages a second apart,
    then /cancel's): while one waits for the rest of it, another's card is read. Photos are at
    least PHOTO_GAP apart, so that B, stepping once a second, can step during every card.
    """

    def __init__(self, api: Any, users: list[Any], photos: list[bytes]) -> None:
        self.api, self.users, self.photos = api, users, photos
        self.queues = [api.queues.setdefault(u.id, asyncio.Queue()) for u in users]
        self.one = asyncio.Lock()  # one card being read at a time
        self.reading = asyncio.Event()  # set from a photo's sending to its first answer
        self.sent = asyncio.Event()  # pulsed when a photo is sent
        self.answered: list[float] = []  # photo sent -> first answer (the fields read), s
        self.failed = 0
        self.n = 0
        self.next_photo = 0.0

    async def _take(self, queue: asyncio.Queue[dict[str, Any]], count: int) -> None:
        """The rest of an answer, or what came of it."""
        for _ in range(count):
            try:
                await asyncio.wait_for(queue.get(), 10)
            except TimeoutError:
                return

    async def _person(self, i: int, stop: asyncio.Event) -> None:
        user, queue = self.users[i], self.queues[i]
        last = 0.0  # the last answer: the bot paces a chat to a message a second, so wait that out
        while not stop.is_set():
            await asyncio.sleep(max(0.0, last + 1.05 - time.perf_counter()))
            async with self.one:
                await asyncio.sleep(max(0.0, self.next_photo - time.perf_counter()))
                if stop.is_set():
                    return
                t0 = time.perf_counter()
                self.next_photo = t0 + PHOTO_GAP
                self.api.push_photo(user.id, self.photos[self.n % len(self.photos)], user=user)
                self.n += 1
                self.reading.set()
                self.sent.set()
                self.sent.clear()
                try:
                    await asyncio.wait_for(queue.get(), 30)
                except TimeoutError:
                    self.failed += 1
                    continue
                finally:
                    self.reading.clear()
                self.answered.append(time.perf_counter() - t0)
            await self._take(queue, CARD_ANSWER - 1)
            self.api.push_text(user.id, "/cancel", user=user)
            await self._take(queue, 1)
            last = time.perf_counter()

    async def run(self, stop: asyncio.Event) -> None:
        await asyncio.gather(*(self._person(i, stop) for i in range(len(self.users))))


async def windows(api: Any, b: Any, a: Readers) -> tuple[list[float], list[float], int]:
    """B's step times idle and while A's card is read (steps that overlapped a reading only)."""
    idle: list[float] = []
    busy: list[float] = []
    missed = 0  # busy-window steps whose answer came after A's card was already answered
    last = 0.0

    async def step(typed: bool) -> float:
        nonlocal last
        await asyncio.sleep(max(0.0, last + 1.05 - time.perf_counter()))
        last = time.perf_counter()
        elapsed: float = await (b.typed() if typed else b.press())
        return elapsed

    typed = True
    for w in range(2 * WINDOWS):
        if w % 2 == 0:
            for _ in range(STEPS):
                idle.append(await step(typed))
                typed = not typed
            continue
        stop = asyncio.Event()
        runner = asyncio.create_task(a.run(stop))
        taken = 0
        while taken < STEPS:
            # B's pace first, then the next photo: the step starts while that card is being read
            await asyncio.sleep(max(0.0, last + 1.05 - SETTLE - time.perf_counter()))
            await a.sent.wait()
            await asyncio.sleep(SETTLE)
            if not a.reading.is_set():
                continue
            elapsed = await step(typed)
            typed = not typed
            if a.reading.is_set():
                busy.append(elapsed)
                taken += 1
            else:
                missed += 1
        stop.set()
        await runner  # A finishes the card in hand, so the next idle window is idle
    return idle, busy, missed


async def run_backend(api: Any, label: str, url: str, photos: list[bytes], FakeUser: Any, data: Path) -> str:
    await load.seed(url, 4)
    env = {**load.env_for(api, url), "CRM_DATA_DIR": str(data / label), "CRM_BACKUP_ENABLED": "false"}
    bot = load.Bot(api, "assistant", [sys.executable, "-m", "bot.cli", "run"], env)
    await bot.start()
    try:
        await asyncio.sleep(1.0)
        b_user = FakeUser(load.FIRST_USER, "b", language_code="zh-hans")
        a_users = [FakeUser(load.FIRST_USER + n, "a", language_code="zh-hans") for n in (1, 2, 3)]
        b = load.Person(api, b_user, assistant=True)
        a = Readers(api, a_users, photos)
        await b.open_entry()
        # warm up: the first card loads Pillow and pytesseract in the bot; not counted
        warm = asyncio.Event()
        warm_task = asyncio.create_task(a.run(warm))
        await a.sent.wait()
        warm.set()
        await warm_task
        a.answered.clear()
        idle, busy, missed = await windows(api, b, a)
        lost = max(0, b.steps - b.answers)
    finally:
        await bot.stop()
    p_idle, p_busy = statistics.median(idle) * 1000, statistics.median(busy) * 1000
    ratio = p_busy / p_idle
    verdict = "within" if ratio <= 1.5 else "OVER"
    line = (
        f"{label:10} B's step p50 idle {p_idle:.1f} ms (n={len(idle)}), while a card is read"
        f" {p_busy:.1f} ms (n={len(busy)}, p90 {load.pct(busy, 90) * 1000:.1f} ms): {ratio:.2f}x"
        f" ({verdict} 1.5x); cards read {len(a.answered)}, p50 to answer"
        f" {statistics.median(a.answered) * 1000 if a.answered else float('nan'):.0f} ms"
        f" (unanswered {a.failed}); B's steps that outlasted a card {missed}, lost {lost}"
    )
    print(line, flush=True)
    return line


async def main() -> None:
    from tests.e2e.fake_bot_api import FakeBotApi, FakeUser

    one, five, fifteen = os.getloadavg()
    print(
        f"bench_slow_work: B's step while A's business cards are read; {os.cpu_count()} cores,"
        f" load average at start {one:.2f} {five:.2f} {fifteen:.2f}\n",
        flush=True,
    )
    photos = card_photos()
    lines: list[str] = []
    async with FakeBotApi() as api:
        load.watch(api)
        with tempfile.TemporaryDirectory() as name:
            tmp = Path(name)  # the bot's data folder (staged photos) too, never the checkout
            sqlite = f"sqlite+aiosqlite:///{tmp / 's.sqlite3'}"
            lines.append(await run_backend(api, "SQLite", sqlite, photos, FakeUser, tmp))
            try:
                url, drop = await load.fresh_pg()
            except Exception as exc:  # a bench without PostgreSQL still prints SQLite
                print(f"  (PostgreSQL unreachable: {type(exc).__name__}; SQLite only)")
            else:
                try:
                    lines.append(await run_backend(api, "PostgreSQL", url, photos, FakeUser, tmp))
                finally:
                    await drop()
    one, five, fifteen = os.getloadavg()
    print(f"\nload average at the end {one:.2f} {five:.2f} {fifteen:.2f}")


if __name__ == "__main__":
    asyncio.run(main())
