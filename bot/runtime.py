"""Start-up shared by every front end: settings, database, migrations, the assistant."""

from __future__ import annotations

import datetime as dt
import logging
from dataclasses import dataclass

from bot.config import Settings
from bot.router import Router
from storage.db import make_engine, make_sessions, migrate
from storage.files import FileStore
from storage.services import Clock, system_clock
from storage.tx import Engine, Sessions


@dataclass
class Runtime:
    settings: Settings
    engine: Engine
    sessions: Sessions
    router: Router

    async def close(self) -> None:
        await self.engine.dispose()


async def open_runtime(settings: Settings, *, clock: Clock = system_clock) -> Runtime:
    engine = make_engine(settings.db_url(), timeouts=settings.db_timeouts())
    await migrate(engine)
    sessions = make_sessions(engine)
    router = Router(
        sessions,
        default_tz=settings.timezone,
        clock=clock,
        flow_ttl=dt.timedelta(hours=settings.flow_ttl_hours),
        files=FileStore(settings.data_dir / "attachments"),
        default_hour=settings.default_hour,
    )
    return Runtime(settings, engine, sessions, router)


def setup_logging(token: str | None = None) -> None:
    """Our own events at INFO, with tokens and exception values redacted (see bot.logsafe)."""
    from bot.logsafe import setup_logging as setup_safe_logging

    setup_safe_logging(logging.INFO, token)
