"""Small read-only views of stored records that flows and parsers work with (no ORM objects)."""

from __future__ import annotations

from dataclasses import dataclass, field


@dataclass(frozen=True)
class ContactRef:
    id: int
    name: str
    position: str | None = None
    phone: str | None = None
    active: bool = True


@dataclass(frozen=True)
class CustomerRef:
    id: int
    number: str
    name: str
    status: str = "potential"
    intent: str | None = None
    main_contact: str | None = None
    owner_name: str | None = None
    contacts: tuple[ContactRef, ...] = field(default_factory=tuple)
