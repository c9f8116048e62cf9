"""SQLAlchemy 2 models. Times are stored as UTC; the UTCDateTime type makes SQLite agree with PostgreSQL.

Text typed by people whose limit a validator counts in displayed characters (flows.normalize.
display_len) is stored as Text: a varchar(N) counts code points, so emoji and combining marks that
the validator rightly does not count would pass the check and then fail the save on PostgreSQL.
Columns whose values are codes, identifiers or validated forms (phone, e-mail, names) keep a length.
"""

from __future__ import annotations

import datetime as dt
from typing import Any, ClassVar

from sqlalchemy import (
    JSON,
    BigInteger,
    Boolean,
    Date,
    DateTime,
    Float,
    ForeignKey,
    Index,
    Integer,
    Numeric,
    String,
    Text,
    TypeDecorator,
    UniqueConstraint,
)
from sqlalchemy.engine import Dialect
from sqlalchemy.orm import DeclarativeBase, Mapped, mapped_column


class UTCDateTime(TypeDecorator[dt.datetime]):
    """Aware datetimes in, aware UTC datetimes out, on every backend (SQLite keeps no offset)."""

    impl = DateTime(timezone=True)
    cache_ok = True

    def process_bind_param(self, value: dt.datetime | None, dialect: Dialect) -> dt.datetime | None:
        if value is None:
            return None
        if value.tzinfo is None:
            raise ValueError("naive datetime given to a UTC column")
        value = value.astimezone(dt.UTC)
        return value.replace(tzinfo=None) if dialect.name == "sqlite" else value

    def process_result_value(self, value: dt.datetime | None, dialect: Dialect) -> dt.datetime | None:
        if value is None:
            return None
        return value.replace(tzinfo=dt.UTC) if value.tzinfo is None else value.astimezone(dt.UTC)


def utcnow() -> dt.datetime:
    return dt.datetime.now(dt.UTC)


class Base(DeclarativeBase):
    type_annotation_map: ClassVar[dict[Any, Any]] = {
        dt.datetime: UTCDateTime,
        dict[str, Any]: JSON,
        list[str]: JSON,
    }


class User(Base):
    __tablename__ = "users"

    id: Mapped[int] = mapped_column(primary_key=True)
    telegram_id: Mapped[int] = mapped_column(BigInteger, unique=True)
    name: Mapped[str] = mapped_column(String(100))
    role: Mapped[str] = mapped_column(String(16), default="sales")
    manager_id: Mapped[int | None] = mapped_column(ForeignKey("users.id"))
    active: Mapped[bool] = mapped_column(Boolean, default=True)
    lang: Mapped[str | None] = mapped_column(String(8))  # chosen with /lang
    lang_seen: Mapped[str | None] = mapped_column(String(8))  # from their messages, until they choose
    tz: Mapped[str | None] = mapped_column(String(64))
    chat_id: Mapped[int | None] = mapped_column(BigInteger)
    blocked_at: Mapped[dt.datetime | None]
    quiet_start: Mapped[str] = mapped_column(String(5), default="22:00")
    quiet_end: Mapped[str] = mapped_column(String(5), default="08:00")
    current_customer_id: Mapped[int | None] = mapped_column(Integer)
    current_customer_at: Mapped[dt.datetime | None]
    created_at: Mapped[dt.datetime] = mapped_column(default=utcnow)


class Customer(Base):
    __tablename__ = "customers"
    # The same credit code never twice among live customers (a merged-away one keeps its code): the
    # partial unique index uq_customers_live_credit_code, made by migration 0007 on both backends.
    # Not declared here: tables come from the migrations only, and a `postgresql_where` argument
    # makes SQLAlchemy import its whole PostgreSQL dialect with this module (~2 MiB on SQLite too).

    id: Mapped[int] = mapped_column(primary_key=True)
    number: Mapped[str] = mapped_column(String(16), unique=True)
    kind: Mapped[str] = mapped_column(String(16))
    name: Mapped[str] = mapped_column(String(200), index=True)
    name_key: Mapped[str] = mapped_column(String(200), index=True, default="")  # flows.names.core_name
    credit_code: Mapped[str | None] = mapped_column(String(18), index=True)
    status: Mapped[str | None] = mapped_column(String(16))
    industry: Mapped[str | None] = mapped_column(String(32))
    industry_other: Mapped[str | None] = mapped_column(Text)
    grade: Mapped[str | None] = mapped_column(String(16))
    intent: Mapped[str | None] = mapped_column(String(1))
    province: Mapped[str | None] = mapped_column(String(32), index=True)
    city: Mapped[str | None] = mapped_column(String(32), index=True)
    district: Mapped[str | None] = mapped_column(String(32))
    address: Mapped[str | None] = mapped_column(Text)
    phone: Mapped[str | None] = mapped_column(String(40), index=True)
    email: Mapped[str | None] = mapped_column(String(254), index=True)
    source: Mapped[str | None] = mapped_column(String(32))
    owner_id: Mapped[int] = mapped_column(ForeignKey("users.id"), index=True)
    created_by: Mapped[int] = mapped_column(ForeignKey("users.id"))
    main_business: Mapped[str | None] = mapped_column(Text)
    current_problem: Mapped[str | None] = mapped_column(Text)
    interest: Mapped[str | None] = mapped_column(Text)
    tags: Mapped[list[str]] = mapped_column(default=list)
    remarks: Mapped[str | None] = mapped_column(Text)
    pending: Mapped[list[str]] = mapped_column(default=list)
    pending_since: Mapped[dt.datetime | None]
    created_at: Mapped[dt.datetime] = mapped_column(default=utcnow)
    updated_at: Mapped[dt.datetime] = mapped_column(default=utcnow)
    last_contact_at: Mapped[dt.datetime | None]
    merged_into_id: Mapped[int | None] = mapped_column(ForeignKey("customers.id"))
    merge_reason: Mapped[str | None] = mapped_column(String(200))


