"""`crm-bot`: run the bot, chat in the terminal, manage users, read a date, print the flows."""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import fcntl
import gc
import logging
import sys
from collections.abc import AsyncIterator, Coroutine
from pathlib import Path
from typing import IO, TYPE_CHECKING, Any

if TYPE_CHECKING:  # the runtime, config and storage load in ~2 s; `crm-bot when` needs none of them
    from bot.config import Settings
    from bot.runtime import Runtime

log = logging.getLogger("crm-bot")


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="crm-bot", description="Conversational CRM entry assistant")
    sub = parser.add_subparsers(dest="command", required=True)
    run = sub.add_parser(
        "run", help="Telegram bot (long polling) if CRM_BOT_TOKEN is set, else the terminal chat"
    )
    run.add_argument(
        "--webhook",
        action="store_true",
        help="take updates on a webhook (CRM_WEBHOOK_URL, _LISTEN, _PORT, _SECRET) instead of polling;"
        " any number of replicas may share one PostgreSQL",
    )
    sub.add_parser("chat", help="the same flows in this terminal, as a local admin")
    sub.add_parser("migrate", help="bring the database schema up to date")
    sub.add_parser("flows", help="print every flow's questions, choices and conditions")
    users = sub.add_parser("users", help="manage who may use the bot").add_subparsers(
        dest="users_command", required=True
    )
    add = users.add_parser("add", help="register (or update) a user")
    add.add_argument("telegram_id", type=int)
    add.add_argument("--name", required=True)
    add.add_argument("--role", choices=["sales", "manager", "admin"], default="sales")
    add.add_argument("--manager", type=int, help="Telegram id of the user's manager")
    users.add_parser("list", help="list users")
    deactivate = users.add_parser("deactivate", help="take access away and hand customers to the manager")
    deactivate.add_argument("telegram_id", type=int)
    deactivate.add_argument("--to", type=int, help="Telegram id of who inherits the customers")
    regions = users.add_parser("regions", help="the provinces or cities a manager looks after")
    regions.add_argument("telegram_id", type=int)
    regions.add_argument("regions", nargs="*", help="e.g. 浙江省 上海市 (none: clear them)")
    customers = sub.add_parser("customers", help="manage customers").add_subparsers(
        dest="customers_command", required=True
    )
    transfer = customers.add_parser("transfer", help="move all of one person's customers to another")
    transfer.add_argument("--from", dest="from_id", type=int, required=True, help="Telegram id")
    transfer.add_argument("--to", dest="to_id", type=int, required=True, help="Telegram id")
    transfer.add_argument("--reason", default="transfer", help="kept in every customer's history")
    backup = sub.add_parser("backup", help="back up the database and attachments into one archive")
    backup.add_argument("--to", type=Path, help="archive folder (default: CRM_BACKUP_DIR, else data/backups)")
    restore = sub.add_parser("restore", help="restore an archive into an empty database and data folder")
    restore.add_argument("archive", type=Path)
    restore.add_argument(
        "--erasures", type=Path, help="the erasure journal (default: erasures.jsonl beside the archive)"
    )
    export = sub.add_parser("export", help="the customers, contacts and follow-ups a user may see, as XLSX")
    export.add_argument("--as", dest="as_id", type=int, required=True, help="Telegram id of the user")
    export.add_argument("--to", type=Path, required=True, help="the .xlsx file to write")
    imp = sub.add_parser("import", help="import customers or contacts from a CSV or XLSX file")
    imp.add_argument("file", type=Path)
    imp.add_argument("--as", dest="as_id", type=int, required=True, help="Telegram id of the importing user")
    imp.add_argument("--owner", type=int, help="Telegram id of the new customers' owner (default: --as)")
    imp.add_argument("--dry-run", action="store_true", help="check and report only; nothing is saved")
    imp.add_argument("--kind", choices=["customers", "contacts"], help="default: told from the headers")
    imp.add_argument(
        "--map", action="append", default=[], metavar="HEADER=FIELD", help="place a header it does not know"
    )
    stats = sub.add_parser("stats", help="quality numbers of a user (a manager: and their team)")
    stats.add_argument("--as", dest="as_id", type=int, required=True, help="Telegram id of the user")
    stats.add_argument("--month", help="YYYY-MM (default: this week)")
    try:
        from bot import when_cmd

        when_cmd.add_parser(sub)
    except ImportError:  # pragma: no cover - the module ships with the package
        pass
    return parser


