"""The open entry itself: help, cancel, continue, discard, and "discard it and start the new one"."""

from __future__ import annotations

from bot.feature import Command, Feature, Press
from bot.turn import Incoming, Turn
from flows.engine import Button, Reply
from flows.i18n import t


def help_text(turn: Turn) -> str:
    """Generated from the registry's declarations, so it lists exactly what the bot handles."""
    lines = [
        f"/{line.command} {t(turn.lang, line.key)}" if line.command else t(turn.lang, line.key)
        for line in turn.help_lines
    ]
    return "\n".join(lines)


async def start(turn: Turn, inc: Incoming) -> list[Reply]:
    replies = [Reply(t(turn.lang, "bot.greeting", name=turn.user.name) + "\n\n" + help_text(turn))]
    if turn.state is not None:
        lang = turn.lang
        replies.append(
            Reply(
                t(lang, "bot.open_flow", flow=turn.flow_name(turn.state), step=len(turn.state.trail) + 1),
                [
                    [
                        Button(t(lang, "bot.btn.continue"), "g|continue"),
                        Button(t(lang, "bot.btn.discard"), "g|discard"),
                    ]
                ],
            )
        )
    return replies


async def cancel(turn: Turn, inc: Incoming) -> list[Reply]:
    if turn.state is None:
        return [Reply(t(turn.lang, "bot.nothing_to_cancel"))]
    await turn.set_state(None)
    return [Reply(t(turn.lang, "flow.cancelled"))]


async def continue_(turn: Turn, inc: Incoming) -> list[Reply]:
    if turn.state is None:
        return [Reply(t(turn.lang, "bot.nothing_to_cancel"))]
    return await turn.resume()


async def continue_button(turn: Turn, inc: Incoming) -> list[Reply]:
    if turn.state is None:
        return [Reply(t(turn.lang, "bot.no_flow_button"))]
    return await turn.resume()


async def discard(turn: Turn, inc: Incoming) -> list[Reply]:
    await turn.set_state(None)
    return [Reply(t(turn.lang, "bot.discarded"))]


async def abandon(turn: Turn, inc: Incoming) -> list[Reply]:
    """The answer to "discard the open entry?" asked when a command that starts one was typed."""
    command = (inc.callback or "").removeprefix("g|abandon|")
    await turn.set_state(None)
    return [Reply(t(turn.lang, "bot.discarded")), *await turn.command(command)]


FEATURE = Feature(
    name="conversation",
    commands=(
        Command("start", start),
        Command("help", start, help="help.help"),
        Command("cancel", cancel, help="help.cancel"),
        Command("continue", continue_),
    ),
    presses=(
        Press("g|continue", continue_button, "continue the open entry"),
        Press("g|discard", discard, "discard the open entry"),
        Press("g|abandon|", abandon, "discard the open entry and run the command typed"),
    ),
)
