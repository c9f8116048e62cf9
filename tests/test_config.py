"""Settings come from arguments, then CRM_* variables, then .env, then the defaults."""

from __future__ import annotations

from pathlib import Path

import pytest
from pydantic import ValidationError

from bot.config import Settings


@pytest.fixture(autouse=True)
def _clean(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    for name in [n for n in __import__("os").environ if n.upper().startswith("CRM_")]:
        monkeypatch.delenv(name)
    monkeypatch.chdir(tmp_path)  # no .env unless a test writes one


def test_defaults_without_environment() -> None:
    s = Settings()
    assert s.bot_token is None and s.default_hour == 9 and s.data_dir == Path("data")


def test_variables_are_read_case_insensitively_and_typed(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("CRM_DEFAULT_HOUR", "7")
    monkeypatch.setenv("crm_timezone", "Europe/Paris")
    monkeypatch.setenv("CRM_BACKUP_ENABLED", "false")
    monkeypatch.setenv("CRM_DATA_DIR", "/srv/crm")
    monkeypatch.setenv("CRM_NOT_A_SETTING", "x")  # unknown names are ignored, as before
    s = Settings()
    assert (s.default_hour, s.timezone, s.backup_enabled, s.data_dir) == (
        7,
        "Europe/Paris",
        False,
        Path("/srv/crm"),
    )


def test_arguments_win_over_environment_which_wins_over_dotenv(monkeypatch: pytest.MonkeyPatch) -> None:
    Path(".env").write_text(
        "# a comment\nCRM_DEFAULT_HOUR=6\nCRM_TIMEZONE='Asia/Tokyo'\nexport CRM_BOT_TOKEN=1:abc\n"
    )
    monkeypatch.setenv("CRM_DEFAULT_HOUR", "8")
    s = Settings()
    assert (s.default_hour, s.timezone) == (8, "Asia/Tokyo")
    assert s.bot_token is not None and s.bot_token.get_secret_value() == "1:abc"
    assert "1:abc" not in repr(s)  # the token is a secret
    assert Settings(default_hour=10).default_hour == 10


def test_a_bad_value_is_refused_by_name(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("CRM_DEFAULT_HOUR", "30")
    with pytest.raises(ValidationError, match="default_hour"):
        Settings()
