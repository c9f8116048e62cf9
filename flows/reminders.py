"""Reminder rules as pure functions: what is due when, quiet hours, occurrence keys, texts and buttons.

No SQL and no Telegram here, so every rule can be tested with a fixed clock. Storage finds the
candidates, bot/reminders.py delivers them; both ask this module what the rules say.

Every reminder occurrence has a key (e.g. "due:<followup>:<next_at>"): the outbox keeps one row per
key, which makes creating reminders idempotent and is what "delivered once" is counted against.
"""

from __future__ import annotations

import datetime as dt
import re
from dataclasses import dataclass, field
from typing import Any

from flows.dateformat import format_date, format_when
from flows.engine import Button, Flow, Reply
from flows.fields import NextTime
from flows.i18n import t
from flows.normalize import typed_number

# ---------------------------------------------------------------- the rules in numbers

NO_CONTACT_DAYS = 30
NO_UPDATE_DAYS = 90
PENDING_DAYS = 7
BIRTHDAY_AHEAD_DAYS = 3  # a reminder this many days before a birthday too (CRM_BIRTHDAY_AHEAD_DAYS)
SNOOZE = dt.timedelta(hours=1)
TOMORROW_HOUR = 9
# A due follow-up set for a time inside quiet hours is delivered then (the person chose that time),
# unless it is already this late, e.g. found after a night of downtime: then it waits for the morning.
URGENT_GRACE = dt.timedelta(hours=1)
CONTENT_CHARS = 300
DIGEST_LINES = 8

KINDS = ("due", "nocontact", "noupdate", "pending", "birthday", "digest", "notice")
# Only a due follow-up can be urgent; everything else waits for the end of quiet hours.
MAY_BE_URGENT = frozenset({"due"})

PICK_FLOW = "rem_pick"
BUTTON_PREFIX = "r"

_HHMM = re.compile(r"^([01]?\d|2[0-3]):([0-5]\d)$")


# ---------------------------------------------------------------- time of day, quiet hours


def parse_hhmm(text: str) -> dt.time:
    """ "08:30" → time(8, 30); raises ValueError for anything else."""
    m = _HHMM.match(text.strip())
    if m is None:
        raise ValueError(f"not a time of day: {text!r}")
    return dt.time(int(m.group(1)), int(m.group(2)))


def parse_quiet(text: str) -> tuple[str, str] | None:
    """ "22:00-08:00" (or with –, ~, 到, to) → ("22:00", "08:00"); "off" → equal ends; None if unreadable."""
    cleaned = text.strip().lower()
    if cleaned in ("off", "none", "关", "关闭", "无"):
        return ("00:00", "00:00")
    parts = re.split(r"\s*(?:-|–|—|~|～|到|至|to)\s*", cleaned)
    if len(parts) != 2:
        return None
    try:
        start, end = parse_hhmm(parts[0]), parse_hhmm(parts[1])
    except ValueError:
        return None
    return (f"{start:%H:%M}", f"{end:%H:%M}")


@dataclass(frozen=True)
class Quiet:
    """A user's quiet hours in their own zone; equal ends mean none. The window may cross midnight."""

    start: dt.time
    end: dt.time

    @classmethod
    def of(cls, start: str | None, end: str | None) -> Quiet:
        try:
            return cls(parse_hhmm(start or "22:00"), parse_hhmm(end or "08:00"))
        except ValueError:
            return cls(dt.time(22), dt.time(8))

    @property
    def off(self) -> bool:
        return self.start == self.end

    def contains(self, local: dt.datetime) -> bool:
        if self.off:
            return False
        now = local.time().replace(tzinfo=None)
        if self.start < self.end:
            return self.start <= now < self.end
        return now >= self.start or now < self.end

    def ends_after(self, local: dt.datetime) -> dt.datetime:
        """The end of the quiet window `local` is in (the same day, or the next one after midnight)."""
        day = local.date()
        if self.start > self.end and local.time().replace(tzinfo=None) >= self.start:
            day += dt.timedelta(days=1)
        return at_local(day, self.end, local.tzinfo or dt.UTC)


def at_local(day: dt.date, time: dt.time, tz: dt.tzinfo) -> dt.datetime:
    """A wall-clock time on a day in a zone, as an aware datetime (a DST gap is resolved by zoneinfo)."""
    return dt.datetime.combine(day, time, tzinfo=tz)


def end_of_day(day: dt.date, tz: dt.tzinfo) -> dt.datetime:
    return at_local(day + dt.timedelta(days=1), dt.time(0), tz)