@contextlib.asynccontextmanager
async def _opened(settings: Settings) -> AsyncIterator[Runtime]:
    """The database of one command, migrated if a revision is due, closed however the command ends."""
    from bot.runtime import open_runtime

    runtime = await open_runtime(settings)
    try:
        yield runtime
    finally:
        await runtime.close()


async def _users(args: argparse.Namespace, settings: Settings) -> int:
    from storage import repo, team, transfers
    from storage.tx import transaction

    async with _opened(settings) as runtime:
        async with transaction(runtime.sessions) as session:
            if args.users_command == "add":
                try:
                    user = await repo.add_user(session, args.telegram_id, args.name, args.role, args.manager)
                except ValueError as exc:
                    print(f"error: {exc}", file=sys.stderr)
                    return 2
                print(f"registered {user.telegram_id} as {user.role}")
            elif args.users_command == "list":
                users = await repo.list_users(session)
                by_id = {u.id: u for u in users}
                for u in users:
                    manager = by_id[u.manager_id].telegram_id if u.manager_id in by_id else "-"
                    state = "active" if u.active else "deactivated"
                    print(f"{u.telegram_id}\t{u.name}\t{u.role}\tmanager={manager}\t{state}")
            elif args.users_command == "deactivate":
                try:
                    if args.to is not None:
                        user, moved = await transfers.deactivate_to(session, args.telegram_id, args.to)
                    else:
                        user, moved = await repo.deactivate_user(session, args.telegram_id)
                except ValueError as exc:
                    print(f"error: {exc}", file=sys.stderr)
                    return 2
                print(f"deactivated {user.telegram_id}; {moved} customers reassigned")
            elif args.users_command == "regions":
                try:
                    user = await team.set_regions(session, args.telegram_id, args.regions)
                except ValueError as exc:
                    print(f"error: {exc}", file=sys.stderr)
                    return 2
                shown = " ".join(await team.regions_of(session, user.id)) or "none"
                print(f"{user.telegram_id} regions: {shown}")
        return 0


async def _customers(args: argparse.Namespace, settings: Settings) -> int:
    from storage import transfers
    from storage.tx import transaction

    async with _opened(settings) as runtime:
        async with transaction(runtime.sessions) as session:
            try:
                moved = await transfers.transfer_all(session, args.from_id, args.to_id, args.reason)
            except ValueError as exc:
                print(f"error: {exc}", file=sys.stderr)
                return 2
        print(f"{moved} customers transferred from {args.from_id} to {args.to_id}")
        return 0


def _terminal_lock(settings: Settings) -> IO[bytes] | None:
    """Hold DATA_DIR/terminal.lock while the chat runs: the terminal is one identity, one chat at a time.

    An OS lock (flock), so it is released however the process ends; None if another chat holds it.
    """
    from storage.db import private_dir

    folder = private_dir(settings.data_dir)
    handle = (folder / "terminal.lock").open("ab")
    try:
        fcntl.flock(handle.fileno(), fcntl.LOCK_EX | fcntl.LOCK_NB)
    except BlockingIOError:
        handle.close()
        return None
    return handle


async def _chat(settings: Settings) -> int:
    try:
        lock = _terminal_lock(settings)
    except OSError:  # a read-only data folder: opening the database below says so clearly
        lock = None
    else:
        if lock is None:
            print(
                f"error: a terminal chat is already open on {settings.data_dir} (one at a time)",
                file=sys.stderr,
            )
            return 2
    try:
        return await _chat_locked(settings)
    finally:
        if lock is not None:
            lock.close()


