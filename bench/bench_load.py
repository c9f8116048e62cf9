"""Benchmark (not a test): the assistant under a sales floor's load, beside a bare PTB echo bot.

Both bots run as processes of their own (`crm-bot run` as deployed, and a python-telegram-bot
Application that echoes a typed message with one button and edits the message when it is pressed:
the least a bot can do for the same two kinds of step), polling one Bot API stand-in
(tests/e2e/fake_bot_api.py) in this process on 127.0.0.1, which also plays the people. Printed:

1. per step, p50 of a typed answer and of a button press (the assistant walks /new_customer: the
   company name, then Back), interleaved with the echo bot's, on SQLite and on PostgreSQL, as ratios;
2. 50 people answering as fast as the replies come (throughput, p99, the share of the 28 messages/s
   budget used), and 200 people each answering every 10 s (p99 against one person's p99);
3. start-up to the first getUpdates, and idle RSS before and after 1,000 and 2,000 open conversations;
4. updates lost or answered twice (0 expected).

Our modules are compiled first, as an installed bot that has run once has them (the start-up figure
is otherwise ~0.5 s more in a shell with PYTHONDONTWRITEBYTECODE). A person's steps are at least a
second apart: Telegram asks for no more than one message a second in a chat, and the bot paces
replies so. Prints figures; never fails a build.
"""

from __future__ import annotations

import asyncio
import compileall
import contextvars
import os
import statistics
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

FIRST_USER = 8_000_000
TYPED = "杭州数澜科技有限公司"


# ---------------------------------------------------------------- the echo bot (a child process)


def echo_bot(base: str, token: str) -> None:
    """A bare PTB bot: a typed message is echoed with one button; a press is answered and edited."""
    from telegram import InlineKeyboardButton, InlineKeyboardMarkup, Update
    from telegram.ext import Application, CallbackQueryHandler, ContextTypes, MessageHandler, filters
    from telegram.request import HTTPXRequest

    markup = InlineKeyboardMarkup([[InlineKeyboardButton("⬅️ 上一步", callback_data="back")]])

    async def echo(update: Update, context: ContextTypes.DEFAULT_TYPE) -> None:
        assert update.effective_chat is not None and update.effective_message is not None
        await context.bot.send_message(
            update.effective_chat.id, update.effective_message.text or "…", reply_markup=markup
        )

    async def press(update: Update, context: ContextTypes.DEFAULT_TYPE) -> None:
        query = update.callback_query
        assert query is not None
        await query.answer()
        await query.edit_message_text("工商注册全称?", reply_markup=markup)

    def request(pool: int) -> HTTPXRequest:
        return HTTPXRequest(connection_pool_size=pool, httpx_kwargs={"trust_env": False, "verify": False})

    app = (
        Application.builder()
        .token(token)
        .base_url(f"{base}/bot")
        .base_file_url(f"{base}/file/bot")
        .request(request(64))
        .get_updates_request(request(1))
        .concurrent_updates(64)
        .build()
    )
    app.add_handler(MessageHandler(filters.TEXT, echo))
    app.add_handler(CallbackQueryHandler(press))
    app.run_polling(poll_interval=0.0, timeout=1)


# ---------------------------------------------------------------- plumbing


def rss_mib(pid: int) -> float:
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith("VmRSS:"):
            return int(line.split()[1]) / 1024
    return float("nan")


def pct(values: list[float], p: float) -> float:
    if not values:
        return float("nan")
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, round(p / 100 * (len(ordered) - 1)))]


class Bot:
    """A bot process polling the stand-in, and when it first asked for updates."""

    def __init__(self, api: Any, name: str, argv: list[str], env: dict[str, str]) -> None:
        self.api, self.name, self.argv, self.env = api, name, argv, env
        self.proc: asyncio.subprocess.Process | None = None
        self.started = 0.0
        self.first_poll = float("nan")

    async def start(self) -> None:
        mark = len(self.api.calls)
        self.started = time.monotonic()
        self.proc = await asyncio.create_subprocess_exec(
            *self.argv,
            cwd=ROOT,
            env=self.env,
            stdout=asyncio.subprocess.DEVNULL,
            stderr=asyncio.subprocess.DEVNULL,
        )
        call = await self.api.wait_for(lambda c: c.method == "getUpdates", timeout=60, since=mark)
        self.first_poll = call.ts - self.started

    async def stop(self) -> None:
        if self.proc is not None and self.proc.returncode is None:
            self.proc.terminate()
            try:
                await asyncio.wait_for(self.proc.wait(), 15)
            except TimeoutError:
                self.proc.kill()
                await self.proc.wait()


_ARRIVED: contextvars.ContextVar[float] = contextvars.ContextVar("arrived")


