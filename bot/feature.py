"""How a feature declares what it handles: commands, button prefixes, inputs, flows of its own.

A feature is one module under bot/features/ exporting `FEATURE`. The router dispatches by these
declarations only, and /help, the Telegram command menu and `crm-bot flows` are generated from them,
so what the bot says it does cannot drift from what it does.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable, Mapping
from dataclasses import dataclass, field
from typing import Any, Literal

from bot.turn import HelpLine, Incoming, Turn
from flows.engine import Flow, Reply

Handler = Callable[[Turn, Incoming], Awaitable[list[Reply]]]
Role = Literal["sales", "manager", "admin"]


@dataclass(frozen=True)
class Command:
    """`/name args`. `help` is the i18n key of its line in /help and the menu (None: not listed)."""

    name: str
    run: Handler
    help: str | None = None
    starts_entry: bool = False  # with an entry open, ask before abandoning it
    abandon_to: str | None = None  # the command "discard it and start the new one" runs (default: this)
    roles: frozenset[Role] | None = None  # None: every registered user


@dataclass(frozen=True)
class Press:
    """A button whose callback data starts with `prefix` (the longest declared prefix wins)."""

    prefix: str
    run: Handler
    help: str = ""  # what the button does, for `crm-bot flows`


@dataclass(frozen=True)
class Takes:
    """Something sent rather than typed as a command: text, a shared contact, a location, a file.

    `idle`: only when no entry is open (an open entry's engine comes first);
    `always`: before the engine, e.g. files, which need a download before any step can use them.
    """

    kind: str
    run: Handler
    when: Literal["idle", "always"] = "idle"
    help: str | None = None  # i18n key of its line in /help


@dataclass(frozen=True)
class Owns:
    """A flow whose inputs and flow buttons the feature handles itself instead of the plain engine step."""

    flow: str
    run: Handler


@dataclass(frozen=True)
class Feature:
    name: str
    commands: tuple[Command, ...] = ()
    presses: tuple[Press, ...] = ()
    takes: tuple[Takes, ...] = ()
    owns: tuple[Owns, ...] = ()
    flows: Mapping[str, Flow] = field(default_factory=dict)  # flows this feature adds to the engine


class Registry:
    """The features, indexed for dispatch; refuses two features claiming the same thing."""

    def __init__(self, features: tuple[Feature, ...]) -> None:
        self.features = features
        self.commands: dict[str, Command] = {}
        self.presses: list[Press] = []
        self.takes: dict[tuple[str, str], Takes] = {}
        self.owns: dict[str, Owns] = {}
        self.flows: dict[str, Flow] = {}
        self._help: dict[str, tuple[HelpLine, ...]] = {}
        for f in features:
            for c in f.commands:
                self._once(self.commands, c.name, c, f"command /{c.name}")
            for p in f.presses:
                if any(p.prefix == q.prefix for q in self.presses):
                    raise ValueError(f"button prefix {p.prefix!r} declared twice")
                self.presses.append(p)
            for k in f.takes:
                self._once(self.takes, (k.kind, k.when), k, f"input {k.kind} ({k.when})")
            for o in f.owns:
                self._once(self.owns, o.flow, o, f"flow {o.flow}")
            for name, flow in f.flows.items():
                self._once(self.flows, name, flow, f"flow {name}")
        self.presses.sort(key=lambda p: len(p.prefix), reverse=True)

    @staticmethod
    def _once(table: dict[Any, Any], key: object, value: object, what: str) -> None:
        if key in table:
            raise ValueError(f"{what} declared twice")
        table[key] = value

    def press(self, data: str) -> Press | None:
        return next((p for p in self.presses if data.startswith(p.prefix)), None)

    def help_lines(self, role: str) -> tuple[HelpLine, ...]:
        """In the features' order: each feature's commands, then what it takes without a command.

        Every turn carries them; worked out once per role (the registry does not change)."""
        known = self._help.get(role)
        if known is None:
            known = self._help[role] = self._help_lines(role)
        return known

    def _help_lines(self, role: str) -> tuple[HelpLine, ...]:
        lines: list[HelpLine] = []
        for f in self.features:
            lines += [
                HelpLine(c.name, c.help)
                for c in f.commands
                if c.help is not None and (c.roles is None or role in c.roles)
            ]
            lines += [HelpLine(None, k.help) for k in f.takes if k.help is not None]
        return tuple(lines)

    def menu(self) -> list[tuple[str, str]]:
        """(command, i18n key) for setMyCommands: everyone's commands that /help lists."""
        return [(c.name, c.help) for c in self.commands.values() if c.help is not None and c.roles is None]
