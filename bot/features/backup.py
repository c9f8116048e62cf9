"""/backup: an admin backs the CRM up now, into the same folder and under the same retention as the
bot's daily backup. The copy (SQLite's backup API or pg_dump, then the attachments) runs after the
transaction has committed, off the event loop."""

from __future__ import annotations

from bot.config import Settings
from bot.feature import Command, Feature, Role
from bot.turn import Incoming, Turn, Work
from flows.engine import Reply
from flows.i18n import t
from storage import backup as store
from storage import repo

ADMINS: frozenset[Role] = frozenset({"admin"})


async def backup_now(turn: Turn, inc: Incoming) -> list[Reply]:
    lang = turn.lang
    settings = Settings.load()
    engine = store.engine_of(turn.tx)
    attachments = turn.files.root
    folder = settings.backup_dir or attachments.parent / "backups"  # data/backups beside data/attachments
    now = turn.clock()
    await repo.audit(turn.tx, turn.user, "backup", "on demand")

    async def run() -> list[Reply]:
        try:
            made = await store.backup(
                engine,
                attachments,
                folder,
                now,
                daily=settings.backup_keep_daily,
                monthly=settings.backup_keep_monthly,
            )
        except store.BackupError as exc:
            return [Reply(t(lang, "data.backup_failed", reason=str(exc)))]
        removed = t(lang, "data.backup_removed", count=len(made.removed)) if made.removed else ""
        return [
            Reply(
                t(
                    lang,
                    "data.backup_done",
                    name=made.path.name,
                    size_mb=f"{made.size / 1024 / 1024:.1f}",
                    files=made.files,
                    removed=removed,
                )
            )
        ]

    turn.defer(Work(run))
    return [Reply(t(lang, "data.backup_started"))]


FEATURE = Feature(
    name="backup",
    commands=(Command("backup", backup_now, help="help.backup", roles=ADMINS),),
)