def watch(api: Any) -> dict[int, asyncio.Queue[tuple[float, float]]]:
    """Every message or edit the bot makes, queued per chat with the moment its request reached the
    stand-in and the moment the stand-in had made it.

    A step's time ends when the reply's request reaches "Telegram", not when the waiting person's
    task next runs: this process is the stand-in for both bots and plays every person, so that
    wake-up waits behind whatever else the measured bot has just asked of it (the callback answer,
    its next getUpdates), where Telegram would serve those in parallel. Nor when the stand-in has
    made the message: its own checks (lengths in UTF-16, entities, every button's callback data)
    take longer for a longer message with more buttons (~0.4 ms here for the assistant's question
    against the echo's one line), and are no part of either bot; they are printed beside the
    figures. Both bots are timed the same way. (The stand-in's own next_message scans its whole
    outbox on every change: fine for a test, but with hundreds of people waiting at once that
    scanning would cost more than the bots being measured.)
    """
    queues: dict[int, asyncio.Queue[tuple[float, float]]] = {}
    emit, read_params = api._emit, api._read_params

    async def arrived(request: Any) -> Any:  # the first thing the stand-in does with a request
        _ARRIVED.set(time.perf_counter())
        return await read_params(request)

    def tapped(method: str, message: dict[str, Any]) -> dict[str, Any]:
        out: dict[str, Any] = emit(method, message)
        if method in ("sendMessage", "editMessageText"):
            chat = int(message["chat"]["id"])
            made = time.perf_counter()
            queues.setdefault(chat, asyncio.Queue()).put_nowait((_ARRIVED.get(made), made))
        return out

    api._emit, api._read_params = tapped, arrived
    api.queues = queues
    return queues


class Person:
    """One chat with a bot: typed answers and presses, each timed to the bot's answer."""

    def __init__(self, api: Any, user: Any, assistant: bool) -> None:
        self.api, self.user, self.assistant = api, user, assistant
        self.steps = 0
        self.answers = 0
        self.checks: list[float] = []  # the stand-in's own time on each reply (see watch)
        self.queue: asyncio.Queue[tuple[float, float]] = api.queues.setdefault(user.id, asyncio.Queue())

    async def _answer(self, timeout: float = 60.0) -> float:
        """When the next reply reached the stand-in (see watch)."""
        arrived, made = await asyncio.wait_for(self.queue.get(), timeout)
        self.answers += 1
        self.checks.append(made - arrived)
        return arrived

    async def typed(self) -> float:
        t0 = time.perf_counter()
        self.api.push_text(self.user.id, TYPED, user=self.user)
        self.steps += 1
        return await self._answer() - t0

    async def press(self) -> float:
        t0 = time.perf_counter()
        await self.api.press(self.user.id, "上一步", user=self.user)
        self.steps += 1
        return await self._answer() - t0

    async def open_entry(self) -> None:
        """The assistant: /new_customer, an enterprise, at the name question (echo: nothing to open)."""
        if not self.assistant:
            self.api.push_text(self.user.id, "hello", user=self.user)
            await self._answer()
            return
        self.api.push_text(self.user.id, "/new_customer", user=self.user)
        await self._answer()
        await self.api.press(self.user.id, "企业客户", user=self.user)
        await self._answer()

    async def pair(self) -> tuple[float, float]:
        """A typed answer, a second later a press (Back to the typed question)."""
        typed = await self.typed()
        await asyncio.sleep(max(0.0, 1.05 - typed))
        pressed = await self.press()
        return typed, pressed

    def extra(self) -> int:
        """Answers beyond one per step: answered twice (the entry's own replies are not steps)."""
        return self.queue.qsize()


# ---------------------------------------------------------------- the runs


async def seed(url: str, count: int) -> None:
    from storage import repo
    from storage.db import make_engine, make_sessions, migrate

    engine = make_engine(url)
    await migrate(engine)
    sessions = make_sessions(engine)
    async with sessions.begin() as s:
        for n in range(count):
            await repo.add_user(s, FIRST_USER + n, f"sales {n}", "sales")
    await engine.dispose()


async def fresh_pg() -> tuple[str, Any]:
    """A throwaway PostgreSQL database and how to drop it: the end-to-end tests' own."""
    from tests.e2e.conftest import fresh_database

    return await fresh_database("postgres", Path(tempfile.gettempdir()))


def env_for(api: Any, url: str) -> dict[str, str]:
    from tests.e2e.fake_bot_api import DEFAULT_TOKEN

    return {
        **{k: v for k, v in os.environ.items() if not k.startswith("CRM_")},
        "CRM_BOT_TOKEN": DEFAULT_TOKEN,
        "CRM_BOT_API_URL": api.base_url,
        "CRM_BOT_FILE_URL": api.base_file_url,
        "CRM_DATABASE_URL": url,
        "CRM_REMINDER_POLL_SECONDS": "3600",
        "NO_PROXY": "127.0.0.1,localhost",
        "no_proxy": "127.0.0.1,localhost",
    }