class SearchGram(Base):
    """One search token of a customer (storage.search): short postings instead of scanning the book."""

    __tablename__ = "search_grams"
    __table_args__ = {"sqlite_with_rowid": False}  # noqa: RUF012

    gram: Mapped[str] = mapped_column(String(64), primary_key=True)
    customer_id: Mapped[int] = mapped_column(
        ForeignKey("customers.id", ondelete="CASCADE"), primary_key=True, index=True
    )


class Contact(Base):
    __tablename__ = "contacts"

    id: Mapped[int] = mapped_column(primary_key=True)
    customer_id: Mapped[int] = mapped_column(ForeignKey("customers.id"), index=True)
    name: Mapped[str] = mapped_column(String(100))
    position: Mapped[str | None] = mapped_column(Text)
    phone: Mapped[str | None] = mapped_column(String(40), index=True)
    email: Mapped[str | None] = mapped_column(String(254))
    role: Mapped[str | None] = mapped_column(String(32))
    channel: Mapped[str | None] = mapped_column(String(16))
    channel_time: Mapped[str | None] = mapped_column(Text)
    birthday: Mapped[str | None] = mapped_column(String(10))
    remarks: Mapped[str | None] = mapped_column(Text)
    active: Mapped[bool] = mapped_column(Boolean, default=True)
    pending: Mapped[list[str]] = mapped_column(default=list)
    pending_since: Mapped[dt.datetime | None]
    created_by: Mapped[int] = mapped_column(ForeignKey("users.id"))
    created_at: Mapped[dt.datetime] = mapped_column(default=utcnow)
    updated_at: Mapped[dt.datetime] = mapped_column(default=utcnow)


