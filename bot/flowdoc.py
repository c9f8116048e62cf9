"""`crm-bot flows`: the flows, commands and buttons as their declarations say, so documentation
cannot drift from code."""

from __future__ import annotations

from bot.feature import Registry
from bot.features import FEATURES
from flows.definitions import FLOWS
from flows.i18n import t


def describe_features(lang: str = "en") -> str:
    """Each feature's commands, button prefixes and inputs, from the registry the router dispatches by."""
    registry = Registry(FEATURES)
    out: list[str] = []
    for feature in registry.features:
        out.append(f"== feature {feature.name}")
        for c in feature.commands:
            marks = []
            if c.starts_entry:
                marks.append("starts an entry")
            if c.roles is not None:
                marks.append("for " + "/".join(sorted(c.roles)))
            text = t(lang, c.help) if c.help else "(not listed in /help)"
            out.append(f"  /{c.name} {text}" + (f" [{', '.join(marks)}]" if marks else ""))
        for p in feature.presses:
            out.append(f"  button {p.prefix}… {p.help}")
        for k in feature.takes:
            text = t(lang, k.help) if k.help else ""
            out.append(f"  input {k.kind} ({k.when}) {text}".rstrip())
        for o in feature.owns:
            out.append(f"  owns flow {o.flow}")
    out.append("")
    return "\n".join(out)


def describe(lang: str = "en") -> str:
    out: list[str] = []
    for flow in {**FLOWS, **Registry(FEATURES).flows}.values():
        out.append(f"== {flow.name}")
        for i, step in enumerate(flow.steps, 1):
            marks: list[str] = [step.kind]
            if step.optional:
                marks.append("optional")
            if step.deferrable:
                marks.append("Later allowed")
            if step.ask_if is not None:
                marks.append("conditional")
            if step.check_duplicates:
                marks.append("duplicate check")
            if step.confirm is not None:
                marks.append("echo + confirm")
            prompt = step.prompt if isinstance(step.prompt, str) else f"q.{flow.key}.{step.name}"
            out.append(f"{i:2}. {step.name} [{', '.join(marks)}] {t(lang, prompt)}")
            if step.choices is not None:
                out.append("      choices: " + " | ".join(o.label(lang) for o in step.choices.options))
        out.append("")
    return "\n".join(out)


def print_flows() -> None:
    print(describe_features("en"))
    print(describe("en"))
    print(describe("zh"))
