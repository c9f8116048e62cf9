"""Several people at once: per-chat order, chats side by side, webhooks, replicas, metrics.

Everything runs the production Application against the Bot API stand-in; the replica test runs two
Applications, each with its own connection pool, on one PostgreSQL schema, as two processes would.
"""

from __future__ import annotations

import asyncio
import socket
import sys
from collections.abc import AsyncIterator
from typing import Any

import httpx
import pytest
from sqlalchemy import text
from sqlalchemy.ext.asyncio import AsyncEngine

from bot.config import Settings
from bot.metrics import Metrics
from bot.router import Router
from bot.runtime import Runtime
from bot.telegram_app import build_application, on_start, webhook_options
from storage import repo
from storage.db import make_engine, make_sessions
from storage.locks import NAMESPACE, chat_key, lock_chat
from tests.conftest import PG_URL, Database
from tests.e2e.conftest import Chat, application
from tests.e2e.fake_bot_api import DEFAULT_TOKEN, FakeBotApi, FakeUser, started

ANN = FakeUser(5001, "芳", last_name="王", language_code="zh-hans")
BOB = FakeUser(5002, "Bob", language_code="en")
SECRET = "team-secret_0123456789"


def _settings(api: FakeBotApi, **extra: Any) -> Settings:
    return Settings.load(
        bot_token=DEFAULT_TOKEN, bot_api_url=api.base_url, bot_file_url=api.base_file_url, **extra
    )


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


async def _register(db: Database, *users: FakeUser) -> None:
    async with db.sessions.begin() as s:
        for user in users:
            await repo.add_user(s, user.id, user.first_name, "sales")


async def _to_the_address_question(chat: Chat) -> None:
    """Walk /new_customer to its three typed questions in a row (address, phone, e-mail)."""
    chat.say("/new_customer")
    await chat.expect("客户类型")
    await chat.tap("企业客户")
    await chat.expect("工商注册全称")
    chat.say("杭州数澜科技有限公司")
    await chat.expect("统一社会信用代码")
    for prompt, label in (("稍后补充", "客户状态"), ("潜在客户", "所属行业"), ("信息技术", "客户等级")):
        await chat.tap(prompt)
        await chat.expect(label)
    await chat.tap("跳过")
    await chat.expect("意向等级")
    await chat.tap("B 有意向")
    await chat.expect("详细地址")


def _count(api: FakeBotApi, chat_id: int, fragment: str, since: int) -> int:
    return sum(fragment in m.get("text", "") for m in api.messages(chat_id)[since:])


@pytest.fixture
async def polling(fake_api: FakeBotApi, db: Database) -> AsyncIterator[tuple[Chat, Chat]]:
    await _register(db, ANN, BOB)
    runtime = Runtime(_settings(fake_api), db.engine, db.sessions, Router(db.sessions))
    app = application(fake_api, runtime.settings, runtime)
    async with started(app):
        await on_start(app)
        yield Chat(fake_api, ANN), Chat(fake_api, BOB)


async def test_one_chats_quick_answers_are_applied_in_the_order_they_were_typed(
    polling: tuple[Chat, Chat], fake_api: FakeBotApi
) -> None:
    ann, _ = polling
    await _to_the_address_question(ann)
    since = len(fake_api.messages(ANN.id))
    # three answers typed before the first reply: each must meet the question the previous one left
    ann.say("浙江省杭州市西湖区文三路259号")
    ann.say("0571-88886666")
    ann.say("sales@shulan.com")
    await ann.expect("客户来源")
    assert _count(fake_api, ANN.id, "❗", since) == 0, fake_api.transcript(ANN.id)
    assert _count(fake_api, ANN.id, "联系电话", since) == 1
    assert _count(fake_api, ANN.id, "电子邮箱", since) == 1


async def test_a_slow_reply_to_one_person_does_not_hold_up_another(
    polling: tuple[Chat, Chat], fake_api: FakeBotApi
) -> None:
    ann, bob = polling
    # Ann's reply takes 4 s to be confirmed: one update at a time, Bob would wait as long
    fake_api.delay_next("sendMessage", 4.0, chat_id=ANN.id)
    ann.say("/help")
    await fake_api.wait_for(lambda c: c.method == "sendMessage" and c.chat_id == ANN.id)
    bob.say("/start")  # while Ann's update is still in progress
    await bob.expect("Bob", timeout=3.0)
    await ann.expect("/new_customer")


