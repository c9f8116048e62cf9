"""Reminders: the scheduler that finds what is due, the delivery loop, and the reminder buttons.

Every CRM_REMINDER_POLL_SECONDS the loop (1) plans: due follow-ups, and every few minutes silent,
stale and pending customers, birthdays, and the morning digests, each an outbox row created once
per occurrence key; (2) delivers: claims due rows under a lease, checks each is still true, holds it
through quiet hours, renders it in the recipient's language and zone, sends it through a `Sender`,
and records the outcome. The loop knows nothing of Telegram: the terminal chat and the tests give it
their own Sender; TelegramSender maps python-telegram-bot's errors onto RetryLater/Blocked/Rejected.

Delivery guarantee. A row moves pending → claimed → sending → sent; each step is committed, and
every step after the claim is made only by the worker holding the lease. Killed before 'sending'
(claimed, never sent): the lease runs out and the row is sent once by whoever claims it next.
Killed (or timed out) after Telegram may have accepted the message but before 'sent' was committed:
the row is sent again and flagged `unconfirmed`. Telegram gives no way to ask whether a message was
sent, so this window (milliseconds, between Telegram's answer and our commit) is closed towards
"at least once": a follow-up reminder is never lost; a duplicate is possible only after such a crash.
"""

from __future__ import annotations

import asyncio
import contextlib
import datetime as dt
import logging
import os
import socket
import uuid
import warnings
from collections.abc import AsyncIterator, Callable
from dataclasses import dataclass, fields
from typing import TYPE_CHECKING, Any, Protocol
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from sqlalchemy import exists, select
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from bot.services import Clock, system_clock
from flows import reminders as rules
from flows.dates import format_when
from flows.engine import Input, Reply, parse_button
from flows.i18n import DEFAULT_LANG, t
from storage import reminders as store
from storage import repo
from storage.models import Change, Contact, Customer, FollowUp, Reminder, User

if TYPE_CHECKING:
    from telegram import Bot
    from telegram.ext import Application

    from bot.assistant import Assistant, Incoming, Turn
    from bot.terminal import TerminalChat

log = logging.getLogger(__name__)

DUE_LOOKBACK = dt.timedelta(days=3)  # re-checked each scan: a follow-up saved late is still found
SCAN_MARGIN = dt.timedelta(minutes=10)  # clock skew between processes, transactions committing late
MAX_BACKOFF = 900.0
MAX_ATTEMPTS = 20  # for unexpected errors only; 429 and network errors retry as long as it takes


# ---------------------------------------------------------------- sending


class RetryLater(Exception):
    """Not sent now; try again after `after` seconds (None: back off). `unconfirmed`: may have arrived."""

    def __init__(self, after: float | None = None, *, reason: str = "network", unconfirmed: bool = False):
        super().__init__(reason)
        self.after = after
        self.reason = reason
        self.unconfirmed = unconfirmed


class Blocked(Exception):
    """The person blocked the bot (or never started it): mark them and stop trying until they return."""


class Rejected(Exception):
    """Refused for good (a bad request): retrying would fail the same way."""


class Sender(Protocol):
    """Puts one reminder in front of a person; returns the message id or raises one of the above."""

    async def send(self, chat_id: int, reply: Reply) -> int: ...


class TelegramSender:
    """Sends through the Application's bot, so its AIORateLimiter (30 messages/s overall) applies."""

    def __init__(self, bot: Bot) -> None:
        self.bot = bot

    async def send(self, chat_id: int, reply: Reply) -> int:
        from telegram import InlineKeyboardButton, InlineKeyboardMarkup
        from telegram.error import BadRequest, Forbidden, NetworkError, RetryAfter, TelegramError, TimedOut

        markup = (
            InlineKeyboardMarkup(
                [[InlineKeyboardButton(b.label, callback_data=b.data) for b in row] for row in reply.buttons]
            )
            if reply.buttons
            else None
        )
        try:
            message = await self.bot.send_message(chat_id, reply.text[:4096] or "…", reply_markup=markup)
        except RetryAfter as exc:
            raise RetryLater(_seconds(exc) + 0.5, reason="retry_after") from None
        except Forbidden:
            raise Blocked() from None
        except BadRequest as exc:
            if "chat not found" in str(exc).lower():
                raise Blocked() from None
            raise Rejected(type(exc).__name__) from None
        except TimedOut as exc:
            # a read timeout may come after Telegram delivered the message; a connect one may not
            unsure = "connect" not in type(exc.__cause__).__name__.lower()
            raise RetryLater(reason="timeout", unconfirmed=unsure) from None
        except NetworkError:
            raise RetryLater(reason="network") from None
        except TelegramError as exc:
            raise Rejected(type(exc).__name__) from None
        return int(message.message_id)


def _seconds(exc: Any) -> float:
    """RetryAfter.retry_after is an int or a timedelta depending on PTB_TIMEDELTA; take either."""
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        value = exc.retry_after
    return value.total_seconds() if isinstance(value, dt.timedelta) else float(value)


