"""Backups and restore: the database and the attachments in one archive with SHA-256 checksums.

A backup is taken while the bot runs: SQLite through its online backup API (a consistent copy
even with writers in WAL mode), PostgreSQL through `pg_dump` (one snapshot). The database is
copied first and the attachments after it, and attachments are only ever added before their row
commits, so every attachment row in the copy finds its file in the archive.

Archive (`crm-backup-YYYYMMDDTHHMMSSZ.tar.gz`):
    manifest.json            what, when, which backend, and every member's size and SHA-256
    database.sqlite3 | database.pgdump
    attachments/<customer number>/<file>

A restore goes only into an empty database and an empty attachments folder, checks every
checksum before anything is written, and points the attachment rows at the new folder.
"""

from __future__ import annotations

import contextlib
import datetime as dt
import hashlib
import io
import json
import os
import shutil
import sqlite3
import subprocess
import tarfile
import tempfile
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from sqlalchemy import text
from sqlalchemy.engine import make_url
from sqlalchemy.ext.asyncio import AsyncEngine, AsyncSession

from flows.retention import archive_name, archive_time, to_keep

FORMAT = 1
MANIFEST = "manifest.json"
CHUNK = 1024 * 1024


class BackupError(Exception):
    """A backup or restore that cannot go ahead; the message says why, in plain words (English)."""


@dataclass(frozen=True)
class Source:
    """Where the CRM lives: its database (URL, and the PostgreSQL schema if not the default) and files."""

    url: str
    attachments: Path
    schema: str | None = None  # PostgreSQL: dump only this schema (None: the whole database)

    @property
    def backend(self) -> str:
        return "sqlite" if make_url(self.url).get_backend_name() == "sqlite" else "postgresql"


@dataclass
class Made:
    """A finished backup: its archive and what went into it (counts only, nothing personal)."""

    path: Path
    size: int
    files: int
    removed: list[Path] = field(default_factory=list)


# ---------------------------------------------------------------- helpers


def sha256_of(path: Path) -> str:
    digest = hashlib.sha256()
    with path.open("rb") as handle:
        while chunk := handle.read(CHUNK):
            digest.update(chunk)
    return digest.hexdigest()


def sqlite_path(url: str) -> Path:
    database = make_url(url).database
    if not database or database == ":memory:":
        raise BackupError("an in-memory SQLite database cannot be backed up")
    return Path(database)


def pg_tool(name: str) -> str:
    """The PostgreSQL client tool on PATH, or a clear refusal naming the package to install."""
    found = shutil.which(name)
    if found is None:
        raise BackupError(
            f"{name} was not found on PATH; install the PostgreSQL client tools "
            f"(Debian: apt-get install postgresql-client) of the server's major version"
        )
    return found


def pg_env(url: str) -> dict[str, str]:
    """libpq's environment for a URL: the password goes in the environment, never on a command line."""
    u = make_url(url)
    env = {k: v for k, v in os.environ.items() if not k.startswith("PG")}
    for key, value in (
        ("PGHOST", u.host),
        ("PGPORT", str(u.port) if u.port else None),
        ("PGUSER", u.username),
        ("PGPASSWORD", u.password),
        ("PGDATABASE", u.database),
    ):
        if value:
            env[key] = str(value)
    return env


def _run(args: list[str], env: dict[str, str]) -> None:
    done = subprocess.run(args, env=env, capture_output=True, text=True, check=False)
    if done.returncode != 0:
        # pg_dump's own message names the object, never row data
        raise BackupError(f"{Path(args[0]).name} failed: {done.stderr.strip()[-500:]}")


def _files_under(root: Path) -> Iterator[Path]:
    """Filed attachments (staged uploads under incoming/ belong to no record and are left out)."""
    if not root.exists():
        return
    for path in sorted(root.rglob("*")):
        rel = path.relative_to(root)
        if path.is_file() and rel.parts[0] != "incoming" and not path.name.endswith(".part"):
            yield path


# ---------------------------------------------------------------- the database copy