async def _chat_locked(settings: Settings) -> int:
    from bot.terminal import TERMINAL_ID, run_terminal
    from storage import repo
    from storage.tx import transaction

    async with _opened(settings) as runtime:
        async with transaction(runtime.sessions) as session:
            if await repo.user_by_telegram(session, TERMINAL_ID) is None:
                await repo.add_user(session, TERMINAL_ID, "terminal", "admin")
        await run_terminal(runtime.router)
        return 0


async def _migrate(settings: Settings) -> int:

    async with _opened(settings):
        pass  # opening checks the revision and migrates when one is due
    print("database is up to date")
    return 0


def _with_database(settings: Settings, run: Coroutine[Any, Any, int]) -> int:
    """Run a command that opens the database; a read-only or unreachable one is one clear line, exit 2."""
    from storage.db import describe_url, is_read_only
    from storage.errors import DatabaseUnavailable

    try:
        return asyncio.run(run)
    except DatabaseUnavailable:
        print(f"error: the database at {describe_url(settings.db_url())} did not answer", file=sys.stderr)
    except Exception as exc:
        if not is_read_only(exc):
            raise
        where = describe_url(settings.db_url())
        print(f"error: cannot write the database at {where} (read-only?)", file=sys.stderr)
    return 2


async def _backup(args: argparse.Namespace, settings: Settings) -> int:
    """A backup while the bot may be running: the copy is consistent, the bot is not disturbed."""
    from storage import backup as store
    from storage.db import make_engine
    from storage.services import system_clock

    engine = make_engine(settings.db_url())
    try:
        made = await store.backup(
            engine,
            settings.data_dir / "attachments",
            args.to or settings.backups(),
            system_clock(),
            daily=settings.backup_keep_daily,
            monthly=settings.backup_keep_monthly,
        )
    except store.BackupError as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 2
    finally:
        await engine.dispose()
    print(f"backup written: {made.path} ({made.size / 1024 / 1024:.1f} MB, {made.files} attachments)")
    for old in made.removed:
        print(f"removed by retention: {old.name}")
    return 0


async def _restore(args: argparse.Namespace, settings: Settings) -> int:
    """Into the empty database CRM_DATABASE_URL names and the empty data folder CRM_DATA_DIR names."""
    from storage import backup as store

    try:
        journal = args.erasures or args.archive.parent / "erasures.jsonl"
        done = await store.restore(
            args.archive, settings.db_url(), settings.data_dir / "attachments", journal
        )
    except store.BackupError as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 2
    print(f"restored the backup of {done.created_at}: the database and {done.files} attachments")
    if done.erasures:
        print(f"{done.erasures} privacy erasures made after this backup were applied again")
    print("every checksum matched; start the bot as usual")
    return 0


async def _as_user(session: Any, telegram_id: int) -> Any:
    from storage import repo

    user = await repo.user_by_telegram(session, telegram_id)
    if user is None or not user.active:
        print(f"error: no active user with Telegram id {telegram_id}", file=sys.stderr)
        return None
    return user


async def _export(args: argparse.Namespace, settings: Settings) -> int:
    """The same workbook as /export, logged in the audit log the same way."""
    from zoneinfo import ZoneInfo

    from flows.exports import workbook
    from flows.i18n import lang_of
    from storage import export as store
    from storage.sheets import write_xlsx
    from storage.tx import transaction

    async with _opened(settings) as runtime:
        async with transaction(runtime.sessions) as session:
            user = await _as_user(session, args.as_id)
            if user is None:
                return 2
            if user.role not in ("manager", "admin"):
                print("error: only managers and admins may export", file=sys.stderr)
                return 2
            rows = await store.visible_rows(session, user)
            scope = "all" if user.role == "admin" else "team"
            await store.record_export(session, user, scope, "all visible", rows.counts(), args.to.name)
            lang = lang_of(user.lang or "zh")
            sheets = workbook(rows.by_sheet(), lang, ZoneInfo(user.tz or settings.timezone))
        await asyncio.to_thread(write_xlsx, args.to, sheets)
        counts = rows.counts()
        print(
            f"wrote {args.to}: {counts['customers']} customers, {counts['contacts']} contacts, "
            f"{counts['followups']} follow-ups (logged in the audit log)"
        )
        return 0


