"""Settings from the environment and an optional .env file (never logged: the token is a secret)."""

from __future__ import annotations

from pathlib import Path

from pydantic import Field, SecretStr
from pydantic_settings import BaseSettings, SettingsConfigDict


class Settings(BaseSettings):
    model_config = SettingsConfigDict(env_prefix="CRM_", env_file=".env", extra="ignore")

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
    flow_ttl_hours: float = 24.0
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
