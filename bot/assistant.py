"""Everything the product does with one incoming message or button press, for any front end.

The Telegram adapter and the terminal chat both turn what the person did into an `Incoming` and
render the returned replies. One transaction per incoming: the update id, the conversation state and
whatever the flow saved commit together or not at all, so a crash never half-saves and a
redelivered update is recognised.
"""

from __future__ import annotations

import datetime as dt
import logging
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from pydantic import ValidationError
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from bot import capture, reminders
from bot.capture import Fetch
from bot.services import Clock, StoreServices, system_clock
from flows.definitions import FLOWS
from flows.engine import Button, Engine, Input, Outcome, Reply, State, parse_button
from flows.i18n import lang_of, t
from flows.reminders import FLOWS as REMINDER_FLOWS
from flows.views import CustomerView, FollowUpLine, customer_card, list_line
from storage import repo
from storage.files import FileStore, attachments_of
from storage.models import Contact, Customer, User

log = logging.getLogger(__name__)

COMMANDS = (
    "new_customer", "new_contact", "log", "note", "find", "my", "today",
    "cancel", "help", "lang", "tz", "quiet",
)  # fmt: skip
FLOW_OF_COMMAND = {"new_customer": "customer", "new_contact": "contact", "log": "followup"}
PAGE = 8


@dataclass(frozen=True)
class Incoming:
    """What a person did, whatever the front end: a command, a flow input, or a button's data."""

    chat_id: int
    telegram_id: int
    first_name: str = ""
    language_code: str | None = None
    update_id: int | None = None
    command: str | None = None
    args: str = ""
    input: Input | None = None
    callback: str | None = None


@dataclass
class Result:
    replies: list[Reply] = field(default_factory=list)
    lang: str = "zh"
    registered: bool = True


@dataclass
class Turn:
    """One incoming being handled: the transaction, the person and their open conversation."""

    session: AsyncSession
    user: User
    services: StoreServices
    state: State | None
    lang: str
    fetch: Fetch | None = None


