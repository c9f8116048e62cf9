"""Everything every incoming needs, for any front end; the rest is the features' (bot/features/).

The router knows who is writing, recognises a redelivered update, loads and saves the conversation
state in one transaction with whatever the step saved, and dispatches by the registry. Slow work a
feature asks for (a download, OCR) runs after the commit, outside any transaction, and its result
comes back as a new input, so no transaction (nor SQLite's write lock) waits on the network or CPU.
"""

from __future__ import annotations

import dataclasses
import datetime as dt
import logging
from dataclasses import dataclass, field
from pathlib import Path
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from pydantic import ValidationError

from bot.feature import Feature, Registry
from bot.features import FEATURES
from bot.turn import Fetch, Incoming, Turn, Work
from flows.definitions import FLOWS
from flows.engine import Button, Engine, Input, Reply, State, parse_button
from flows.i18n import lang_of, t
from storage import accounts, repo
from storage.files import FileStore
from storage.locks import lock_chat
from storage.models import User
from storage.services import Clock, StoreServices, system_clock
from storage.tx import Sessions, Tx, transaction

log = logging.getLogger(__name__)

MAX_WORK_ROUNDS = 3  # download → OCR → done: slow work may chain, but never loop

__all__ = ["Incoming", "Result", "Router"]


@dataclass
class Result:
    replies: list[Reply] = field(default_factory=list)
    lang: str = "zh"
    registered: bool = True


