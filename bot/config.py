"""Settings from the environment and an optional .env file (never logged: the token is a secret).

`CRM_<FIELD>` variables, case-insensitive; what is passed to `Settings.load(...)` wins over the
environment, which wins over `.env` in the working directory, which wins over the defaults.

A msgspec Struct checked by `msgspec.convert`, not a pydantic(-settings) model: pydantic's model
machinery is ~8 MiB of a bot whose whole idle budget is 80 MiB (msgspec: under 1 MiB), and
pydantic-settings adds command-line and cloud-secret sources for the dozen lines below.
python-dotenv still reads the `.env` file.
"""

from __future__ import annotations

import os
import re
from pathlib import Path
from typing import TYPE_CHECKING, Annotated, Any

import msgspec

if TYPE_CHECKING:
    from storage.db import Timeouts

PREFIX = "CRM_"
ENV_FILE = ".env"
CLOCK = r"^([01]\d|2[0-3]):[0-5]\d$"  # HH:MM
Positive = Annotated[float, msgspec.Meta(gt=0)]
Clock = Annotated[str, msgspec.Meta(pattern=CLOCK)]
TRUE, FALSE = {"1", "true", "t", "yes", "y", "on"}, {"0", "false", "f", "no", "n", "off"}


class Secret:
    """A value kept out of reprs and logs (the token, the webhook secret)."""

    __slots__ = ("_value",)

    def __init__(self, value: str) -> None:
        self._value = value

    def get_secret_value(self) -> str:
        return self._value

    def __repr__(self) -> str:
        return "Secret('**********')" if self._value else "Secret('')"

    def __eq__(self, other: object) -> bool:
        return isinstance(other, Secret) and other._value == self._value

    def __hash__(self) -> int:
        return hash(self._value)


class SettingsError(ValueError):
    """A setting with a value it cannot take; the message names the variable."""


def _prefixed(pairs: dict[str, str | None]) -> dict[str, str]:
    """`CRM_BOT_TOKEN=…` → `{"bot_token": "…"}`; other names, and names without a value, left out."""
    return {
        key[len(PREFIX) :].lower(): value
        for key, value in pairs.items()
        if key.upper().startswith(PREFIX) and value is not None
    }


def from_environment() -> dict[str, str]:
    """The `.env` file's settings under the environment's (read only when there is a file)."""
    found: dict[str, str] = {}
    if os.path.isfile(ENV_FILE):
        from dotenv import dotenv_values

        found.update(_prefixed(dotenv_values(ENV_FILE)))
    found.update(_prefixed(dict(os.environ)))
    return found


def _decode(kind: type, value: Any) -> Any:
    """The two types msgspec does not know: paths and secrets, from text (or already made)."""
    if kind is Path and isinstance(value, str | os.PathLike):
        return Path(value)
    if kind is Secret:
        if isinstance(value, Secret):
            return value
        if isinstance(value, str):
            return Secret(value)
    raise TypeError(f"expected text, got `{type(value).__name__}`")  # msgspec: a ValidationError here


class Settings(msgspec.Struct, frozen=True, kw_only=True):
    """Build with `Settings.load()`: constructing it directly reads no environment and checks nothing."""

    @classmethod
    def load(cls, **overrides: Any) -> Settings:
        """The defaults under `.env` under the environment under `overrides`, each value checked.

        Text is converted to each field's type (`"7"` → 7, `"off"` → False); SettingsError names the
        variable whose value does not fit. Unknown `CRM_*` names are ignored.
        """
        values: dict[str, Any] = {**from_environment(), **overrides}
        for name in _FLAGS:
            flag = values.get(name)
            if isinstance(flag, str) and flag.strip().lower() in TRUE | FALSE:
                values[name] = flag.strip().lower() in TRUE
        try:
            return msgspec.convert(values, cls, strict=False, dec_hook=_decode)
        except msgspec.ValidationError as exc:
            raise SettingsError(_named(str(exc))) from None

    bot_token: Secret | None = None
    bot_api_url: str = "https://api.telegram.org/bot"
    bot_file_url: str = "https://api.telegram.org/file/bot"
    database_url: str | None = None
    data_dir: Path = Path("data")
    timezone: str = "Asia/Shanghai"
    default_hour: Annotated[int, msgspec.Meta(ge=0, le=23)] = 9
    reminder_poll_seconds: Positive = 30.0
    reminder_lease_seconds: Positive = 60.0  # a crashed process's claims come back after this
    reminder_scan_minutes: Positive = 10.0  # silent/stale/pending/birthday checks
    digest_time: Clock = "08:30"  # in each user's zone
    # a birthday reminder this many days before, too
    birthday_ahead_days: Annotated[int, msgspec.Meta(ge=0, le=30)] = 3
    flow_ttl_hours: float = 24.0
    # database waits, in seconds (storage.db.Timeouts): a silent server fails the step, never hangs it
    db_connect_timeout: Positive = 5.0
    db_statement_timeout: Annotated[float, msgspec.Meta(ge=0)] = 10.0  # 0: no limit
    db_pool_timeout: Positive = 10.0
    db_busy_timeout: Positive = 30.0  # SQLite: another process holds the write lock

    def db_timeouts(self) -> Timeouts:
        from storage.db import Timeouts

        return Timeouts(
            connect=self.db_connect_timeout,
            statement=self.db_statement_timeout,
            pool=self.db_pool_timeout,
            busy=self.db_busy_timeout,
        )

    backup_enabled: bool = True  # the bot backs itself up every day at backup_time
    backup_dir: Path | None = None  # default: <data_dir>/backups
    backup_time: Clock = "03:30"  # in CRM_TIMEZONE
    backup_keep_daily: Annotated[int, msgspec.Meta(ge=1)] = 7
    backup_keep_monthly: Annotated[int, msgspec.Meta(ge=0)] = 12

    def backups(self) -> Path:
        return self.backup_dir or self.data_dir / "backups"

    # several people at once: updates of different chats run concurrently, at most this many at a time
    max_concurrent_updates: Annotated[int, msgspec.Meta(ge=1, le=1024)] = 32
    # webhook mode (`crm-bot run --webhook`): Telegram posts to webhook_url; every replica listens on
    # webhook_listen:webhook_port and refuses a request without the shared secret (403)
    webhook_url: str | None = None
    webhook_listen: str = "0.0.0.0"
    webhook_port: Annotated[int, msgspec.Meta(ge=1, le=65535)] = 8443
    webhook_secret: Secret | None = None
    # /healthz and /metrics: on this port when set (in webhook mode it defaults to webhook_port + 1)
    metrics_port: Annotated[int, msgspec.Meta(ge=1, le=65535)] | None = None
    metrics_listen: str = "0.0.0.0"

    def db_url(self) -> str:
        from storage.db import sqlite_url

        return self.database_url or sqlite_url(self.data_dir)


_FLAGS = [f.name for f in msgspec.structs.fields(Settings) if f.type is bool]


def _named(message: str) -> str:
    """msgspec's "Expected `int` <= 23 - at `$.default_hour`" as "CRM_DEFAULT_HOUR: expected `int` <= 23"."""
    found = re.fullmatch(r"(.*) - at `\$\.(\w+)`", message)
    if found is None:
        return message
    reason, name = found.groups()
    if "matching regex" in reason:  # the only patterns are times of day
        reason = "expected a time of day as HH:MM, e.g. 08:30"
    return f"{PREFIX}{name.upper()}: {reason[:1].lower()}{reason[1:]}"
