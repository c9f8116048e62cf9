"""What a flow may ask of the outside world: lookups and saves, answered by storage through bot/.

Flows stay free of SQL and Telegram; tests pass an in-memory implementation.
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass, field
from typing import Any, Protocol

from flows.refs import ContactRef, CustomerRef


@dataclass(frozen=True)
class DupProbe:
    name: str | None = None
    phone: str | None = None
    email: str | None = None
    credit_code: str | None = None
    exclude_id: int | None = None
    record: str = "customer"  # "contact": an existing contact with this name and phone


@dataclass(frozen=True)
class DupMatch:
    customer_id: int
    name: str
    owner_name: str
    reasons: tuple[str, ...]  # "credit_code" | "phone" | "email" | "name" | "contact"
    visible: bool  # False: the user may learn only the name and the owner
    number: str | None = None
    score: float = 100.0


@dataclass(frozen=True)
class Saved:
    kind: str  # "customer" | "contact" | "followup" | "edit"
    id: int
    number: str | None = None
    customer_id: int | None = None
    extra: dict[str, Any] = field(default_factory=dict)


class Services(Protocol):
    """Everything a flow can do beyond its own answers, already scoped to the acting user."""

    @property
    def lang(self) -> str: ...

    @property
    def tz(self) -> dt.tzinfo: ...

    def now(self) -> dt.datetime: ...

    @property
    def default_hour(self) -> int:
        """The hour meant by a day typed without a time (CRM_DEFAULT_HOUR)."""
        ...

    async def find_duplicates(self, probe: DupProbe) -> list[DupMatch]: ...

    async def customer(self, customer_id: int) -> CustomerRef | None:
        """The customer if the user may see it, else None (so a forged id reveals nothing)."""
        ...

    async def search_customers(self, text: str, limit: int = 8) -> list[CustomerRef]: ...

    async def recent_customers(self, limit: int = 6) -> list[CustomerRef]: ...

    async def contacts_of(self, customer_id: int) -> list[ContactRef]: ...

    async def current_values(self, entity: str, entity_id: int) -> dict[str, Any] | None:
        """Stored field values of a record the user may edit, else None."""
        ...

    async def save(
        self, flow: str, answers: dict[str, Any], pending: list[str], context: dict[str, Any]
    ) -> Saved:
        """Persist a finished flow; runs in the same transaction as the conversation state."""
        ...
