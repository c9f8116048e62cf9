"""Attachments on disk: staged when they arrive, filed under their customer when the record is saved.

Files live under <data>/attachments/<customer number>/ named <customer>_<kind>_<date>.<ext>, with a
SHA-256 so a restore can be checked. Staging first means a flow that is cancelled leaves nothing
attached, and a crash between receiving and saving loses no bytes the user already sent.
"""

from __future__ import annotations

import contextlib
import datetime as dt
import hashlib
import mimetypes
import os
import time
import unicodedata
import uuid
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from sqlalchemy import event, select
from sqlalchemy.ext.asyncio import AsyncSession

from flows.errors import Invalid
from storage.db import PRIVATE_FILE, private_dir
from storage.models import Attachment, Customer

MAX_BYTES = 10 * 1024 * 1024
ALLOWED = {
    ".pdf": "document",
    ".doc": "document",
    ".docx": "document",
    ".xls": "document",
    ".xlsx": "document",
    ".jpg": "photo",
    ".jpeg": "photo",
    ".png": "photo",
    ".webp": "photo",
    ".heic": "photo",
    ".ogg": "voice",
    ".oga": "voice",
    ".opus": "voice",
    ".m4a": "voice",
    ".mp3": "voice",
}
MIME_EXT = {"image/jpeg": ".jpg", "image/png": ".png", "audio/ogg": ".ogg", "application/pdf": ".pdf"}


def clean_name(name: str | None, limit: int) -> str | None:
    """A file name as stored: no control characters (NUL breaks PostgreSQL), at most `limit` code points."""
    if not name:
        return None
    kept = "".join(ch for ch in name if unicodedata.category(ch) != "Cc").strip()
    return kept[:limit] or None


def clean_mime(mime: str | None) -> str | None:
    """A MIME type as stored: printable ASCII only, cut to the column (100)."""
    if not mime:
        return None
    kept = "".join(ch for ch in mime if " " < ch < "\x7f")
    return kept[:100] or None


def _reserve(folder: Path, base: str, ext: str) -> Path:
    """Take the first free name base.ext, base_2.ext, … by creating it exclusively (empty, 0600)."""
    n = 1
    while True:
        target = folder / (f"{base}{ext}" if n == 1 else f"{base}_{n}{ext}")
        try:
            os.close(os.open(target, os.O_WRONLY | os.O_CREAT | os.O_EXCL, PRIVATE_FILE))
        except FileExistsError:
            n += 1
            continue
        return target


@dataclass(frozen=True)
class FileInfo:
    """What the chat says about a file before we download it."""

    kind: str  # photo | document | voice
    size: int | None
    name: str | None
    mime: str | None


def extension(info: FileInfo) -> str:
    """The file's extension, from its name, else its MIME type, else the Telegram kind."""
    if info.name and Path(info.name).suffix:
        return Path(info.name).suffix.lower()
    if info.mime:
        return MIME_EXT.get(info.mime) or (mimetypes.guess_extension(info.mime) or "").lower()
    return {"photo": ".jpg", "voice": ".ogg"}.get(info.kind, "")


def check(info: FileInfo) -> str:
    """Refuse, before downloading, a file that is too big or of a kind we don't keep."""
    if info.size is not None and info.size > MAX_BYTES:
        raise Invalid("file.too_big", size_mb=f"{info.size / 1024 / 1024:.1f}", limit_mb=10)
    ext = extension(info)
    if ext not in ALLOWED:
        raise Invalid("file.bad_type", ext=ext or "?")
    return ext


# Staged files belong to an open entry (kept 24 hours) or a "card or attachment?" question; after
# this long nobody can still file them, so they are removed when the next file arrives.
INCOMING_KEPT = dt.timedelta(days=3)
SWEEP_EVERY = dt.timedelta(hours=1)


def _write_private(path: Path, data: bytes) -> None:
    """Write a new file readable by the owner only, whatever the umask (attachments are personal data)."""
    fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, PRIVATE_FILE)
    with os.fdopen(fd, "wb") as out:
        os.fchmod(out.fileno(), PRIVATE_FILE)
        out.write(data)


_NEW_FILES = "crm_new_attachment_files"


def _forget_on_commit(session: Any) -> None:
    session.info.pop(_NEW_FILES, None)


def _remove_on_rollback(session: Any) -> None:
    """The rows were rolled back: the files filed for them in this transaction go too (no orphans)."""
    for path in session.info.pop(_NEW_FILES, []):
        with contextlib.suppress(FileNotFoundError):
            Path(path).unlink()


