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
from collections import OrderedDict
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from zoneinfo import ZoneInfo

from bot.feature import Feature, Registry
from bot.features import FEATURES
from bot.turn import Fetch, Incoming, Progress, Turn, Work
from flows.definitions import FLOWS
from flows.engine import Button, Engine, Input, Reply, State, UnreadableState, parse_button
from flows.i18n import lang_of, t
from flows.limits import fit
from flows.zones import zone_or_none
from storage import accounts, repo
from storage.errors import DatabaseUnavailable, again_if_stale, database_errors
from storage.files import FileStore
from storage.locks import lock_chat
from storage.models import User
from storage.services import Clock, StoreServices, system_clock
from storage.tx import Sessions, Tx, transaction

log = logging.getLogger(__name__)

MAX_WORK_ROUNDS = 3  # download → OCR → done: slow work may chain, but never loop
IN_FLIGHT = dt.timedelta(seconds=20)  # longer than sending a reply takes, shorter than waiting for one
KEPT_IDS = 30  # message ids remembered per open entry, to tie edits and replies to their question
TOLD_KEPT = 10_000  # strangers and groups told "not here" today, remembered in memory only

__all__ = ["Incoming", "Result", "Router"]


@dataclass
class Result:
    replies: list[Reply] = field(default_factory=list)
    lang: str = "zh"
    registered: bool = True
    confirm: bool = False  # the front end should call Router.delivered once the replies are sent
    seq: int | None = None  # which question they show (the state's seq), so a later one is not confirmed


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
        self._told: OrderedDict[tuple[str, int], dt.date] = OrderedDict()

    async def handle(
        self, inc: Incoming, fetch: Fetch | None = None, progress: Progress | None = None
    ) -> Result:
        """One incoming, one transaction (plus one per piece of slow work it asked for).

        A database that does not answer in time rolls the step back: the person is told to send it
        again and keeps every earlier answer (the state committed before is untouched).
        """
        try:
            return await self._handle(inc, fetch, progress)
        except DatabaseUnavailable:
            log.warning("database unavailable: a step was rolled back")
            return Result([Reply(t(lang_of(inc.language_code), "bot.busy"))], lang_of(inc.language_code))

    async def _handle(self, inc: Incoming, fetch: Fetch | None, progress: Progress | None) -> Result:
        result, work = await self._once(inc, fetch, progress)
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
            more, work = await self._once(follow, fetch, progress)
            result.replies += more.replies
            result.lang = more.lang
            result.confirm, result.seq = more.confirm, more.seq
        return result

    async def _once(
        self, inc: Incoming, fetch: Fetch | None, progress: Progress | None = None
    ) -> tuple[Result, Work | None]:
        lang: str = lang_of(inc.language_code)
        if inc.chat_type != "private":
            # cards, flows and reminders carry phones and e-mails: never in front of a group
            return Result(self._once_a_day(("chat", inc.chat_id), self._private_only(inc, lang)), lang), None
        with database_errors():
            if inc.update_id is None:  # not repeatable safely: nothing would tell a repeat from a first run
                return await self._in_transaction(inc, fetch, lang, progress)
            return await again_if_stale(lambda: self._in_transaction(inc, fetch, lang, progress))

    async def _in_transaction(
        self, inc: Incoming, fetch: Fetch | None, lang: str, progress: Progress | None = None
    ) -> tuple[Result, Work | None]:
        async with transaction(self.sessions) as tx:
            await lock_chat(tx, inc.chat_id)  # one chat's updates one after another, across replicas too
            now = self.clock()
            user, _, fresh = await repo.user_conversation_and_sight(  # the entry is kept for _turn
                tx, inc.telegram_id, inc.chat_id, inc.update_id, now
            )
            if user is None or not user.active:
                # nothing is stored for strangers; they get their id to hand to an admin, once a day
                key = "bot.not_registered" if user is None else "bot.deactivated"
                refusal = [Reply(t(lang, key, telegram_id=inc.telegram_id))]
                return Result(
                    self._once_a_day(("id", inc.telegram_id), refusal), lang, registered=False
                ), None
            lang = user.lang or lang
            if not fresh:
                log.info("a redelivered update: showing where the person is")
                turn = await self._turn(tx, user, inc, lang)
                return Result(await self._redelivered(turn, inc), turn.lang), None
            accounts.note_chat(user, inc.chat_id)  # writing again also means the bot is not blocked
            if inc.language_code:  # what reminders speak until /lang chooses
                accounts.note_language(user, lang_of(inc.language_code))
            turn = await self._turn(tx, user, inc, lang)
            turn.fetch = fetch
            turn.progress_to = progress
            turn.awaiting_confirm = inc.confirms
            replies = await self._route(turn, inc)
            if turn.saved is not None and inc.update_id is not None:
                await repo.note_outcome(tx, inc.chat_id, inc.update_id, turn.saved[0], turn.saved[1])
            confirm = inc.confirms and turn.state is not None and not turn.state.delivered
            seq = turn.state.seq if turn.state is not None else None
            return Result(fit(replies), turn.lang, confirm=confirm, seq=seq), turn.work

    async def delivered(
        self, chat_id: int, telegram_id: int, message_id: int | None, seq: int | None = None
    ) -> None:
        """The front end sent the replies: the open question was seen (and is message `message_id`).

        Only the question those replies showed (`seq`) is marked: if another replica has moved the
        entry on meanwhile, its newer question stays unconfirmed until its own replies are sent.
        """

        def seen(state: State) -> None:
            state.delivered, state.send_failed = True, False
            if message_id is not None:
                state.asked[str(message_id)] = state.step or state.phase
                state.asked = dict(list(state.asked.items())[-KEPT_IDS:])

        await self._mark(chat_id, telegram_id, seq, seen)

    async def undelivered(self, chat_id: int, telegram_id: int, seq: int | None) -> None:
        """The front end could not send the replies: the question they showed was not seen."""

        def lost(state: State) -> None:
            state.delivered, state.send_failed = False, True

        await self._mark(chat_id, telegram_id, seq, lost)

    async def _mark(
        self, chat_id: int, telegram_id: int, seq: int | None, change: Callable[[State], None]
    ) -> None:
        """Change the open entry's delivery marks, if it still shows the question `seq`."""
        await again_if_stale(lambda: self._mark_once(chat_id, telegram_id, seq, change))

    async def _mark_once(
        self, chat_id: int, telegram_id: int, seq: int | None, change: Callable[[State], None]
    ) -> None:
        async with transaction(self.sessions) as tx:
            await lock_chat(tx, chat_id)
            found = await repo.entry_of(tx, telegram_id, chat_id)
            if found is None:
                return
            user_id, entry = found
            try:
                state = State.stored(entry.state)
            except UnreadableState:
                return
            if seq is not None and state.seq != seq:
                return
            change(state)
            await repo.save_conversation(tx, chat_id, user_id, state.dump(), self.clock())

    def _private_only(self, inc: Incoming, lang: str) -> list[Reply]:
        if inc.bot_username:
            return [Reply(t(lang, "bot.private_only", link=f"https://t.me/{inc.bot_username}"))]
        return [Reply(t(lang, "bot.private_only_nolink"))]

    def _once_a_day(self, key: tuple[str, int], replies: list[Reply]) -> list[Reply]:
        """Refusals (a stranger, a group) are said once a day per id, not on every message.

        Kept in memory on purpose: nothing is stored about people who are not users; after a restart
        they may be told once more.
        """
        today = self.clock().date()
        if self._told.get(key) == today:
            return []
        self._told[key] = today
        self._told.move_to_end(key)
        while len(self._told) > TOLD_KEPT:
            self._told.popitem(last=False)
        return replies

    async def _redelivered(self, turn: Turn, inc: Incoming) -> list[Reply]:
        """Telegram sent an update again (we crashed before it knew we had it): its replies may never
        have arrived, so show where the person is now instead of silence."""
        if turn.state is not None:
            return [Reply(t(turn.lang, "bot.already_received")), *await turn.resume()]
        seen = await repo.seen_update(turn.tx, inc.chat_id, inc.update_id or 0)
        if seen is not None and seen.saved_customer_id is not None:
            card = await turn.card(seen.saved_customer_id)
            if card is not None:
                return [Reply(t(turn.lang, "bot.already_saved")), card]
        return [Reply(t(turn.lang, "bot.already_received"))]

    async def _turn(self, tx: Tx, user: User, inc: Incoming, lang: str) -> Turn:
        tz = self._tz(user)
        services = StoreServices(tx, user, lang, tz, self.clock, self.files, self.default_hour)
        row = await repo.load_conversation(tx, inc.chat_id, user.id)
        state = None
        if row is not None:
            try:
                state = State.stored(row.state)
            except UnreadableState:
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
        return zone_or_none(user.tz or self.default_tz) or ZoneInfo(self.default_tz)

    # ------------------------------------------------------------ dispatch

    async def _route(self, turn: Turn, inc: Incoming) -> list[Reply]:
        lead: list[Reply] = []
        state = turn.state
        idle = self.clock() - state.updated_at if state is not None and state.updated_at else dt.timedelta(0)
        if state is not None and idle > self.flow_ttl:
            lead.append(Reply(t(turn.lang, "bot.expired", flow=turn.flow_name(state))))
            await turn.set_state(None)
        if inc.edited:
            return lead + await self._edited(turn, inc)
        if inc.command:
            return lead + await self._command(turn, inc)
        if inc.input is not None and turn.state is not None:
            answered = await self._answer_to_which(turn, inc)
            if answered is not None:
                return lead + answered
        owner = self.registry.owns.get(turn.state.flow) if turn.state is not None else None
        if owner is not None and (inc.input is not None or (inc.callback or "").startswith("f|")):
            return lead + await owner.run(turn, inc)  # e.g. a reminder's "Pick a time"
        if inc.callback:
            return lead + await self._press(turn, inc)
        if inc.input is not None:
            return lead + await self._input(turn, inc, inc.input)
        return lead

    async def _edited(self, turn: Turn, inc: Incoming) -> list[Reply]:
        """An edited message: a correction of the answer it gave, if it gave one in the open entry."""
        state = turn.state
        step = state.answered_by.get(str(inc.message_id)) if state is not None else None
        if state is None or step is None or inc.input is None or inc.input.kind != "text":
            return [Reply(t(turn.lang, "bot.edit_not_applied"))]
        return await turn.apply(await turn.engine.correct(state, step, inc.input.text, turn.services))

    async def _answer_to_which(self, turn: Turn, inc: Incoming) -> list[Reply] | None:
        """Apply an answer only to the question it answers (None: the current one, as usual).

        A reply to an earlier question corrects that answer; an answer while the current question
        may never have reached the person (its sending failed or we crashed) shows it again first.
        """
        state = turn.state
        assert state is not None and inc.input is not None
        replied = state.asked.get(str(inc.reply_to)) if inc.reply_to is not None else None
        if replied is not None and replied != (state.step or state.phase):
            if replied in state.answers and inc.input.kind == "text":
                return await turn.apply(
                    await turn.engine.correct(state, replied, inc.input.text, turn.services)
                )
        elif replied is None and self._maybe_unseen(state):
            return [Reply(t(turn.lang, "bot.question_again")), *await turn.resume()]
        if inc.message_id is not None and state.phase == "ask" and state.step is not None:
            state.answered_by[str(inc.message_id)] = state.step
            state.answered_by = dict(list(state.answered_by.items())[-KEPT_IDS:])
        return None

    def _maybe_unseen(self, state: State) -> bool:
        """Whether the open question may never have reached the person.

        Sending it failed (the front end said so), or it was never confirmed although it was asked a
        while ago (the process died between the commit and the send). An unconfirmed question asked a
        moment ago is still on its way (another replica is sending it): an answer typed ahead is
        applied to it, in order.
        """
        if state.delivered:
            return False
        if state.send_failed or state.updated_at is None:
            return True
        return self.clock() - state.updated_at > IN_FLIGHT

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
