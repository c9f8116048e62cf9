"""Settings from the environment and an optional .env file (never logged: the token is a secret).

`CRM_<FIELD>` variables, case-insensitive; what is passed to `Settings(...)` wins over the
environment, which wins over `.env` in the working directory, which wins over the defaults.

A pydantic model reading the environment itself, not pydantic-settings: that package brings its
command-line, cloud-secret and metadata sources (~2 MiB of a bot whose whole idle budget is 80 MiB,
and ~30 ms of start-up) for the dozen lines below; python-dotenv still reads the `.env` file.
"""

from __future__ import annotations

import os
from pathlib import Path
from typing import TYPE_CHECKING, Any

from pydantic import BaseModel, ConfigDict, Field, SecretStr, model_validator

if TYPE_CHECKING:
    from storage.db import Timeouts

PREFIX = "CRM_"
ENV_FILE = ".env"


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


class Settings(BaseModel):
    model_config = ConfigDict(extra="ignore")

    @model_validator(mode="before")
    @classmethod
    def _environment_under_arguments(cls, data: Any) -> Any:
        if isinstance(data, dict):
            return {**from_environment(), **data}
        return data

    bot_token: SecretStr | None = None
    bot_api_url: str = "https://api.telegram.org/bot"
    bot_file_url: str = "https://api.telegram.org/file/bot"
    database_url: str | None = None
    data_dir: Path = Path("data")
    timezone: str = "Asia/Shanghai"
    default_hour: int = Field(9, ge=0, le=23)
    reminder_poll_seconds: float = Field(30.0, gt=0)
    reminder_lease_seconds: float = Field(60.0, gt=0)  # a crashed process's claims come back after this
    reminder_scan_minutes: float = Field(10.0, gt=0)  # silent/stale/pending/birthday checks
    digest_time: str = Field("08:30", pattern=r"^([01]\d|2[0-3]):[0-5]\d$")  # in each user's zone
    birthday_ahead_days: int = Field(3, ge=0, le=30)  # a birthday reminder this many days before, too
    flow_ttl_hours: float = 24.0
    # database waits, in seconds (storage.db.Timeouts): a silent server fails the step, never hangs it
    db_connect_timeout: float = Field(5.0, gt=0)
    db_statement_timeout: float = Field(10.0, ge=0)  # 0: no limit
    db_pool_timeout: float = Field(10.0, gt=0)
    db_busy_timeout: float = Field(30.0, gt=0)  # SQLite: another process holds the write lock

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
    backup_time: str = Field("03:30", pattern=r"^([01]\d|2[0-3]):[0-5]\d$")  # in CRM_TIMEZONE
    backup_keep_daily: int = Field(7, ge=1)
    backup_keep_monthly: int = Field(12, ge=0)

    def backups(self) -> Path:
        return self.backup_dir or self.data_dir / "backups"

    # several people at once: updates of different chats run concurrently, at most this many at a time
    max_concurrent_updates: int = Field(32, ge=1, le=1024)
    # webhook mode (`crm-bot run --webhook`): Telegram posts to webhook_url; every replica listens on
    # webhook_listen:webhook_port and refuses a request without the shared secret (403)
    webhook_url: str | None = None
    webhook_listen: str = "0.0.0.0"
    webhook_port: int = Field(8443, ge=1, le=65535)
    webhook_secret: SecretStr | None = None
    # /healthz and /metrics: on this port when set (in webhook mode it defaults to webhook_port + 1)
    metrics_port: int | None = Field(None, ge=1, le=65535)
    metrics_listen: str = "0.0.0.0"

    def db_url(self) -> str:
        from storage.db import sqlite_url

        return self.database_url or sqlite_url(self.data_dir)