class TerminalSender:
    """Shows a reminder in the terminal chat, its buttons numbered like any reply so they can be pressed."""

    def __init__(self, chat: TerminalChat, out: Callable[[str], None] = print) -> None:
        self.chat = chat
        self.out = out
        self.sent = 0

    async def send(self, chat_id: int, reply: Reply) -> int:
        for line in self.chat._render([reply]):
            self.out(line)
        self.sent += 1
        return self.sent


# ---------------------------------------------------------------- the scheduler


@dataclass
class Report:
    """What one tick did (counts only: nothing personal)."""

    created: int = 0
    sent: int = 0
    cancelled: int = 0
    deferred: int = 0
    held: int = 0
    expired: int = 0
    retried: int = 0
    failed: int = 0
    lost: int = 0  # rows this worker no longer held when it came to them

    def __str__(self) -> str:
        return ", ".join(f"{f.name} {getattr(self, f.name)}" for f in fields(self) if getattr(self, f.name))


@dataclass
class _Ready:
    """A claimed row checked and rendered, about to be sent."""

    reminder_id: int
    chat_id: int
    user_id: int
    reply: Reply
    attempts: int


def worker_name() -> str:
    return f"{socket.gethostname()[:30]}:{os.getpid()}:{uuid.uuid4().hex[:8]}"


def user_zone(user: User, default_tz: str) -> dt.tzinfo:
    try:
        return ZoneInfo(user.tz or default_tz)
    except (ZoneInfoNotFoundError, ValueError):
        return ZoneInfo(default_tz)


def chat_of(user: User) -> int:
    """A private chat's id is the user's id; chat_id is kept from the last message they sent."""
    return int(user.chat_id or user.telegram_id)


