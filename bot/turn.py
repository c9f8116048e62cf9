"""What a feature is handed for one incoming: the person, their open entry, and what every feature shares.

A feature never imports the router or another feature; everything they have in common is on the
`Turn` (starting a flow, applying an engine outcome, showing a customer card, the open customer)
or lives in flows/ and storage/. The router builds one Turn per incoming, inside its transaction.
"""

from __future__ import annotations

import datetime as dt
import logging
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from typing import Any

from flows.engine import Button, Engine, Input, Outcome, Reply, State
from flows.i18n import t
from flows.normalize import typed_number
from flows.views import customer_card, list_line
from storage import accounts, cards, repo
from storage.files import FileStore
from storage.ids import valid_id
from storage.models import Customer, User
from storage.services import Clock, StoreServices
from storage.tx import Tx

Fetch = Callable[[dict[str, Any]], Awaitable[bytes]]
Progress = Callable[[str], Awaitable[None]]  # the front end shows "⏳ …" while a long step runs
CURRENT_TTL = dt.timedelta(hours=2)  # how long a customer card stays "open" for /log, files, …
PAGE = 8  # customers per list message

log = logging.getLogger(__name__)


def record_id(data: str | None, prefix: str) -> int | None:
    """The record id at the end of button data like `g|cust|42`, or None for anything else (forged
    data: circled digits, 20-digit numbers, negatives), so no id out of range reaches a query."""
    number = typed_number((data or "").removeprefix(prefix), max_digits=19)
    return valid_id(number) if number is not None else None


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
    message_id: int | None = None  # the person's message (an edit names the one it changes)
    reply_to: int | None = None  # the bot message it replies to, if any
    edited: bool = False
    chat_type: str = "private"  # private | group | supergroup | channel
    bot_username: str | None = None  # for the "talk to me in private" link
    confirms: bool = False  # the front end will say whether the replies reached the person


@dataclass(frozen=True)
class Work:
    """Slow work (a download, OCR) that must not run inside the transaction.

    The router commits the turn, runs `run` outside any transaction and off the critical section,
    then hands its result back to the features as a new input in a new transaction.
    """

    run: Callable[[], Awaitable[Input | list[Reply] | None]]  # replies: shown as they are (an error)


@dataclass(frozen=True)
class HelpLine:
    """One line of /help and the command menu, as the registry declares it."""

    command: str | None  # None: something typed or sent rather than a command
    key: str  # i18n key of its description


Redispatch = Callable[["Turn", Incoming], Awaitable[list[Reply]]]


