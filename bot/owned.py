"""Running a feature's own flow through the engine while the feature does the saving.

The engine asks, checks, shows the summary and handles Back/Cancel/Edit as for every flow; only
the summary's Save is the feature's, since what a deal, a transfer or a merge writes is its own.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable

from bot.turn import Incoming, Turn
from flows.engine import Input, Reply, State, parse_button
from flows.i18n import t

Save = Callable[[Turn, State], Awaitable[list[Reply]]]


async def step(turn: Turn, inc: Incoming, save: Save) -> list[Reply]:
    """One input or flow button for the open entry; Save on a current summary goes to `save`."""
    state = turn.state
    assert state is not None
    if inc.input is not None:
        inp = inc.input
    else:
        pressed = parse_button(inc.callback or "")
        if pressed is None:
            return [Reply(t(turn.lang, "bot.no_flow_button"))]
        inp = Input(kind="button", data=pressed[1], seq=pressed[0])
    if inp.kind == "button" and inp.data == "save" and inp.seq == state.seq and state.phase == "summary":
        return await save(turn, state)
    return await turn.step(inp)
