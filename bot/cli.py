"""`crm-bot`: run the bot, chat in the terminal, manage users, read a date, print the flows."""

from __future__ import annotations

import argparse
import asyncio
import logging
import sys

from bot.config import Settings
from bot.runtime import open_runtime, setup_logging
from storage import repo
from storage.tx import transaction

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
    try:
        from bot import when_cmd

        when_cmd.add_parser(sub)
    except ImportError:  # pragma: no cover - the module ships with the package
        pass
    return parser


async def _users(args: argparse.Namespace, settings: Settings) -> int:
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
                    user, moved = await repo.deactivate_user(session, args.telegram_id)
                except ValueError as exc:
                    print(f"error: {exc}", file=sys.stderr)
                    return 2
                print(f"deactivated {user.telegram_id}; {moved} customers reassigned")
        return 0
    finally:
        await runtime.close()


async def _chat(settings: Settings) -> int:
    from bot.terminal import TERMINAL_ID, run_terminal

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
    runtime = await open_runtime(settings)
    await runtime.close()
    print("database is up to date")
    return 0


def main(argv: list[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    settings = Settings()
    if args.command == "when":
        from bot import when_cmd

        return when_cmd.run(args)
    if args.command == "flows":
        from bot.flowdoc import print_flows

        print_flows()
        return 0
    if args.command == "users":
        return asyncio.run(_users(args, settings))
    if args.command == "migrate":
        return asyncio.run(_migrate(settings))
    if args.command == "chat" or (args.command == "run" and settings.bot_token is None):
        if args.command == "run":
            print("CRM_BOT_TOKEN is not set: starting the terminal chat (type /quit to leave).")
        return asyncio.run(_chat(settings))
    setup_logging()
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