class Assistant:
    def __init__(
        self,
        sessions: async_sessionmaker[AsyncSession],
        *,
        default_tz: str = "Asia/Shanghai",
        clock: Clock = system_clock,
        flow_ttl: dt.timedelta = dt.timedelta(hours=24),
        files: FileStore | None = None,
        default_hour: int = 9,
    ) -> None:
        self.default_hour = default_hour
        self.files = files or FileStore(Path("data") / "attachments")
        self.sessions = sessions
        self.engine = Engine({**FLOWS, **REMINDER_FLOWS})
        self.default_tz = default_tz
        self.clock = clock
        self.flow_ttl = flow_ttl

    async def handle(self, inc: Incoming, fetch: Fetch | None = None) -> Result:
        """One incoming, one transaction. `fetch` downloads a file the person sent (front-end specific)."""
        async with self.sessions.begin() as session:
            user = await repo.user_by_telegram(session, inc.telegram_id)
            lang: str = lang_of(inc.language_code)
            if user is None or not user.active:
                # nothing is stored for strangers; they get their id to hand to an admin
                key = "bot.not_registered" if user is None else "bot.deactivated"
                return Result([Reply(t(lang, key, telegram_id=inc.telegram_id))], lang, registered=False)
            if inc.update_id is not None and not await repo.mark_update(session, inc.chat_id, inc.update_id):
                log.info("skipped a redelivered update")
                return Result([], user.lang or lang)
            user.chat_id = inc.chat_id
            user.blocked_at = None  # writing to the bot again means it is not blocked (reminders resume)
            lang = user.lang or lang
            turn = await self._turn(session, user, inc, lang)
            turn.fetch = fetch
            replies = await self._route(turn, inc)
            return Result(replies, turn.lang)

    async def _turn(self, session: AsyncSession, user: User, inc: Incoming, lang: str) -> Turn:
        services = StoreServices(
            session, user, lang, self._tz(user), self.clock, self.files, self.default_hour
        )
        row = await repo.load_conversation(session, inc.chat_id, user.id)
        state = None
        if row is not None:
            try:
                state = State.model_validate(row.state)
            except ValidationError:
                log.warning("dropped an unreadable conversation state")
        return Turn(session, user, services, state, lang)

    def _tz(self, user: User) -> ZoneInfo:
        try:
            return ZoneInfo(user.tz or self.default_tz)
        except (ZoneInfoNotFoundError, ValueError):
            return ZoneInfo(self.default_tz)

    async def _save_state(self, turn: Turn, chat_id: int, state: State | None) -> None:
        turn.state = state
        await repo.save_conversation(
            turn.session,
            chat_id,
            turn.user.id,
            state.model_dump(mode="json") if state else None,
            self.clock(),
        )

    # ------------------------------------------------------------ routing

    async def _route(self, turn: Turn, inc: Incoming) -> list[Reply]:
        lead: list[Reply] = []
        state = turn.state
        idle = self.clock() - state.updated_at if state is not None and state.updated_at else dt.timedelta(0)
        if state is not None and idle > self.flow_ttl:
            lead.append(Reply(t(turn.lang, "bot.expired", flow=self._flow_name(state, turn.lang))))
            await self._save_state(turn, inc.chat_id, None)
        if inc.command:
            return lead + await self._command(turn, inc)
        if reminders.handles(self, turn, inc):  # the answer to a reminder's "Pick a time"
            return lead + await reminders.on_pick(self, turn, inc)
        if inc.callback:
            return lead + await self._callback(turn, inc)
        if inc.input is not None:
            return lead + await self._input(turn, inc, inc.input)
        return lead

    async def _input(self, turn: Turn, inc: Incoming, inp: Input) -> list[Reply]:
        if inp.kind == "file":
            return await capture.file_input(self, turn, inc, inp, turn.fetch)
        if turn.state is not None:
            return await self._apply(turn, inc, await self.engine.handle(turn.state, inp, turn.services))
        if inp.kind == "contact":  # a shared contact card outside a flow starts a new contact with it
            outcome = await self.engine.start("contact", turn.services)
            assert outcome.state is not None
            return await self._apply(turn, inc, await self.engine.handle(outcome.state, inp, turn.services))
        if inp.kind == "text":
            drafted = await capture.note(self, turn, inc, inp.text)
            if drafted is not None:
                return drafted
        return [Reply(t(turn.lang, "bot.no_flow_text"))]

    async def _apply(self, turn: Turn, inc: Incoming, outcome: Outcome) -> list[Reply]:
        then = turn.state.context.get("then") if turn.state is not None and outcome.saved else None
        await self._save_state(turn, inc.chat_id, outcome.state)
        replies = list(outcome.replies)
        target = outcome.open_customer or (outcome.saved.customer_id if outcome.saved else None)
        if target is not None:
            card = await self._card(turn, target)
            if card is not None:
                replies.append(card)
        if then and outcome.saved and outcome.saved.customer_id:
            # a business card for a new company: the customer first, then the contact from the card
            customer = await repo.visible_customer(turn.session, turn.user, outcome.saved.customer_id)
            if customer is not None:
                picked = {"customer": {"id": customer.id, "name": customer.name, "number": customer.number}}
                replies += await self._start(turn, inc, then["flow"], prefill=picked, draft=then.get("draft"))
        return replies

    async def _start(
        self,
        turn: Turn,
        inc: Incoming,
        flow: str,
        *,
        prefill: dict[str, Any] | None = None,
        context: dict[str, Any] | None = None,
        draft: dict[str, Any] | None = None,
    ) -> list[Reply]:
        outcome = await self.engine.start(flow, turn.services, prefill=prefill, context=context, draft=draft)
        return await self._apply(turn, inc, outcome)

    # ------------------------------------------------------------ commands

    async def _command(self, turn: Turn, inc: Incoming) -> list[Reply]:
        lang, cmd = turn.lang, inc.command
        if cmd in ("start", "help"):
            replies = [Reply(t(lang, "bot.greeting", name=turn.user.name) + "\n\n" + t(lang, "bot.help"))]
            if turn.state is not None:
                replies.append(self._open_flow_offer(turn))
            return replies
        if cmd == "cancel":
            if turn.state is None:
                return [Reply(t(lang, "bot.nothing_to_cancel"))]
            await self._save_state(turn, inc.chat_id, None)
            return [Reply(t(lang, "flow.cancelled"))]
        if cmd == "continue":
            if turn.state is None:
                return [Reply(t(lang, "bot.nothing_to_cancel"))]
            return await self._apply(
                turn, inc, await self.engine.resume(turn.state, turn.services, t(lang, "bot.resumed"))
            )
        if cmd in FLOW_OF_COMMAND:
            if turn.state is not None:
                return [self._abandon_question(turn, cmd)]
            return await self._start_on_current(turn, inc, FLOW_OF_COMMAND[cmd])
        if cmd == "note":
            if turn.state is not None:
                return [self._abandon_question(turn, "log")]
            drafted = await capture.note(self, turn, inc, inc.args) if inc.args.strip() else None
            return drafted or [Reply(t(lang, "capture.note_usage"))]
        if cmd == "find":
            return await self._find(turn, inc.args)
        if cmd == "my":
            return await self._my(turn, 0, edit=False)
        if cmd == "lang":
            return [
                Reply(
                    t(lang, "bot.lang_pick"),
                    [[Button("中文", "g|lang|zh"), Button("English", "g|lang|en")]],
                )
            ]
        if cmd == "today":
            return await reminders.today(self, turn)
        if cmd == "quiet":
            return reminders.quiet(self, turn, inc.args)
        if cmd == "tz":
            return self._set_tz(turn, inc.args.strip())
        return [Reply(t(lang, "bot.help"))]

    async def _start_on_current(self, turn: Turn, inc: Incoming, flow: str) -> list[Reply]:
        """/log and /new_contact start on the customer the user was just looking at (Back picks another)."""
        current = None
        if flow in ("followup", "contact"):
            current = await repo.current_customer(turn.session, turn.user, self.clock(), capture.CURRENT_TTL)
        if current is None:
            return await self._start(turn, inc, flow)
        draft = {"customer": {"id": current.id, "name": current.name, "number": current.number}}
        lead = Reply(t(turn.lang, "capture.on_current", name=current.name))
        return [lead, *await self._start(turn, inc, flow, draft=draft)]

    def _flow_name(self, state: State, lang: str) -> str:
        return t(lang, f"bot.flow.{state.flow}")

    def _open_flow_offer(self, turn: Turn) -> Reply:
        assert turn.state is not None
        lang = turn.lang
        step = len(turn.state.trail) + 1
        return Reply(
            t(lang, "bot.open_flow", flow=self._flow_name(turn.state, lang), step=step),
            [
                [
                    Button(t(lang, "bot.btn.continue"), "g|continue"),
                    Button(t(lang, "bot.btn.discard"), "g|discard"),
                ]
            ],
        )

    def _abandon_question(self, turn: Turn, cmd: str) -> Reply:
        assert turn.state is not None
        lang = turn.lang
        return Reply(
            t(lang, "bot.abandon_question", flow=self._flow_name(turn.state, lang)),
            [
                [Button(t(lang, "bot.btn.abandon"), f"g|abandon|{cmd}")],
                [Button(t(lang, "bot.btn.continue"), "g|continue")],
            ],
        )

    def _set_tz(self, turn: Turn, zone: str) -> list[Reply]:
        lang = turn.lang
        if not zone:
            return [Reply(t(lang, "bot.tz_usage", tz=turn.user.tz or self.default_tz))]
        try:
            ZoneInfo(zone)
        except (ZoneInfoNotFoundError, ValueError):
            return [Reply(t(lang, "bot.tz_bad", tz=zone[:40]))]
        turn.user.tz = zone
        return [Reply(t(lang, "bot.tz_set", tz=zone))]

    async def _find(self, turn: Turn, text: str) -> list[Reply]:
        lang = turn.lang
        text = text.strip()
        if not text:
            return [Reply(t(lang, "bot.find_usage"))]
        found = await repo.search_customers(turn.session, turn.user, text, limit=PAGE)
        if not found:
            return [Reply(t(lang, "bot.find_none", text=text[:40]))]
        if len(found) == 1:
            card = await self._card(turn, found[0].id)
            return [card] if card else []
        rows = [[Button(await self._line(turn, c), f"g|cust|{c.id}")] for c in found]
        return [Reply(t(lang, "bot.find_many", count=len(found)), rows)]

    async def _line(self, turn: Turn, customer: Customer) -> str:
        ref = await repo.customer_ref(turn.session, customer)
        return list_line(ref.name, ref.main_contact, ref.intent, ref.status, turn.lang)[:60]

    async def _my(self, turn: Turn, offset: int, *, edit: bool) -> list[Reply]:
        lang = turn.lang
        offset = max(0, offset)
        rows_, total = await repo.my_customers(turn.session, turn.user, offset, PAGE)
        if total == 0:
            return [Reply(t(lang, "bot.my_empty"), edit=edit)]
        pages = (total + PAGE - 1) // PAGE
        rows = [[Button(await self._line(turn, c), f"g|cust|{c.id}")] for c in rows_]
        nav = []
        if offset > 0:
            nav.append(Button(t(lang, "bot.btn.prev"), f"g|my|{max(0, offset - PAGE)}"))
        if offset + PAGE < total:
            nav.append(Button(t(lang, "bot.btn.next"), f"g|my|{offset + PAGE}"))
        if nav:
            rows.append(nav)
        title = t(lang, "bot.my_title", page=offset // PAGE + 1, pages=pages, total=total)
        return [Reply(title, rows, edit=edit)]

    async def _card(self, turn: Turn, customer_id: int) -> Reply | None:
        customer = await repo.visible_customer(turn.session, turn.user, customer_id)
        if customer is None:
            return None
        repo.set_current_customer(turn.user, customer.id, self.clock())
        ref = await repo.customer_ref(turn.session, customer)
        recent = await repo.followups_of(turn.session, customer.id, 3)
        files = await attachments_of(turn.session, customer.id)
        due = await repo.next_due(turn.session, customer.id)
        located = next((f for f in recent if f.latitude is not None and f.longitude is not None), None)
        owners = await repo.team_ids(turn.session, turn.user)
        view = CustomerView(
            id=customer.id,
            number=customer.number,
            name=customer.name,
            status=customer.status,
            intent=customer.intent,
            industry=customer.industry,
            phone=customer.phone,
            email=customer.email,
            address=customer.address,
            owner_name=ref.owner_name or "",
            pending=tuple(customer.pending),
            contacts=ref.contacts,
            recent=tuple(FollowUpLine(f.occurred_on, f.mode, f.content) for f in recent),
            next_at=due.next_at.astimezone(turn.services.tz) if due and due.next_at else None,
            location=(located.latitude, located.longitude)
            if located and located.latitude and located.longitude
            else None,
            may_edit=repo.may_edit(turn.user, owners, customer),
            tags=tuple(customer.tags or ()),
            files=len(files),
        )
        return customer_card(view, turn.lang)

    # ------------------------------------------------------------ buttons

    async def _callback(self, turn: Turn, inc: Incoming) -> list[Reply]:
        data = inc.callback or ""
        lang = turn.lang
        if data.startswith("r|"):
            return await reminders.on_button(self, turn, inc)
        flow_button = parse_button(data)
        if flow_button is not None:
            if turn.state is None:
                return [Reply(t(lang, "bot.no_flow_button"))]
            seq, action = flow_button
            inp = Input(kind="button", data=action, seq=seq)
            return await self._apply(turn, inc, await self.engine.handle(turn.state, inp, turn.services))
        parts = data.split("|")
        if len(parts) < 2 or parts[0] != "g":
            return [Reply(t(lang, "bot.no_flow_button"))]
        action, arg = parts[1], parts[2] if len(parts) > 2 else ""
        if action == "continue":
            if turn.state is None:
                return [Reply(t(lang, "bot.no_flow_button"))]
            return await self._apply(
                turn, inc, await self.engine.resume(turn.state, turn.services, t(lang, "bot.resumed"))
            )
        if action == "discard":
            await self._save_state(turn, inc.chat_id, None)
            return [Reply(t(lang, "bot.discarded"))]
        if action == "abandon" and arg in FLOW_OF_COMMAND:
            await self._save_state(turn, inc.chat_id, None)
            return [Reply(t(lang, "bot.discarded")), *await self._start(turn, inc, FLOW_OF_COMMAND[arg])]
        if action == "lang" and arg in ("zh", "en"):
            turn.user.lang = arg
            turn.lang = arg
            turn.services = StoreServices(
                turn.session, turn.user, arg, turn.services.tz, self.clock, self.files, self.default_hour
            )
            return [Reply(t(arg, "bot.lang_set"))]
        if action == "my" and arg.isdigit():
            return await self._my(turn, int(arg), edit=True)
        if action in ("pcard", "pattach"):
            return await capture.staged_photo(self, turn, inc, action, arg)
        if not arg.isdigit():
            return [Reply(t(lang, "bot.not_allowed"))]
        return await self._record_action(turn, inc, action, int(arg))

    async def _record_action(self, turn: Turn, inc: Incoming, action: str, record_id: int) -> list[Reply]:
        """Buttons that name a record re-check that the user may see it: forged data gets nothing."""
        lang = turn.lang
        if action == "editc":
            contact = await turn.session.get(Contact, record_id)
            customer_id = contact.customer_id if contact else -1
        else:
            customer_id = record_id
        customer = await repo.visible_customer(turn.session, turn.user, customer_id)
        if customer is None:
            return [Reply(t(lang, "bot.not_allowed"))]
        if action == "cust":
            card = await self._card(turn, customer.id)
            return [card] if card else []
        if action == "files":
            files = await attachments_of(turn.session, customer.id)
            listing = [
                {"path": f.path, "name": f.file_name, "file_id": f.telegram_file_id, "kind": f.kind}
                for f in files
            ]
            return [Reply(t(lang, "capture.files", name=customer.name, count=len(files)), files=listing)]
        if turn.state is not None and action in ("log", "addc", "edit", "editc"):
            await self._save_state(turn, inc.chat_id, None)
        picked = {"customer": {"id": customer.id, "name": customer.name, "number": customer.number}}
        if action == "log":
            return await self._start(turn, inc, "followup", prefill=picked)
        if action == "addc":
            return await self._start(turn, inc, "contact", prefill=picked)
        if action in ("edit", "editc"):
            entity = "customer" if action == "edit" else "contact"
            current = await turn.services.current_values(entity, record_id)
            if current is None:
                return [Reply(t(lang, "bot.not_owner"))]
            context = {"entity": entity, "entity_id": record_id, "customer_id": customer.id}
            return await self._start(
                turn, inc, f"edit_{entity}", prefill={"current": current}, context=context
            )
        return [Reply(t(lang, "bot.not_allowed"))]
