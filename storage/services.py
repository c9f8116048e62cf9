"""The flows' Services port, answered from the database for one user inside one transaction."""

from __future__ import annotations

import datetime as dt
from collections.abc import Callable
from typing import Any

from sqlalchemy.ext.asyncio import AsyncSession

from flows.errors import Invalid
from flows.i18n import t
from flows.ports import DupMatch, DupProbe, Saved
from flows.refs import ContactRef, CustomerRef
from storage import repo
from storage.files import FileStore
from storage.models import User

Clock = Callable[[], dt.datetime]


def system_clock() -> dt.datetime:
    return dt.datetime.now(dt.UTC)


class StoreServices:
    def __init__(
        self,
        session: AsyncSession,
        user: User,
        lang: str,
        tz: dt.tzinfo,
        clock: Clock,
        files: FileStore | None = None,
        default_hour: int = 9,
    ) -> None:
        self.files = files
        self.default_hour = default_hour
        self.session = session
        self.user = user
        self._lang = lang
        self._tz = tz
        self._clock = clock

    @property
    def lang(self) -> str:
        return self._lang

    @property
    def tz(self) -> dt.tzinfo:
        return self._tz

    def now(self) -> dt.datetime:
        return self._clock().astimezone(self._tz)

    async def find_duplicates(self, probe: DupProbe) -> list[DupMatch]:
        if probe.record == "contact":
            return await repo.find_contact_duplicates(
                self.session, self.user, probe.name, probe.phone, probe.exclude_id
            )
        return await repo.find_duplicates(self.session, self.user, probe)

    async def customer(self, customer_id: int) -> CustomerRef | None:
        found = await repo.visible_customer(self.session, self.user, customer_id)
        return await repo.customer_ref(self.session, found) if found else None

    async def search_customers(self, text: str, limit: int = 8) -> list[CustomerRef]:
        found = await repo.search_customers(self.session, self.user, text, limit)
        return [await repo.customer_ref(self.session, c) for c in found]

    async def recent_customers(self, limit: int = 6) -> list[CustomerRef]:
        found = await repo.recent_customers(self.session, self.user, limit)
        return [await repo.customer_ref(self.session, c) for c in found]

    async def contacts_of(self, customer_id: int) -> list[ContactRef]:
        if await repo.visible_customer(self.session, self.user, customer_id) is None:
            return []
        return await repo.contacts_of(self.session, customer_id)

    async def current_values(self, entity: str, entity_id: int) -> dict[str, Any] | None:
        owners = await repo.team_ids(self.session, self.user)
        if entity == "followup":
            found = await repo.visible_followup(self.session, self.user, entity_id)
            if found is None or not repo.may_edit(self.user, owners, found[1]):
                return None
            return await repo.current_followup_values(self.session, found[0])
        if entity == "customer":
            customer = await repo.visible_customer(self.session, self.user, entity_id)
            if customer is None or not repo.may_edit(self.user, owners, customer):
                return None
            return repo.current_customer_values(customer)
        contact = await repo.contact_by_id(self.session, entity_id)
        if contact is None:
            return None
        customer = await repo.visible_customer(self.session, self.user, contact.customer_id)
        if customer is None or not repo.may_edit(self.user, owners, customer):
            return None
        return repo.current_contact_values(contact)

    async def save(
        self, flow: str, answers: dict[str, Any], pending: list[str], context: dict[str, Any]
    ) -> Saved:
        now = self._clock()
        if flow == "customer":
            try:
                customer = await repo.create_customer(
                    self.session, self.user, answers, pending, now, self.now().date()
                )
            except repo.CreditCodeTaken as taken:
                raise Invalid("dup.credit_code_taken", number=taken.number or "") from None
            return Saved("customer", customer.id, customer.number, customer.id)
        if flow in ("contact", "followup"):
            customer_id = int(answers["customer"]["id"])
            owner = await repo.visible_customer(self.session, self.user, customer_id)
            if owner is None:
                raise Invalid("flow.not_visible")
            if flow == "contact":
                contact = await repo.create_contact(
                    self.session, self.user, customer_id, answers, pending, now
                )
                return Saved("contact", contact.id, None, customer_id)
            followup = await repo.create_followup(
                self.session, self.user, customer_id, answers, pending, now, self._tz
            )
            for staged in answers.get("attachments") or []:
                if self.files is not None:
                    await self.files.attach(
                        self.session, staged, owner, self.user.id, self.now().date(), followup.id
                    )
            return Saved("followup", followup.id, None, customer_id, extra=_lateness(followup, self._lang))
        if flow in ("edit_customer", "edit_contact", "edit_followup"):
            return await self._edit(answers, pending, context, now)
        raise ValueError(f"unknown flow {flow}")

    async def _edit(
        self, answers: dict[str, Any], pending: list[str], context: dict[str, Any], now: dt.datetime
    ) -> Saved:
        """The edited field, then the ones its new value made necessary (kind → name, credit code),
        each kept in the change history with the one reason given."""
        entity, entity_id = str(context["entity"]), int(context["entity_id"])
        field = answers["field"]
        fields = [field, *(k for k in answers if k not in (field, "field", "reason"))]
        fields += [p for p in pending if p not in fields]
        current = await self.current_values(entity, entity_id) or {}
        to_person = entity == "customer" and field == "kind" and answers.get("kind") == "individual"
        if to_person and current.get("credit_code") and "credit_code" not in fields:
            fields.append("credit_code")  # a person has no credit code: cleared, in the history
        try:
            for name in fields:
                await repo.apply_edit(
                    self.session,
                    self.user,
                    entity,
                    entity_id,
                    name,
                    answers.get(name),
                    answers["reason"],
                    now,
                    pending=name in pending,
                )
        except repo.NotAllowed:
            raise Invalid("flow.not_visible") from None
        except repo.CreditCodeTaken as taken:
            raise Invalid("dup.credit_code_taken", number=taken.number or "") from None
        return Saved("edit", entity_id, None, context.get("customer_id"))


LATE_HOURS = 24.0  # the rule: entry within 24 hours of the interaction


def _lateness(followup: Any, lang: str) -> dict[str, Any]:
    """What the saved message adds when the entry broke the 24-hour rule."""
    hours = float(followup.entry_delay_hours or 0.0)
    if hours <= LATE_HOURS:
        return {}
    what = t(lang, f"late.what.{followup.mode}")
    return {"note": "saved.followup.late", "hours": int(hours), "what": what}