class Reminders:
    """Plans and delivers reminders; one per process, any number of processes per database."""

    def __init__(
        self,
        sessions: async_sessionmaker[AsyncSession],
        sender: Sender,
        *,
        clock: Clock = system_clock,
        default_tz: str = "Asia/Shanghai",
        poll_seconds: float = 30.0,
        lease_seconds: float = 60.0,
        digest_time: str = "08:30",
        scan_seconds: float = 600.0,
        chat_interval: float = 1.0,
        batch: int = 50,
        concurrency: int = 32,
        worker: str | None = None,
    ) -> None:
        self.sessions = sessions
        self.sender = sender
        self.clock = clock
        self.default_tz = default_tz
        self.poll_seconds = poll_seconds
        self.lease = dt.timedelta(seconds=lease_seconds)
        self.digest_time = rules.parse_hhmm(digest_time)
        self.scan_every = dt.timedelta(seconds=scan_seconds)
        self.chat_interval = chat_interval
        self.batch = batch
        self.concurrency = concurrency
        self.worker = (worker or worker_name())[:64]
        self._last_scan: dt.datetime | None = None
        self._last_sent: dict[int, float] = {}
        self._stopping = False
        self._wake = asyncio.Event()
        self._task: asyncio.Task[None] | None = None
        bind = sessions.kw.get("bind")
        sqlite = getattr(getattr(bind, "dialect", None), "name", "") == "sqlite"
        self._gate: contextlib.AbstractAsyncContextManager[Any] = (
            asyncio.Lock() if sqlite else contextlib.nullcontext()
        )

    @contextlib.asynccontextmanager
    async def _tx(self) -> AsyncIterator[AsyncSession]:
        """One transaction. On SQLite, one at a time in this process: its single writer would otherwise
        make concurrent deliveries busy-wait on the database lock (sends still run in parallel)."""
        async with self._gate, self.sessions.begin() as s:
            yield s

    # ------------------------------------------------------------ the loop

    def start(self) -> asyncio.Task[None]:
        """Run the loop in the background: a tick at once (what fell due while down), then every poll."""
        self._stopping = False
        self._task = asyncio.get_running_loop().create_task(self.run(), name="reminders")
        return self._task

    async def run(self) -> None:
        while not self._stopping:
            try:
                report = await self.tick()
                if str(report):
                    log.info("reminders: %s", report)
            except Exception as exc:  # the loop must outlive a database hiccup
                log.error("reminder tick failed: %s", type(exc).__name__)
                log.debug("reminder tick failure", exc_info=True)
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(self._wake.wait(), self.poll_seconds)
            self._wake.clear()

    async def stop(self, timeout: float = 10.0) -> None:
        """Finish the message in flight, give back what is claimed but unsent, end the loop."""
        self._stopping = True
        self._wake.set()
        task, self._task = self._task, None
        if task is not None:
            try:
                await asyncio.wait_for(task, timeout)
            except TimeoutError:
                log.warning("reminder loop did not stop in %.0fs; cancelled", timeout)
        with contextlib.suppress(Exception):
            async with self._tx() as s:
                await store.release(s, self.worker)

    async def tick(self) -> Report:
        """One poll: plan what is due, then deliver until nothing claimable is left."""
        report = Report()
        await self.plan(report)
        await self.deliver(report)
        return report

    # ------------------------------------------------------------ planning

    def _prefs(self, user: User | None) -> tuple[dt.tzinfo, rules.Quiet]:
        if user is None:
            return ZoneInfo(self.default_tz), rules.Quiet.of(None, None)
        return user_zone(user, self.default_tz), rules.Quiet.of(user.quiet_start, user.quiet_end)

    async def plan(self, report: Report) -> None:
        now = self.clock()
        async with self._tx() as s:
            await store.unhold(s)
        await self._plan_due(now, report)
        if self._last_scan is None or now - self._last_scan >= self.scan_every:
            await self._plan_periodic(now, report)
            self._last_scan = now
        await self._plan_digests(now, report)

    async def _plan_due(self, now: dt.datetime, report: Report) -> None:
        """Follow-ups whose time came since the last scan (or while the bot was down)."""
        async with self._tx() as s:
            cursor = await store.read_cursor(s, "due", lock=True)
            after = None if cursor is None else min(cursor, now - DUE_LOOKBACK) - SCAN_MARGIN
            due = await store.due_followups(s, after, now)
            users = await store.users_by_id(s) if due else {}
            rows = []
            for d in due:
                who = store.resolve(users, d.owner_id)
                tz, quiet = self._prefs(who)
                urgent = rules.is_urgent("due", d.next_at, now, tz, quiet)
                rows.append(
                    {
                        "key": rules.due_key(d.followup_id, d.next_at),
                        "kind": "due",
                        "user_id": who.id if who else d.owner_id,
                        "customer_id": d.customer_id,
                        "contact_id": d.contact_id,
                        "followup_id": d.followup_id,
                        "ref_at": d.next_at,
                        "due_at": rules.deliver_at(d.next_at, now, tz, quiet, urgent=urgent),
                        "created_at": now,
                    }
                )
            report.created += await store.add(s, rows)
            await store.write_cursor(s, "due", now)

    def _row(
        self, kind: str, key: str, users: dict[int, User], owner_id: int, now: dt.datetime, **extra: Any
    ) -> dict[str, Any]:
        who = store.resolve(users, owner_id)
        tz, quiet = self._prefs(who)
        due_at = extra.pop("due_at", now)
        return {
            "key": key,
            "kind": kind,
            "user_id": who.id if who else owner_id,
            "due_at": rules.deliver_at(due_at, now, tz, quiet, urgent=False),
            "created_at": now,
            **extra,
        }

    async def _plan_periodic(self, now: dt.datetime, report: Report) -> None:
        """Silent and stale customers, pending fields, birthdays: checked every few minutes."""
        day = dt.timedelta(days=1)
        async with self._tx() as s:
            users = await store.users_by_id(s)
            rows: list[dict[str, Any]] = []
            for c in await store.silent_customers(s, now - rules.NO_CONTACT_DAYS * day):
                anchor = c.last_contact_at or c.created_at
                n = rules.period(anchor, now, rules.NO_CONTACT_DAYS)
                key = rules.period_key("nocontact", "c", c.id, anchor, n)
                rows.append(
                    self._row("nocontact", key, users, c.owner_id, now, customer_id=c.id, ref_at=anchor)
                )
            for c in await store.stale_customers(s, now - rules.NO_UPDATE_DAYS * day):
                n = rules.period(c.updated_at, now, rules.NO_UPDATE_DAYS)
                key = rules.period_key("noupdate", "c", c.id, c.updated_at, n)
                rows.append(
                    self._row("noupdate", key, users, c.owner_id, now, customer_id=c.id, ref_at=c.updated_at)
                )
            since = now - rules.PENDING_DAYS * day
            pending: list[tuple[Customer | Contact, Customer]] = [
                (c, c) for c in await store.pending_customers(s, since)
            ]
            pending += await store.pending_contacts(s, since)
            for record, c in pending:  # a customer, or a contact under its customer
                assert record.pending_since is not None
                is_contact = isinstance(record, Contact)
                n = rules.period(record.pending_since, now, rules.PENDING_DAYS)
                key = rules.period_key(
                    "pending", "k" if is_contact else "c", record.id, record.pending_since, n
                )
                rows.append(
                    self._row(
                        "pending",
                        key,
                        users,
                        c.owner_id,
                        now,
                        customer_id=c.id,
                        ref_at=record.pending_since,
                        detail={"record": "contact" if is_contact else "customer"},
                        **({"contact_id": record.id} if is_contact else {}),
                    )
                )
            for k, c in await store.birthday_contacts(s, rules.birthday_suffixes(now)):
                who = store.resolve(users, c.owner_id)
                tz, _ = self._prefs(who)
                today = now.astimezone(tz).date()
                if not rules.birthday_on(k.birthday, today):
                    continue
                rows.append(
                    self._row(
                        "birthday",
                        rules.birthday_key(k.id, today),
                        users,
                        c.owner_id,
                        now,
                        customer_id=c.id,
                        contact_id=k.id,
                        due_at=rules.at_local(today, self.digest_time, tz),
                        expires_at=rules.end_of_day(today, tz),
                        detail={"day": today.isoformat()},
                    )
                )
            report.created += await store.add(s, rows)

    async def _plan_digests(self, now: dt.datetime, report: Report) -> None:
        """One digest per person per local day, from the digest time on (a late start still gets it)."""
        async with self._tx() as s:
            rows = []
            for user in (await store.users_by_id(s)).values():
                if not user.active or user.chat_id is None:
                    continue  # someone who never opened the chat cannot be written to
                tz, quiet = self._prefs(user)
                today = now.astimezone(tz).date()
                natural = rules.at_local(today, self.digest_time, tz)
                if now < natural:
                    continue
                rows.append(
                    {
                        "key": rules.digest_key(user.id, today),
                        "kind": "digest",
                        "user_id": user.id,
                        "due_at": rules.deliver_at(natural, now, tz, quiet, urgent=False),
                        "expires_at": rules.end_of_day(today, tz),
                        "created_at": now,
                    }
                )
            report.created += await store.add(s, rows)

    # ------------------------------------------------------------ delivering

    async def deliver(self, report: Report) -> None:
        heartbeat = asyncio.get_running_loop().create_task(self._heartbeat())
        try:
            while not self._stopping:
                async with self._tx() as s:
                    batch = await store.claim(s, self.worker, self.clock(), self.lease, self.batch)
                if not batch:
                    return
                by_person: dict[int, list[Reminder]] = {}
                for row in batch:
                    by_person.setdefault(row.user_id, []).append(row)
                gate = asyncio.Semaphore(self.concurrency)

                async def one_person(
                    person: int, rows: list[Reminder], gate: asyncio.Semaphore = gate
                ) -> None:
                    async with gate:  # one person's reminders in order, people in parallel
                        for row in rows:
                            if self._stopping:
                                return
                            await self._one(person, row, report)

                await asyncio.gather(*(one_person(p, ids) for p, ids in by_person.items()))
        finally:
            heartbeat.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await heartbeat
            if self._stopping:
                async with self._tx() as s:
                    await store.release(s, self.worker)

    async def _heartbeat(self) -> None:
        while True:
            await asyncio.sleep(max(0.05, self.lease.total_seconds() / 3))
            try:
                async with self._tx() as s:
                    await store.extend(s, self.worker, self.clock() + self.lease)
            except Exception as exc:
                log.warning("reminder lease not extended: %s", type(exc).__name__)

    async def _pace(self, person: int) -> None:
        """At most one reminder a second to the same chat (Telegram's per-chat limit)."""
        last = self._last_sent.get(person)
        if last is not None and self.chat_interval > 0:
            wait = last + self.chat_interval - asyncio.get_running_loop().time()
            if wait > 0:
                await asyncio.sleep(wait)

    async def _one(self, person: int, row: Reminder, report: Report) -> None:
        reminder_id = row.id
        try:
            await self._pace(person)
            ready = await self._prepare(row, report)
            if ready is None:
                return
            try:
                message_id = await self.sender.send(ready.chat_id, ready.reply)
            except RetryLater as exc:
                await self._retry(ready, exc.after, exc.reason, report, unconfirmed=exc.unconfirmed)
            except Blocked:
                await self._blocked(ready, report)
            except Rejected as exc:
                log.warning("reminder %s refused by the chat service: %s", reminder_id, exc)
                await self._end(ready, report, "failed", error=str(exc)[:64])
            except Exception as exc:
                log.error("reminder %s: sender failed with %s", reminder_id, type(exc).__name__)
                if ready.attempts >= MAX_ATTEMPTS:
                    await self._end(ready, report, "failed", error=type(exc).__name__[:64])
                else:
                    await self._retry(ready, None, type(exc).__name__, report)
            else:
                await self._end(ready, report, "sent", message_id=message_id)
            finally:
                self._last_sent[person] = asyncio.get_running_loop().time()
        except Exception as exc:  # a database error: the lease runs out and the row comes back
            log.error("reminder %s not recorded: %s", reminder_id, type(exc).__name__)
            log.debug("reminder failure", exc_info=True)

    async def _end(
        self,
        ready: _Ready,
        report: Report,
        state: str,
        *,
        message_id: int | None = None,
        error: str | None = None,
    ) -> None:
        now = self.clock()
        values: dict[str, Any] = {"state": state, "last_error": error}
        if state == "sent":
            values.update(sent_at=now, message_id=message_id)
        async with self._tx() as s:
            if not await store.finish(s, ready.reminder_id, self.worker, **values):
                report.lost += 1
                log.warning("reminder %s was taken over while being sent", ready.reminder_id)
                return
        if state == "sent":
            report.sent += 1
        else:
            report.failed += 1

    async def _retry(
        self, ready: _Ready, after: float | None, reason: str, report: Report, *, unconfirmed: bool = False
    ) -> None:
        delay = (
            after
            if after is not None
            else min(MAX_BACKOFF, self.poll_seconds * 2 ** max(0, ready.attempts - 1))
        )
        values: dict[str, Any] = {
            "state": "pending",
            "due_at": self.clock() + dt.timedelta(seconds=delay),
            "last_error": reason[:64],
        }
        if unconfirmed:
            values["unconfirmed"] = True
        async with self._tx() as s:
            if await store.finish(s, ready.reminder_id, self.worker, **values):
                report.retried += 1
            else:
                report.lost += 1
        log.info("reminder %s will be retried in %.0fs (%s)", ready.reminder_id, delay, reason)

    async def _blocked(self, ready: _Ready, report: Report) -> None:
        async with self._tx() as s:
            if await store.finish(s, ready.reminder_id, self.worker, state="held", last_error="blocked"):
                user = await s.get(User, ready.user_id)
                if user is not None:
                    user.blocked_at = self.clock()
                report.held += 1
            else:
                report.lost += 1
        log.info("user %s has blocked the bot; their reminders wait until they write again", ready.user_id)

    async def _prepare(self, row: Reminder, report: Report) -> _Ready | None:
        """Check the claimed row is still true, choose who gets it and when, render it, mark it sending
        (the last step only if this worker still holds the row)."""
        async with self._tx() as s:
            outcome, values, ready = await self._decide(s, row, self.clock())
            if not await store.move(s, row.id, self.worker, "claimed", **values):
                report.lost += 1
                return None
            if ready is None:
                setattr(report, outcome, getattr(report, outcome) + 1)
            elif row.unconfirmed:
                log.warning("reminder %s: an earlier send is unconfirmed; sending again", row.id)
            return ready

    async def _decide(
        self, s: AsyncSession, row: Reminder, now: dt.datetime
    ) -> tuple[str, dict[str, Any], _Ready | None]:
        """(report counter, new column values, what to send): the rules applied to one claimed row."""

        def close(state: str, error: str | None, **more: Any) -> dict[str, Any]:
            return {"state": state, "claimed_by": None, "claimed_until": None, "last_error": error, **more}

        subject = await self._subject(s, row, now)
        if isinstance(subject, str):
            return "cancelled", close("cancelled", subject), None
        who = subject.recipient if row.kind == "digest" else await store.recipient(s, subject.owner_id)
        if who is None or not who.active:
            return "cancelled", close("cancelled", "nobody"), None
        if row.expires_at is not None and now >= row.expires_at:
            return "expired", close("expired", None, user_id=who.id), None
        if who.blocked_at is not None:
            return "held", close("held", "blocked", user_id=who.id), None
        tz, quiet = self._prefs(who)
        urgent = rules.is_urgent(row.kind, row.ref_at, now, tz, quiet)
        held = rules.hold_until(now, tz, quiet, urgent=urgent)
        if held is not None:
            if row.expires_at is not None and held >= row.expires_at:
                return "expired", close("expired", "quiet", user_id=who.id), None
            return "deferred", close("pending", None, user_id=who.id, due_at=held), None
        reply = await subject.render(s, who.lang or DEFAULT_LANG, tz, now)
        if reply is None:
            return "cancelled", close("cancelled", "empty"), None
        values = {"state": "sending", "claimed_until": now + self.lease, "user_id": who.id}
        return "sending", values, _Ready(row.id, chat_of(who), who.id, reply, row.attempts)

    async def _subject(self, s: AsyncSession, row: Reminder, now: dt.datetime) -> _Subject | str:
        """What the reminder is about, if it is still true; else why it is no longer (a short code)."""
        if row.kind == "digest":
            user = await s.get(User, row.user_id)
            if user is None or not user.active:
                return "inactive"
            return _Subject(user.id, user, lambda s, lang, tz, now: _digest_reply(s, user, lang, tz, now))
        if row.kind == "due":
            return await _due_subject(s, row)
        if row.kind in ("nocontact", "noupdate"):
            return await _customer_subject(s, row, now)
        if row.kind == "pending":
            return await _pending_subject(s, row, now)
        if row.kind == "birthday":
            return await _birthday_subject(s, row)
        return "unknown"