def copy_database(source: Source, target: Path) -> None:
    """A consistent copy of the database into `target` (blocking: run it in a thread)."""
    if source.backend == "sqlite":
        src_path = sqlite_path(source.url)
        if not src_path.exists():
            raise BackupError(f"no SQLite database at {src_path}")
        src = sqlite3.connect(f"file:{src_path}?mode=ro", uri=True)
        dst = sqlite3.connect(target)
        try:
            with dst:
                src.backup(dst)  # the online backup API: pages copied under SQLite's own locking
        finally:
            dst.close()
            src.close()
        return
    args = [pg_tool("pg_dump"), "--format=custom", "--no-owner", "--no-privileges", "--file", str(target)]
    if source.schema:
        args += ["--schema", source.schema]
    _run(args, pg_env(source.url))


# ---------------------------------------------------------------- backup


def make_backup(
    source: Source,
    folder: Path,
    now: dt.datetime,
    *,
    daily: int = 7,
    monthly: int = 12,
    revision: str | None = None,
) -> Made:
    """One archive in `folder` (written under a temporary name, then renamed), then retention."""
    folder.mkdir(parents=True, exist_ok=True)
    name = archive_name(now)
    final = folder / name
    if final.exists():
        raise BackupError(f"{name} exists already")
    db_member = "database.sqlite3" if source.backend == "sqlite" else "database.pgdump"
    with tempfile.TemporaryDirectory(prefix="crm-backup-", dir=folder) as work:
        db_copy = Path(work) / db_member
        copy_database(source, db_copy)
        members: list[tuple[str, Path]] = [(db_member, db_copy)]
        members += [
            (f"attachments/{p.relative_to(source.attachments).as_posix()}", p)
            for p in _files_under(source.attachments)
        ]
        entries: list[dict[str, Any]] = []
        for arcname, path in members:
            with contextlib.suppress(FileNotFoundError):  # a file removed meanwhile (an erasure)
                entries.append({"path": arcname, "size": path.stat().st_size, "sha256": sha256_of(path)})
        manifest = {
            "format": FORMAT,
            "created_at": now.astimezone(dt.UTC).isoformat(),
            "backend": source.backend,
            "schema": source.schema,
            "revision": revision,
            "database": db_member,
            "attachments_root": str(source.attachments),
            "files": entries,
        }
        part = folder / f".{name}.part"
        try:
            with tarfile.open(part, "w:gz", compresslevel=6) as tar:
                blob = json.dumps(manifest, ensure_ascii=False, indent=1).encode()
                info = tarfile.TarInfo(MANIFEST)
                info.size, info.mtime = len(blob), int(now.timestamp())
                tar.addfile(info, io.BytesIO(blob))
                paths = dict(members)
                for entry in entries:
                    arcname = str(entry["path"])
                    tar.add(paths[arcname], arcname=arcname, recursive=False)
            os.replace(part, final)
        finally:
            part.unlink(missing_ok=True)
    removed = prune(folder, daily, monthly)
    return Made(final, final.stat().st_size, len(entries) - 1, removed)


def prune(folder: Path, daily: int = 7, monthly: int = 12) -> list[Path]:
    """Delete archives the retention rule does not keep; files not named like ours are left alone."""
    archives = {at: p for p in folder.iterdir() if (at := archive_time(p.name)) is not None}
    keep = to_keep(list(archives), daily, monthly)
    gone = [p for at, p in sorted(archives.items()) if at not in keep]
    for path in gone:
        path.unlink(missing_ok=True)
    return gone


def archives(folder: Path) -> list[Path]:
    """Our archives in `folder`, oldest first."""
    if not folder.exists():
        return []
    return sorted(p for p in folder.iterdir() if archive_time(p.name) is not None)


def newest_backup_at(folder: Path) -> dt.datetime | None:
    found = archives(folder)
    return archive_time(found[-1].name) if found else None


# ---------------------------------------------------------------- restore


