"""A person's own settings: language, time zone, quiet hours."""

from __future__ import annotations

from bot.feature import Command, Feature, Press
from bot.turn import Incoming, Turn
from flows import reminders as rules
from flows.engine import Button, Reply
from flows.i18n import t
from flows.zones import zone_or_none
from storage import accounts


async def lang(turn: Turn, inc: Incoming) -> list[Reply]:
    return [
        Reply(
            t(turn.lang, "bot.lang_pick"),
            [[Button("中文", "g|lang|zh"), Button("English", "g|lang|en")]],
        )
    ]


async def pick_lang(turn: Turn, inc: Incoming) -> list[Reply]:
    chosen = (inc.callback or "").removeprefix("g|lang|")
    if chosen not in ("zh", "en"):
        return [Reply(t(turn.lang, "bot.not_allowed"))]
    turn.set_lang(chosen)
    return [Reply(t(chosen, "bot.lang_set"))]


async def tz(turn: Turn, inc: Incoming) -> list[Reply]:
    lang, zone = turn.lang, inc.args.strip()
    if not zone:
        return [Reply(t(lang, "bot.tz_usage", tz=turn.user.tz or turn.default_tz))]
    if zone_or_none(zone) is None:
        return [Reply(t(lang, "bot.tz_bad", tz=zone[:40]))]
    accounts.set_zone(turn.user, zone)
    return [Reply(t(lang, "bot.tz_set", tz=zone))]


async def quiet(turn: Turn, inc: Incoming) -> list[Reply]:
    """/quiet 22:00-08:00 sets the person's quiet hours; /quiet off turns them off; /quiet shows them."""
    lang, user = turn.lang, turn.user
    text = inc.args.strip()
    if not text:
        q = rules.Quiet.of(user.quiet_start, user.quiet_end)
        if q.off:
            return [Reply(t(lang, "rem.quiet.show_off"))]
        zone = user.tz or turn.default_tz
        return [Reply(t(lang, "rem.quiet.show", start=f"{q.start:%H:%M}", end=f"{q.end:%H:%M}", tz=zone))]
    parsed = rules.parse_quiet(text)
    if parsed is None:
        return [Reply(t(lang, "rem.quiet.bad", text=text[:40]))]
    accounts.set_quiet(user, *parsed)
    if parsed[0] == parsed[1]:
        return [Reply(t(lang, "rem.quiet.off"))]
    return [Reply(t(lang, "rem.quiet.set", start=parsed[0], end=parsed[1]))]


FEATURE = Feature(
    name="settings",
    commands=(
        Command("lang", lang, help="help.lang"),
        Command("tz", tz, help="help.tz"),
        Command("quiet", quiet, help="help.quiet"),
    ),
    presses=(Press("g|lang|", pick_lang, "choose the language"),),
)