Render = Callable[[AsyncSession, str, dt.tzinfo, dt.datetime], Any]


@dataclass
class _Subject:
    owner_id: int
    recipient: User | None
    render: Render


def _static(reply: Callable[[str, dt.tzinfo, dt.datetime], Reply]) -> Render:
    async def render(s: AsyncSession, lang: str, tz: dt.tzinfo, now: dt.datetime) -> Reply:
        return reply(lang, tz, now)

    return render


async def _digest_reply(
    s: AsyncSession, user: User, lang: str, tz: dt.tzinfo, now: dt.datetime
) -> Reply | None:
    digest = await store.digest(s, user, now, tz)
    return None if digest.empty else rules.digest_reply(digest, lang)


async def _due_subject(s: AsyncSession, row: Reminder) -> _Subject | str:
    f = await s.get(FollowUp, row.followup_id) if row.followup_id else None
    if f is None or f.next_done:
        return "done"
    if f.next_at is None or row.ref_at is None or f.next_at != row.ref_at:
        return "moved"
    customer = await s.get(Customer, f.customer_id)
    if customer is None or customer.merged_into_id is not None:
        return "merged"
    contact = await s.get(Contact, f.contact_id) if f.contact_id else None
    next_at, content, name = f.next_at, f.content, customer.name

    def reply(lang: str, tz: dt.tzinfo, now: dt.datetime) -> Reply:
        view = rules.DueView(row.id, name, content, next_at.astimezone(tz), contact.name if contact else None)
        return rules.due_reply(view, lang)

    return _Subject(customer.owner_id, None, _static(reply))


