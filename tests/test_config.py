"""Settings come from arguments, then CRM_* variables, then .env, then the defaults."""

from __future__ import annotations

from pathlib import Path

import pytest

from bot.config import Secret, Settings, SettingsError


@pytest.fixture(autouse=True)
def _clean(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    for name in [n for n in __import__("os").environ if n.upper().startswith("CRM_")]:
        monkeypatch.delenv(name)
    monkeypatch.chdir(tmp_path)  # no .env unless a test writes one


def test_defaults_without_environment() -> None:
    s = Settings.load()
    assert s.bot_token is None and s.default_hour == 9 and s.data_dir == Path("data")


def test_variables_are_read_case_insensitively_and_typed(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("CRM_DEFAULT_HOUR", "7")
    monkeypatch.setenv("crm_timezone", "Europe/Paris")
    monkeypatch.setenv("CRM_BACKUP_ENABLED", "false")
    monkeypatch.setenv("CRM_DATA_DIR", "/srv/crm")
    monkeypatch.setenv("CRM_NOT_A_SETTING", "x")  # unknown names are ignored, as before
    s = Settings.load()
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
    s = Settings.load()
    assert (s.default_hour, s.timezone) == (8, "Asia/Tokyo")
    assert s.bot_token is not None and s.bot_token.get_secret_value() == "1:abc"
    assert "1:abc" not in repr(s)  # the token is a secret
    assert Settings.load(default_hour=10).default_hour == 10


def test_a_bad_value_is_refused_by_name(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("CRM_DEFAULT_HOUR", "30")
    with pytest.raises(SettingsError, match=r"^CRM_DEFAULT_HOUR: expected `int` <= 23$"):
        Settings.load()


@pytest.mark.parametrize(
    ("name", "value", "reason"),
    [
        ("CRM_DIGEST_TIME", "8:3", "a time of day as HH:MM"),
        ("CRM_WEBHOOK_PORT", "70000", "<= 65535"),
        ("CRM_REMINDER_POLL_SECONDS", "0", "> 0"),
        ("CRM_MAX_CONCURRENT_UPDATES", "many", "expected `int`"),
        ("CRM_BACKUP_ENABLED", "maybe", "expected `bool`"),
    ],
)
def test_each_bad_value_names_its_variable(
    monkeypatch: pytest.MonkeyPatch, name: str, value: str, reason: str
) -> None:
    monkeypatch.setenv(name, value)
    with pytest.raises(SettingsError, match=f"^{name}: ") as refused:
        Settings.load()
    assert reason in str(refused.value)


@pytest.mark.parametrize(
    ("text", "flag"), [("off", False), ("No", False), ("0", False), ("yes", True), ("ON", True)]
)
def test_flags_read_the_usual_words(monkeypatch: pytest.MonkeyPatch, text: str, flag: bool) -> None:
    monkeypatch.setenv("CRM_BACKUP_ENABLED", text)
    assert Settings.load().backup_enabled is flag


def test_arguments_keep_their_types_and_secrets_stay_out_of_reprs(tmp_path: Path) -> None:
    s = Settings.load(
        data_dir=tmp_path, bot_token="9:hushhush", webhook_secret=Secret("w3bh00k"), metrics_port=None
    )
    assert s.data_dir == tmp_path and s.backups() == tmp_path / "backups"
    assert s.bot_token is not None and s.bot_token.get_secret_value() == "9:hushhush"
    assert s.webhook_secret == Secret("w3bh00k") and s.metrics_port is None
    assert "hushhush" not in repr(s) and "w3bh00k" not in repr(s)
    assert Settings.load(metrics_port="9100").metrics_port == 9100


def test_the_command_line_names_a_bad_variable_instead_of_a_traceback(
    monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    from bot.cli import main

    monkeypatch.setenv("CRM_DEFAULT_HOUR", "24")
    assert main(["flows"]) == 2
    err = capsys.readouterr().err
    assert "CRM_DEFAULT_HOUR: expected `int` <= 23" in err and "Traceback" not in err


@pytest.mark.parametrize("name", ["data_dir", "bot_token", "backup_dir", "webhook_secret"])
def test_a_path_or_secret_of_the_wrong_type_is_refused_by_name(name: str) -> None:
    with pytest.raises(SettingsError, match=f"^CRM_{name.upper()}: expected text, got `int`$"):
        Settings.load(**{name: 5})
