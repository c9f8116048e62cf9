"""A registered person talking to the assistant, for tests that need no Telegram."""

from __future__ import annotations

from typing import Any

from bot.router import Incoming, Result, Router
from flows.engine import Input, Reply


class Person:
    """One Telegram user talking to the assistant; keeps the last screen and numbers updates."""

    update_id = 0

    def __init__(self, assistant: Router, telegram_id: int, lang: str = "zh-hans") -> None:
        self.assistant = assistant
        self.id = telegram_id
        self.lang = lang
        self.last: Result | None = None

    async def _go(self, *, payload: bytes | None = None, **kw: object) -> Result:
        Person.update_id += 1
        inc = Incoming(
            chat_id=self.id, telegram_id=self.id, language_code=self.lang, update_id=Person.update_id, **kw
        )  # type: ignore[arg-type]

        async def fetch(file: dict[str, Any]) -> bytes:
            assert payload is not None, "the assistant downloaded a file nobody sent"
            return payload

        self.last = await self.assistant.handle(inc, fetch)
        return self.last

    async def send_file(self, data: bytes, kind: str, name: str | None, mime: str | None) -> Result:
        """A photo, document or voice note as Telegram announces it (size and name), then its bytes."""
        file = {
            "type": kind,
            "name": name,
            "size": len(data),
            "mime": mime,
            "file_id": f"f{Person.update_id + 1}",
        }
        return await self._go(payload=data, input=Input(kind="file", file=file))

    async def command(self, name: str, args: str = "") -> Result:
        return await self._go(command=name, args=args)

    async def say(self, text: str) -> Result:
        return await self._go(input=Input(kind="text", text=text))

    async def tap(self, label: str) -> Result:
        assert self.last is not None
        found = [b.data for r in self.last.replies for row in r.buttons for b in row if label in b.label]
        assert found, f"no button {label!r} in {self.text}"
        return await self._go(callback=found[0])

    async def press(self, label: str, replies: list[Reply] | None = None) -> Result:
        """Tap a button by label on the given messages (an earlier one, e.g. a reminder), else the last."""
        shown = replies if replies is not None else (self.last.replies if self.last else [])
        found = [b.data for r in shown for row in r.buttons for b in row if label in b.label]
        assert found, f"no button {label!r}"
        return await self._go(callback=found[0])

    async def tap_any(self, *labels: str) -> Result:
        """Tap the first of these buttons that is on screen."""
        for label in labels:
            if any(label in x for x in self.labels):
                return await self.tap(label)
        raise AssertionError(f"none of {labels} in {self.labels}")

    async def skip_to_summary_with(self, question: str, answer: str) -> None:
        """Skip or defer everything (answering `question` with the button `answer`) until the summary."""
        for _ in range(30):
            if "请核对" in self.text:
                return
            if question in self.text:
                await self.tap(answer)
            else:
                await self.tap_any("跳过", "稍后补充", "不是同一个客户")
        raise AssertionError(f"no summary: {self.text}")

    async def data(self, data: str) -> Result:
        return await self._go(callback=data)

    @property
    def labels(self) -> list[str]:
        return [b.label for r in (self.last.replies if self.last else []) for row in r.buttons for b in row]

    @property
    def text(self) -> str:
        return "\n".join(r.text for r in self.last.replies) if self.last else ""
