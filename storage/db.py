"""Database engine, sessions and start-up migrations (SQLite by default, PostgreSQL by URL)."""

from __future__ import annotations

import re
from pathlib import Path
from typing import TYPE_CHECKING, Any

from sqlalchemy import event, text
from sqlalchemy.engine import Connection
from sqlalchemy.ext.asyncio import AsyncEngine, AsyncSession, async_sessionmaker, create_async_engine

if TYPE_CHECKING:
    from alembic.config import Config

MIGRATIONS = Path(__file__).parent / "migrations"


def normalise_url(url: str) -> str:
    """Accept plain sqlite:// and postgresql:// URLs and pick the async driver for them."""
    if url.startswith("sqlite://") and not url.startswith("sqlite+"):
        return "sqlite+aiosqlite://" + url[len("sqlite://") :]
    if url.startswith(("postgresql://", "postgres://")):
        return "postgresql+asyncpg://" + url.split("://", 1)[1]
    return url


def sqlite_url(data_dir: Path) -> str:
    data_dir.mkdir(parents=True, exist_ok=True)
    return f"sqlite+aiosqlite:///{data_dir / 'crm.sqlite3'}"


def make_engine(url: str, **kwargs: Any) -> AsyncEngine:
    url = normalise_url(url)
    if url.startswith("sqlite"):
        engine = create_async_engine(url, connect_args={"timeout": 30}, **kwargs)

        @event.listens_for(engine.sync_engine, "connect")
        def _pragmas(dbapi_conn: Any, _record: Any) -> None:
            # WAL lets readers go on while one writer commits; foreign keys are off by default in SQLite.
            cur = dbapi_conn.cursor()
            cur.execute("PRAGMA journal_mode=WAL")
            cur.execute("PRAGMA foreign_keys=ON")
            cur.execute("PRAGMA synchronous=NORMAL")
            cur.close()

        return engine
    return create_async_engine(url, pool_pre_ping=True, **kwargs)


def make_sessions(engine: AsyncEngine) -> async_sessionmaker[AsyncSession]:
    return async_sessionmaker(engine, expire_on_commit=False)


def alembic_config() -> Config:
    from alembic.config import Config

    cfg = Config()
    cfg.set_main_option("script_location", str(MIGRATIONS))
    return cfg


def _upgrade(connection: Connection) -> None:
    from alembic import command

    cfg = alembic_config()
    cfg.attributes["connection"] = connection
    command.upgrade(cfg, "head")


async def migrate(engine: AsyncEngine) -> None:
    """Bring the schema to the newest revision; safe to run at every start.

    When the database already is at the head (every start but the first after an upgrade) this costs
    one query: alembic's command machinery (with mako and friends, ~0.5 s of imports) is loaded only
    when there is something to do.
    """
    if await _at_head(engine):
        return
    async with engine.begin() as conn:
        await conn.run_sync(_upgrade)


_REVISION = re.compile(r"^(down_)?revision(?:\s*:[^=]*)?\s*=\s*(.+)$", re.MULTILINE)


def head_revisions() -> set[str]:
    """The heads of the migration scripts, read from their `revision`/`down_revision` lines."""
    revisions: set[str] = set()
    parents: set[str] = set()
    for script in (MIGRATIONS / "versions").glob("*.py"):
        for down, value in _REVISION.findall(script.read_text(encoding="utf-8")):
            named = set(re.findall(r"[\"']([^\"']+)[\"']", value))
            (parents if down else revisions).update(named)
    return revisions - parents


async def _at_head(engine: AsyncEngine) -> bool:
    heads = head_revisions()
    try:
        async with engine.connect() as conn:
            stored = {row[0] for row in await conn.execute(text("SELECT version_num FROM alembic_version"))}
    except Exception:  # no alembic_version table yet: a new database
        return False
    return bool(heads) and stored == heads
