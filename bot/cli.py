"""`crm-bot`: run the bot, chat in the terminal, manage users, read a date, print the flows."""

from __future__ import annotations

import argparse
import asyncio
import fcntl
import logging
import sys
from collections.abc import Coroutine
from typing import IO, TYPE_CHECKING, Any

if TYPE_CHECKING:  # the runtime, config and storage load in ~2 s; `crm-bot when` needs none of them
    from bot.config import Settings

log = logging.getLogger("crm-bot")


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="crm-bot", description="Conversational CRM entry assistant")
    sub = parser.add_subparsers(dest="command", required=True)
    sub.add_parser("run", help="Telegram bot (long polling) if CRM_BOT_TOKEN is set, else the terminal chat")
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
    try:
        from bot import when_cmd

        when_cmd.add_parser(sub)
    except ImportError:  # pragma: no cover - the module ships with the package
        pass
    return parser


async def _users(args: argparse.Namespace, settings: Settings) -> int:
    from bot.runtime import open_runtime
    from storage import repo, team, transfers
    from storage.tx import transaction

    runtime = await open_runtime(settings)
    try:
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
    finally:
        await runtime.close()


async def _customers(args: argparse.Namespace, settings: Settings) -> int:
    from bot.runtime import open_runtime
    from storage import transfers
    from storage.tx import transaction

    runtime = await open_runtime(settings)
    try:
        async with transaction(runtime.sessions) as session:
            try:
                moved = await transfers.transfer_all(session, args.from_id, args.to_id, args.reason)
            except ValueError as exc:
                print(f"error: {exc}", file=sys.stderr)
                return 2
        print(f"{moved} customers transferred from {args.from_id} to {args.to_id}")
        return 0
    finally:
        await runtime.close()


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
    from bot.runtime import open_runtime
    from bot.terminal import TERMINAL_ID, run_terminal
    from storage import repo
    from storage.tx import transaction

    runtime = await open_runtime(settings)
    try:
        async with transaction(runtime.sessions) as session:
            if await repo.user_by_telegram(session, TERMINAL_ID) is None:
                await repo.add_user(session, TERMINAL_ID, "terminal", "admin")
        await run_terminal(runtime.router)
        return 0
    finally:
        await runtime.close()


async def _migrate(settings: Settings) -> int:
    from bot.runtime import open_runtime

    runtime = await open_runtime(settings)
    await runtime.close()
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


def main(argv: list[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    if args.command == "when":  # before any settings or runtime: a date check starts in a blink
        from bot import when_cmd

        return when_cmd.run(args)
    from bot.config import Settings
    from bot.runtime import setup_logging

    settings = Settings()
    if args.command == "flows":
        from bot.flowdoc import print_flows

        print_flows()
        return 0
    if args.command == "users":
        return _with_database(settings, _users(args, settings))
    if args.command == "customers":
        return _with_database(settings, _customers(args, settings))
    if args.command == "migrate":
        return _with_database(settings, _migrate(settings))
    if args.command == "chat" or (args.command == "run" and settings.bot_token is None):
        if args.command == "run":
            print("CRM_BOT_TOKEN is not set: starting the terminal chat (type /quit to leave).")
        return _with_database(settings, _chat(settings))
    setup_logging(settings.bot_token.get_secret_value() if settings.bot_token else None)
    from bot.telegram_app import run_polling

    return run_polling(settings)


if __name__ == "__main__":
    sys.exit(main())