def read_manifest(archive: Path) -> dict[str, Any]:
    try:
        with tarfile.open(archive, "r:*") as tar:
            member = tar.extractfile(MANIFEST)
            if member is None:
                raise KeyError(MANIFEST)
            manifest: dict[str, Any] = json.loads(member.read())
    except (tarfile.TarError, KeyError, OSError, ValueError) as exc:
        raise BackupError(f"{archive.name} is not a readable crm-bot backup ({type(exc).__name__})") from None
    if manifest.get("format") != FORMAT:
        raise BackupError(f"{archive.name} has an unknown format {manifest.get('format')!r}")
    return manifest


def unpack_verified(archive: Path, into: Path) -> dict[str, Any]:
    """Extract the archive into `into` and check every member against the manifest; raise on the first
    wrong or missing file (nothing is restored then)."""
    manifest = read_manifest(archive)
    expected = {e["path"]: e for e in manifest["files"]}
    with tarfile.open(archive, "r:*") as tar:
        names = {m.name for m in tar.getmembers() if m.isfile()} - {MANIFEST}
        if names - expected.keys():
            raise BackupError(f"{archive.name} holds files its manifest does not list")
        tar.extractall(into, filter="data")  # "data": no absolute paths, links out or devices
    for rel, entry in expected.items():
        path = into / rel
        if not path.is_file():
            raise BackupError(f"{rel} is missing from {archive.name}")
        if path.stat().st_size != entry["size"] or sha256_of(path) != entry["sha256"]:
            raise BackupError(f"{rel} does not match its checksum: the archive is damaged")
    return manifest


async def user_tables(engine: AsyncEngine) -> list[str]:
    """Tables already in the target database (its current schema on PostgreSQL)."""
    async with engine.connect() as conn:
        if engine.dialect.name == "sqlite":
            rows = await conn.execute(
                text("select name from sqlite_master where type='table' and name not like 'sqlite_%'")
            )
        else:
            rows = await conn.execute(
                text("select table_name from information_schema.tables where table_schema = current_schema()")
            )
        return [str(r[0]) for r in rows]


async def current_schema(engine: AsyncEngine) -> str | None:
    """The PostgreSQL schema the CRM's tables live in (None on SQLite, and for `public`)."""
    if engine.dialect.name == "sqlite":
        return None
    async with engine.connect() as conn:
        schema = (await conn.execute(text("select current_schema()"))).scalar_one()
    return None if schema in (None, "public") else str(schema)


def restore_database(manifest: dict[str, Any], unpacked: Path, url: str) -> None:
    """Write the archived database into the (empty) target (blocking: run it in a thread)."""
    backend = "sqlite" if make_url(url).get_backend_name() == "sqlite" else "postgresql"
    if backend != manifest["backend"]:
        raise BackupError(
            f"the archive holds a {manifest['backend']} database; CRM_DATABASE_URL names {backend}"
        )
    dump = unpacked / manifest["database"]
    if backend == "sqlite":
        target = sqlite_path(url)
        target.parent.mkdir(parents=True, exist_ok=True)
        src = sqlite3.connect(dump)
        dst = sqlite3.connect(target)
        try:
            with dst:
                src.backup(dst)
        finally:
            dst.close()
            src.close()
        return
    args = [pg_tool("pg_restore"), "--no-owner", "--no-privileges", "--exit-on-error", "--single-transaction"]
    env = pg_env(url)
    _run([*args, "--dbname", env.get("PGDATABASE", "postgres"), str(dump)], env)


def restore_files(manifest: dict[str, Any], unpacked: Path, attachments: Path) -> int:
    """Move the archived attachments into the (empty) attachments folder."""
    count = 0
    for entry in manifest["files"]:
        rel = str(entry["path"])
        if not rel.startswith("attachments/"):
            continue
        target = attachments / rel.removeprefix("attachments/")
        target.parent.mkdir(parents=True, exist_ok=True)
        shutil.move(str(unpacked / rel), target)
        count += 1
    return count


def empty_folder(path: Path) -> bool:
    return not path.exists() or not any(p.is_file() for p in path.rglob("*"))