async def _customer_subject(s: AsyncSession, row: Reminder, now: dt.datetime) -> _Subject | str:
    customer = await s.get(Customer, row.customer_id) if row.customer_id else None
    if customer is None or customer.merged_into_id is not None or customer.status == "lost":
        return "gone"
    if row.kind == "nocontact":
        anchor = customer.last_contact_at or customer.created_at
        if anchor != row.ref_at:
            return "contacted"
        planned = await s.execute(
            select(
                exists().where(
                    FollowUp.customer_id == customer.id,
                    FollowUp.next_done.is_(False),
                    FollowUp.next_at.is_not(None),
                )
            )
        )
        if planned.scalar():
            return "planned"
    else:
        anchor = customer.updated_at
        if anchor != row.ref_at:
            return "updated"
    kind, cid, name, never = row.kind, customer.id, customer.name, customer.last_contact_at is None

    def reply(lang: str, tz: dt.tzinfo, now: dt.datetime) -> Reply:
        note = rules.CustomerNote(
            row.id,
            kind,
            cid,
            name,
            (now - anchor).days,
            anchor.astimezone(tz).date(),
            never_contacted=never,
            today=now.astimezone(tz).date(),
        )
        return rules.note_reply(note, lang)

    return _Subject(customer.owner_id, None, _static(reply))


