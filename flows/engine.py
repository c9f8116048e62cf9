"""The one engine that runs every flow: (state, input) -> replies and the new state.

A flow is a list of Steps (data). The engine asks the first applicable step that has no answer
yet, validates what comes back, and when nothing is left shows a summary with Save / Edit / Cancel.
Nothing here keeps memory between calls: the State is the whole conversation and is stored by
the caller in the same transaction as whatever the step saved.
"""

from __future__ import annotations

import datetime as dt
import inspect
from collections.abc import Awaitable, Callable, Mapping, Sequence
from dataclasses import asdict, dataclass, field
from typing import Any, Literal

import msgspec

from flows.choices import Choices
from flows.errors import Ambiguous, Invalid
from flows.i18n import t
from flows.normalize import typed_number
from flows.ports import DupMatch, DupProbe, Saved, Services

Answers = Mapping[str, Any]
StepKind = Literal["text", "choice", "pick", "customer", "location", "files"]


def view(answers: Answers) -> dict[str, Any]:
    """Answers as parsers and conditions see them: an edit's stored values under the new answers."""
    current = answers.get("current")
    return {**current, **answers} if isinstance(current, dict) else dict(answers)


@dataclass(frozen=True)
class Env:
    """What a parser may look at besides the text: the services and the answers so far."""

    services: Services
    answers: Answers

    @property
    def lang(self) -> str:
        return self.services.lang


Parser = Callable[[str, Env], Any]
OptionsFn = Callable[[Env], Awaitable[list[tuple[str, Any]]]]


@dataclass(frozen=True)
class Step:
    """One question. Only `name` and `kind` are needed; the rest says how to ask and check it."""

    name: str
    kind: StepKind = "text"
    parse: Parser | None = None
    choices: Choices | None = None
    options: OptionsFn | None = None
    optional: bool = False
    deferrable: bool = False
    default: Any = None
    ask_if: Callable[[Answers], bool] | None = None
    prompt: str | Callable[[Answers], str] | None = None
    show: Callable[[Any, str], str] | None = None
    confirm: Callable[[Any, str], str] | None = None
    quick: Callable[[Env], list[tuple[str, str]]] | None = None
    check_duplicates: bool = False
    on_create: bool = True
    on_edit: bool = True
    revisit_on: tuple[str, ...] = ()  # in an edit, asked again when one of these fields changes

    def applies(self, answers: Answers) -> bool:
        return self.ask_if is None or bool(self.ask_if(answers))


@dataclass(frozen=True)
class Flow:
    """A named list of steps and what to call the record; `key` names its messages (q.<key>.<step>)."""

    name: str
    key: str
    steps: tuple[Step, ...]
    editing: bool = False

    def step(self, name: str) -> Step:
        for s in self.steps:
            if s.name == name:
                return s
        raise KeyError(name)

    def applicable(self, answers: Answers) -> list[Step]:
        return [s for s in self.steps if s.applies(answers)]


class Input(msgspec.Struct, kw_only=True):
    """One thing the user did, already stripped of anything Telegram-specific."""

    # "card": a photo to read as a business card; "sheet": a spreadsheet sent with nothing open
    kind: Literal["text", "button", "contact", "location", "file", "card", "sheet"]
    text: str = ""
    data: str = ""
    seq: int | None = None
    phone: str | None = None
    first_name: str | None = None
    last_name: str | None = None
    latitude: float | None = None
    longitude: float | None = None
    file: dict[str, Any] | None = None


Phase = Literal["ask", "confirm", "summary", "edit_pick", "dup"]


