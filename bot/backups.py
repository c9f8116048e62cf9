"""The bot backs itself up: every day at CRM_BACKUP_TIME (in CRM_TIMEZONE), and at start when the
newest archive is more than a day old (the bot was down at backup time). A first install waits for
the first backup time. The copy runs off the event loop (storage/backup.py), so updates keep flowing.
"""

from __future__ import annotations

import asyncio
import contextlib
import datetime as dt
import logging
from pathlib import Path
from typing import Any
from zoneinfo import ZoneInfo

from bot.config import Settings
from flows.reminders import parse_hhmm
from storage import backup as store
from storage.services import Clock, system_clock
from storage.tx import Engine

log = logging.getLogger(__name__)

MISSED_AFTER = dt.timedelta(hours=26)


def next_run(now: dt.datetime, at: dt.time, tz: dt.tzinfo, newest: dt.datetime | None) -> dt.datetime:
    """When the next scheduled backup is due: now if one was missed, else the next `at` in `tz`."""
    if newest is not None and now - newest > MISSED_AFTER:
        return now
    local = now.astimezone(tz)
    candidate = dt.datetime.combine(local.date(), at, tzinfo=tz)
    if candidate <= local:
        candidate = dt.datetime.combine(local.date() + dt.timedelta(days=1), at, tzinfo=tz)
    return candidate.astimezone(dt.UTC)


class BackupSchedule:
    """One background task per bot process; `stop()` lets a backup in progress finish."""

    def __init__(
        self,
        engine: Engine,
        attachments: Path,
        settings: Settings,
        *,
        clock: Clock = system_clock,
    ) -> None:
        self.engine = engine
        self.attachments = attachments
        self.folder = settings.backups()
        self.at = parse_hhmm(settings.backup_time)
        self.tz = ZoneInfo(settings.timezone)
        self.daily = settings.backup_keep_daily
        self.monthly = settings.backup_keep_monthly
        self.clock = clock
        self._task: asyncio.Task[None] | None = None
        self._stopping = asyncio.Event()

    async def once(self) -> store.Made:
        made = await store.backup(
            self.engine, self.attachments, self.folder, self.clock(), daily=self.daily, monthly=self.monthly
        )
        log.info("backup: %s (%d files, %d bytes; %d old removed)", made.path.name, made.files, made.size,
                 len(made.removed))  # fmt: skip
        return made

    async def run(self) -> None:
        while not self._stopping.is_set():
            now = self.clock()
            due = next_run(now, self.at, self.tz, store.newest_backup_at(self.folder))
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(self._stopping.wait(), max(0.0, (due - now).total_seconds()))
                return  # stopped while waiting
            try:
                await self.once()
            except store.BackupError as exc:
                log.error("backup failed: %s", exc)
            except Exception as exc:  # the schedule must outlive a failed night
                log.error("backup failed: %s", type(exc).__name__)
            await asyncio.sleep(1.0)  # never two archives in one second

    def start(self) -> asyncio.Task[None]:
        self._task = asyncio.get_running_loop().create_task(self.run(), name="backups")
        return self._task

    async def stop(self, timeout: float = 300.0) -> None:
        self._stopping.set()
        task, self._task = self._task, None
        if task is not None:
            try:
                await asyncio.wait_for(task, timeout)
            except TimeoutError:
                log.warning("backup did not finish in %.0fs; cancelled", timeout)


def start_data_tasks(app: Any) -> BackupSchedule | None:
    """From the Application's post_init: the monthly quality reports and the daily backup (unless
    turned off), on PTB's event loop."""
    from bot.quality import MonthlyReports

    runtime = app.bot_data["runtime"]
    settings: Settings = runtime.settings
    monthly = MonthlyReports(
        runtime.sessions,
        app.bot,
        settings.data_dir / "exports",
        settings.timezone,
        clock=runtime.router.clock,
    )
    monthly.start()
    app.bot_data["monthly_reports"] = monthly
    if not settings.backup_enabled:
        return None
    schedule = BackupSchedule(runtime.engine, runtime.router.files.root, settings, clock=runtime.router.clock)
    schedule.start()
    app.bot_data["backups"] = schedule
    log.info("backups: daily at %s %s into the backup folder", settings.backup_time, settings.timezone)
    return schedule


async def stop_data_tasks(app: Any) -> None:
    monthly = app.bot_data.pop("monthly_reports", None)
    if monthly is not None:
        await monthly.stop()
    schedule = app.bot_data.pop("backups", None)
    if isinstance(schedule, BackupSchedule):
        await schedule.stop()