async def test_a_button_press_costs_one_message_call_and_is_answered_once_it_shows(
    polling: tuple[Chat, Chat], fake_api: FakeBotApi
) -> None:
    ann, _ = polling
    ann.say("/new_customer")
    asked = await ann.expect("客户类型")
    mark = fake_api.mark()
    query_id = await fake_api.press(ANN.id, "企业客户", user=ANN)
    pressed = await ann.expect("工商注册全称")
    assert pressed["message_id"] == asked["message_id"]  # the question became the next one
    assert "→ 企业客户" in pressed["text"]
    await fake_api.callback_answer(query_id)
    methods = [c.method for c in fake_api.calls[mark:] if c.method != "getUpdates"]
    # the spinner stops when the result shows: the answer does not hold up the edit
    assert methods == ["editMessageText", "answerCallbackQuery"], methods


async def test_a_press_whose_reply_is_slow_is_answered_without_waiting_for_it(
    polling: tuple[Chat, Chat], fake_api: FakeBotApi
) -> None:
    ann, _ = polling
    ann.say("/new_customer")
    await ann.expect("客户类型")
    fake_api.delay_next("editMessageText", 3.0, chat_id=ANN.id)  # Telegram is slow to confirm it
    query_id = await fake_api.press(ANN.id, "企业客户", user=ANN)
    await fake_api.callback_answer(query_id, timeout=2.0)  # the edit cannot be done before 3 s
    edit = next(c for c in fake_api.calls if c.method == "editMessageText" and c.chat_id == ANN.id)
    assert edit.status == 200  # it went through; only its response is held back
    await ann.expect("工商注册全称", timeout=10)


# ---------------------------------------------------------------- webhooks


async def _start_webhook(
    api: FakeBotApi, db_engine: AsyncEngine, port: int, metrics: Metrics | None = None, **extra: Any
) -> Any:
    settings = _settings(
        api,
        webhook_url=f"http://127.0.0.1:{port}/hook",
        webhook_listen="127.0.0.1",
        webhook_port=port,
        webhook_secret=SECRET,
        **extra,
    )
    sessions = make_sessions(db_engine)
    runtime = Runtime(settings, db_engine, sessions, Router(sessions))
    app = build_application(
        settings,
        runtime,
        metrics=metrics,
        request=api.request(),
        get_updates_request=api.request(connection_pool_size=1),
    )
    await app.initialize()
    await app.start()
    assert app.updater is not None
    await app.updater.start_webhook(**webhook_options(settings))
    await on_start(app)
    return app


async def _stop(app: Any) -> None:
    await app.updater.stop()
    await app.stop()
    await app.shutdown()


async def _post(port: int, update: dict[str, Any], secret: str | None = SECRET) -> int:
    headers = {"X-Telegram-Bot-Api-Secret-Token": secret} if secret is not None else {}
    async with httpx.AsyncClient(trust_env=False) as client:
        response = await client.post(f"http://127.0.0.1:{port}/hook", json=update, headers=headers)
    return response.status_code


# the secret is checked before any database work: once is enough
@pytest.mark.parametrize("db", ["sqlite"], indirect=True)
async def test_the_webhook_refuses_a_request_without_the_secret(fake_api: FakeBotApi, db: Database) -> None:
    await _register(db, ANN)
    port = _free_port()
    app = await _start_webhook(fake_api, db.engine, port)
    try:
        chat = Chat(fake_api, ANN)
        assert fake_api._webhook_url == f"http://127.0.0.1:{port}/hook"
        update = fake_api.push_text(ANN.id, "/start", user=ANN)
        assert await _post(port, update, secret=None) == 403
        assert await _post(port, update, secret="wrong-secret") == 403
        await fake_api.no_message(ANN.id, within=0.5)  # nothing was handled
        assert await _post(port, update) == 200
        await chat.expect("你好,芳")
    finally:
        await _stop(app)


