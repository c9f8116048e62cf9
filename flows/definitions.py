"""The flows of the product, declared as data. Adding a field is one line here plus its two texts."""

from __future__ import annotations

from typing import Any

from flows import validators as v
from flows.choices import (
    CHANNEL,
    CONTACT_ROLE,
    CUSTOMER_KIND,
    CUSTOMER_STATUS,
    DEMAND_STATUS,
    FOLLOW_MODE,
    GRADE,
    INDUSTRY,
    INTENT,
    SOURCE,
    Choices,
    Option,
)
from flows.engine import Env, Flow, Step, view
from flows.fields import (
    Address,
    Birthday,
    Choice,
    CreditCode,
    CustomerPick,
    Email,
    Files,
    Location,
    NextTime,
    PastDate,
    PersonName,
    Phone,
    Pick,
    Tags,
    Text,
    is_,
)
from flows.i18n import t

CONTACT_ACTIVE = Choices(
    "active", (Option("yes", "在职", "Active"), Option("no", "已离职", "Left the company"))
)


def _customer_name(text: str, env: Env) -> str:
    if env.answers.get("kind") == "enterprise":
        return v.parse_enterprise_name(text)
    return v.parse_person_name(text)


def _name_prompt(answers: Any) -> str:
    return "q.customer.name_enterprise" if answers.get("kind") == "enterprise" else "q.customer.name"


async def _contacts(env: Env) -> list[tuple[str, Any]]:
    customer = env.answers.get("customer")
    if not customer:
        return []
    contacts = await env.services.contacts_of(int(customer["id"]))
    return [
        (f"{c.name}" + (f" · {c.position}" if c.position else ""), {"id": c.id, "name": c.name})
        for c in contacts
        if c.active
    ]


CUSTOMER = Flow(
    "customer",
    "customer",
    (
        Choice("kind", CUSTOMER_KIND, default="individual"),
        Step("name", parse=_customer_name, prompt=_name_prompt, check_duplicates=True, revisit_on=("kind",)),
        CreditCode(ask_if=is_("kind", "enterprise"), deferrable=True, check_duplicates=True),
        Choice("status", CUSTOMER_STATUS, deferrable=True),
        Choice("industry", INDUSTRY, deferrable=True),
        Text("industry_other", max_len=50, ask_if=is_("industry", "other")),
        Choice("grade", GRADE, optional=True, default="normal"),
        Choice("intent", INTENT, optional=True),
        Address(deferrable=True),
        Phone(deferrable=True, check_duplicates=True),
        Email(deferrable=True, check_duplicates=True),
        Choice("source", SOURCE, deferrable=True),
        Text("main_business", max_len=200, optional=True),
        Text("current_problem", max_len=200, optional=True),
        Text("interest", max_len=200, optional=True),
        Tags(optional=True),
        Text("remarks", max_len=200, optional=True),
    ),
)

CONTACT = Flow(
    "contact",
    "contact",
    (
        CustomerPick(on_edit=False),
        PersonName(check_duplicates=True),
        Text("position", max_len=50, optional=True),
        Phone(deferrable=True, check_duplicates=True),
        Email(deferrable=True),
        Choice("role", CONTACT_ROLE, deferrable=True),
        Choice("channel", CHANNEL, optional=True),
        Step("channel_time", parse=lambda text, env: v.parse_channel_time(text), optional=True),
        Birthday(optional=True),
        Text("remarks", max_len=200, optional=True),
        Choice("active", CONTACT_ACTIVE, on_create=False, ask_if=lambda a: "active" in a),
    ),
)

FOLLOWUP = Flow(
    "followup",
    "followup",
    (
        CustomerPick(),
        PastDate(),
        Choice("mode", FOLLOW_MODE),
        Pick("contact", _contacts, optional=True),
        Text("content", min_len=20, max_len=2000),
        Choice("demand_status", DEMAND_STATUS, deferrable=True),
        NextTime(deferrable=True),
        Text("participants", max_len=200, optional=True),
        Location(ask_if=is_("mode", "visit"), optional=True),
        Files(optional=True, on_edit=False),
    ),
)


def edit_flow(base: Flow, *, fixed: tuple[str, ...] = ()) -> Flow:
    """Editing a saved record: pick the field, answer it as in `base`, give a reason.

    An edit runs the checks of entry, duplicates included, and asks what the new answer makes
    necessary: a step that depends on the field (`revisit_on`, e.g. the name's form on the kind), or
    one that now applies and has no value (e.g. the credit code of a customer turned enterprise).
    `fixed` fields are not offered (a follow-up stays under its customer)."""

    async def fields(env: Env) -> list[tuple[str, Any]]:
        current = env.answers.get("current", {})
        return [
            (t(env.lang, f"f.{base.key}.{s.name}"), s.name)
            for s in base.steps
            if s.on_edit and s.name not in fixed and s.applies(current)
        ]

    def needed(step: Step, answers: Any) -> bool:
        field = answers.get("field")
        if field == step.name:
            return True
        current = answers.get("current") or {}
        if field is None or field not in answers or answers[field] == current.get(field):
            return False  # the edited field is not answered yet, or did not change
        now = view(answers)
        if not step.applies(now):
            return False
        if field in step.revisit_on:
            return True
        return not step.applies(current) and current.get(step.name) in (None, "", [])

    def only(step: Step) -> Step:
        # as in entry: a required field may be left only as pending ("Later"), never emptied
        return _replace(step, ask_if=lambda a, s=step: needed(s, a))

    steps = (
        Pick("field", fields),
        *(only(s) for s in base.steps if s.on_edit and s.name not in fixed),
        Text("reason", min_len=2, max_len=200),
    )
    return Flow(f"edit_{base.name}", base.key, steps, editing=True)


def _replace(step: Step, **changes: Any) -> Step:
    from dataclasses import replace

    return replace(step, **changes)


FLOWS: dict[str, Flow] = {
    f.name: f
    for f in (
        CUSTOMER,
        CONTACT,
        FOLLOWUP,
        edit_flow(CUSTOMER),
        edit_flow(CONTACT),
        edit_flow(FOLLOWUP, fixed=("customer",)),
    )
}