async def repoint_attachments(engine: AsyncEngine, old_root: str, new_root: Path) -> int:
    """Attachment rows name their file by path: after a restore elsewhere, the new folder's."""
    async with engine.begin() as conn:
        rows = (await conn.execute(text("select id, path from attachments"))).all()
        moved = 0
        for row_id, path in rows:
            p = Path(str(path))
            try:
                rel = p.relative_to(old_root)
            except ValueError:
                rel = Path(*p.parts[-2:])  # customer number / file name, as FileStore files them
            new = str(new_root / rel)
            if new != path:
                await conn.execute(
                    text("update attachments set path = :p where id = :i"), {"p": new, "i": row_id}
                )
                moved += 1
    return moved


# ---------------------------------------------------------------- the two entry points


async def revision_of(engine: AsyncEngine) -> str | None:
    with contextlib.suppress(Exception):
        async with engine.connect() as conn:
            return str((await conn.execute(text("select version_num from alembic_version"))).scalar_one())
    return None


async def backup(
    engine: AsyncEngine,
    attachments: Path,
    folder: Path,
    now: dt.datetime,
    *,
    daily: int = 7,
    monthly: int = 12,
) -> Made:
    """Back up the CRM the running engine talks to (the copy itself runs in a thread)."""
    import asyncio

    source = Source(
        engine.url.render_as_string(hide_password=False), attachments, await current_schema(engine)
    )
    revision = await revision_of(engine)
    return await asyncio.to_thread(
        make_backup, source, folder, now, daily=daily, monthly=monthly, revision=revision
    )


@dataclass
class Restored:
    created_at: str
    files: int
    repointed: int
    erasures: int = 0  # erasures journalled after the backup, applied again


async def restore(archive: Path, url: str, attachments: Path, journal: Path | None = None) -> Restored:
    """Restore `archive` into the empty database at `url` and the empty `attachments` folder, then
    bring the schema up to date (an older backup may predate a migration)."""
    import asyncio

    from storage.db import make_engine, migrate

    if not archive.is_file():
        raise BackupError(f"no archive at {archive}")
    if not empty_folder(attachments):
        raise BackupError(f"{attachments} is not empty: restore goes into an empty data folder only")
    if make_url(url).get_backend_name() == "sqlite":
        sqlite_path(url).parent.mkdir(parents=True, exist_ok=True)
    probe = make_engine(url)
    try:
        existing = await user_tables(probe)
    finally:
        await probe.dispose()  # no pooled connection may sit on the file SQLite's backup writes
    if existing:
        raise BackupError(
            f"the target database is not empty ({len(existing)} tables): "
            "restore goes into an empty database only"
        )
    with tempfile.TemporaryDirectory(prefix="crm-restore-") as work:
        unpacked = Path(work)
        manifest = await asyncio.to_thread(unpack_verified, archive, unpacked)
        await asyncio.to_thread(restore_database, manifest, unpacked, url)
        files = await asyncio.to_thread(restore_files, manifest, unpacked, attachments)
    engine = make_engine(url)
    try:
        await migrate(engine)
        repointed = await repoint_attachments(engine, manifest["attachments_root"], attachments)
        erased = await _reapply_erasures(engine, journal, dt.datetime.fromisoformat(manifest["created_at"]))
    finally:
        await engine.dispose()
    return Restored(manifest["created_at"], files, repointed, erased)


async def _reapply_erasures(engine: AsyncEngine, journal: Path | None, since: dt.datetime) -> int:
    """Privacy erasures made after the backup was taken (journalled beside the backups) are done again,
    so restoring an older archive never brings back someone who asked to be forgotten."""
    from storage.db import make_sessions
    from storage.privacy import read_journal, reapply

    entries = read_journal(journal) if journal is not None else []
    if not entries:
        return 0
    async with make_sessions(engine).begin() as session:
        return await reapply(session, entries, since, dt.datetime.now(dt.UTC))


def engine_of(tx: AsyncSession) -> AsyncEngine:
    """The engine behind a transaction, for a backup started from the chat (run after it commits)."""
    bind = tx.bind
    if not isinstance(bind, AsyncEngine):
        raise BackupError("no database engine behind this session")
    return bind