@dataclass
class Turn:
    """One incoming being handled: the transaction, the person and their open conversation."""

    tx: Tx
    user: User
    lang: str
    state: State | None
    chat_id: int
    engine: Engine
    clock: Clock
    files: FileStore
    default_tz: str
    default_hour: int
    services: StoreServices
    help_lines: tuple[HelpLine, ...] = ()
    fetch: Fetch | None = None
    work: Work | None = None
    redispatch: Redispatch | None = None
    awaiting_confirm: bool = False  # states written now count as unseen until the front end confirms
    saved: tuple[str, int | None] | None = None  # what this turn saved (kind, customer), for redeliveries
    progress_to: Progress | None = None  # the front end's progress display, if it has one

    # ------------------------------------------------------------ the conversation state

    async def set_state(self, state: State | None) -> None:
        """Store the open entry (None: none) in this turn's transaction."""
        if state is not None and self.awaiting_confirm:
            state.delivered, state.send_failed = False, False  # until the front end says it was sent
        self.state = state
        await repo.save_conversation(
            self.tx,
            self.chat_id,
            self.user.id,
            state.dump() if state else None,
            self.clock(),
        )

    async def apply(self, outcome: Outcome) -> list[Reply]:
        """An engine outcome: keep its state, show the saved (or opened) customer, chain a next flow."""
        then = self.state.context.get("then") if self.state is not None and outcome.saved else None
        if outcome.saved is not None:
            self.saved = (outcome.saved.kind, outcome.saved.customer_id)
        await self.set_state(outcome.state)
        replies = list(outcome.replies)
        target = outcome.open_customer or (outcome.saved.customer_id if outcome.saved else None)
        if target is not None:
            card = await self.card(target)
            if card is not None:
                replies.append(card)
        if then and outcome.saved and outcome.saved.customer_id:
            # a business card for a new company: the customer first, then the contact from the card
            picked = await self.customer_answer(outcome.saved.customer_id)
            if picked is not None:
                replies += await self.start(then["flow"], prefill=picked, draft=then.get("draft"))
        return replies

    async def start(
        self,
        flow: str,
        *,
        prefill: dict[str, Any] | None = None,
        context: dict[str, Any] | None = None,
        draft: dict[str, Any] | None = None,
    ) -> list[Reply]:
        outcome = await self.engine.start(flow, self.services, prefill=prefill, context=context, draft=draft)
        return await self.apply(outcome)

    async def step(self, inp: Input) -> list[Reply]:
        """An input for the open entry, run by the engine."""
        assert self.state is not None
        return await self.apply(await self.engine.handle(self.state, inp, self.services))

    async def resume(self) -> list[Reply]:
        assert self.state is not None
        return await self.apply(
            await self.engine.resume(self.state, self.services, t(self.lang, "bot.resumed"))
        )

    async def replace_entry(self, key: str = "rem.replaced") -> list[Reply]:
        """A button that starts an entry replaces an open one, and says so."""
        if self.state is None:
            return []
        name = self.flow_name(self.state)
        await self.set_state(None)
        return [Reply(t(self.lang, key, flow=name))]

    def flow_name(self, state: State) -> str:
        return t(self.lang, f"bot.flow.{state.flow}")

    # ------------------------------------------------------------ customers

    async def customer_answer(self, customer_id: int) -> dict[str, Any] | None:
        """The `customer` answer of a flow, for a customer the user may see."""
        customer = await repo.visible_customer(self.tx, self.user, customer_id)
        if customer is None:
            return None
        return {"customer": {"id": customer.id, "name": customer.name, "number": customer.number}}

    async def visible_customer(self, customer_id: int) -> Customer | None:
        return await repo.visible_customer(self.tx, self.user, customer_id)

    async def start_edit(
        self, entity: str, entity_id: int, customer_id: int, field: str | None = None
    ) -> list[Reply]:
        """The edit flow of a customer or contact the user may edit (optionally opened at one field)."""
        current = await self.services.current_values(entity, entity_id)
        if current is None:
            return [Reply(t(self.lang, "bot.not_owner"))]
        context = {"entity": entity, "entity_id": entity_id, "customer_id": customer_id}
        prefill: dict[str, Any] = {"current": current}
        if field is not None:
            prefill["field"] = field
        return await self.start(f"edit_{entity}", prefill=prefill, context=context)

    async def card(self, customer_id: int) -> Reply | None:
        """The customer card, if the user may see it; it becomes the open customer for two hours."""
        view = await cards.customer_view(self.tx, self.user, customer_id, self.services.tz)
        if view is None:
            return None
        repo.set_current_customer(self.user, view.id, self.clock())
        return customer_card(view, self.lang)

    async def find(self, text: str) -> list[Reply]:
        """Customers the user may see, by name, number, phone, e-mail or contact: one opens its card."""
        text = text.strip()
        if not text:
            return [Reply(t(self.lang, "bot.find_usage"))]
        found = await repo.search_customers(self.tx, self.user, text, limit=PAGE)
        if not found:
            return [Reply(t(self.lang, "bot.find_none", text=text[:40]))]
        if len(found) == 1:
            card = await self.card(found[0].id)
            return [card] if card else []
        rows = [[Button(await self.line(c), f"g|cust|{c.id}")] for c in found]
        return [Reply(t(self.lang, "bot.find_many", count=len(found)), rows)]

    async def line(self, customer: Customer) -> str:
        """`Company - main contact (A) · status`, as lists show a customer."""
        ref = await repo.customer_ref(self.tx, customer)
        return list_line(ref.name, ref.main_contact, ref.intent, ref.status, self.lang)[:60]

    async def start_on_current(self, flow: str) -> list[Reply]:
        """Start `flow` on the customer the user was just looking at (Back picks another)."""
        current = await repo.current_customer(self.tx, self.user, self.clock(), CURRENT_TTL)
        if current is None:
            return await self.start(flow)
        draft = {"customer": {"id": current.id, "name": current.name, "number": current.number}}
        lead = Reply(t(self.lang, "capture.on_current", name=current.name))
        return [lead, *await self.start(flow, draft=draft)]

    # ------------------------------------------------------------ elsewhere

    async def command(self, name: str, args: str = "") -> list[Reply]:
        """Run another command as if typed (e.g. after "discard it and start the new one")."""
        assert self.redispatch is not None
        inc = Incoming(chat_id=self.chat_id, telegram_id=self.user.telegram_id, command=name, args=args)
        return await self.redispatch(self, inc)

    async def hand_over(self, inp: Input) -> list[Reply]:
        """Pass an input on to whichever feature takes its kind (e.g. a photo that is a business card)."""
        assert self.redispatch is not None
        inc = Incoming(chat_id=self.chat_id, telegram_id=self.user.telegram_id, input=inp)
        return await self.redispatch(self, inc)

    async def progress(self, text: str) -> None:
        """Tell the person how far a long step is (a big import); nothing when the front end shows none.

        Progress is a courtesy: a front end that fails to show it must not fail the step, so any error
        is logged (its type only) and swallowed.
        """
        if self.progress_to is None:
            return
        try:
            await self.progress_to(text)
        except Exception as exc:  # see above: never fail the turn over a progress line
            log.warning("progress not shown: %s", type(exc).__name__)

    def defer(self, work: Work) -> None:
        """Run slow work after this transaction; its result comes back as an input."""
        self.work = work

    def set_lang(self, lang: str) -> None:
        accounts.set_language(self.user, lang)
        self.lang = lang
        self.services = StoreServices(
            self.tx, self.user, lang, self.services.tz, self.clock, self.files, self.default_hour
        )
