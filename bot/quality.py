"""Quality numbers for a person or a team: the text (/stats, `crm-bot stats`) and the chart's data,
and the monthly report each manager receives on the 1st."""

from __future__ import annotations

import asyncio
import contextlib
import datetime as dt
import logging
import tempfile
from dataclasses import dataclass
from pathlib import Path
from typing import Any
from zoneinfo import ZoneInfo

from flows import stats as rules
from flows.i18n import t
from storage import repo
from storage import stats as store
from storage.models import User
from storage.services import Clock, system_clock
from storage.tx import Sessions, Tx, transaction

log = logging.getLogger(__name__)


@dataclass
class Report:
    text: str
    numbers: list[rules.Numbers]  # per person, then the team's when there is more than one person
    title: str


async def report(
    tx: Tx, user: User, period: rules.Period, lang: str, tz: dt.tzinfo, now: dt.datetime
) -> Report:
    people = await store.people_of(tx, user)
    start, end = period.bounds(tz)
    rows = await store.period_rows(tx, people, start, end, now)
    per_person = rules.tally(
        people, rows.customers, rows.contacts, rows.followups, rows.pending, rows.overdue
    )
    total = rules.team(per_person, t(lang, "data.stats.team")) if len(per_person) > 1 else None
    label = (
        period.label if len(period.label) == 7 else t(lang, "data.stats.week", start=period.start.isoformat())
    )
    text = rules.render(per_person, total, label, lang)
    numbers = [*per_person, *([total] if total is not None else [])]
    return Report(text, numbers, t(lang, "data.stats.chart_title", period=label))


def chart_file(folder: Path, report_: Report, lang: str, name: str) -> Path:
    from bot.charts import stats_chart

    return stats_chart(report_.numbers, report_.title, lang, folder / name)


MONTHLY_ACTION = "stats_monthly"
FIRST_LOOK = 600.0
LOOK_EVERY = 1800.0


class MonthlyReports:
    """On the 1st of each month (in CRM_TIMEZONE), each manager receives last month's report of their
    team; sent once, across restarts and processes (an audit row per manager and month is the mark)."""

    def __init__(self, sessions: Sessions, bot: Any, folder: Path, tz: str, *, clock: Clock = system_clock):
        self.sessions = sessions
        self.bot = bot
        self.folder = folder
        self.tz = ZoneInfo(tz)
        self.clock = clock
        self._task: asyncio.Task[None] | None = None
        self._stop = asyncio.Event()

    async def tick(self) -> int:
        now = self.clock()
        today = now.astimezone(self.tz).date()
        if today.day != 1:
            return 0
        period = rules.previous_month(today)
        sent = 0
        async with transaction(self.sessions) as tx:
            recipients = [u for u in await store.managers(tx) if u.chat_id and u.role == "manager"]
        for manager in recipients:
            mark = f"user {manager.id} month {period.label}"
            async with transaction(self.sessions) as tx:
                if await store.audit_exists(tx, MONTHLY_ACTION, mark):
                    continue
                lang = manager.lang or "zh"
                tz = ZoneInfo(manager.tz) if manager.tz else self.tz
                built = await report(tx, manager, period, lang, tz, now)
                await repo.audit(tx, manager, MONTHLY_ACTION, mark)  # committed before sending: at most once
            try:
                await self.bot.send_message(
                    manager.chat_id, t(lang, "data.stats.monthly") + "\n\n" + built.text
                )
                with tempfile.TemporaryDirectory() as tmp:
                    png = await asyncio.to_thread(chart_file, Path(tmp), built, lang, "stats.png")
                    with png.open("rb") as handle:
                        await self.bot.send_photo(manager.chat_id, handle)
                sent += 1
            except Exception as exc:  # one manager's blocked chat must not stop the others
                log.warning("monthly report not delivered: %s", type(exc).__name__)
        return sent

    async def run(self) -> None:
        """Looks every half hour, the first time ten minutes after start (a bot restarted on the 1st
        still sends; a short-lived process, a test, does not)."""
        delay = FIRST_LOOK
        while not self._stop.is_set():
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(self._stop.wait(), delay)
                return
            delay = LOOK_EVERY
            try:
                await self.tick()
            except Exception as exc:
                log.error("monthly reports failed: %s", type(exc).__name__)

    def start(self) -> None:
        self._task = asyncio.get_running_loop().create_task(self.run(), name="monthly-reports")

    async def stop(self) -> None:
        self._stop.set()
        if self._task is not None:
            with contextlib.suppress(Exception):
                await asyncio.wait_for(self._task, 30)
            self._task = None