async def _import(args: argparse.Namespace, settings: Settings) -> int:
    """The chat's import on the command line: the same matching, checks, report and all-or-nothing."""
    from flows.i18n import lang_of, t
    from flows.imports import IGNORE, Mapping_, check_rows, fields_of, match_headers
    from storage import imports as store
    from storage.services import system_clock
    from storage.tx import transaction

    try:
        table = await asyncio.to_thread(store.load_table, args.file)
    except ValueError as exc:
        print(f"error: cannot read {args.file}: {exc}", file=sys.stderr)
        return 2
    if len(table) < 2:
        print("error: no data rows (the first row must be the headers)", file=sys.stderr)
        return 2
    mapping = match_headers(table[0], args.kind)
    for spec in args.map:
        header, _, name = spec.partition("=")
        if header in table[0] and (name in fields_of(mapping.kind) or name == IGNORE):
            col = table[0].index(header)
            mapping.columns[col] = name
            mapping.unknown = [c for c in mapping.unknown if c != col]
    for col in mapping.unknown:
        print(f"column {col + 1} {table[0][col]!r}: unknown header, ignored (--map '{table[0][col]}=FIELD'; "
              f"fields: {', '.join(fields_of(mapping.kind))})")  # fmt: skip
    async with _opened(settings) as runtime:
        async with transaction(runtime.sessions) as session:
            user = await _as_user(session, args.as_id)
            if user is None:
                return 2
            if user.role not in ("manager", "admin"):
                print("error: only managers and admins may import", file=sys.stderr)
                return 2
            owner = user if args.owner is None else await _as_user(session, args.owner)
            if owner is None:
                return 2
            lang = lang_of(user.lang or "zh")
            keys = await store.book_keys(session, user, mapping.kind)
            progress = _Progress(len(table) - 1)
            checked = await asyncio.to_thread(
                check_rows, table, Mapping_(mapping.kind, mapping.columns), keys, lang, progress.checked
            )
            progress.done()
            report = args.file.with_name(f"{args.file.stem}-errors.xlsx")
            if await asyncio.to_thread(store.write_report, report, table, checked, lang):
                print(f"rows not imported, with the reason: {report}")
            print(f"{mapping.kind}: {len(checked.rows)} rows, {len(checked.new)} new, "
                  f"{len(checked.errors)} with errors, {len(checked.duplicates)} duplicates")  # fmt: skip
            if args.dry_run:
                print("dry run: nothing saved")
                return 0
            rows = store.payload(checked)
            now = system_clock()
            if mapping.kind == "contacts":
                count = await store.insert_contacts(session, user, rows, now, progress.inserted)
            else:
                try:
                    count = await store.insert_customers(session, owner, user, rows, now, progress.inserted)
                except store.TooMany as exc:
                    print(f"error: {t('en', 'data.import.too_many', left=exc.left)}", file=sys.stderr)
                    return 2
            await store.record_import(session, user, mapping.kind, {"rows": count, "checked": len(rows)})
            progress.done()
        print(f"imported {count} {mapping.kind}")
        return 0