async def _pending_subject(s: AsyncSession, row: Reminder, now: dt.datetime) -> _Subject | str:
    record = str((row.detail or {}).get("record", "customer"))
    customer = await s.get(Customer, row.customer_id) if row.customer_id else None
    if customer is None or customer.merged_into_id is not None:
        return "gone"
    holder: Customer | Contact | None = customer
    contact_name = None
    if record == "contact":
        holder = await s.get(Contact, row.contact_id) if row.contact_id else None
        if holder is None or not holder.active:
            return "gone"
        contact_name = holder.name
    assert holder is not None
    if not holder.pending or holder.pending_since != row.ref_at or row.ref_at is None:
        return "filled"
    since, pending, cid, name = row.ref_at, tuple(holder.pending), customer.id, customer.name

    def reply(lang: str, tz: dt.tzinfo, now: dt.datetime) -> Reply:
        note = rules.CustomerNote(
            row.id,
            "pending",
            cid,
            name,
            (now - since).days,
            since.astimezone(tz).date(),
            contact=contact_name,
            fields=pending,
            record=record,
            today=now.astimezone(tz).date(),
        )
        return rules.note_reply(note, lang)

    return _Subject(customer.owner_id, None, _static(reply))


async def _birthday_subject(s: AsyncSession, row: Reminder) -> _Subject | str:
    contact = await s.get(Contact, row.contact_id) if row.contact_id else None
    if contact is None or not contact.active:
        return "gone"
    day = dt.date.fromisoformat(str((row.detail or {}).get("day")))
    if not rules.birthday_on(contact.birthday, day):
        return "changed"
    customer = await s.get(Customer, contact.customer_id)
    if customer is None or customer.merged_into_id is not None:
        return "gone"
    view = rules.BirthdayView(row.id, customer.id, customer.name, contact.name)
    return _Subject(customer.owner_id, None, _static(lambda lang, tz, now: rules.birthday_reply(view, lang)))


# ---------------------------------------------------------------- Telegram wiring


def start_telegram(app: Application[Any, Any, Any, Any, Any, Any]) -> Reminders:
    """Start the loop on PTB's event loop, sending through the Application's rate-limited bot."""
    runtime = app.bot_data["runtime"]
    settings = runtime.settings
    service = Reminders(
        runtime.sessions,
        TelegramSender(app.bot),
        clock=runtime.assistant.clock,
        default_tz=settings.timezone,
        poll_seconds=settings.reminder_poll_seconds,
        lease_seconds=settings.reminder_lease_seconds,
        digest_time=settings.digest_time,
        scan_seconds=settings.reminder_scan_minutes * 60,
    )
    service.start()
    app.bot_data["reminders"] = service
    log.info("reminders: polling every %.0fs", settings.reminder_poll_seconds)
    return service


async def stop_telegram(app: Application[Any, Any, Any, Any, Any, Any]) -> None:
    service = app.bot_data.pop("reminders", None)
    if isinstance(service, Reminders):
        await service.stop()


