"""`crm-bot flows`: the flows as their declarations say, so documentation cannot drift from code."""

from __future__ import annotations

from flows.definitions import FLOWS
from flows.i18n import t


def describe(lang: str = "en") -> str:
    out: list[str] = []
    for flow in FLOWS.values():
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
    print(describe("en"))
    print(describe("zh"))