class State(msgspec.Struct, kw_only=True):
    """The whole conversation: stored as JSON per (chat, user), so a restart loses nothing.

    A msgspec Struct, not a pydantic model: it is read and written on every step, and pydantic's
    model machinery alone is ~8 MiB of a bot whose idle budget is 80 MiB (msgspec: under 1 MiB).
    Fields a newer version no longer has are ignored when an older row is read.
    """

    flow: str
    step: str | None = None
    phase: Phase = "ask"
    answers: dict[str, Any] = {}
    pending: list[str] = []
    trail: list[str] = []
    tentative: Any = None
    options: list[Any] = []
    dups: list[dict[str, Any]] = []
    dismissed: list[int] = []  # before per-key dismissal; no longer read
    dismissed_keys: list[str] = []  # "<customer id>:<reason>" said to differ
    previous: dict[str, Any] = {}
    context: dict[str, Any] = {}
    seq: int = 0
    started_at: dt.datetime | None = None
    updated_at: dt.datetime | None = None
    # whether the front end confirmed the last question reached the person (False: it may not have,
    # so a typed answer is not applied to it blindly), and which of their messages answered which step
    delivered: bool = True
    send_failed: bool = False  # the front end reported that sending the question failed
    asked: dict[str, str] = {}  # question message id -> step
    answered_by: dict[str, str] = {}  # the person's message id -> step

    @classmethod
    def stored(cls, data: Any) -> State:
        """The state as kept in the database (JSON); UnreadableState when it is not one."""
        try:
            return msgspec.convert(data, cls)
        except msgspec.ValidationError as exc:
            raise UnreadableState(str(exc)) from None

    def dump(self) -> dict[str, Any]:
        """The state as JSON values (datetimes as ISO 8601 text), to store."""
        data: dict[str, Any] = msgspec.to_builtins(self)
        return data

    def clone(self) -> State:
        """A deep copy: the engine never changes the state it was given.

        Made from the stored form, the one every state survives anyway: ~10 µs, deepcopy ~100."""
        return State.stored(self.dump())


class UnreadableState(ValueError):
    """A stored conversation that is not a State (hand-edited, or from an unknown version)."""


@dataclass(frozen=True)
class Button:
    label: str
    data: str


@dataclass
class Reply:
    """A message to show; `edit` replaces the message whose button was pressed instead of adding one."""

    text: str
    buttons: list[list[Button]] = field(default_factory=list)
    request_location: bool = False
    edit: bool = False
    files: list[dict[str, Any]] = field(default_factory=list)  # stored attachments to send back


@dataclass
class Outcome:
    replies: list[Reply]
    state: State | None  # None: the flow is over (saved or cancelled)
    saved: Saved | None = None
    open_customer: int | None = None


# ---------------------------------------------------------------- buttons


def button_data(seq: int, action: str) -> str:
    """Callback data for flow buttons: `f|<seq>|<action>`; seq makes buttons of old questions stale."""
    return f"f|{seq}|{action}"


def parse_button(data: str) -> tuple[int, str] | None:
    parts = data.split("|", 2)
    seq = typed_number(parts[1], max_digits=18) if len(parts) == 3 else None
    if seq is None or parts[0] != "f":
        return None
    return seq, parts[2]


# ---------------------------------------------------------------- engine