class Router:
    def __init__(
        self,
        sessions: Sessions,
        *,
        default_tz: str = "Asia/Shanghai",
        clock: Clock = system_clock,
        flow_ttl: dt.timedelta = dt.timedelta(hours=24),
        files: FileStore | None = None,
        default_hour: int = 9,
        features: tuple[Feature, ...] = FEATURES,
    ) -> None:
        self.sessions = sessions
        self.registry = Registry(features)
        self.engine = Engine({**FLOWS, **self.registry.flows})
        self.default_tz = default_tz
        self.clock = clock
        self.flow_ttl = flow_ttl
        self.files = files or FileStore(Path("data") / "attachments")
        self.default_hour = default_hour

    async def handle(self, inc: Incoming, fetch: Fetch | None = None) -> Result:
        """One incoming, one transaction (plus one per piece of slow work it asked for)."""
        result, work = await self._once(inc, fetch)
        for _ in range(MAX_WORK_ROUNDS):
            if work is None:
                break
            done = await work.run()
            if done is None:
                break
            if isinstance(done, list):
                result.replies += done
                break
            follow = dataclasses.replace(
                inc, update_id=None, command=None, callback=None, args="", input=done
            )
            more, work = await self._once(follow, fetch)
            result.replies += more.replies
            result.lang = more.lang
        return result

    async def _once(self, inc: Incoming, fetch: Fetch | None) -> tuple[Result, Work | None]:
        async with transaction(self.sessions) as tx:
            await lock_chat(tx, inc.chat_id)  # one chat's updates one after another, across replicas too
            user = await repo.user_by_telegram(tx, inc.telegram_id)
            lang: str = lang_of(inc.language_code)
            if user is None or not user.active:
                # nothing is stored for strangers; they get their id to hand to an admin
                key = "bot.not_registered" if user is None else "bot.deactivated"
                return Result(
                    [Reply(t(lang, key, telegram_id=inc.telegram_id))], lang, registered=False
                ), None
            if inc.update_id is not None and not await repo.mark_update(tx, inc.chat_id, inc.update_id):
                log.info("skipped a redelivered update")
                return Result([], user.lang or lang), None
            accounts.note_chat(user, inc.chat_id)  # writing again also means the bot is not blocked
            turn = await self._turn(tx, user, inc, user.lang or lang)
            turn.fetch = fetch
            replies = await self._route(turn, inc)
            return Result(replies, turn.lang), turn.work

    async def _turn(self, tx: Tx, user: User, inc: Incoming, lang: str) -> Turn:
        tz = self._tz(user)
        services = StoreServices(tx, user, lang, tz, self.clock, self.files, self.default_hour)
        row = await repo.load_conversation(tx, inc.chat_id, user.id)
        state = None
        if row is not None:
            try:
                state = State.model_validate(row.state)
            except ValidationError:
                log.warning("dropped an unreadable conversation state")
        return Turn(
            tx=tx,
            user=user,
            lang=lang,
            state=state,
            chat_id=inc.chat_id,
            engine=self.engine,
            clock=self.clock,
            files=self.files,
            default_tz=self.default_tz,
            default_hour=self.default_hour,
            services=services,
            help_lines=self.registry.help_lines(user.role),
            redispatch=self._route,
        )

    def _tz(self, user: User) -> ZoneInfo:
        try:
            return ZoneInfo(user.tz or self.default_tz)
        except (ZoneInfoNotFoundError, ValueError, OSError):
            return ZoneInfo(self.default_tz)

    # ------------------------------------------------------------ dispatch

    async def _route(self, turn: Turn, inc: Incoming) -> list[Reply]:
        lead: list[Reply] = []
        state = turn.state
        idle = self.clock() - state.updated_at if state is not None and state.updated_at else dt.timedelta(0)
        if state is not None and idle > self.flow_ttl:
            lead.append(Reply(t(turn.lang, "bot.expired", flow=turn.flow_name(state))))
            await turn.set_state(None)
        if inc.command:
            return lead + await self._command(turn, inc)
        owner = self.registry.owns.get(turn.state.flow) if turn.state is not None else None
        if owner is not None and (inc.input is not None or (inc.callback or "").startswith("f|")):
            return lead + await owner.run(turn, inc)  # e.g. a reminder's "Pick a time"
        if inc.callback:
            return lead + await self._press(turn, inc)
        if inc.input is not None:
            return lead + await self._input(turn, inc, inc.input)
        return lead

    async def _command(self, turn: Turn, inc: Incoming) -> list[Reply]:
        command = self.registry.commands.get(inc.command or "")
        if command is None or (command.roles is not None and turn.user.role not in command.roles):
            command = self.registry.commands["help"]
        if command.starts_entry and turn.state is not None:
            return [self._abandon_question(turn, command.abandon_to or command.name)]
        return await command.run(turn, inc)

    def _abandon_question(self, turn: Turn, name: str) -> Reply:
        assert turn.state is not None
        lang = turn.lang
        return Reply(
            t(lang, "bot.abandon_question", flow=turn.flow_name(turn.state)),
            [
                [Button(t(lang, "bot.btn.abandon"), f"g|abandon|{name}")],
                [Button(t(lang, "bot.btn.continue"), "g|continue")],
            ],
        )

    async def _press(self, turn: Turn, inc: Incoming) -> list[Reply]:
        data = inc.callback or ""
        flow_button = parse_button(data)
        if flow_button is not None:
            if turn.state is None:
                return [Reply(t(turn.lang, "bot.no_flow_button"))]
            seq, action = flow_button
            return await turn.step(Input(kind="button", data=action, seq=seq))
        press = self.registry.press(data)
        if press is None:
            key = "bot.not_allowed" if data.startswith("g|") else "bot.no_flow_button"
            return [Reply(t(turn.lang, key))]
        return await press.run(turn, inc)

    async def _input(self, turn: Turn, inc: Incoming, inp: Input) -> list[Reply]:
        first = self.registry.takes.get((inp.kind, "always"))
        if first is not None:
            return await first.run(turn, inc)
        if turn.state is not None:
            return await turn.step(inp)
        idle = self.registry.takes.get((inp.kind, "idle"))
        replies = await idle.run(turn, inc) if idle is not None else []
        return replies or [Reply(t(turn.lang, "bot.no_flow_text"))]