# ---------------------------------------------------------------- the buttons


def handles(assistant: Assistant, turn: Turn, inc: Incoming) -> bool:
    """Whether this input belongs to an open "Pick a time" question (typed time or its buttons)."""
    state = turn.state
    if state is None or state.flow != rules.PICK_FLOW:
        return False
    return inc.input is not None or (inc.callback or "").startswith("f|")


async def on_button(assistant: Assistant, turn: Turn, inc: Incoming) -> list[Reply]:
    """A reminder button: re-check the row and the person's right to act on its record, then act."""
    lang = turn.lang
    parsed = rules.parse_button(inc.callback or "")
    row = await turn.session.get(Reminder, parsed[1]) if parsed else None
    if parsed is None or row is None:
        return [Reply(t(lang, "rem.not_allowed"))]
    action, _, arg = parsed
    followup = await turn.session.get(FollowUp, row.followup_id) if row.followup_id else None
    contact = await turn.session.get(Contact, row.contact_id) if row.contact_id else None
    customer_id = followup.customer_id if followup else contact.customer_id if contact else row.customer_id
    customer = await repo.visible_customer(turn.session, turn.user, customer_id) if customer_id else None
    if customer is None:
        return [Reply(t(lang, "rem.not_allowed"))]
    repo.set_current_customer(turn.user, customer.id, assistant.clock())  # /log, files: this customer
    if action == "log":
        picked: dict[str, Any] = {
            "customer": {"id": customer.id, "name": customer.name, "number": customer.number}
        }
        if contact is None and followup is not None and followup.contact_id:
            contact = await turn.session.get(Contact, followup.contact_id)
        if contact is not None and contact.active and contact.customer_id == customer.id:
            picked["contact"] = {"id": contact.id, "name": contact.name}
        return [
            *await _replace_flow(assistant, turn, inc),
            *await assistant._start(turn, inc, "followup", prefill=picked),
        ]
    owners = await repo.team_ids(turn.session, turn.user)
    if not repo.may_edit(turn.user, owners, customer):
        return [Reply(t(lang, "rem.not_allowed"))]
    now = assistant.clock()
    tz = turn.services.tz
    if action in ("done", "snz", "tmr", "pick"):
        if followup is None or row.kind != "due":
            return [Reply(t(lang, "rem.not_allowed"))]
        stale = _stale(followup, row.ref_at, lang, tz)
        if stale is not None:
            return [stale]
        if action == "done":
            followup.next_done = True
            _history(turn, followup, "next_done", "no", "yes", "reminder: done", now)
            return [Reply(t(lang, "rem.done", customer=customer.name))]
        if action == "pick":
            assert followup.next_at is not None
            current = {"next_at": {"at": followup.next_at.astimezone(tz).isoformat(), "has_time": True}}
            context = {"reminder_id": row.id, "followup_id": followup.id}
            lead = await _replace_flow(assistant, turn, inc)
            return [
                *lead,
                *await assistant._start(
                    turn, inc, rules.PICK_FLOW, prefill={"current": current}, context=context
                ),
            ]
        if action == "snz":
            at = now + rules.SNOOZE
        else:
            tomorrow = now.astimezone(tz).date() + dt.timedelta(days=1)
            at = rules.at_local(tomorrow, dt.time(rules.TOMORROW_HOUR), tz)
        return [_move(turn, followup, customer, at, f"reminder: {action}", now, "rem.snoozed")]
    if action == "ok" and row.kind == "noupdate":
        customer.updated_at = now
        return [Reply(t(lang, "rem.verified", customer=customer.name))]
    if action == "fill" and row.kind == "pending":
        return await _fill(assistant, turn, inc, row, customer, contact, arg)
    return [Reply(t(lang, "rem.not_allowed"))]


async def on_pick(assistant: Assistant, turn: Turn, inc: Incoming) -> list[Reply]:
    """The typed time and the confirm/retype/cancel buttons of "Pick a time", run by the flow engine;
    once the absolute time is confirmed it is applied at once (no summary to save)."""
    state = turn.state
    assert state is not None
    if inc.input is not None:
        inp = inc.input
    else:
        pressed = parse_button(inc.callback or "")
        if pressed is None:
            return [Reply(t(turn.lang, "bot.no_flow_button"))]
        inp = Input(kind="button", data=pressed[1], seq=pressed[0])
    outcome = await assistant.engine.handle(state, inp, turn.services)
    done = outcome.state
    if done is None or done.phase != "summary" or "next_at" not in done.answers:
        await assistant._save_state(turn, inc.chat_id, done)
        return outcome.replies
    await assistant._save_state(turn, inc.chat_id, None)
    lang = turn.lang
    row = await turn.session.get(Reminder, int(done.context.get("reminder_id", 0)))
    followup = await turn.session.get(FollowUp, row.followup_id) if row and row.followup_id else None
    customer = (
        await repo.visible_customer(turn.session, turn.user, followup.customer_id) if followup else None
    )
    owners = await repo.team_ids(turn.session, turn.user)
    if row is None or followup is None or customer is None or not repo.may_edit(turn.user, owners, customer):
        return [Reply(t(lang, "rem.not_allowed"))]
    stale = _stale(followup, row.ref_at, lang, turn.services.tz)
    if stale is not None:
        return [stale]
    at = dt.datetime.fromisoformat(done.answers["next_at"]["at"])
    now = assistant.clock()
    return [_move(turn, followup, customer, at, "reminder: picked time", now, "rem.rescheduled")]