async def per_step(
    api: Any, echo_api: Any, users: list[Any], echo_users: list[Any], rounds: int
) -> dict[str, list[float]]:
    """One assistant user and one echo user, their steps interleaved."""
    ann = Person(api, users[0], assistant=True)
    eve = Person(echo_api, echo_users[0], assistant=False)
    await ann.open_entry()
    await eve.open_entry()
    out: dict[str, list[float]] = {"typed": [], "press": [], "echo typed": [], "echo press": []}
    for _ in range(rounds):
        a_typed = await ann.typed()
        e_typed = await eve.typed()
        await asyncio.sleep(1.05)
        a_press = await ann.press()
        e_press = await eve.press()
        await asyncio.sleep(1.05)
        out["typed"].append(a_typed)
        out["press"].append(a_press)
        out["echo typed"].append(e_typed)
        out["echo press"].append(e_press)
    out["checks"], out["echo checks"] = ann.checks, eve.checks
    return out


async def crowd(people: list[Person], seconds: float, every: float | None) -> tuple[list[float], int]:
    """Everyone steps for `seconds`: as fast as answers come (every=None) or one step every `every`."""
    await asyncio.gather(*(p.open_entry() for p in people))
    latencies: list[float] = []
    end = time.perf_counter() + seconds

    async def run(p: Person, offset: float) -> None:
        await asyncio.sleep(offset)
        typed = True
        while time.perf_counter() < end:
            t0 = time.perf_counter()
            latencies.append(await (p.typed() if typed else p.press()))
            typed = not typed
            pause = (every if every is not None else 1.05) - (time.perf_counter() - t0)
            await asyncio.sleep(max(0.0, pause))

    spread = every or 1.0
    await asyncio.gather(*(run(p, i * spread / len(people)) for i, p in enumerate(people)))
    return latencies, len(latencies)


async def main() -> None:
    from tests.e2e.fake_bot_api import DEFAULT_TOKEN, FakeBotApi, FakeUser, busiest

    print("bench_load: the assistant (crm-bot run) beside a bare PTB echo bot, one Bot API stand-in\n")
    # as installed and run once: our modules' bytecode cached (a shell with PYTHONDONTWRITEBYTECODE
    # would otherwise make every start compile them, ~0.5 s; site-packages are compiled by pip)
    for package in ("bot", "flows", "storage"):
        compileall.compile_dir(ROOT / package, quiet=1)
    results: dict[str, Any] = {}
    async with FakeBotApi() as api, FakeBotApi() as echo_api:  # one each: one poller per bot
        watch(api)
        watch(echo_api)
        base = f"http://127.0.0.1:{echo_api.port}"
        echo_argv = [sys.executable, __file__, "--echo", base, DEFAULT_TOKEN]
        with tempfile.TemporaryDirectory() as tmp:
            backends: list[tuple[str, str, Any]] = [
                ("SQLite", f"sqlite+aiosqlite:///{Path(tmp) / 'load.sqlite3'}", None)
            ]
            try:
                url, drop = await fresh_pg()
                backends.append(("PostgreSQL", url, drop))
            except Exception as exc:  # a bench without PostgreSQL still prints SQLite
                print(f"  (PostgreSQL unreachable: {type(exc).__name__}; SQLite only)")
            for label, url, drop in backends:
                try:
                    await seed(url, 2_300)
                    await run_backend(api, echo_api, label, url, echo_argv, results, FakeUser, busiest)
                finally:
                    if drop is not None:
                        await drop()
    print()
    for line in results.get("summary", []):
        print(line)


