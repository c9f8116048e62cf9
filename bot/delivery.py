"""Reminders: the loop that plans what is due and delivers it (its senders are in bot/senders.py).

Every CRM_REMINDER_POLL_SECONDS the loop (1) plans: due follow-ups, and every few minutes silent,
stale and pending customers, birthdays, and the morning digests, each an outbox row created once
per occurrence key; (2) delivers: claims due rows under a lease, checks each is still true
(storage/reminder_subjects.py), holds it through quiet hours, renders it in the recipient's language
and zone (flows/reminders.py), sends it through a `Sender`, and records the outcome. The loop knows
nothing of Telegram: the terminal chat and the tests give it their own Sender. The buttons under a
reminder come back as ordinary updates (bot/features/reminder_buttons.py).

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
from collections.abc import AsyncIterator, Callable
from dataclasses import dataclass, fields
from typing import Any
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from bot.senders import Blocked, Rejected, RetryLater, Sender
from flows import reminders as rules
from flows.engine import Reply
from flows.i18n import DEFAULT_LANG
from storage import reminder_subjects as subjects
from storage import reminders as store
from storage.models import Contact, Customer, FollowUp, Reminder, User
from storage.services import Clock, system_clock
from storage.tx import Sessions, Tx, is_sqlite, transaction

__all__ = ["Blocked", "Rejected", "Reminders", "Report", "RetryLater", "Sender"]

log = logging.getLogger(__name__)

DUE_LOOKBACK = dt.timedelta(days=3)  # re-checked each scan: a follow-up saved late is still found
SCAN_MARGIN = dt.timedelta(minutes=10)  # clock skew between processes, transactions committing late
MAX_BACKOFF = 900.0
MAX_ATTEMPTS = 20  # for unexpected errors only; 429 and network errors retry as long as it takes


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


def user_zone(user: User | store.Person, default_tz: str) -> dt.tzinfo:
    try:
        return ZoneInfo(user.tz or default_tz)
    except (ZoneInfoNotFoundError, ValueError):
        return ZoneInfo(default_tz)


def chat_of(user: User) -> int:
    """The user's private chat: its id is the user's id. A group's id (negative) is never used, even
    if an older version stored one, so a reminder never reaches a group's members."""
    if user.chat_id is not None and user.chat_id > 0:
        return int(user.chat_id)
    return int(user.telegram_id)


class Reminders:
    """Plans and delivers reminders; one per process, any number of processes per database."""

    def __init__(
        self,
        sessions: Sessions,
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
        birthday_ahead_days: int = rules.BIRTHDAY_AHEAD_DAYS,
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
        self.birthday_ahead = max(0, birthday_ahead_days)
        self._last_scan: dt.datetime | None = None
        self._last_sent: dict[int, float] = {}
        self._stopping = False
        self.on_report: Callable[[Report], None] | None = None  # metrics hear of every tick
        self._wake = asyncio.Event()
        self._task: asyncio.Task[None] | None = None
        self._gate: contextlib.AbstractAsyncContextManager[Any] = (
            asyncio.Lock() if is_sqlite(sessions) else contextlib.nullcontext()
        )

    @contextlib.asynccontextmanager
    async def _tx(self) -> AsyncIterator[Tx]:
        """One transaction. On SQLite, one at a time in this process: its single writer would otherwise
        make concurrent deliveries busy-wait on the database lock (sends still run in parallel)."""
        async with self._gate, transaction(self.sessions) as s:
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
                if self.on_report is not None:
                    self.on_report(report)
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

    def _prefs(self, user: User | store.Person | None) -> tuple[dt.tzinfo, rules.Quiet]:
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
        self,
        kind: str,
        key: str,
        users: dict[int, store.Person],
        owner_id: int,
        now: dt.datetime,
        **extra: Any,
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
            for c in await store.silent_customers(s, now - rules.NO_CONTACT_DAYS * day, now):
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
            pending: list[tuple[Customer | Contact | FollowUp, Customer]] = [
                (c, c) for c in await store.pending_customers(s, since)
            ]
            pending += await store.pending_contacts(s, since)
            pending += await store.pending_followups(s, since)
            for record, c in pending:  # a customer, or a contact or follow-up under its customer
                assert record.pending_since is not None
                kind = (
                    "contact"
                    if isinstance(record, Contact)
                    else "followup"
                    if isinstance(record, FollowUp)
                    else "customer"
                )
                n = rules.period(record.pending_since, now, rules.PENDING_DAYS)
                letter = {"customer": "c", "contact": "k", "followup": "f"}[kind]  # keys as before
                key = rules.period_key("pending", letter, record.id, record.pending_since, n)
                rows.append(
                    self._row(
                        "pending",
                        key,
                        users,
                        c.owner_id,
                        now,
                        customer_id=c.id,
                        ref_at=record.pending_since,
                        detail={"record": kind},
                        **({f"{kind}_id": record.id} if kind != "customer" else {}),
                    )
                )
            rows += self._birthdays(
                await store.birthday_contacts(s, self._birthday_suffixes(now)), users, now
            )
            report.created += await store.add(s, rows)

    def _birthday_suffixes(self, now: dt.datetime) -> list[str]:
        ahead = now + dt.timedelta(days=self.birthday_ahead)
        return sorted({*rules.birthday_suffixes(now), *rules.birthday_suffixes(ahead)})

    def _birthdays(
        self, found: list[tuple[Contact, Customer]], users: dict[int, store.Person], now: dt.datetime
    ) -> list[dict[str, Any]]:
        """A birthday on the day and `birthday_ahead` days before it, each at the digest time."""
        rows = []
        for k, c in found:
            who = store.resolve(users, c.owner_id)
            tz, _ = self._prefs(who)
            today = now.astimezone(tz).date()
            for ahead in sorted({0, self.birthday_ahead}):
                day = today + dt.timedelta(days=ahead)
                if not rules.birthday_on(k.birthday, day):
                    continue
                rows.append(
                    self._row(
                        "birthday",
                        rules.birthday_key(k.id, day, ahead),
                        users,
                        c.owner_id,
                        now,
                        customer_id=c.id,
                        contact_id=k.id,
                        due_at=rules.at_local(today, self.digest_time, tz),
                        expires_at=rules.end_of_day(today, tz),
                        detail={"day": day.isoformat(), "ahead": ahead},
                    )
                )
        return rows

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
                await store.mark_blocked(s, ready.user_id, self.clock())
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
        self, s: Tx, row: Reminder, now: dt.datetime
    ) -> tuple[str, dict[str, Any], _Ready | None]:
        """(report counter, new column values, what to send): the rules applied to one claimed row."""

        def close(state: str, error: str | None, **more: Any) -> dict[str, Any]:
            return {"state": state, "claimed_by": None, "claimed_until": None, "last_error": error, **more}

        subject = await subjects.subject(s, row, now)
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
        lang = who.lang or who.lang_seen or DEFAULT_LANG  # chosen, else seen on their messages
        reply: Reply | None
        if subject.facts is None:  # the digest, gathered for this person in their zone
            digest = await store.digest(s, who, now, tz)
            reply = None if digest.empty else rules.digest_reply(digest, lang)
        else:
            reply = rules.reminder_reply(subject.facts, lang, tz, now)
        if reply is None:
            return "cancelled", close("cancelled", "empty"), None
        values = {"state": "sending", "claimed_until": now + self.lease, "user_id": who.id}
        return "sending", values, _Ready(row.id, chat_of(who), who.id, reply, row.attempts)