# one backend is enough for the HTTP side
@pytest.mark.parametrize("db", ["sqlite"], indirect=True)
async def test_metrics_and_health_are_served_and_count_updates(fake_api: FakeBotApi, db: Database) -> None:
    await _register(db, ANN)
    port, metrics_port = _free_port(), _free_port()
    metrics = Metrics()
    app = await _start_webhook(fake_api, db.engine, port, metrics, metrics_port=metrics_port)
    from bot.telegram_app import _start_metrics

    servers: list[Any] = []
    await _start_metrics(app, app.bot_data["runtime"].settings, metrics, servers)
    try:
        assert await _post(port, fake_api.push_text(ANN.id, "/start", user=ANN)) == 200
        await Chat(fake_api, ANN).expect("你好,芳")
        async with httpx.AsyncClient(trust_env=False) as client:
            health = await client.get(f"http://127.0.0.1:{metrics_port}/healthz")
            assert health.status_code == 200 and health.json()["ok"] is True
            body = (await client.get(f"http://127.0.0.1:{metrics_port}/metrics")).text
        assert 'crm_updates_total{kind="message"} 1.0' in body
        assert "crm_step_seconds_count 1.0" in body and "crm_updates_in_progress 0.0" in body
        assert "crm_db_statement_seconds_count" in body and "crm_db_up 1.0" in body
    finally:
        for server in servers:
            server.stop()
        await _stop(app)


async def _waiters(engine: AsyncEngine, chat_id: int) -> int:
    """Transactions waiting for the chat's advisory lock (pg_locks shows the second key unsigned)."""
    async with engine.connect() as conn:
        row = await conn.execute(
            text(
                "SELECT count(*) FROM pg_locks WHERE locktype = 'advisory' AND NOT granted"
                " AND classid = :ns AND objid = :key"
            ),
            {"ns": NAMESPACE, "key": chat_key(chat_id) & 0xFFFFFFFF},
        )
        return int(row.scalar_one())


async def _until(check: Any, what: str, timeout: float = 10.0) -> None:
    loop = asyncio.get_running_loop()
    deadline = loop.time() + timeout
    while not await check():
        if loop.time() > deadline:
            raise AssertionError(f"timed out waiting for {what}")
        await asyncio.sleep(0.02)


@pytest.mark.postgres
# replicas share a PostgreSQL
@pytest.mark.parametrize("db", [pytest.param("postgres", marks=pytest.mark.postgres)], indirect=True)
async def test_two_replicas_apply_one_chats_updates_one_after_the_other(
    fake_api: FakeBotApi, db: Database
) -> None:
    await _register(db, ANN)
    schema = db.url.rsplit("#schema=", 1)[1]
    engines = [
        make_engine(PG_URL, connect_args={"server_settings": {"search_path": schema}}) for _ in range(3)
    ]
    ports = [_free_port(), _free_port()]
    replicas = [await _start_webhook(fake_api, engines[i], ports[i]) for i in range(2)]
    chat = Chat(fake_api, ANN)
    turn = 0

    async def say(words: str) -> None:  # alternately to the two replicas, as a load balancer would
        nonlocal turn
        assert await _post(ports[turn % 2], fake_api.push_text(ANN.id, words, user=ANN)) == 200
        turn += 1

    async def tap(label: str) -> None:
        nonlocal turn
        message, button = fake_api.find_button(ANN.id, label)
        fake_api.push_callback(message, button["callback_data"], user=ANN)
        assert await _post(ports[turn % 2], fake_api.pushed[-1]) == 200
        turn += 1

    try:
        await say("/new_customer")
        await chat.expect("客户类型")
        await tap("企业客户")
        await chat.expect("工商注册全称")
        await say("杭州数澜科技有限公司")
        await chat.expect("统一社会信用代码")
        for label, prompt in (("稍后补充", "客户状态"), ("潜在客户", "所属行业"), ("信息技术", "客户等级")):
            await tap(label)
            await chat.expect(prompt)
        await tap("跳过")
        await chat.expect("意向等级")
        await tap("B 有意向")
        await chat.expect("详细地址")
        since = len(fake_api.messages(ANN.id))

        # the chat is busy (a step of ours holds it); both replicas get an answer meanwhile
        holder = make_sessions(engines[2])
        async with holder.begin() as tx:
            await lock_chat(tx, ANN.id)
            await say("浙江省杭州市西湖区文三路259号")  # replica 0
            await _until(lambda: _count_is(engines[2], 1), "replica 0 to wait for the chat")
            await say("0571-88886666")  # replica 1, while replica 0's step has not run
            await _until(lambda: _count_is(engines[2], 2), "replica 1 to wait for the chat")
        # released: the two steps run one after the other, each on the state the other left
        await chat.expect("电子邮箱")
        assert _count(fake_api, ANN.id, "❗", since) == 0, fake_api.transcript(ANN.id)
        assert _count(fake_api, ANN.id, "联系电话", since) == 1
        assert _count(fake_api, ANN.id, "电子邮箱", since) == 1
        # and quicker than a step, with nothing held: still one after the other
        await say("sales@shulan.com")
        await chat.expect("客户来源")
    finally:
        for app in replicas:
            await _stop(app)
        for engine in engines:
            await engine.dispose()


