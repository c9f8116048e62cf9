"""Start-up order: before the first getUpdates only the database; the rest once updates flow.

post_init (run by PTB between getMe and the first getUpdates) opens what handling an update needs;
the command menu, the reminder loop's first tick and the data tasks start once the Application
runs, the last two when the updates waiting are answered.
"""

from __future__ import annotations

import asyncio

from bot.config import Settings
from bot.router import Router
from bot.runtime import Runtime
from storage import repo
from tests.conftest import Database
from tests.e2e.conftest import Chat, application
from tests.e2e.fake_bot_api import DEFAULT_TOKEN, FakeBotApi, FakeUser

ANN = FakeUser(5101, "芳", last_name="王", language_code="zh-hans")
LATER = ("reminders", "monthly_reports")  # what the start-up task puts in bot_data


async def test_post_init_leaves_the_menu_and_reminders_until_updates_are_answered(
    fake_api: FakeBotApi, db: Database
) -> None:
    async with db.sessions.begin() as s:
        await repo.add_user(s, ANN.id, "王芳", "sales")
    settings = Settings.load(
        bot_token=DEFAULT_TOKEN,
        bot_api_url=fake_api.base_url,
        bot_file_url=fake_api.base_file_url,
        reminder_poll_seconds=3600,
    )
    app = application(fake_api, settings, Runtime(settings, db.engine, db.sessions, Router(db.sessions)))
    chat = Chat(fake_api, ANN)
    chat.say("/help")  # waiting before the bot starts
    await app.initialize()
    try:
        assert app.post_init is not None and app.post_stop is not None
        await app.post_init(app)
        for _ in range(10):  # let the start-up task run as far as it can before polling
            await asyncio.sleep(0)
        assert fake_api.calls_to("setMyCommands") == []
        assert not set(LATER) & set(app.bot_data)

        assert app.updater is not None
        await app.updater.start_polling(poll_interval=0.0, timeout=1)
        await app.start()
        await chat.expect("/new_customer")  # the waiting message is answered first
        assert not set(LATER) & set(app.bot_data)
        await fake_api.wait_for(lambda c: c.method == "setMyCommands", timeout=10)
        for _ in range(300):  # then, the bot idle, the rest starts (within _LONGEST in any case)
            if set(LATER) <= set(app.bot_data):
                break
            await asyncio.sleep(0.05)
        assert set(LATER) <= set(app.bot_data)
        await app.post_stop(app)
        assert "reminders" not in app.bot_data
    finally:
        if app.updater is not None and app.updater.running:
            await app.updater.stop()
        if app.running:
            await app.stop()
        await app.shutdown()
