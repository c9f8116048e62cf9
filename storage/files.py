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
import shutil
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from flows.errors import Invalid
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
        incoming = self.root / "incoming"
        incoming.mkdir(parents=True, exist_ok=True)
        path = incoming / f"{digest}{ext}"
        if path.exists():
            path.touch()  # sent again: keep it as long as from now
        else:
            tmp = path.with_suffix(path.suffix + ".part")
            tmp.write_bytes(data)
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
        """File a staged upload under its customer and record it."""
        folder = self.root / customer.number
        folder.mkdir(parents=True, exist_ok=True)
        base = f"{customer.number}_{staged['kind']}_{day:%Y%m%d}"
        target = folder / f"{base}{staged['ext']}"
        n = 2
        while target.exists():
            target = folder / f"{base}_{n}{staged['ext']}"
            n += 1
        source = Path(staged["path"])
        if source.exists():
            shutil.copyfile(source, target)
        else:  # swept after days of waiting, or removed by hand: ask for it again
            raise Invalid("file.lost")
        attachment = Attachment(
            customer_id=customer.id,
            followup_id=followup_id,
            kind=staged["kind"],
            file_name=target.name,
            original_name=(staged.get("name") or "")[:200] or None,
            mime=staged.get("mime"),
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