class _Progress:
    """How far a long import is, on stderr (stdout keeps the report): one line rewritten in place
    on a terminal, a line per step when the output goes to a file or a pipe. Files of fewer than
    PROGRESS_FROM rows take a moment and say nothing."""

    PROGRESS_FROM = 2_000

    def __init__(self, rows: int) -> None:
        self.shown = rows >= self.PROGRESS_FROM
        self.live = sys.stderr.isatty()
        self.pending = False

    def _say(self, line: str) -> None:
        if self.shown:
            sys.stderr.write(f"\r{line}\033[K" if self.live else f"{line}\n")
            sys.stderr.flush()
            self.pending = self.live

    def checked(self, done: int, total: int) -> None:  # from check_rows' worker thread: writes only
        self._say(f"checking rows: {done:,} of {total:,}")

    async def inserted(self, done: int, total: int) -> None:
        self._say(f"importing: {done:,} of {total:,}")

    def done(self) -> None:
        """End the rewritten line, so what is printed next starts on its own."""
        if self.pending:
            sys.stderr.write("\n")
            self.pending = False


async def _stats(args: argparse.Namespace, settings: Settings) -> int:
    from zoneinfo import ZoneInfo

    from bot.quality import report
    from flows import stats as rules
    from flows.i18n import lang_of
    from storage.services import system_clock
    from storage.tx import transaction

    async with _opened(settings) as runtime:
        async with transaction(runtime.sessions) as session:
            user = await _as_user(session, args.as_id)
            if user is None:
                return 2
            tz = ZoneInfo(user.tz or settings.timezone)
            now = system_clock()
            period = rules.period(args.month or "", now.astimezone(tz).date())
            if period is None:
                print("error: --month takes YYYY-MM, e.g. 2026-11", file=sys.stderr)
                return 2
            print((await report(session, user, period, lang_of(user.lang or "zh"), tz, now)).text)
        return 0


def main(argv: list[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    if args.command == "when":  # before any settings or runtime: a date check starts in a blink
        from bot import when_cmd

        return when_cmd.run(args)
    # The start-up imports make ~170,000 objects that live as long as the process, and almost no
    # garbage: the collector's passes over them cost ~15% of the imports' time. Off while importing
    # (the bot then freezes them: see bot.telegram_app.run_polling).
    gc.disable()
    try:
        from bot.config import Settings, SettingsError
        from bot.runtime import setup_logging

        try:
            settings = Settings.load()
        except SettingsError as exc:  # say which variable, not a traceback
            print(f"crm-bot: {exc}", file=sys.stderr)
            return 2
        if args.command == "run" and settings.bot_token is not None:
            from bot.lean import skip_unused

            skip_unused(webhook=getattr(args, "webhook", False))
            import bot.telegram_app  # noqa: F401  (the bot's own imports, with the collector off too)
    finally:
        gc.enable()
    if args.command == "flows":
        from bot.flowdoc import print_flows

        print_flows()
        return 0
    if args.command == "users":
        return _with_database(settings, _users(args, settings))
    if args.command == "customers":
        return _with_database(settings, _customers(args, settings))
    if args.command in ("stats", "import", "export", "backup", "restore"):
        run = {"stats": _stats, "import": _import, "export": _export, "backup": _backup, "restore": _restore}
        return _with_database(settings, run[args.command](args, settings))
    if args.command == "migrate":
        return _with_database(settings, _migrate(settings))
    if args.command == "chat" or (args.command == "run" and settings.bot_token is None):
        if args.command == "run":
            print("CRM_BOT_TOKEN is not set: starting the terminal chat (type /quit to leave).")
        return _with_database(settings, _chat(settings))
    setup_logging(settings.bot_token.get_secret_value() if settings.bot_token else None)
    if getattr(args, "webhook", False):
        from bot.telegram_app import run_webhook

        try:
            return run_webhook(settings)
        except ValueError as exc:  # a setting missing: say which, not a traceback
            print(f"error: {exc}", file=sys.stderr)
            return 2
    from bot.telegram_app import run_polling

    return run_polling(settings)


if __name__ == "__main__":
    sys.exit(main())
