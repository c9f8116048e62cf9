"""A manager's lists: /my in scopes (mine, my team, one person, everyone) and /list with filters,
as buttons or typed (`/list 杭州 A VIP`), paged; every line opens its card.

Every button re-reads what the user may see (storage/team.py builds on repo's visibility), so a
forged scope, person or page shows nothing the user could not list anyway.
"""

from __future__ import annotations

from bot.feature import Command, Feature, Press
from bot.turn import PAGE, Incoming, Turn
from flows.engine import Button, Reply
from flows.i18n import t
from flows.team import describe, filter_buttons, list_reply, parse_filter, scope_buttons
from storage import team

MAX_DATA = 64  # Telegram's limit on callback data, in bytes


async def scope_page(turn: Turn, inc: Incoming) -> list[Reply]:
    """`g|sc|<scope>|<offset>`: a page of /my in one scope."""
    parts = (inc.callback or "").split("|")
    if len(parts) != 4 or not parts[3].isdecimal() or not parts[3].isascii() or len(parts[3]) > 9:
        return [Reply(t(turn.lang, "bot.not_allowed"))]
    scope, offset = parts[2], int(parts[3])
    if scope != "mine" and turn.user.role == "sales":
        return [Reply(t(turn.lang, "bot.not_allowed"))]
    found = await team.scoped(turn.tx, turn.user, scope, offset, PAGE)
    if found is None:
        return [Reply(t(turn.lang, "bot.not_allowed"))]
    lines, total = found
    if scope.startswith("u"):
        title = t(turn.lang, "list.scope.of", name=await team.owner_name(turn.tx, int(scope[1:])) or "")
    else:
        title = t(turn.lang, f"list.scope.{scope}")
    data = f"g|sc|{scope}|{{offset}}"
    reply = list_reply(title, lines, total, offset, PAGE, data, turn.lang, turn.services.tz, edit=True)
    reply.buttons += scope_buttons(turn.user.role, turn.lang)  # switch scope from any page
    return [reply]


async def people(turn: Turn, inc: Incoming) -> list[Reply]:
    """'One person': the manager's people (an admin's: everyone) as buttons."""
    if turn.user.role == "sales":
        return [Reply(t(turn.lang, "bot.not_allowed"))]
    members = await team.team_members(turn.tx, turn.user)
    if not members:
        return [Reply(t(turn.lang, "list.no_people"))]
    rows = [[Button(u.name[:40], f"g|sc|u{u.id}|0")] for u in members[:30]]
    return [Reply(t(turn.lang, "list.pick_person"), rows)]


async def list_command(turn: Turn, inc: Incoming) -> list[Reply]:
    if not inc.args.strip():
        return [Reply(t(turn.lang, "list.filters"), filter_buttons(turn.lang))]
    return await _filtered(turn, inc.args, 0, edit=False)


async def quick_filter(turn: Turn, inc: Incoming) -> list[Reply]:
    """`g|lst|<words>`: a filter button (the same words /list takes)."""
    return await _filtered(turn, (inc.callback or "").removeprefix("g|lst|"), 0, edit=False)


async def filter_page(turn: Turn, inc: Incoming) -> list[Reply]:
    """`g|lp|<offset>|<words>`: another page of a filtered list."""
    rest = (inc.callback or "").removeprefix("g|lp|")
    offset, _, words = rest.partition("|")
    if not offset.isdecimal() or not offset.isascii() or len(offset) > 9:
        return [Reply(t(turn.lang, "bot.not_allowed"))]
    return await _filtered(turn, words, int(offset), edit=True)


async def _filtered(turn: Turn, words: str, offset: int, *, edit: bool) -> list[Reply]:
    places, tags, owners = await team.vocabulary(turn.tx, turn.user)
    f = parse_filter(words[:200], places, tags, owners)
    lang = turn.lang
    if f.empty():
        return [Reply(t(lang, "list.unknown", words=" ".join(f.unknown)[:60]), filter_buttons(lang))]
    lines, total = await team.filtered(turn.tx, turn.user, f, turn.clock(), offset, PAGE)
    args = f.to_args()
    data: str | None = f"g|lp|{{offset}}|{args}"
    if len(f"g|lp|{10**6}|{args}".encode()) > MAX_DATA:
        data = None  # too long to page by button: the first page, and the words to narrow it
    title = describe(f, lang)
    replies = [list_reply(title, lines, total, offset, PAGE, data, lang, turn.services.tz, edit=edit)]
    if f.unknown and offset == 0:
        replies.insert(0, Reply(t(lang, "list.ignored", words=" ".join(f.unknown)[:60])))
    return replies


FEATURE = Feature(
    name="team",
    commands=(Command("list", list_command, help="help.list"),),
    presses=(
        Press("g|sc|", scope_page, "a page of /my in a scope: mine, my team, one person, everyone"),
        Press("g|people", people, "/my: pick one person of the team"),
        Press("g|lst|", quick_filter, "a /list filter button"),
        Press("g|lp|", filter_page, "another page of a filtered /list"),
    ),
)
