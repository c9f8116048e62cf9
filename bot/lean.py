"""Imports the running bot never uses, refused before anything can make them.

Two libraries import optional parts at start-up whenever those happen to be installed, each under
`except ImportError`. A `None` in `sys.modules` makes such an import fail at once (the documented
way to block one), so the library takes its fallback and the process saves the memory:

- httpx imports its command-line tool, and with it rich, click and pygments (~5 MiB), when they are
  installed (the dev tools bring them here);
- python-telegram-bot's Updater imports its tornado webhook server (~3 MiB) when the webhooks extra
  is installed; a polling bot never starts it (`crm-bot run --webhook` keeps it).

Called by `crm-bot run` only, before telegram or httpx is imported; once a module is imported this
changes nothing.
"""

from __future__ import annotations

import sys

CLI_OF_HTTPX = "httpx._main"
WEBHOOK_SERVER = "telegram.ext._utils.webhookhandler"


def skip_unused(webhook: bool) -> None:
    blocked = [CLI_OF_HTTPX] if webhook else [CLI_OF_HTTPX, WEBHOOK_SERVER]
    for name in blocked:
        sys.modules.setdefault(name, None)  # type: ignore[arg-type]  # None: the documented block