async def run_backend(
    api: Any,
    echo_api: Any,
    label: str,
    url: str,
    echo_argv: list[str],
    results: dict[str, Any],
    FakeUser: Any,
    busiest: Any,
) -> None:
    env = env_for(api, url)
    assistant = Bot(api, "assistant", [sys.executable, "-m", "bot.cli", "run"], env)
    echo = Bot(echo_api, "echo", echo_argv, env)
    # start-up: each alone, the echo bot first
    await echo.start()
    await asyncio.sleep(1.0)
    await assistant.start()
    await asyncio.sleep(2.0)
    assert assistant.proc is not None and echo.proc is not None
    idle_rss, echo_rss = rss_mib(assistant.proc.pid), rss_mib(echo.proc.pid)
    summary: list[str] = results.setdefault("summary", [])
    try:
        ids = iter(range(FIRST_USER, FIRST_USER + 2_300))
        echo_ids = iter(range(9_000_000, 9_010_000))

        def users(n: int) -> list[Any]:
            return [FakeUser(next(ids), f"s{n}", language_code="zh-hans") for _ in range(n)]

        def echo_users(n: int) -> list[Any]:
            return [FakeUser(next(echo_ids), "e", language_code="zh-hans") for _ in range(n)]

        steps = await per_step(api, echo_api, users(1), echo_users(1), rounds=20)
        p50 = {k: statistics.median(v) * 1000 for k, v in steps.items()}
        single_p99 = pct(steps["typed"] + steps["press"], 99)
        print(
            f"{label}: per step p50 typed {p50['typed']:.1f} ms vs echo {p50['echo typed']:.1f} ms"
            f" ({p50['typed'] / p50['echo typed']:.2f}x); press {p50['press']:.1f} ms vs echo"
            f" {p50['echo press']:.1f} ms ({p50['press'] / p50['echo press']:.2f}x); the stand-in's own"
            f" checks after that, not counted: {p50['checks']:.2f} ms a reply (echo {p50['echo checks']:.2f})"
        )
        summary.append(
            f"{label:10} 1. per-step p50 ratio to echo: typed {p50['typed'] / p50['echo typed']:.2f}x,"
            f" press {p50['press'] / p50['echo press']:.2f}x"
        )

        everyone: list[Person] = []
        mark = len(api.calls)
        t0 = time.perf_counter()
        fast = [Person(api, u, True) for u in users(50)]
        everyone += fast
        lat, n = await crowd(fast, 15.0, None)
        elapsed = time.perf_counter() - t0
        sent = [c.ts for c in api.calls[mark:] if c.method in ("sendMessage", "editMessageText") and c.ok]
        budget = 28.0  # bot/ratelimit.py's overall rate: Telegram's ~30/s less a margin
        rate = len(sent) / elapsed
        print(
            f"{label}: 50 people as fast as answers come: {n / 15.0:.1f} steps/s,"
            f" p99 {pct(lat, 99) * 1000:.0f} ms,"
            f" messages {rate:.1f}/s ({rate / budget:.0%} of the 28/s budget; busiest second {busiest(sent)})"
        )
        summary.append(
            f"{label:10} 2. 50 people flat out: {n / 15.0:.1f} steps/s, p99 {pct(lat, 99):.2f} s,"
            f" {rate / budget:.0%} of the message budget"
        )
        slow = [Person(api, u, True) for u in users(200)]
        everyone += slow
        lat200, _ = await crowd(slow, 30.0, 10.0)
        ratio = pct(lat200, 99) / single_p99
        print(
            f"{label}: 200 people every 10 s: p99 {pct(lat200, 99) * 1000:.0f} ms vs one person's p99"
            f" {single_p99 * 1000:.0f} ms ({ratio:.2f}x)"
        )
        summary.append(f"{label:10} 3. 200 people every 10 s: p99 {ratio:.2f}x one person's p99")

        await asyncio.sleep(2.0)
        lost = sum(max(0, p.steps - p.answers) for p in everyone)
        twice = sum(p.extra() for p in everyone)
        summary.append(f"{label:10} 4. updates lost {lost}, answered twice {twice}")
        print(f"{label}: updates lost {lost}, answered twice {twice}")

        # 1,000 open conversations: each opens /new_customer and stays at its first question; then
        # 1,000 more: the first thousand's burst leaves the allocator's high-water mark, the second
        # shows whether anything is kept per conversation
        busy_rss: list[float] = []
        for _ in range(2):
            openers = users(1_000)
            for u in openers:
                api.push_text(u.id, "/new_customer", user=u)
            for u in openers:
                await asyncio.wait_for(api.queues.setdefault(u.id, asyncio.Queue()).get(), 120)
            await asyncio.sleep(2.0)
            busy_rss.append(rss_mib(assistant.proc.pid))
        print(
            f"{label}: start-up to first getUpdates {assistant.first_poll:.2f} s"
            f" vs echo {echo.first_poll:.2f} s;"
            f" idle RSS {idle_rss:.0f} MiB (echo {echo_rss:.0f} MiB), {busy_rss[0]:.0f} MiB with 1,000 open"
            f" conversations, {busy_rss[1]:.0f} MiB with 2,000"
        )
        summary.append(
            f"{label:10} 5. start-up {assistant.first_poll:.2f} s"
            f" ({assistant.first_poll / echo.first_poll:.2f}x echo), idle RSS {idle_rss:.0f} MiB"
            f" ({idle_rss / echo_rss:.2f}x echo), {busy_rss[0]:.0f} MiB with 1,000 open,"
            f" {busy_rss[1]:.0f} with 2,000"
        )
    finally:
        await assistant.stop()
        await echo.stop()


if __name__ == "__main__":
    if len(sys.argv) > 1 and sys.argv[1] == "--echo":
        echo_bot(sys.argv[2], sys.argv[3])
    else:
        asyncio.run(main())