async def _count_is(engine: AsyncEngine, n: int) -> bool:
    return await _waiters(engine, ANN.id) >= n


@pytest.mark.slow
async def test_crm_bot_run_webhook_as_deployed(fake_api: FakeBotApi, tmp_path: Any) -> None:
    """`crm-bot run --webhook` as a process: it registers the webhook with its secret, answers what
    is posted with it, and serves /healthz on the port after the webhook's."""
    import os
    import signal

    from storage.db import migrate
    from tests.e2e.conftest import ROOT

    url = f"sqlite+aiosqlite:///{tmp_path / 'hook.sqlite3'}"
    engine = make_engine(url)
    await migrate(engine)
    async with make_sessions(engine).begin() as s:
        await repo.add_user(s, ANN.id, "芳", "sales")
    await engine.dispose()
    port = _free_port()
    while not _port_free(port + 1):  # /healthz goes on the next port
        port = _free_port()
    env = {
        **{k: v for k, v in os.environ.items() if not k.startswith("CRM_")},
        "CRM_BOT_TOKEN": DEFAULT_TOKEN,
        "CRM_BOT_API_URL": fake_api.base_url,
        "CRM_BOT_FILE_URL": fake_api.base_file_url,
        "CRM_DATABASE_URL": url,
        "CRM_WEBHOOK_URL": f"http://127.0.0.1:{port}/hook",
        "CRM_WEBHOOK_LISTEN": "127.0.0.1",
        "CRM_WEBHOOK_PORT": str(port),
        "CRM_WEBHOOK_SECRET": SECRET,
        "CRM_METRICS_LISTEN": "127.0.0.1",
        "NO_PROXY": "127.0.0.1,localhost",
        "no_proxy": "127.0.0.1,localhost",
    }
    proc = await asyncio.create_subprocess_exec(
        sys.executable, "-m", "bot.cli", "run", "--webhook", cwd=ROOT, env=env,
        stdout=asyncio.subprocess.PIPE, stderr=asyncio.subprocess.STDOUT,
    )  # fmt: skip
    try:
        call = await fake_api.wait_for(lambda c: c.method == "setWebhook", timeout=60)
        assert call.params["url"] == env["CRM_WEBHOOK_URL"] and call.params["secret_token"] == SECRET

        async def healthy() -> bool:
            try:
                async with httpx.AsyncClient(trust_env=False) as client:
                    return (await client.get(f"http://127.0.0.1:{port + 1}/healthz")).status_code == 200
            except httpx.HTTPError:
                return False

        await _until(healthy, "/healthz", timeout=30)
        update = fake_api.push_text(ANN.id, "/start", user=ANN)
        assert await _post(port, update, secret="nope") == 403
        assert await _post(port, update) == 200
        await Chat(fake_api, ANN).expect("你好,芳", timeout=20)
    finally:
        proc.send_signal(signal.SIGTERM)
        try:
            await asyncio.wait_for(proc.wait(), 20)
        except TimeoutError:
            proc.kill()
            await proc.wait()
    output = (await proc.stdout.read()).decode(errors="replace") if proc.stdout else ""
    assert DEFAULT_TOKEN not in output and SECRET not in output, "a secret leaked into the log"


def _port_free(port: int) -> bool:
    with socket.socket() as s:
        try:
            s.bind(("127.0.0.1", port))
        except OSError:
            return False
        return True
