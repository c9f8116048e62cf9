"""/stats [week|month|YYYY-MM]: the quality numbers as a short text and a chart. Sales see their own;
a manager each person of their team and the team; an admin everyone. The numbers are read in the
transaction; the chart is drawn after it, in a thread."""

from __future__ import annotations

import asyncio

from bot.feature import Command, Feature
from bot.quality import chart_file, report
from bot.turn import Incoming, Turn, Work
from flows import stats as rules
from flows.engine import Reply
from flows.i18n import t
from storage.export import sweep


async def stats(turn: Turn, inc: Incoming) -> list[Reply]:
    lang, tz, now = turn.lang, turn.services.tz, turn.clock()
    period = rules.period(inc.args, now.astimezone(tz).date())
    if period is None:
        return [Reply(t(lang, "data.stats.usage"))]
    built = await report(turn.tx, turn.user, period, lang, tz, now)
    folder = turn.files.root.parent / "exports"
    name = f"stats-{turn.user.id}-{period.label}.png"

    async def draw() -> list[Reply]:
        await asyncio.to_thread(sweep, folder)
        path = await asyncio.to_thread(chart_file, folder, built, lang, name)
        return [
            Reply(t(lang, "data.stats.chart"), files=[{"path": str(path), "name": name, "kind": "photo"}])
        ]

    turn.defer(Work(draw))
    return [Reply(built.text)]


FEATURE = Feature(name="stats", commands=(Command("stats", stats, help="help.stats"),))
