"""The terminal chat: the same assistant as in Telegram, typed at a prompt, as a local admin.

Buttons are shown numbered: type the number to press one. `/contact NAME PHONE`,
`/location LAT LON`, `/photo PATH` and `/file PATH` stand in for what a phone would share.
"""

from __future__ import annotations

import asyncio
import sys
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from bot.router import Router
from bot.turn import Incoming, Progress
from flows.engine import Button, Input, Reply
from flows.normalize import typed_number

TERMINAL_ID = -1  # a Telegram id no real account has: the terminal's own admin user
PROGRESS_EVERY = 1.0  # seconds between two printed progress lines


async def local_fetch(file: dict[str, Any]) -> bytes:
    """The terminal's 'download': the file is already on this machine."""
    return await asyncio.to_thread(Path(str(file["path"])).read_bytes)


@dataclass
class TerminalChat:
    router: Router
    telegram_id: int = TERMINAL_ID
    language_code: str = "zh"
    buttons: list[Button] = field(default_factory=list)
    progress: Progress | None = None  # run_terminal prints "⏳" lines; tests collect or ignore them

    async def feed(self, line: str) -> list[str]:
        """One typed line in, the lines to print out."""
        line = line.strip()
        inc = self._incoming(line)
        if inc is None:
            return []
        result = await self.router.handle(inc, local_fetch, self.progress)
        return self.render(result.replies)

    def _incoming(self, line: str) -> Incoming | None:
        number = typed_number(line)
        if number is not None and self.buttons and 1 <= number <= len(self.buttons):
            return self._make(callback=self.buttons[number - 1].data)
        if line.startswith("/contact "):
            parts = line.split()
            name, phone = " ".join(parts[1:-1]), parts[-1]
            return self._make(input=Input(kind="contact", first_name=name, phone=phone))
        if line.startswith(("/file ", "/photo ")):
            path = Path(line.split(" ", 1)[1].strip()).expanduser()
            if not path.is_file():
                return None
            kind = (
                "photo"
                if line.startswith("/photo ")
                else "voice"
                if path.suffix in (".ogg", ".oga")
                else "document"
            )
            file = {
                "type": kind,
                "name": path.name,
                "size": path.stat().st_size,
                "path": str(path),
                "mime": None,
            }
            return self._make(input=Input(kind="file", file=file))
        if line.startswith("/location "):
            try:
                lat, lon = (float(x) for x in line.split()[1:3])
            except ValueError:
                return None
            return self._make(input=Input(kind="location", latitude=lat, longitude=lon))
        if line.startswith("/"):
            command, _, args = line[1:].partition(" ")
            return self._make(command=command.lower(), args=args)
        return self._make(input=Input(kind="text", text=line))

    def _make(self, **kw: Any) -> Incoming:
        return Incoming(
            chat_id=self.telegram_id, telegram_id=self.telegram_id, language_code=self.language_code, **kw
        )

    def render(self, replies: list[Reply]) -> list[str]:
        out: list[str] = []
        numbered: list[Button] = []
        for reply in replies:
            out.append(reply.text)
            for row in reply.buttons:
                cells = []
                for button in row:
                    numbered.append(button)
                    cells.append(f"[{len(numbered)}] {button.label}")
                out.append("   ".join(cells))
            out.extend(f"  📎 {f['name']}: {f['path']}" for f in reply.files)
            if reply.request_location:
                out.append("(/location LAT LON)")
            out.append("")
        if replies:
            self.buttons = numbered
        return out


def printed_progress(every: float = PROGRESS_EVERY) -> Progress:
    """Progress as lines on the terminal, at most one a second (a terminal cannot edit a line it has
    scrolled past, and a line every 500 rows would bury the preview)."""
    last = -every

    async def show(text: str) -> None:
        nonlocal last
        now = time.monotonic()
        if now - last >= every:
            last = now
            print(text, flush=True)

    return show


async def run_terminal(router: Router) -> None:
    chat = TerminalChat(router, progress=printed_progress())
    loop = asyncio.get_running_loop()
    for line in await chat.feed("/start"):
        print(line)
    while True:
        print("> ", end="", flush=True)
        raw = await loop.run_in_executor(None, sys.stdin.readline)
        if not raw:
            print()
            return
        if raw.strip() in ("/quit", "/exit"):
            return
        for line in await chat.feed(raw):
            print(line)
