"""The registry: dispatch by declarations only, /help and the menu generated from them."""

from __future__ import annotations

import pytest

from bot.feature import Command, Feature, Press, Registry, Takes
from bot.features import FEATURES
from bot.router import Router
from bot.turn import Incoming, Turn
from flows.engine import Reply
from flows.i18n import catalog
from storage import repo
from tests.conftest import Clock, Database
from tests.people import Person

ANN = 1001


async def _whoami(turn: Turn, inc: Incoming) -> list[Reply]:
    return [Reply(f"you are {turn.user.name} ({turn.user.role}) {inc.args}".strip())]


async def _who_button(turn: Turn, inc: Incoming) -> list[Reply]:
    return [Reply(f"pressed {inc.callback}")]


WHOAMI = Feature(
    name="whoami",
    commands=(Command("whoami", _whoami, help="help.help"),),
    presses=(Press("g|who|", _who_button),),
)


def test_every_declared_text_exists_in_both_languages() -> None:
    registry = Registry(FEATURES)
    keys = [c.help for c in registry.commands.values() if c.help] + [
        k.help for k in registry.takes.values() if k.help
    ]
    for lang in ("zh", "en"):
        missing = [k for k in keys if k not in catalog()[lang]]
        assert missing == [], lang


def test_two_features_cannot_claim_one_command_or_prefix() -> None:
    with pytest.raises(ValueError, match="/find"):
        Registry((*FEATURES, Feature("again", commands=(Command("find", _whoami),))))
    with pytest.raises(ValueError, match="g\\|cust\\|"):
        Registry((*FEATURES, Feature("again", presses=(Press("g|cust|", _who_button),))))
    with pytest.raises(ValueError, match="input text"):
        Registry((*FEATURES, Feature("again", takes=(Takes("text", _whoami),))))


def test_the_longest_prefix_wins() -> None:
    registry = Registry((Feature("a", presses=(Press("g|", _who_button), Press("g|who|", _whoami))),))
    found = registry.press("g|who|1")
    assert found is not None and found.run is _whoami
    other = registry.press("g|x|1")
    assert other is not None and other.run is _who_button
    assert registry.press("r|1") is None


async def test_a_new_feature_is_one_declaration_and_help_lists_it(db: Database, clock: Clock) -> None:
    async with db.sessions.begin() as s:
        await repo.add_user(s, ANN, "Ann", "sales")
    router = Router(db.sessions, clock=clock, features=(*FEATURES, WHOAMI))
    ann = Person(router, ANN, lang="en")
    await ann.command("whoami", "now")
    assert ann.text == "you are Ann (sales) now"
    await ann.data("g|who|7")
    assert ann.text == "pressed g|who|7"
    await ann.command("help")
    assert "/whoami help" in ann.text
    # every listed command is one the router dispatches, and nothing undeclared is listed
    listed = {line.split()[0][1:] for line in ann.text.splitlines() if line.startswith("/")}
    assert listed == {
        c.name
        for c in router.registry.commands.values()
        if c.help and (c.roles is None or "sales" in c.roles)
    }


async def test_commands_for_other_roles_are_neither_listed_nor_run(db: Database, clock: Clock) -> None:
    async with db.sessions.begin() as s:
        await repo.add_user(s, ANN, "Ann", "sales")
    secret = Feature(
        "secret", commands=(Command("purge", _whoami, help="help.cancel", roles=frozenset({"admin"})),)
    )
    router = Router(db.sessions, clock=clock, features=(*FEATURES, secret))
    ann = Person(router, ANN, lang="en")
    await ann.command("purge")
    assert "you are" not in ann.text
    assert "/purge" not in ann.text
    assert "/log" in ann.text  # she got the help instead
