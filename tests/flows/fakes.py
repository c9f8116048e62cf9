"""An in-memory Services and a small driver, so flows are tested with no bot and no database."""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass, field
from typing import Any
from zoneinfo import ZoneInfo

from flows.definitions import FLOWS
from flows.engine import Engine, Input, Outcome, Reply, State, button_data
from flows.names import similarity
from flows.ports import DupMatch, DupProbe, Saved
from flows.refs import ContactRef, CustomerRef

SHANGHAI = ZoneInfo("Asia/Shanghai")
SUNDAY_10AM = dt.datetime(2026, 11, 22, 10, 0, tzinfo=SHANGHAI)


@dataclass
class FakeServices:
    lang: str = "zh"
    tz: dt.tzinfo = SHANGHAI
    default_hour: int = 9
    at: dt.datetime = SUNDAY_10AM
    customers: list[CustomerRef] = field(default_factory=list)
    phones: dict[int, str] = field(default_factory=dict)
    foreign: set[int] = field(default_factory=set)  # customer ids the user may not see
    codes: dict[int, str] = field(default_factory=dict)  # customer id -> credit code
    emails: dict[int, str] = field(default_factory=dict)
    current: dict[str, Any] | None = None  # what current_values answers for an edit
    probes: list[DupProbe] = field(default_factory=list)
    saved: list[tuple[str, dict[str, Any], list[str], dict[str, Any]]] = field(default_factory=list)

    def now(self) -> dt.datetime:
        return self.at

    async def find_duplicates(self, probe: DupProbe) -> list[DupMatch]:
        self.probes.append(probe)
        found = []
        for c in self.customers:
            if c.id == probe.exclude_id and probe.record == "customer":
                continue
            reasons = []
            if probe.record == "contact":
                same = [
                    k
                    for k in c.contacts
                    if probe.phone
                    and k.phone == probe.phone
                    and k.name == probe.name
                    and k.id != probe.exclude_id
                ]
                reasons += ["contact"] if same else []
            else:
                if probe.credit_code and self.codes.get(c.id) == probe.credit_code:
                    reasons.append("credit_code")
                if probe.phone and self.phones.get(c.id) == probe.phone:
                    reasons.append("phone")
                if probe.email and self.emails.get(c.id) == probe.email:
                    reasons.append("email")
                if probe.name and similarity(probe.name, c.name) >= 88:
                    reasons.append("name")
            if reasons:
                visible = c.id not in self.foreign
                found.append(
                    DupMatch(
                        c.id,
                        c.name,
                        c.owner_name or "",
                        tuple(reasons),
                        visible,
                        c.number if visible else None,
                    )
                )
        return found

    async def customer(self, customer_id: int) -> CustomerRef | None:
        return next((c for c in self.customers if c.id == customer_id and c.id not in self.foreign), None)

    async def search_customers(self, text: str, limit: int = 8) -> list[CustomerRef]:
        return [
            c for c in self.customers if c.id not in self.foreign and (text in c.name or text == c.number)
        ][:limit]

    async def recent_customers(self, limit: int = 6) -> list[CustomerRef]:
        return [c for c in self.customers if c.id not in self.foreign][:limit]

    async def contacts_of(self, customer_id: int) -> list[ContactRef]:
        c = await self.customer(customer_id)
        return list(c.contacts) if c else []

    async def current_values(self, entity: str, entity_id: int) -> dict[str, Any] | None:
        return self.current

    async def save(
        self, flow: str, answers: dict[str, Any], pending: list[str], context: dict[str, Any]
    ) -> Saved:
        self.saved.append((flow, answers, pending, context))
        number = f"C20261122{len(self.saved):04d}" if flow == "customer" else None
        return Saved(flow, len(self.saved), number)


class Driver:
    """Plays one person through a flow; the state goes through JSON at every step, as it does in storage."""

    def __init__(self, services: FakeServices | None = None) -> None:
        self.engine = Engine(FLOWS)
        self.services = services or FakeServices()
        self.state: State | None = None
        self.replies: list[Reply] = []
        self.outcome: Outcome | None = None

    def _take(self, outcome: Outcome) -> Outcome:
        self.outcome = outcome
        self.replies = outcome.replies
        self.state = State.stored(outcome.state.dump()) if outcome.state else None
        return outcome

    async def start(self, flow: str, **kw: Any) -> Outcome:
        return self._take(await self.engine.start(flow, self.services, **kw))

    async def send(self, inp: Input) -> Outcome:
        assert self.state is not None, "the flow is over"
        return self._take(await self.engine.handle(self.state, inp, self.services))

    async def text(self, text: str) -> Outcome:
        return await self.send(Input(kind="text", text=text))

    def buttons(self) -> dict[str, str]:
        """data -> label of every button on screen now."""
        return {b.data: b.label for r in self.replies for row in r.buttons for b in row}

    async def press(self, action: str) -> Outcome:
        assert self.state is not None
        data = button_data(self.state.seq, action)
        assert data in self.buttons(), f"no button {action!r} on screen: {list(self.buttons())}"
        return await self.send(Input(kind="button", data=action, seq=self.state.seq))

    async def press_label(self, label: str) -> Outcome:
        matches = [d for d, lab in self.buttons().items() if label in lab]
        assert len(matches) == 1, f"{label!r} matches {matches}"
        seq, action = matches[0].split("|", 2)[1:]
        return await self.send(Input(kind="button", data=action, seq=int(seq)))

    async def skip_to_summary(self) -> None:
        """Answer the rest the quickest way: Skip or Later where offered, else the first choice."""
        for _ in range(40):
            if self.phase == "summary":
                return
            actions = [data.split("|", 2)[2] for data in self.buttons()]
            move = next((a for a in actions if a in ("skip", "later")), None)
            move = move or next((a for a in actions if a.startswith(("p:", "o:"))), None)
            assert move is not None, f"stuck at {self.step}"
            await self.press(move)
        raise AssertionError("never reached the summary")

    @property
    def step(self) -> str | None:
        return self.state.step if self.state else None

    @property
    def phase(self) -> str | None:
        return self.state.phase if self.state else None

    @property
    def text_out(self) -> str:
        return "\n".join(r.text for r in self.replies)