class FollowUp(Base):
    __tablename__ = "followups"
    __table_args__ = (Index("ix_followups_due", "next_done", "next_at"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    customer_id: Mapped[int] = mapped_column(ForeignKey("customers.id"), index=True)
    contact_id: Mapped[int | None] = mapped_column(ForeignKey("contacts.id"))
    occurred_on: Mapped[dt.date] = mapped_column(Date)
    mode: Mapped[str] = mapped_column(String(16))
    content: Mapped[str] = mapped_column(Text)
    demand_status: Mapped[str | None] = mapped_column(String(16))
    next_at: Mapped[dt.datetime | None]
    next_done: Mapped[bool] = mapped_column(Boolean, default=False)
    participants: Mapped[str | None] = mapped_column(Text)
    latitude: Mapped[float | None] = mapped_column(Float)
    longitude: Mapped[float | None] = mapped_column(Float)
    pending: Mapped[list[str]] = mapped_column(default=list)
    created_by: Mapped[int] = mapped_column(ForeignKey("users.id"))
    created_at: Mapped[dt.datetime] = mapped_column(default=utcnow)
    # hours from the interaction (the end of its day in the user's zone) to the entry: the 24-hour rule
    entry_delay_hours: Mapped[float] = mapped_column(Float, default=0.0)
    pending_since: Mapped[dt.datetime | None]  # when a field was left "Later": the 7-day reminder


class Attachment(Base):
    """A file kept on disk under the data folder, named customer_kind_date.ext, with its checksum."""

    __tablename__ = "attachments"

    id: Mapped[int] = mapped_column(primary_key=True)
    customer_id: Mapped[int] = mapped_column(ForeignKey("customers.id"), index=True)
    followup_id: Mapped[int | None] = mapped_column(ForeignKey("followups.id"), index=True)
    kind: Mapped[str] = mapped_column(String(16))  # photo | document | voice
    file_name: Mapped[str] = mapped_column(String(200))
    original_name: Mapped[str | None] = mapped_column(String(200))
    mime: Mapped[str | None] = mapped_column(String(100))
    size: Mapped[int] = mapped_column(Integer)
    sha256: Mapped[str] = mapped_column(String(64))
    path: Mapped[str] = mapped_column(String(500))
    telegram_file_id: Mapped[str | None] = mapped_column(String(200))
    created_by: Mapped[int] = mapped_column(ForeignKey("users.id"))
    created_at: Mapped[dt.datetime] = mapped_column(default=utcnow)


class Deal(Base):
    __tablename__ = "deals"

    id: Mapped[int] = mapped_column(primary_key=True)
    customer_id: Mapped[int] = mapped_column(ForeignKey("customers.id"), index=True)
    on: Mapped[dt.date] = mapped_column(Date)
    product: Mapped[str] = mapped_column(String(200))
    amount: Mapped[float] = mapped_column(Numeric(14, 2))
    currency: Mapped[str] = mapped_column(String(3), default="CNY")
    payment_method: Mapped[str | None] = mapped_column(String(50))
    created_by: Mapped[int] = mapped_column(ForeignKey("users.id"))
    created_at: Mapped[dt.datetime] = mapped_column(default=utcnow)


class Change(Base):
    """One changed field: who, when, old and new value, and the reason given."""

    __tablename__ = "changes"
    __table_args__ = (Index("ix_changes_entity", "entity", "entity_id"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    entity: Mapped[str] = mapped_column(String(16))
    entity_id: Mapped[int] = mapped_column(Integer)
    field: Mapped[str] = mapped_column(String(32))
    old_value: Mapped[str | None] = mapped_column(Text)
    new_value: Mapped[str | None] = mapped_column(Text)
    reason: Mapped[str | None] = mapped_column(Text)
    user_id: Mapped[int] = mapped_column(ForeignKey("users.id"))
    at: Mapped[dt.datetime] = mapped_column(default=utcnow)
    proposed_by: Mapped[int | None] = mapped_column(ForeignKey("users.id"))  # an approved change request


class Conversation(Base):
    """The open flow of one user in one chat; written in the same transaction as the step's effects."""

    __tablename__ = "conversations"
    __table_args__ = (UniqueConstraint("chat_id", "user_id"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    chat_id: Mapped[int] = mapped_column(BigInteger)
    user_id: Mapped[int] = mapped_column(ForeignKey("users.id"))
    state: Mapped[dict[str, Any]] = mapped_column(default=dict)
    updated_at: Mapped[dt.datetime] = mapped_column(default=utcnow)


class SeenUpdate(Base):
    """Telegram updates handled recently, per chat, so a redelivery is recognised.

    Telegram may restart update ids lower after a week without updates, so "at or below the last
    one" cannot tell a redelivery; the ids seen in the last days can. What the update saved is kept
    so a redelivery can show it again instead of nothing.
    """

    __tablename__ = "seen_updates"

    chat_id: Mapped[int] = mapped_column(BigInteger, primary_key=True, autoincrement=False)
    update_id: Mapped[int] = mapped_column(BigInteger, primary_key=True, autoincrement=False)
    at: Mapped[dt.datetime] = mapped_column(default=utcnow, index=True)
    saved_kind: Mapped[str | None] = mapped_column(String(16), default=None)
    saved_customer_id: Mapped[int | None] = mapped_column(default=None)


class DaySequence(Base):
    """Customer numbers are C + day + a per-day counter that only grows, so a number is never reused."""

    __tablename__ = "day_sequences"

    day: Mapped[str] = mapped_column(String(8), primary_key=True)
    last: Mapped[int] = mapped_column(Integer)


class Audit(Base):
    """Actions that must be accountable: exports, erasures, merges, user management."""

    __tablename__ = "audit"

    id: Mapped[int] = mapped_column(primary_key=True)
    user_id: Mapped[int | None] = mapped_column(ForeignKey("users.id"))
    action: Mapped[str] = mapped_column(String(32))
    detail: Mapped[str | None] = mapped_column(Text)
    at: Mapped[dt.datetime] = mapped_column(default=utcnow)


class Reminder(Base):
    """One reminder occurrence in an outbox: created once per `key`, claimed under a lease, sent once.

    state: pending → claimed → sending → sent; or cancelled (no longer true when its turn came), held
    (the recipient blocked the bot), expired (its day ended in quiet hours), failed (refused for good).
    A 'sending' row whose lease ran out may or may not have reached Telegram: it is sent again and
    flagged `unconfirmed` (at least once), since a lost follow-up costs more than a repeated one.
    """

    __tablename__ = "reminders"
    __table_args__ = (Index("ix_reminders_ready", "state", "due_at"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    key: Mapped[str] = mapped_column(String(120), unique=True)
    kind: Mapped[str] = mapped_column(String(16))
    user_id: Mapped[int] = mapped_column(ForeignKey("users.id"), index=True)
    customer_id: Mapped[int | None] = mapped_column(
        ForeignKey("customers.id", ondelete="CASCADE"), index=True
    )
    contact_id: Mapped[int | None] = mapped_column(ForeignKey("contacts.id", ondelete="CASCADE"))
    followup_id: Mapped[int | None] = mapped_column(
        ForeignKey("followups.id", ondelete="CASCADE"), index=True
    )
    ref_at: Mapped[dt.datetime | None]
    due_at: Mapped[dt.datetime]
    expires_at: Mapped[dt.datetime | None]
    state: Mapped[str] = mapped_column(String(12), default="pending")
    claimed_by: Mapped[str | None] = mapped_column(String(64))
    claimed_until: Mapped[dt.datetime | None]
    attempts: Mapped[int] = mapped_column(Integer, default=0)
    unconfirmed: Mapped[bool] = mapped_column(Boolean, default=False)
    last_error: Mapped[str | None] = mapped_column(String(64))
    message_id: Mapped[int | None] = mapped_column(BigInteger)
    sent_at: Mapped[dt.datetime | None]
    detail: Mapped[dict[str, Any]] = mapped_column(default=dict)
    created_at: Mapped[dt.datetime] = mapped_column(default=utcnow)


class ReminderCursor(Base):
    """How far a reminder scan has looked, so what fell due while the bot was down is still found."""

    __tablename__ = "reminder_cursors"

    name: Mapped[str] = mapped_column(String(32), primary_key=True)
    until: Mapped[dt.datetime]


class UserRegion(Base):
    """A province or city a manager looks after: its customers are theirs to see, as SPEC's regions say."""

    __tablename__ = "user_regions"

    user_id: Mapped[int] = mapped_column(ForeignKey("users.id"), primary_key=True)
    region: Mapped[str] = mapped_column(String(32), primary_key=True)


class ChangeRequest(Base):
    """A change proposed by someone who may see a record but not edit it, until approved or rejected.

    `old_value` is the field as the proposer saw it: if the record differs when the request is
    decided, the request is stale and cannot be approved without the approver seeing the new value.
    state: pending → approved | rejected.
    """

    __tablename__ = "change_requests"
    __table_args__ = (Index("ix_change_requests_state", "state", "customer_id"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    entity: Mapped[str] = mapped_column(String(16))
    entity_id: Mapped[int] = mapped_column(Integer)
    customer_id: Mapped[int] = mapped_column(ForeignKey("customers.id"), index=True)
    field: Mapped[str] = mapped_column(String(32))
    old_value: Mapped[str | None] = mapped_column(Text)
    new_value: Mapped[dict[str, Any]] = mapped_column(default=dict)  # {"value": the answer as stored}
    new_text: Mapped[str | None] = mapped_column(Text)
    reason: Mapped[str] = mapped_column(String(200))
    proposer_id: Mapped[int] = mapped_column(ForeignKey("users.id"))
    state: Mapped[str] = mapped_column(String(12), default="pending")
    decided_by: Mapped[int | None] = mapped_column(ForeignKey("users.id"))
    decided_at: Mapped[dt.datetime | None]
    decision_reason: Mapped[str | None] = mapped_column(String(200))
    created_at: Mapped[dt.datetime] = mapped_column(default=utcnow)


class Erasure(Base):
    """A person's personal data erased on request (PIPL): who, when, which record, why; never the values."""

    __tablename__ = "erasures"

    id: Mapped[int] = mapped_column(primary_key=True)
    user_id: Mapped[int | None] = mapped_column(ForeignKey("users.id"))
    entity: Mapped[str] = mapped_column(String(16))  # contact | customer
    entity_id: Mapped[int] = mapped_column(Integer)
    customer_id: Mapped[int | None] = mapped_column(Integer)
    reason: Mapped[str] = mapped_column(String(200))
    fields: Mapped[list[str]] = mapped_column(default=list)  # which fields were erased (names only)
    redacted: Mapped[list[str]] = mapped_column(default=list)  # follow-up ids whose text was removed
    at: Mapped[dt.datetime] = mapped_column(default=utcnow)