def _track(session: AsyncSession, path: Path) -> None:
    sync = session.sync_session
    if _NEW_FILES not in sync.info:
        if not event.contains(sync, "after_rollback", _remove_on_rollback):
            event.listen(sync, "after_rollback", _remove_on_rollback)
            event.listen(sync, "after_commit", _forget_on_commit)
        sync.info[_NEW_FILES] = []
    sync.info[_NEW_FILES].append(str(path))


class FileStore:
    def __init__(self, root: Path) -> None:
        self.root = root
        self._swept_at: float = 0.0

    def sweep_incoming(self, now: float | None = None) -> int:
        """Remove staged files older than INCOMING_KEPT (cancelled entries, unanswered photos)."""
        now = time.time() if now is None else now
        self._swept_at = now
        removed = 0
        for path in (self.root / "incoming").glob("*"):
            with contextlib.suppress(FileNotFoundError):
                if now - path.stat().st_mtime > INCOMING_KEPT.total_seconds():
                    path.unlink()
                    removed += 1
        return removed

    def stage(self, data: bytes, info: FileInfo, telegram_file_id: str | None = None) -> dict[str, Any]:
        """Keep the bytes under incoming/<sha256><ext>; returns a JSON-able reference for the flow state."""
        ext = check(info)
        if len(data) > MAX_BYTES:
            raise Invalid("file.too_big", size_mb=f"{len(data) / 1024 / 1024:.1f}", limit_mb=10)
        if time.time() - self._swept_at > SWEEP_EVERY.total_seconds():
            self.sweep_incoming()
        digest = hashlib.sha256(data).hexdigest()
        private_dir(self.root)
        incoming = private_dir(self.root / "incoming")
        path = incoming / f"{digest}{ext}"
        if path.exists():
            path.touch()  # sent again: keep it as long as from now
        else:
            tmp = path.with_suffix(path.suffix + ".part")
            _write_private(tmp, data)
            os.replace(tmp, path)  # atomic: a crash never leaves half a file under the final name
        return {
            "path": str(path),
            "sha256": digest,
            "size": len(data),
            "ext": ext,
            "kind": ALLOWED[ext] if info.kind == "document" else info.kind,
            "name": info.name,
            "mime": info.mime,
            "file_id": telegram_file_id,
        }

    def staged(self, token: str) -> Path | None:
        """A file staged a moment ago, by the first 16 hex digits of its checksum (from a button)."""
        if len(token) != 16 or not all(ch in "0123456789abcdef" for ch in token):
            return None
        matches = sorted((self.root / "incoming").glob(f"{token}*"))
        return matches[0] if matches else None

    async def attach(
        self,
        session: AsyncSession,
        staged: dict[str, Any],
        customer: Customer,
        user_id: int,
        day: dt.date,
        followup_id: int | None = None,
    ) -> Attachment:
        """File a staged upload under its customer and record it; a failure leaves no file and no row.

        The bytes go to a hidden temporary name, the row is inserted and flushed, and only then is
        the file moved to its final name (reserved first, so two saves never take the same one).
        If the transaction is rolled back later, an after-rollback hook removes the file again.
        """
        source = Path(staged["path"])
        if not source.exists():  # swept after days of waiting, or removed by hand: ask for it again
            raise Invalid("file.lost")
        private_dir(self.root)
        folder = private_dir(self.root / customer.number)
        base = f"{customer.number}_{staged['kind']}_{day:%Y%m%d}"
        target = _reserve(folder, base, staged["ext"])
        tmp = folder / f".{target.name}.{uuid.uuid4().hex}.part"
        try:
            _write_private(tmp, source.read_bytes())
            attachment = await self._record(session, staged, customer, user_id, followup_id, target)
            os.replace(tmp, target)
        except BaseException:
            for leftover in (tmp, target):
                with contextlib.suppress(FileNotFoundError):
                    leftover.unlink()
            raise
        _track(session, target)
        return attachment

    @staticmethod
    async def _record(
        session: AsyncSession,
        staged: dict[str, Any],
        customer: Customer,
        user_id: int,
        followup_id: int | None,
        target: Path,
    ) -> Attachment:
        attachment = Attachment(
            customer_id=customer.id,
            followup_id=followup_id,
            kind=staged["kind"],
            file_name=target.name,
            original_name=clean_name(staged.get("name"), 200),
            mime=clean_mime(staged.get("mime")),
            size=int(staged["size"]),
            sha256=staged["sha256"],
            path=str(target),
            telegram_file_id=staged.get("file_id"),
            created_by=user_id,
        )
        session.add(attachment)
        await session.flush()
        return attachment


async def attachments_of(session: AsyncSession, customer_id: int) -> list[Attachment]:
    rows = await session.execute(
        select(Attachment).where(Attachment.customer_id == customer_id).order_by(Attachment.id)
    )
    return list(rows.scalars().all())