class Engine:
    """Runs flows from a registry; one instance serves every user."""

    def __init__(self, flows: Mapping[str, Flow]) -> None:
        self.flows = dict(flows)

    async def start(
        self,
        flow_name: str,
        services: Services,
        *,
        prefill: dict[str, Any] | None = None,
        context: dict[str, Any] | None = None,
        draft: dict[str, Any] | None = None,
    ) -> Outcome:
        """Start a flow. `prefill` answers are fixed (picked from a card); `draft` answers were guessed
        (from a note, a business card, the current customer) and stay editable, reachable with Back."""
        now = services.now()
        flow = self.flows[flow_name]
        draft = dict(draft or {})
        state = State(
            flow=flow_name,
            answers={**draft, **(prefill or {})},
            trail=[s.name for s in flow.steps if s.name in draft and s.name not in (prefill or {})],
            context={"fixed": sorted(prefill or {}), **(context or {})},
            started_at=now,
            updated_at=now,
        )
        if any(s.check_duplicates and draft.get(s.name) for s in flow.steps):
            # keys guessed from a business card or a note are given now: they are checked now
            found = await self._check_duplicates(flow, state, services)
            if found is not None:
                return found
        return await self._advance(flow, state, services, [])

    async def resume(self, state: State, services: Services, note: str | None = None) -> Outcome:
        """Show the current question again (after a restart, a /continue or a stale button)."""
        state = state.clone()
        flow = self.flows[state.flow]
        lead = [Reply(note)] if note else []
        if state.phase == "summary":
            return Outcome([*lead, self._summary(flow, state, services)], state)
        if state.phase == "edit_pick":
            return Outcome([*lead, self._edit_pick(flow, state, services)], state)
        if state.phase == "dup":
            return Outcome([*lead, self._dup_reply(state, services)], state)
        if state.phase == "confirm" and state.step:
            step = flow.step(state.step)
            return Outcome([*lead, self._confirm_reply(step, state, services)], state)
        return Outcome([*lead, await self._question(flow, state, services)], state)

    async def correct(self, state: State, step_name: str, text: str, services: Services) -> Outcome:
        """A corrected answer (an edited message, or a reply to an earlier question) for `step_name`.

        It is checked like a typed answer to that question; kept, it may make other questions
        necessary (those are asked next), else the current question is shown again with the reason.
        """
        state = state.clone()
        state.updated_at = services.now()
        flow = self.flows[state.flow]
        lang = services.lang
        step = next((s for s in flow.applicable(state.answers) if s.name == step_name), None)
        if step is None or state.phase == "dup":
            return await self.resume(state, services, t(lang, "flow.correction_not_applied"))
        if state.step == step_name and state.phase == "ask":
            return await self.handle(state, Input(kind="text", text=text), services)
        label = self.label_of(flow, step, lang)
        text = text.strip()
        value: Any = text
        try:
            if not text:
                raise Invalid("flow.empty")
            if step.choices is not None:
                option = step.choices.match(text)
                if option is None:
                    raise Invalid("flow.pick_a_button")
                value = option.code
            elif step.kind in ("pick", "customer", "location", "files"):
                raise Invalid("flow.correction_use_edit")
            elif step.parse is not None:
                value = step.parse(text, Env(services, view(state.answers)))
                if inspect.isawaitable(value):
                    value = await value
        except Ambiguous as amb:
            reason = t(lang, amb.key, **amb.params)
            return await self.resume(
                state, services, t(lang, "flow.correction_refused", field=label, reason=reason)
            )
        except Invalid as bad:
            reason = t(lang, bad.key, **bad.params)
            return await self.resume(
                state, services, t(lang, "flow.correction_refused", field=label, reason=reason)
            )
        state.answers[step_name] = value
        if step_name in state.pending:
            state.pending.remove(step_name)
        if step_name not in state.trail:
            state.trail.append(step_name)
        note = t(lang, "flow.corrected", field=label, value=self.show(step, value, lang))
        if step.check_duplicates and value:
            found = await self._check_duplicates(flow, state, services)
            if found is not None:
                return Outcome([Reply(note), *found.replies], found.state)
        if state.phase in ("summary", "edit_pick"):
            return await self._advance(flow, state, services, [Reply(note)])
        if state.phase == "ask" and state.step is not None:
            # a newly necessary question comes first; otherwise the question that was open
            first = next(
                (
                    s
                    for s in flow.applicable(state.answers)
                    if s.name not in state.answers and s.name not in state.pending
                ),
                None,
            )
            if first is not None and first.name != state.step:
                return await self._advance(flow, state, services, [Reply(note)])
        return await self.resume(state, services, note)

    async def handle(self, state: State, inp: Input, services: Services) -> Outcome:
        state = state.clone()
        state.updated_at = services.now()
        flow = self.flows[state.flow]
        lang = services.lang

        if inp.kind == "button":
            if inp.seq != state.seq:
                return await self.resume(state, services, t(lang, "flow.stale_button"))
            if inp.data == "cancel":
                return Outcome([Reply(t(lang, "flow.cancelled"))], None)
            if inp.data == "back":
                return await self._back(flow, state, services)

        if state.phase == "summary":
            return await self._on_summary(flow, state, inp, services)
        if state.phase == "edit_pick":
            return await self._on_edit_pick(flow, state, inp, services)
        if state.phase == "dup":
            return await self._on_dup(flow, state, inp, services)
        if state.phase == "confirm":
            return await self._on_confirm(flow, state, inp, services)
        return await self._on_answer(flow, state, inp, services)

    # ------------------------------------------------------------ answering

    async def _on_answer(self, flow: Flow, state: State, inp: Input, services: Services) -> Outcome:
        lang = services.lang
        if state.step is None:
            return await self._advance(flow, state, services, [])
        step = flow.step(state.step)
        env = Env(services, view(state.answers))

        if inp.kind == "contact":
            return await self._on_contact_card(flow, state, inp, services)
        if inp.kind == "location":
            if step.kind != "location":
                return await self._reask(flow, state, services, t(lang, "flow.location_not_expected"))
            value = {"lat": inp.latitude, "lon": inp.longitude}
            return await self._record(flow, state, step, value, services)
        if inp.kind == "file":
            if step.kind != "files" or not inp.file:
                return await self._reask(flow, state, services, t(lang, "flow.file_not_expected"))
            collected = state.context.setdefault("collected", [])
            collected.append(inp.file)
            note = t(
                lang,
                "flow.file_received",
                name=inp.file.get("name") or inp.file.get("kind"),
                count=len(collected),
            )
            return await self._reask(flow, state, services, None, lead=note)

        if inp.kind == "button":
            action = inp.data
            if action == "done" and step.kind == "files":
                files = state.context.pop("collected", [])
                return await self._record(flow, state, step, files or None, services)
            if action == "skip" and step.optional:
                return await self._record(flow, state, step, step.default, services)
            if action == "later" and step.deferrable:
                state.answers.pop(step.name, None)
                if step.name not in state.pending:
                    state.pending.append(step.name)
                state.trail.append(step.name)
                return await self._advance(flow, state, services, [])
            if action.startswith("p:") and step.choices is not None:
                option = step.choices.get(action[2:])
                if option is None:
                    return await self._reask(flow, state, services, t(lang, "flow.pick_a_button"))
                return await self._record(flow, state, step, option.code, services)
            if action.startswith("o:") and (index := typed_number(action[2:])) is not None:
                if index >= len(state.options):
                    return await self._reask(flow, state, services, t(lang, "flow.pick_a_button"))
                return await self._take_option(flow, state, step, state.options[index], services)
            if action.startswith("q:") and step.quick is not None:
                quick = dict(step.quick(env))
                typed = next((text for label, text in quick.items() if label == action[2:]), None)
                if typed is None:
                    return await self._reask(flow, state, services, t(lang, "flow.pick_a_button"))
                return await self._on_text(flow, state, step, typed, services)
            return await self._reask(flow, state, services, t(lang, "flow.pick_a_button"))

        return await self._on_text(flow, state, step, inp.text, services)

    async def _on_text(self, flow: Flow, state: State, step: Step, text: str, services: Services) -> Outcome:
        lang = services.lang
        env = Env(services, view(state.answers))
        text = text.strip()
        if not text:
            return await self._reask(flow, state, services, t(lang, "flow.empty"))
        if step.kind == "choice" and step.choices is not None:
            option = step.choices.match(text)
            if option is None:
                return await self._reask(flow, state, services, t(lang, "flow.pick_a_button"))
            return await self._record(flow, state, step, option.code, services)
        if step.kind == "pick":
            matched = [o for o in state.options if _option_label(o).casefold() == text.casefold()]
            if len(matched) == 1:
                return await self._take_option(flow, state, step, matched[0], services)
            return await self._reask(flow, state, services, t(lang, "flow.pick_a_button"))
        if step.kind == "customer":
            return await self._search_customer(flow, state, text, services)
        if step.kind == "location":
            return await self._reask(flow, state, services, t(lang, "flow.share_location"))
        if step.kind == "files":
            return await self._reask(flow, state, services, t(lang, "flow.send_files"))
        if step.parse is None:
            return await self._record(flow, state, step, text, services)
        try:
            value = step.parse(text, env)
            if inspect.isawaitable(value):
                value = await value
        except Ambiguous as amb:
            state.options = [{"label": label, "value": v} for label, v in amb.options]
            state.phase = "ask"
            reason = t(lang, amb.key, **amb.params)
            return await self._reask(flow, state, services, reason, keep_options=True)
        except Invalid as bad:
            return await self._reask(flow, state, services, t(lang, bad.key, **bad.params))
        if step.confirm is not None:
            state.tentative = value
            state.phase = "confirm"
            state.seq += 1
            return Outcome([self._confirm_reply(step, state, services)], state)
        return await self._record(flow, state, step, value, services)

    async def _take_option(
        self, flow: Flow, state: State, step: Step, option: Any, services: Services
    ) -> Outcome:
        value = option.get("value") if isinstance(option, dict) else option
        if step.kind == "customer" and isinstance(value, dict):
            ref = await services.customer(int(value["id"]))
            if ref is None:  # no longer visible (reassigned, merged, or a forged index)
                return await self._reask(flow, state, services, t(services.lang, "flow.not_visible"))
            value = {"id": ref.id, "name": ref.name, "number": ref.number}
        if step.confirm is not None:
            state.tentative = value
            state.phase = "confirm"
            state.options = []
            state.seq += 1
            return Outcome([self._confirm_reply(step, state, services)], state)
        return await self._record(flow, state, step, value, services)

    async def _search_customer(self, flow: Flow, state: State, text: str, services: Services) -> Outcome:
        lang = services.lang
        found = await services.search_customers(text, limit=8)
        if not found:
            return await self._reask(flow, state, services, t(lang, "flow.no_customer_found", text=text[:40]))
        state.options = [
            {"label": f"{c.name} · {c.number}", "value": {"id": c.id, "name": c.name, "number": c.number}}
            for c in found
        ]
        state.seq += 1
        question = Reply(t(lang, "flow.pick_customer"), self._option_rows(state), False)
        question.buttons.append(self._nav_row(flow, flow.step(state.step or ""), state, services))
        return Outcome([question], state)

    async def _on_contact_card(self, flow: Flow, state: State, inp: Input, services: Services) -> Outcome:
        """A shared phone contact fills name and phone where this flow asks for them."""
        from flows.validators import parse_person_name, parse_phone

        lang = services.lang
        names = {s.name for s in flow.applicable(state.answers)}
        if not {"name", "phone"} & names or flow.editing:
            return await self._reask(flow, state, services, t(lang, "flow.contact_not_expected"))
        notes: list[Reply] = []
        first, last = inp.first_name or "", inp.last_name or ""
        # Chinese names are family name first and written without a space
        full = f"{last}{first}" if _is_cjk(first + last) else f"{first} {last}".strip()
        if "name" in names and full:
            try:
                state.answers["name"] = parse_person_name(full)
            except Invalid:
                notes.append(Reply(t(lang, "flow.card_name_unusable")))
        if "phone" in names and inp.phone:
            try:
                state.answers["phone"] = parse_phone(inp.phone)
                if "phone" in state.pending:
                    state.pending.remove("phone")
            except Invalid as bad:
                notes.append(Reply(t(lang, bad.key, **bad.params)))
        if state.answers.get("name") or state.answers.get("phone"):
            notes.insert(0, Reply(t(lang, "flow.card_taken")))
            if any(s.check_duplicates for s in flow.steps if s.name in ("name", "phone")):
                found = await self._check_duplicates(flow, state, services)
                if found is not None:
                    return Outcome([*notes, *found.replies], found.state)
        return await self._advance(flow, state, services, notes)

    async def _on_confirm(self, flow: Flow, state: State, inp: Input, services: Services) -> Outcome:
        step = flow.step(state.step or "")
        if inp.kind == "button" and inp.data == "ok":
            value, state.tentative = state.tentative, None
            state.phase = "ask"
            return await self._record(flow, state, step, value, services)
        if inp.kind == "button" and inp.data == "retype":
            state.tentative = None
            state.phase = "ask"
            return await self._reask(flow, state, services, None)
        if inp.kind == "text" and inp.text.strip():
            state.tentative = None
            state.phase = "ask"
            return await self._on_text(flow, state, step, inp.text, services)
        return Outcome([self._confirm_reply(step, state, services)], state)

    async def _record(self, flow: Flow, state: State, step: Step, value: Any, services: Services) -> Outcome:
        state.answers[step.name] = value
        state.options = []
        if step.name in state.pending:
            state.pending.remove(step.name)
        state.previous.pop(step.name, None)
        if step.name in state.trail:  # re-answered (Back or Edit): it is now the latest answer
            state.trail.remove(step.name)
        state.trail.append(step.name)
        lead: list[Reply] = []
        if step.check_duplicates and value:
            found = await self._check_duplicates(flow, state, services)
            if found is not None:
                return found
        return await self._advance(flow, state, services, lead)

    async def _check_duplicates(self, flow: Flow, state: State, services: Services) -> Outcome | None:
        """The duplicate warning, if what is known now matches a record not yet said to differ."""
        matches = await self._new_duplicates(flow, state, services)
        if not matches:
            return None
        state.dups = [asdict(m) | {"reasons": list(m.reasons)} for m in matches]
        state.phase = "dup"
        state.seq += 1
        return Outcome([self._dup_reply(state, services)], state)

    # ------------------------------------------------------------ duplicates

    async def _new_duplicates(self, flow: Flow, state: State, services: Services) -> list[DupMatch]:
        """Every key is checked when it is given: a match is shown again for a key (credit code, phone,
        e-mail, name) it was not yet dismissed for; a credit code match cannot be dismissed at all."""
        a, seen = state.answers, view(state.answers)
        exclude = state.context.get("entity_id") if flow.editing else None
        if flow.key == "contact":
            probe = DupProbe(
                name=seen.get("name"), phone=seen.get("phone"), exclude_id=exclude, record="contact"
            )
        else:
            # an edit checks what it changes, not the values the record already had
            probe = DupProbe(
                name=a.get("name"),
                phone=a.get("phone"),
                email=a.get("email"),
                credit_code=a.get("credit_code") if seen.get("kind") == "enterprise" else None,
                exclude_id=exclude,
            )
        found = await services.find_duplicates(probe)
        dismissed = set(state.dismissed_keys)
        return [
            m
            for m in found
            if "credit_code" in m.reasons or any(f"{m.customer_id}:{r}" not in dismissed for r in m.reasons)
        ]

    def _dup_reply(self, state: State, services: Services) -> Reply:
        lang = services.lang
        flow = self.flows[state.flow]
        lines = [t(lang, "dup.title.contact" if flow.key == "contact" else "dup.title")]
        rows: list[list[Button]] = []
        blocked = any("credit_code" in m["reasons"] for m in state.dups)
        for m in state.dups:
            why = "、".join(t(lang, f"dup.reason.{r}") for r in m["reasons"])
            if m["visible"]:
                lines.append(t(lang, "dup.visible", name=m["name"], number=m.get("number") or "", why=why))
                rows.append(
                    [
                        Button(
                            t(lang, "dup.open", name=m["name"][:20]),
                            button_data(state.seq, f"dopen:{m['customer_id']}"),
                        )
                    ]
                )
            else:
                lines.append(t(lang, "dup.foreign", name=m["name"], owner=m["owner_name"]))
        if blocked:  # one company, one customer: the code is not saved twice, whoever owns the other
            lines.append(t(lang, "dup.credit_code_blocked"))
            rows.append([Button(t(lang, "dup.retype_code"), button_data(state.seq, "dretype"))])
        else:
            key = "dup.different.contact" if flow.key == "contact" else "dup.different"
            rows.append([Button(t(lang, key), button_data(state.seq, "dnew"))])
        rows.append([Button(t(lang, "btn.cancel"), button_data(state.seq, "cancel"))])
        return Reply("\n".join(lines), rows)

    async def _on_dup(self, flow: Flow, state: State, inp: Input, services: Services) -> Outcome:
        if inp.kind == "button" and inp.data.startswith("dopen:"):
            wanted = inp.data[6:]
            match = next((m for m in state.dups if str(m["customer_id"]) == wanted and m["visible"]), None)
            if match is not None:
                return Outcome(
                    [Reply(t(services.lang, "dup.opening"))], None, open_customer=int(match["customer_id"])
                )
        blocked = any("credit_code" in m["reasons"] for m in state.dups)
        if inp.kind == "button" and inp.data == "dretype" and blocked:
            state.answers.pop("credit_code", None)
            if "credit_code" in state.trail:
                state.trail.remove("credit_code")
            state.dups = []
            return await self._advance(flow, state, services, [])
        if inp.kind == "button" and inp.data == "dnew" and not blocked:
            for m in state.dups:  # only these matches, only for these keys
                state.dismissed_keys.extend(f"{m['customer_id']}:{r}" for r in m["reasons"])
            state.dups = []
            state.phase = "ask"
            return await self._advance(flow, state, services, [])
        return Outcome(
            [Reply(t(services.lang, "flow.pick_a_button")), self._dup_reply(state, services)], state
        )

    # ------------------------------------------------------------ moving on

    async def _advance(self, flow: Flow, state: State, services: Services, lead: list[Reply]) -> Outcome:
        state.phase = "ask"
        state.options = []
        for step in flow.applicable(state.answers):
            if step.name in state.answers or step.name in state.pending:
                continue
            state.step = step.name
            state.seq += 1
            if step.kind == "pick" and step.options is not None:
                options = await step.options(Env(services, view(state.answers)))
                if not options:  # nothing to pick from (e.g. a customer with no contacts yet)
                    state.answers[step.name] = None
                    continue
                state.options = [{"label": label, "value": value} for label, value in options]
            if step.kind == "customer":
                # customers a note or a card pointed at, else the user's recent ones
                state.options = list(state.context.get("candidates") or [])
                if not state.options:
                    recent = await services.recent_customers(6)
                    state.options = [
                        {
                            "label": f"{c.name} · {c.number}",
                            "value": {"id": c.id, "name": c.name, "number": c.number},
                        }
                        for c in recent
                    ]
            return Outcome([*lead, await self._question(flow, state, services)], state)
        state.step = None
        state.phase = "summary"
        state.seq += 1
        return Outcome([*lead, self._summary(flow, state, services)], state)

    async def _back(self, flow: Flow, state: State, services: Services) -> Outcome:
        lang = services.lang
        if state.phase in ("edit_pick", "confirm") or (state.phase == "ask" and state.previous):
            # from an edit or a confirmation, Back returns to where the person came from
            state.tentative = None
            if state.previous and state.step:
                state.answers[state.step] = state.previous.pop(state.step)
            state.previous = {}
            if state.phase == "confirm" or not state.step or state.step in state.answers:
                return await self._advance(flow, state, services, [])
        while state.trail:
            name = state.trail.pop()
            if name in state.context.get("fixed", []):
                continue
            state.answers.pop(name, None)
            if name in state.pending:
                state.pending.remove(name)
            return await self._advance(flow, state, services, [])
        return await self._reask(flow, state, services, t(lang, "flow.nothing_to_go_back_to"))

    async def _reask(
        self,
        flow: Flow,
        state: State,
        services: Services,
        reason: str | None,
        *,
        keep_options: bool = False,
        lead: str | None = None,
    ) -> Outcome:
        """The same question again, with the reason first: the person never loses earlier answers."""
        if not keep_options and state.step:
            step = flow.step(state.step)
            if step.kind not in ("pick", "customer"):
                state.options = []
        state.seq += 1
        question = await self._question(flow, state, services)
        if reason:
            question.text = f"❗ {reason}\n\n{question.text}"
        if lead:
            question.text = f"{lead}\n\n{question.text}"
        return Outcome([question], state)

    # ------------------------------------------------------------ rendering

    def prompt_of(self, flow: Flow, step: Step, answers: Answers) -> str:
        if callable(step.prompt):
            return step.prompt(answers)
        return step.prompt or f"q.{flow.key}.{step.name}"

    def label_of(self, flow: Flow, step: Step, lang: str) -> str:
        return t(lang, f"f.{flow.key}.{step.name}")

    def show(self, step: Step, value: Any, lang: str) -> str:
        if value is None or value == "" or value == []:
            return "—"
        if step.show is not None:
            return step.show(value, lang)
        if step.choices is not None:
            return step.choices.label(str(value), lang)
        if isinstance(value, dict) and "label" in value:
            return str(value["label"])
        if isinstance(value, dict) and "name" in value:
            return str(value["name"])
        if isinstance(value, list):
            return ", ".join(str(v) for v in value)
        return str(value)

    async def _question(self, flow: Flow, state: State, services: Services) -> Reply:
        lang = services.lang
        step = flow.step(state.step or "")
        applicable = [s for s in flow.applicable(state.answers) if s.on_create or flow.editing]
        position = next((i for i, s in enumerate(applicable, 1) if s.name == step.name), 0)
        text = t(lang, self.prompt_of(flow, step, view(state.answers)))
        if not flow.editing:
            text = f"({position}/{len(applicable)}) {text}"
        before = state.previous.get(step.name, (state.answers.get("current") or {}).get(step.name))
        if before not in (None, "", []):
            text += "\n" + t(lang, "flow.current_value", value=self.show(step, before, lang))
        rows: list[list[Button]] = []
        if step.kind == "choice" and step.choices is not None:
            buttons = []
            for option in step.choices.options:
                label = option.label(lang)
                if step.default == option.code:
                    label += t(lang, "flow.default_suffix")
                buttons.append(Button(label, button_data(state.seq, f"p:{option.code}")))
            rows.extend(_grid(buttons, 2 if len(buttons) > 3 else 1))
        elif state.options:  # a pick list, search results, or the readings of an ambiguous answer
            rows.extend(self._option_rows(state))
        if step.kind == "files":
            rows.append([Button(t(lang, "btn.files_done"), button_data(state.seq, "done"))])
        if step.quick is not None:
            quick = [
                Button(label, button_data(state.seq, f"q:{label}"))
                for label, _ in step.quick(Env(services, view(state.answers)))
            ]
            rows.extend(_grid(quick, 3))
        rows.append(self._nav_row(flow, step, state, services))
        return Reply(text, rows, request_location=step.kind == "location")

    def _option_rows(self, state: State) -> list[list[Button]]:
        return [
            [Button(_option_label(o)[:60], button_data(state.seq, f"o:{i}"))]
            for i, o in enumerate(state.options)
        ]

    def _nav_row(self, flow: Flow, step: Step, state: State, services: Services) -> list[Button]:
        lang = services.lang
        row = []
        if state.trail or state.previous:
            row.append(Button(t(lang, "btn.back"), button_data(state.seq, "back")))
        if step.optional:
            row.append(Button(t(lang, "btn.skip"), button_data(state.seq, "skip")))
        if step.deferrable:
            row.append(Button(t(lang, "btn.later"), button_data(state.seq, "later")))
        row.append(Button(t(lang, "btn.cancel"), button_data(state.seq, "cancel")))
        return row

    def _confirm_reply(self, step: Step, state: State, services: Services) -> Reply:
        lang = services.lang
        assert step.confirm is not None
        text = step.confirm(state.tentative, lang)
        return Reply(
            text,
            [
                [
                    Button(t(lang, "btn.confirm"), button_data(state.seq, "ok")),
                    Button(t(lang, "btn.retype"), button_data(state.seq, "retype")),
                ],
                [Button(t(lang, "btn.cancel"), button_data(state.seq, "cancel"))],
            ],
        )

    def summary_lines(self, flow: Flow, state: State, lang: str) -> list[str]:
        lines = []
        for step in flow.applicable(state.answers):
            if step.name in state.context.get("hidden", []) or (flow.editing and step.name == "field"):
                continue
            if step.name in state.pending:
                shown = t(lang, "flow.pending_mark")
            elif step.name in state.answers:
                shown = self.show(step, state.answers[step.name], lang)
            else:
                continue
            lines.append(f"{self.label_of(flow, step, lang)}: {shown}")
        return lines

    def _summary(self, flow: Flow, state: State, services: Services) -> Reply:
        lang = services.lang
        title = t(lang, f"summary.{flow.name}" if flow.editing else f"summary.{flow.key}")
        lines = [title, "", *self.summary_lines(flow, state, lang)]
        if state.pending:
            lines += ["", t(lang, "flow.pending_note", count=len(state.pending))]
        rows = [[Button(t(lang, "btn.save"), button_data(state.seq, "save"))]]
        if not flow.editing:
            rows[0].append(Button(t(lang, "btn.edit"), button_data(state.seq, "edit")))
        rows.append([Button(t(lang, "btn.cancel"), button_data(state.seq, "cancel"))])
        return Reply("\n".join(lines), rows)

    def _edit_pick(self, flow: Flow, state: State, services: Services) -> Reply:
        lang = services.lang
        fixed = set(state.context.get("fixed", []))
        steps = [s for s in flow.applicable(state.answers) if s.name not in fixed]
        buttons = [
            Button(self.label_of(flow, s, lang), button_data(state.seq, f"ef:{s.name}")) for s in steps
        ]
        rows = _grid(buttons, 2)
        rows.append([Button(t(lang, "btn.back"), button_data(state.seq, "back"))])
        return Reply(t(lang, "flow.which_field"), rows)

    async def _on_summary(self, flow: Flow, state: State, inp: Input, services: Services) -> Outcome:
        lang = services.lang
        if inp.kind == "button" and inp.data == "save":
            final = {
                s.name: state.answers[s.name]
                for s in flow.applicable(state.answers)
                if s.name in state.answers
            }
            pending = [p for p in state.pending if any(s.name == p for s in flow.applicable(state.answers))]
            try:
                saved = await services.save(flow.name, final, pending, state.context)
            except Invalid as bad:
                return Outcome(
                    [Reply(f"❗ {t(lang, bad.key, **bad.params)}"), self._summary(flow, state, services)],
                    state,
                )
            replies = [Reply(t(lang, f"saved.{flow.name}", number=saved.number or "", **saved.extra))]
            if saved.extra.get("note"):  # e.g. "entered 30 h after the visit"
                replies[0].text += "\n" + t(lang, str(saved.extra["note"]), **saved.extra)
            return Outcome(replies, None, saved=saved)
        if inp.kind == "button" and inp.data == "edit":
            state.phase = "edit_pick"
            state.seq += 1
            return Outcome([self._edit_pick(flow, state, services)], state)
        return Outcome(
            [Reply(t(lang, "flow.use_summary_buttons")), self._summary(flow, state, services)], state
        )

    async def _on_edit_pick(self, flow: Flow, state: State, inp: Input, services: Services) -> Outcome:
        if inp.kind == "button" and inp.data.startswith("ef:"):
            name = inp.data[3:]
            if any(s.name == name for s in flow.applicable(state.answers)):
                if name in state.answers:
                    state.previous = {name: state.answers.pop(name)}
                if name in state.pending:
                    state.pending.remove(name)
                # a new answer for this key is checked afresh
                keys = {name, "contact"} if flow.key == "contact" and name in ("name", "phone") else {name}
                state.dismissed_keys = [k for k in state.dismissed_keys if k.split(":")[-1] not in keys]
                return await self._advance(flow, state, services, [])
        return Outcome([self._edit_pick(flow, state, services)], state)


def _option_label(option: Any) -> str:
    return str(option.get("label")) if isinstance(option, dict) else str(option)


def _grid(buttons: Sequence[Button], width: int) -> list[list[Button]]:
    return [list(buttons[i : i + width]) for i in range(0, len(buttons), width)]


def _is_cjk(text: str | None) -> bool:
    return bool(text) and any("\u4e00" <= ch <= "\u9fff" for ch in text or "")