def _stale(followup: FollowUp, ref_at: dt.datetime | None, lang: str, tz: dt.tzinfo) -> Reply | None:
    """A reminder button pressed after its follow-up was closed or moved answers with what is true now."""
    if followup.next_done:
        return Reply(t(lang, "rem.stale.done"))
    if followup.next_at is None or followup.next_at != ref_at:
        when = format_when(followup.next_at.astimezone(tz), lang) if followup.next_at else "—"
        return Reply(t(lang, "rem.stale.moved", when=when))
    return None


def _move(
    turn: Turn,
    followup: FollowUp,
    customer: Customer,
    at: dt.datetime,
    reason: str,
    now: dt.datetime,
    key: str,
) -> Reply:
    """A new time for the follow-up: a new occurrence, reminded again when it comes."""
    old = followup.next_at
    followup.next_at = at.astimezone(dt.UTC)
    _history(
        turn, followup, "next_at", old.isoformat() if old else None, followup.next_at.isoformat(), reason, now
    )
    when = format_when(at.astimezone(turn.services.tz), turn.lang)
    return Reply(t(turn.lang, key, customer=customer.name, when=when))


def _history(
    turn: Turn,
    followup: FollowUp,
    field: str,
    old: str | None,
    new: str | None,
    reason: str,
    now: dt.datetime,
) -> None:
    turn.session.add(
        Change(
            entity="followup",
            entity_id=followup.id,
            field=field,
            old_value=old,
            new_value=new,
            reason=reason,
            user_id=turn.user.id,
            at=now,
        )
    )


async def _replace_flow(assistant: Assistant, turn: Turn, inc: Incoming) -> list[Reply]:
    """A reminder button that starts an entry replaces an open one, and says so."""
    if turn.state is None:
        return []
    name = t(turn.lang, f"bot.flow.{turn.state.flow}")
    await assistant._save_state(turn, inc.chat_id, None)
    return [Reply(t(turn.lang, "rem.replaced", flow=name))]


async def _fill(
    assistant: Assistant,
    turn: Turn,
    inc: Incoming,
    row: Reminder,
    customer: Customer,
    contact: Contact | None,
    field: str,
) -> list[Reply]:
    """Fill in a pending field: the edit flow, opened at that field (its answer and reason are kept)."""
    record = str((row.detail or {}).get("record", "customer"))
    holder: Customer | Contact | None = contact if record == "contact" else customer
    if holder is None:
        return [Reply(t(turn.lang, "rem.not_allowed"))]
    if field not in holder.pending:
        return [Reply(t(turn.lang, "rem.stale.filled"))]
    current = await turn.services.current_values(record, holder.id)
    if current is None:
        return [Reply(t(turn.lang, "rem.not_allowed"))]
    context = {"entity": record, "entity_id": holder.id, "customer_id": customer.id}
    lead = await _replace_flow(assistant, turn, inc)
    started = await assistant._start(
        turn, inc, f"edit_{record}", prefill={"current": current, "field": field}, context=context
    )
    return [*lead, *started]


# ---------------------------------------------------------------- commands


async def today(assistant: Assistant, turn: Turn) -> list[Reply]:
    """/today: the morning digest, on demand."""
    now = assistant.clock()
    digest = await store.digest(turn.session, turn.user, now, turn.services.tz)
    return [rules.digest_reply(digest, turn.lang)]


def quiet(assistant: Assistant, turn: Turn, args: str) -> list[Reply]:
    """/quiet 22:00-08:00 sets the person's quiet hours; /quiet off turns them off; /quiet shows them."""
    lang, user = turn.lang, turn.user
    text = args.strip()
    if not text:
        q = rules.Quiet.of(user.quiet_start, user.quiet_end)
        if q.off:
            return [Reply(t(lang, "rem.quiet.show_off"))]
        zone = user.tz or assistant.default_tz
        return [Reply(t(lang, "rem.quiet.show", start=f"{q.start:%H:%M}", end=f"{q.end:%H:%M}", tz=zone))]
    parsed = rules.parse_quiet(text)
    if parsed is None:
        return [Reply(t(lang, "rem.quiet.bad", text=text[:40]))]
    user.quiet_start, user.quiet_end = parsed
    if parsed[0] == parsed[1]:
        return [Reply(t(lang, "rem.quiet.off"))]
    return [Reply(t(lang, "rem.quiet.set", start=parsed[0], end=parsed[1]))]