def is_urgent(kind: str, ref_at: dt.datetime | None, now: dt.datetime, tz: dt.tzinfo, quiet: Quiet) -> bool:
    """Urgent = may break quiet hours: a follow-up set inside them, delivered on time."""
    if kind not in MAY_BE_URGENT or ref_at is None:
        return False
    return quiet.contains(ref_at.astimezone(tz)) and now - ref_at <= URGENT_GRACE


def hold_until(now: dt.datetime, tz: dt.tzinfo, quiet: Quiet, *, urgent: bool) -> dt.datetime | None:
    """When a reminder may go out if not now: the end of quiet hours (UTC), or None to send now."""
    local = now.astimezone(tz)
    if urgent or not quiet.contains(local):
        return None
    return quiet.ends_after(local).astimezone(dt.UTC)


def deliver_at(
    natural: dt.datetime, now: dt.datetime, tz: dt.tzinfo, quiet: Quiet, *, urgent: bool
) -> dt.datetime:
    """The first moment a reminder that falls due at `natural` may be delivered."""
    at = max(natural, now)
    held = hold_until(at, tz, quiet, urgent=urgent)
    return held if held is not None else at


# ---------------------------------------------------------------- occurrences


def _stamp(at: dt.datetime) -> str:
    return at.astimezone(dt.UTC).strftime("%Y%m%dT%H%M%S")


def due_key(followup_id: int, next_at: dt.datetime) -> str:
    """A follow-up's due reminder, per time it was set for: a snooze or a new time is a new occurrence."""
    return f"due:{followup_id}:{_stamp(next_at)}"


