"""Database engine, sessions and start-up migrations (SQLite by default, PostgreSQL by URL).

Every engine hides statement parameters from its log lines and error messages (they hold customers'
names and phones), has a bound on every wait (connecting, each statement, a free pooled connection;
SQLite's busy lock), and a SQLite file and its data folder are readable by their owner only.
"""

from __future__ import annotations

import contextlib
import os
import re
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any

from sqlalchemy import event, text
from sqlalchemy.engine import Connection, make_url
from sqlalchemy.exc import OperationalError
from sqlalchemy.ext.asyncio import AsyncEngine, AsyncSession, async_sessionmaker, create_async_engine

if TYPE_CHECKING:
    from alembic.config import Config

MIGRATIONS = Path(__file__).parent / "migrations"
PRIVATE_DIR = 0o700
PRIVATE_FILE = 0o600


@dataclass(frozen=True)
class Timeouts:
    """Seconds to wait before giving up; 0 for statement means no limit (PostgreSQL's own default)."""

    connect: float = 5.0  # TCP connect and the PostgreSQL handshake
    statement: float = 10.0  # one statement, on the server (statement_timeout) and in the client
    pool: float = 10.0  # waiting for a free pooled connection
    busy: float = 30.0  # SQLite: waiting for another process's write lock


def normalise_url(url: str) -> str:
    """Accept plain sqlite:// and postgresql:// URLs and pick the async driver for them."""
    if url.startswith("sqlite://") and not url.startswith("sqlite+"):
        return "sqlite+aiosqlite://" + url[len("sqlite://") :]
    if url.startswith(("postgresql://", "postgres://")):
        return "postgresql+asyncpg://" + url.split("://", 1)[1]
    return url


def _inline(url: str) -> str:
    """aiosqlite through storage/sqlite_inline.py: statements run on the loop, no thread hop each."""
    if not url.startswith("sqlite+aiosqlite:"):
        return url
    from storage import sqlite_inline

    return f"sqlite+{sqlite_inline.DRIVER}:" + url[len("sqlite+aiosqlite:") :]


def private_dir(path: Path) -> Path:
    """Create `path` (and parents) readable by the owner only; an existing folder is tightened too."""
    path.mkdir(mode=PRIVATE_DIR, parents=True, exist_ok=True)
    with contextlib.suppress(PermissionError):  # not ours (a shared mount): leave it as it is
        if path.stat().st_mode & 0o777 != PRIVATE_DIR:
            path.chmod(PRIVATE_DIR)
    return path


def sqlite_url(data_dir: Path) -> str:
    private_dir(data_dir)
    return f"sqlite+aiosqlite:///{data_dir / 'crm.sqlite3'}"


def _private_file(path: Path) -> None:
    """Create `path` 0600 whatever the umask, before SQLite does (it would use 0644 & ~umask)."""
    fd = os.open(path, os.O_RDWR | os.O_CREAT, PRIVATE_FILE)
    try:
        if os.fstat(fd).st_mode & 0o777 != PRIVATE_FILE:
            os.fchmod(fd, PRIVATE_FILE)
    finally:
        os.close(fd)


def _sqlite_path(url: str) -> Path | None:
    database = make_url(url).database
    if not database or database == ":memory:" or database.startswith("file:"):
        return None
    return Path(database)


def _merged(extra: dict[str, Any], ours: dict[str, Any]) -> dict[str, Any]:
    """Our connect_args with the caller's on top; server_settings are merged key by key."""
    merged = {**ours, **extra}
    if "server_settings" in ours or "server_settings" in extra:
        merged["server_settings"] = {**ours.get("server_settings", {}), **extra.get("server_settings", {})}
    return merged


def make_engine(url: str, *, timeouts: Timeouts | None = None, **kwargs: Any) -> AsyncEngine:
    """An engine with parameters hidden from logs and errors, and every wait bounded by `timeouts`."""
    url = normalise_url(url)
    timeouts = timeouts or Timeouts()
    kwargs.setdefault("hide_parameters", True)
    extra = kwargs.pop("connect_args", {})
    if url.startswith("sqlite"):
        path = _sqlite_path(url)
        if path is not None and path.parent.is_dir():
            with contextlib.suppress(PermissionError):  # read-only folder: the connect reports it
                _private_file(path)
        connect_args = _merged(extra, {"timeout": timeouts.busy})
        inline_url = _inline(url)
        inline = inline_url != url
        engine = create_async_engine(inline_url, connect_args=connect_args, **kwargs)

        @event.listens_for(engine.sync_engine, "connect")
        def _pragmas(dbapi_conn: Any, _record: Any) -> None:
            # WAL lets readers go on while one writer commits; foreign keys are off by default in SQLite.
            cur = dbapi_conn.cursor()
            cur.execute("PRAGMA journal_mode=WAL")
            cur.execute("PRAGMA foreign_keys=ON")
            cur.execute("PRAGMA synchronous=NORMAL")
            if not inline:  # the inline driver waits for a busy lock off the loop (storage/sqlite_inline.py)
                cur.execute(f"PRAGMA busy_timeout={int(timeouts.busy * 1000)}")
            cur.close()
            if path is not None:  # SQLite copies the database file's mode, but an old file may differ
                for side in ("-wal", "-shm"):
                    with contextlib.suppress(OSError):
                        os.chmod(f"{path}{side}", PRIVATE_FILE)

        return engine
    pg_args: dict[str, Any] = {"timeout": timeouts.connect}
    if timeouts.statement > 0:
        # the server cancels a slow statement; the client gives up a little later on a silent server
        pg_args["server_settings"] = {"statement_timeout": str(int(timeouts.statement * 1000))}
        pg_args["command_timeout"] = timeouts.statement + 1.0
    kwargs.setdefault("pool_timeout", timeouts.pool)
    # no pool_pre_ping (a round trip per checkout): the router repeats a step whose pooled connection
    # had gone stale (storage.errors.again_if_stale), and a stale one invalidates the whole pool
    return create_async_engine(url, connect_args=_merged(extra, pg_args), **kwargs)


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


def describe_url(url: str) -> str:
    """Where the database is, for an error message: a SQLite path, or a URL without its password."""
    parsed = make_url(normalise_url(url))
    if parsed.get_backend_name() == "sqlite":
        return str(parsed.database)
    return parsed.render_as_string(hide_password=True)


def is_read_only(exc: BaseException) -> bool:
    """Whether opening or migrating the database failed because it (or its folder) cannot be written."""
    if isinstance(exc, PermissionError):
        return True
    if not isinstance(exc, OperationalError):
        return False
    said = str(getattr(exc, "orig", None) or exc).lower()
    return "readonly" in said or "read-only" in said or "unable to open database" in said


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