def period(anchor: dt.datetime, now: dt.datetime, days: int) -> int:
    """How many whole `days`-periods have passed since anchor: 1 at the first threshold, 2 at twice…"""
    return max(0, (now - anchor) // dt.timedelta(days=days))


def period_key(kind: str, record: str, record_id: int, anchor: dt.datetime, n: int) -> str:
    """One reminder per period of the same state (silence, staleness, pending) of one record."""
    return f"{kind}:{record}{record_id}:{_stamp(anchor)}:{n}"


def birthday_key(contact_id: int, day: dt.date, ahead: int = 0) -> str:
    """One reminder on the birthday, and one `ahead` days before it (a key of its own)."""
    return f"birthday:{contact_id}:{day.isoformat()}" + (f":-{ahead}" if ahead else "")


def digest_key(user_id: int, day: dt.date) -> str:
    return f"digest:{user_id}:{day.isoformat()}"


def birthday_on(birthday: str | None, day: dt.date) -> bool:
    """Whether a contact's birthday ("MM-DD" or "YYYY-MM-DD") falls on `day`; 29 Feb is kept on 28 Feb
    in other years."""
    if not birthday:
        return False
    parts = birthday.strip().split("-")
    try:
        month, mday = int(parts[-2]), int(parts[-1])
    except (ValueError, IndexError):
        return False
    if (month, mday) == (day.month, day.day):
        return True
    leap = day.year % 4 == 0 and (day.year % 100 != 0 or day.year % 400 == 0)
    return (month, mday) == (2, 29) and not leap and (day.month, day.day) == (2, 28)


def birthday_suffixes(now: dt.datetime) -> list[str]:
    """ "-MM-DD" endings of every calendar day somewhere on Earth at `now` (for a cheap SQL filter)."""
    days = {(now + dt.timedelta(hours=h)).date() for h in (-12, 0, 14)}
    out = {f"{d.month:02d}-{d.day:02d}" for d in days}
    if any((d.month, d.day) == (2, 28) for d in days):
        out.add("02-29")
    return sorted(out)


# ---------------------------------------------------------------- buttons


def button(action: str, reminder_id: int, arg: str = "") -> str:
    """Callback data `r|<action>|<reminder id>[|arg]`: the row is looked up and re-checked on press."""
    data = f"{BUTTON_PREFIX}|{action}|{reminder_id}" + (f"|{arg}" if arg else "")
    if len(data.encode()) > 64:
        raise ValueError("callback data over Telegram's 64 bytes")
    return data


def parse_button(data: str) -> tuple[str, int, str] | None:
    parts = data.split("|")
    if len(parts) not in (3, 4) or parts[0] != BUTTON_PREFIX:
        return None
    reminder_id = typed_number(parts[2], max_digits=19)  # bounded again by reminder_by_id
    if reminder_id is None:
        return None
    return parts[1], reminder_id, parts[3] if len(parts) == 4 else ""


# ---------------------------------------------------------------- what the person reads


def _clip(text: str, limit: int = CONTENT_CHARS) -> str:
    text = " ".join(text.split())
    return text if len(text) <= limit else text[: limit - 1] + "…"


@dataclass(frozen=True)
class DueView:
    reminder_id: int
    customer: str
    content: str
    next_at: dt.datetime  # in the recipient's zone
    contact: str | None = None


def due_reply(v: DueView, lang: str) -> Reply:
    """ "⏰ <customer> — <what was agreed last time>" with the five actions."""
    lines = [t(lang, "rem.due", customer=v.customer, content=_clip(v.content))]
    when = format_when(v.next_at, lang, today=v.next_at.date())
    lines.append(t(lang, "rem.due.when", when=when))
    if v.contact:
        lines.append(t(lang, "rem.due.contact", contact=v.contact))
    rid = v.reminder_id
    rows = [
        [
            Button(t(lang, "rem.btn.log"), button("log", rid)),
            Button(t(lang, "rem.btn.done"), button("done", rid)),
        ],
        [
            Button(t(lang, "rem.btn.snooze"), button("snz", rid)),
            Button(t(lang, "rem.btn.tomorrow"), button("tmr", rid)),
        ],
        [Button(t(lang, "rem.btn.pick"), button("pick", rid))],
    ]
    return Reply("\n".join(lines), rows)


@dataclass(frozen=True)
class CustomerNote:
    """A reminder about one customer: silence, stale data or pending fields."""

    reminder_id: int
    kind: str
    customer_id: int
    customer: str
    days: int
    since: dt.date | None = None
    contact: str | None = None
    fields: tuple[str, ...] = ()
    record: str = "customer"  # whose fields: "customer" | "contact"
    never_contacted: bool = False
    today: dt.date | None = None  # the recipient's today, to show a year only when it is another
    day: dt.date | None = None  # a follow-up's pending fields: the day of that follow-up


def note_reply(v: CustomerNote, lang: str) -> Reply:
    rid = v.reminder_id
    open_button = Button(t(lang, "rem.btn.open"), f"g|cust|{v.customer_id}")
    since = format_date(v.since, lang, today=v.today) if v.since else ""
    if v.kind == "nocontact":
        key = "rem.nocontact.never" if v.never_contacted else "rem.nocontact"
        text = t(lang, key, customer=v.customer, days=v.days, since=since)
        rows = [[Button(t(lang, "rem.btn.log"), button("log", rid)), open_button]]
    elif v.kind == "noupdate":
        text = t(lang, "rem.noupdate", customer=v.customer, days=v.days, since=since)
        rows = [[Button(t(lang, "rem.btn.verified"), button("ok", rid)), open_button]]
    else:
        labels = [t(lang, f"f.{v.record}.{f}") for f in v.fields]
        key = f"rem.pending.{v.record}" if v.record in ("contact", "followup") else "rem.pending.customer"
        day = format_date(v.day, lang, today=v.today) if v.day else ""
        text = t(
            lang,
            key,
            customer=v.customer,
            contact=v.contact or "",
            fields="、".join(labels),
            days=v.days,
            date=day,
        )
        fill = [
            Button(t(lang, "rem.btn.fill", field=label), button("fill", rid, name))
            for name, label in zip(v.fields[:3], labels[:3], strict=True)
        ]
        rows = [[b] for b in fill] + [[open_button]]
    return Reply(text, rows)


@dataclass(frozen=True)
class BirthdayView:
    reminder_id: int
    customer_id: int
    customer: str
    contact: str
    ahead: int = 0  # days before the birthday; 0 on the day
    day: dt.date | None = None


def birthday_reply(v: BirthdayView, lang: str) -> Reply:
    if v.ahead > 0 and v.day is not None:
        when = format_date(v.day, lang, today=v.day)
        text = t(lang, "rem.birthday.ahead", days=v.ahead, date=when, contact=v.contact, customer=v.customer)
    else:
        text = t(lang, "rem.birthday", contact=v.contact, customer=v.customer)
    rows = [
        [
            Button(t(lang, "rem.btn.log"), button("log", v.reminder_id)),
            Button(t(lang, "rem.btn.open"), f"g|cust|{v.customer_id}"),
        ]
    ]
    return Reply(text, rows)


@dataclass(frozen=True)
class DigestLine:
    customer_id: int
    customer: str
    at: dt.datetime | None = None  # in the recipient's zone
    fields: tuple[str, ...] = ()
    record: str = "customer"
    contact: str | None = None


@dataclass(frozen=True)
class Digest:
    """The morning digest and /today: due today, overdue, pending fields, each with its full count."""

    day: dt.date
    overdue: list[DigestLine] = field(default_factory=list)
    today: list[DigestLine] = field(default_factory=list)
    pending: list[DigestLine] = field(default_factory=list)
    overdue_count: int = 0
    today_count: int = 0
    pending_count: int = 0
    # a manager's morning (storage/team.py): change requests waiting, the team's overdue, new customers
    requests_count: int = 0
    team_overdue: tuple[tuple[str, int], ...] = ()
    new_yesterday: tuple[str, ...] = ()

    @property
    def empty(self) -> bool:
        """Nothing to act on; yesterday's new customers alone are news, not a reason to write."""
        return not (
            self.overdue_count
            or self.today_count
            or self.pending_count
            or self.requests_count
            or self.team_overdue
        )


def digest_reply(d: Digest, lang: str) -> Reply:
    lines = [t(lang, "rem.digest.title", date=format_date(d.day, lang, today=d.day))]
    if d.empty and not d.new_yesterday:
        lines.append(t(lang, "rem.digest.empty"))
        return Reply("\n".join(lines))
    opened: dict[int, str] = {}

    def section(title: str, items: list[DigestLine], count: int, show: str) -> None:
        if not count:
            return
        lines.extend(["", t(lang, title, count=count)])
        for item in items[:DIGEST_LINES]:
            opened.setdefault(item.customer_id, item.customer)
            if show == "time" and item.at is not None:
                when = (
                    f"{item.at:%H:%M}" if item.at.date() == d.day else format_when(item.at, lang, today=d.day)
                )
                lines.append(f"  • {when}  {item.customer}")
            else:
                labels = "、".join(t(lang, f"f.{item.record}.{f}") for f in item.fields)
                who = f"{item.customer} · {item.contact}" if item.contact else item.customer
                lines.append(f"  • {who}: {labels}")
        if count > min(len(items), DIGEST_LINES):
            lines.append(t(lang, "rem.digest.more", count=count - min(len(items), DIGEST_LINES)))

    section("rem.digest.overdue", d.overdue, d.overdue_count, "time")
    section("rem.digest.today", d.today, d.today_count, "time")
    section("rem.digest.pending", d.pending, d.pending_count, "fields")
    from flows.team import manager_digest_lines

    lines += manager_digest_lines(d.requests_count, d.team_overdue, d.new_yesterday, lang)
    rows = [[Button(_clip(name, 40), f"g|cust|{cid}")] for cid, name in list(opened.items())[:DIGEST_LINES]]
    return Reply("\n".join(lines), rows)


# ---------------------------------------------------------------- "Pick a time"

# One question, answered exactly as the next follow-up time in /log: typed naturally, echoed back as
# an absolute time in the user's zone, confirmed. bot/reminders.py applies it when confirmed.
PICK = Flow(PICK_FLOW, PICK_FLOW, (NextTime("next_at", prompt="rem.pick.prompt"),), editing=True)
FLOWS: dict[str, Flow] = {PICK.name: PICK}


# ---------------------------------------------------------------- one reminder, rendered


@dataclass(frozen=True)
class Facts:
    """What a reminder is about, as storage found it still true just before sending (times in UTC).

    Rendering needs no I/O: the recipient's language, zone and "now" turn facts into the message.
    """

    kind: str  # due | nocontact | noupdate | pending | birthday
    reminder_id: int
    customer_id: int
    customer: str
    content: str = ""
    at: dt.datetime | None = None  # due: the follow-up time; otherwise since when (the anchor)
    contact: str | None = None
    fields: tuple[str, ...] = ()
    record: str = "customer"
    never_contacted: bool = False
    day: dt.date | None = None  # birthday: the birthday; a follow-up's pending field: its date
    ahead: int = 0  # birthday: days before it (0: on the day)
    notice: dict[str, Any] | None = None  # kind "notice": a message for one person (flows/team.py)


def reminder_reply(f: Facts, lang: str, tz: dt.tzinfo, now: dt.datetime) -> Reply:
    if f.kind == "notice":
        from flows.team import notice_reply

        return notice_reply(f.notice or {}, lang)
    if f.kind == "due":
        assert f.at is not None
        return due_reply(DueView(f.reminder_id, f.customer, f.content, f.at.astimezone(tz), f.contact), lang)
    if f.kind == "birthday":
        view = BirthdayView(f.reminder_id, f.customer_id, f.customer, f.contact or "", f.ahead, f.day)
        return birthday_reply(view, lang)
    assert f.at is not None
    note = CustomerNote(
        f.reminder_id,
        f.kind,
        f.customer_id,
        f.customer,
        (now - f.at).days,
        f.at.astimezone(tz).date(),
        contact=f.contact,
        fields=f.fields,
        record=f.record,
        never_contacted=f.never_contacted,
        today=now.astimezone(tz).date(),
        day=f.day,
    )
    return note_reply(note, lang)
