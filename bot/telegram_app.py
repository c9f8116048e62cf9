"""The Telegram front end: updates become `Incoming`, replies become messages. No business rules here."""

from __future__ import annotations

import asyncio
import contextlib
import ctypes
import gc
import logging
import re
from typing import Any
from urllib.parse import urlsplit

import msgspec
from telegram import (
    BotCommand,
    BotCommandScopeDefault,
    CallbackQuery,
    InlineKeyboardButton,
    InlineKeyboardMarkup,
    InputFile,
    KeyboardButton,
    Message,
    ReplyKeyboardMarkup,
    ReplyKeyboardRemove,
    Update,
)
from telegram.error import BadRequest, Forbidden, TelegramError
from telegram.ext import (
    Application,
    ApplicationBuilder,
    CallbackQueryHandler,
    ChatMemberHandler,
    ContextTypes,
    MessageHandler,
    filters,
)

from bot.backups import start_data_tasks, stop_data_tasks
from bot.config import Settings
from bot.delivery import Reminders
from bot.ratelimit import ChatRateLimiter
from bot.router import Router
from bot.runtime import Runtime, open_runtime
from bot.senders import TelegramSender
from bot.telegram_progress import ProgressMessage
from bot.turn import Incoming
from bot.updates import ChatOrderedProcessor
from flows.engine import Input, Reply
from flows.errors import Invalid
from flows.i18n import t
from flows.limits import MAX_TEXT, split_text, utf16_len
from storage.files import MAX_BYTES

log = logging.getLogger(__name__)


class TelegramFrontend:
    def __init__(self, router: Router) -> None:
        self.router = router
        self.location_keyboard: set[int] = set()  # chats showing the share-location keyboard
        self.newest: dict[int, int] = {}  # chat → newest message id seen (see _is_newest)
        self.metrics: Any = None  # bot.metrics.Metrics when /metrics is served

    def register(self, app: Application[Any, Any, Any, Any, Any, Any]) -> None:
        app.add_handler(CallbackQueryHandler(self.on_callback))
        app.add_handler(MessageHandler(filters.UpdateType.MESSAGE & filters.COMMAND, self.on_command))
        app.add_handler(MessageHandler(filters.UpdateType.MESSAGE & ~filters.COMMAND, self.on_message))
        app.add_handler(MessageHandler(filters.UpdateType.EDITED_MESSAGE, self.on_edited))
        app.add_handler(ChatMemberHandler(self.on_membership, ChatMemberHandler.MY_CHAT_MEMBER))
        app.add_error_handler(self.on_error)

    # ------------------------------------------------------------ in

    async def on_command(self, update: Update, context: ContextTypes.DEFAULT_TYPE) -> None:
        message = update.effective_message
        if message is None or message.text is None or update.effective_user is None:
            return
        head, _, args = message.text[1:].partition(" ")
        command = head.split("@", 1)[0].lower()
        await self._handle(update, Incoming(**self._who(update), command=command, args=args))

    async def on_message(self, update: Update, context: ContextTypes.DEFAULT_TYPE) -> None:
        message = update.effective_message
        if message is None or update.effective_user is None:
            return
        inp = self._input(message)
        if inp is None:
            return
        await self._handle(update, Incoming(**self._who(update), input=inp))

    async def on_edited(self, update: Update, context: ContextTypes.DEFAULT_TYPE) -> None:
        """An edited message: the router applies it as a correction of the answer it gave, if any."""
        message = update.edited_message
        if message is None or update.effective_user is None or message.text is None:
            return
        if message.text.startswith("/"):
            return  # an edited command is not run again
        inc = Incoming(**self._who(update), input=Input(kind="text", text=message.text), edited=True)
        await self._handle(update, inc)

    async def on_membership(self, update: Update, context: ContextTypes.DEFAULT_TYPE) -> None:
        """Added to or removed from a chat, or blocked: nothing to answer (a group is told when it writes)."""
        member = update.my_chat_member
        if member is not None:
            log.info(
                "bot membership changed in a %s chat: %s", member.chat.type, member.new_chat_member.status
            )

    async def on_callback(self, update: Update, context: ContextTypes.DEFAULT_TYPE) -> None:
        query = update.callback_query
        if query is None or update.effective_user is None:
            return
        shown = asyncio.Event()  # set once the first reply call is done (see _answer_once_shown)
        answering = asyncio.ensure_future(_answer_once_shown(query, shown))
        try:
            await self._handle(update, Incoming(**self._who(update), callback=query.data or ""), query, shown)
        finally:
            shown.set()
            await answering

    def _who(self, update: Update) -> dict[str, Any]:
        user = update.effective_user
        chat = update.effective_chat
        message = update.effective_message
        assert user is not None
        replied = message.reply_to_message if message is not None else None
        return {
            "chat_id": chat.id if chat else user.id,
            "telegram_id": user.id,
            "first_name": user.first_name or "",
            "language_code": user.language_code,
            "update_id": update.update_id,
            "message_id": message.message_id
            if message is not None and update.callback_query is None
            else None,
            "reply_to": replied.message_id if replied is not None else None,
            "chat_type": chat.type if chat else "private",
            "bot_username": self._username(),
            "confirms": True,
        }

    def _username(self) -> str | None:
        try:
            return str(self._bot.username) if self._bot is not None else None
        except RuntimeError:  # not initialised (getMe not called yet)
            return None

    def _input(self, message: Message) -> Input | None:
        if message.contact is not None:
            c = message.contact
            return Input(kind="contact", phone=c.phone_number, first_name=c.first_name, last_name=c.last_name)
        if message.location is not None:
            return Input(
                kind="location", latitude=message.location.latitude, longitude=message.location.longitude
            )
        if message.text is not None:
            return Input(kind="text", text=message.text)
        # audio and video come as files too: their name or type decides whether they are kept or refused
        attachment = (
            message.document
            or message.voice
            or (message.photo[-1] if message.photo else None)
            or message.audio
            or message.video
            or message.video_note
            or message.animation
        )
        if attachment is not None:
            return Input(
                kind="file",
                file={
                    "file_id": attachment.file_id,
                    "size": attachment.file_size,
                    "name": getattr(attachment, "file_name", None),
                    "mime": getattr(attachment, "mime_type", None)
                    or ("video/mp4" if message.video_note else None),
                    "type": "voice" if message.voice else "photo" if message.photo else "document",
                },
            )
        return None

    async def _fetch(self, file: dict[str, Any]) -> bytes:
        """Download what the person sent, through the Bot API's getFile (and its file base URL)."""
        tg_file = await self._bot.get_file(file["file_id"])
        if tg_file.file_size is not None and tg_file.file_size > MAX_BYTES:  # the message may not have said
            raise Invalid("file.too_big", size_mb=f"{tg_file.file_size / 1024 / 1024:.1f}", limit_mb=10)
        return bytes(await tg_file.download_as_bytearray())

    async def _handle(
        self,
        update: Update,
        inc: Incoming,
        query: CallbackQuery | None = None,
        shown: asyncio.Event | None = None,
    ) -> None:
        if update.message is not None:
            self.note_message(inc.chat_id, update.message.message_id)
        progress = self._progress(inc.chat_id)
        result = await self.router.handle(inc, self._fetch, progress)
        await progress.settle()  # the "⏳" message is done before the replies come under it
        try:
            try:
                last = await self.render(inc.chat_id, result.replies, query, result.lang, shown)
            finally:
                if shown is not None:  # shown or failed: the press's spinner may stop now
                    shown.set()
        except Exception:
            if result.confirm:  # the question did not go out: an answer typed now is not for it
                with contextlib.suppress(Exception):
                    await self.router.undelivered(inc.chat_id, inc.telegram_id, result.seq)
            raise
        if result.confirm:  # the question was sent: an answer to it may now be applied
            await self.router.delivered(inc.chat_id, inc.telegram_id, last, result.seq)

    # ------------------------------------------------------------ out

    async def render(
        self,
        chat_id: int,
        replies: list[Reply],
        query: CallbackQuery | None,
        lang: str,
        shown: asyncio.Event | None = None,
    ) -> int | None:
        """Replies as Bot API calls, in order; returns the id of the last message shown (the open
        question, if any). A button press spends one message call: the pressed question is edited
        into the answer ("→ choice") followed by the next question and its buttons, instead of
        closing it and sending the next one (two calls against the chat's budget). `shown` is set
        once the first reply's call is done."""
        bot_message = query.message if query is not None and isinstance(query.message, Message) else None
        last: int | None = None
        for i, reply in enumerate(replies):
            if i == 1 and shown is not None:
                shown.set()
            markup = _markup(reply)
            text = split_text(reply.text)[0] or "…"  # the router has already split long replies
            if bot_message is not None and i == 0 and query is not None:
                if reply.edit:
                    if await self._edit(bot_message, text, markup):
                        last = bot_message.message_id
                        continue
                elif not reply.files and not reply.request_location and self._is_newest(bot_message):
                    if await self._edit(bot_message, _answered(bot_message, query, text), markup):
                        await self._drop_location_keyboard(chat_id)
                        last = bot_message.message_id
                        continue
                else:
                    await self._close_pressed(bot_message, query)
            last = await self._send(chat_id, text, markup, bot_message, lang, reply.request_location)
            for file in reply.files:
                await self._send_file(chat_id, file)
        return last

    async def _edit(self, message: Message, text: str, markup: InlineKeyboardMarkup | None) -> bool:
        """True when the message now shows text (or already did); False: send a new one instead."""
        try:
            await message.edit_text(text, reply_markup=markup)
        except BadRequest as exc:
            return "not modified" in str(exc)
        return True

    def _is_newest(self, message: Message) -> bool:
        """Editing a question further up would put the next one out of sight: only the newest."""
        newest = self.newest.get(message.chat.id)
        return newest is None or message.message_id >= newest

    def note_message(self, chat_id: int, message_id: int) -> None:
        """The newest message id seen in a chat (ours or theirs), to know which question is last."""
        if message_id > self.newest.get(chat_id, 0):
            if len(self.newest) > 50_000:  # bounded memory: forget the least recently written chats
                for key in list(self.newest)[:10_000]:
                    del self.newest[key]
            self.newest.pop(chat_id, None)
            self.newest[chat_id] = message_id

    async def _drop_location_keyboard(self, chat_id: int) -> None:
        if chat_id in self.location_keyboard:
            self.location_keyboard.discard(chat_id)
            sent = await self._bot.send_message(chat_id, "✓", reply_markup=ReplyKeyboardRemove())
            self.note_message(chat_id, sent.message_id)

    async def _send(
        self,
        chat_id: int,
        text: str,
        markup: InlineKeyboardMarkup | None,
        bot_message: Message | None,
        lang: str,
        request_location: bool,
    ) -> int:
        bot = self._bot
        assert bot is not None
        sent = await bot.send_message(chat_id, text, reply_markup=markup)
        self.note_message(chat_id, sent.message_id)
        if request_location:
            keyboard = ReplyKeyboardMarkup(
                [[KeyboardButton(t(lang, "tg.share_location"), request_location=True)]],
                resize_keyboard=True,
                one_time_keyboard=True,
            )
            hint = await bot.send_message(chat_id, t(lang, "tg.location_hint"), reply_markup=keyboard)
            self.note_message(chat_id, hint.message_id)
            self.location_keyboard.add(chat_id)
        else:
            await self._drop_location_keyboard(chat_id)
        return int(sent.message_id)

    async def _send_file(self, chat_id: int, file: dict[str, Any]) -> None:
        """Send a stored attachment back: by Telegram's file id when we have one, else from disk."""
        bot = self._bot
        if file.get("file_id"):
            kind = str(file.get("kind"))
            try:
                if kind == "photo":
                    sent = await bot.send_photo(chat_id, file["file_id"])
                elif kind == "voice":
                    sent = await bot.send_voice(chat_id, file["file_id"])
                else:
                    sent = await bot.send_document(chat_id, file["file_id"])
                self.note_message(chat_id, sent.message_id)
                return
            except BadRequest:
                pass  # an id from another bot token: upload the bytes instead
        with open(file["path"], "rb") as handle:
            sent = await bot.send_document(chat_id, InputFile(handle, filename=file["name"]))
        self.note_message(chat_id, sent.message_id)

    async def _close_pressed(self, message: Message, query: CallbackQuery) -> None:
        """The answered question keeps its text and shows the choice, without live buttons."""
        label = _pressed_label(message, query)
        try:
            if label and message.text:
                await message.edit_text(split_text(f"{message.text}\n→ {label}")[0], reply_markup=None)
            else:
                await message.edit_reply_markup(reply_markup=None)
        except TelegramError:
            pass  # too old to edit, or already edited: the answer still went through

    _bot: Any = None

    def _progress(self, chat_id: int) -> ProgressMessage:
        """The turn's progress display: one message, sent the first time and edited afterwards."""
        return ProgressMessage(self._bot, chat_id, on_sent=lambda sent: self.note_message(chat_id, sent))

    def bind(self, app: Application[Any, Any, Any, Any, Any, Any]) -> None:
        self._bot = app.bot

    async def on_error(self, update: object, context: ContextTypes.DEFAULT_TYPE) -> None:
        # the exception type only: its text may quote what the person typed
        log.error("update failed: %s", type(context.error).__name__, exc_info=context.error)
        if self.metrics is not None:
            self.metrics.observe_error(update)
        if (
            isinstance(update, Update)
            and update.effective_chat is not None
            and not isinstance(context.error, Forbidden)
        ):
            user = update.effective_user
            lang = "zh" if user is None or (user.language_code or "zh").startswith("zh") else "en"
            with contextlib.suppress(TelegramError):
                await context.bot.send_message(update.effective_chat.id, t(lang, "tg.error"))


ANSWER_AFTER = 0.3  # seconds: a press whose reply takes longer has its spinner stopped anyway


async def _answer_once_shown(query: CallbackQuery, shown: asyncio.Event) -> None:
    """Stop the button's spinner when the press's reply has been shown, or after ANSWER_AFTER.

    Telegram's clients show a progress bar on the pressed button until answerCallbackQuery; it
    has to be called, but nothing depends on it. Sent at once, it went out in the same instant as
    the edit that shows the press's result, and the two requests' work in this process and in
    Telegram's came one before the other: the reply waited ~1.5 ms for the answer. After the reply
    the person sees the result and the bar stop together; a slow step still stops it within
    ANSWER_AFTER, as soon as a person would notice it spinning.
    """
    with contextlib.suppress(TimeoutError):
        await asyncio.wait_for(shown.wait(), ANSWER_AFTER)
    await _answer(query)


async def _answer(query: CallbackQuery) -> None:
    """Stop the button's spinner. Not a message: Telegram does not count it, nor does our limiter."""
    with contextlib.suppress(TelegramError):  # an expired query id must not stop the press
        await query.answer()


_ANSWERED = re.compile(r"\n→ [^\n]*\n\n")


def _pressed_label(message: Message, query: CallbackQuery) -> str | None:
    """The text of the button that was pressed, read off the message's own keyboard."""
    markup = message.reply_markup
    if markup is None:
        return None
    labels = [b.text for row in markup.inline_keyboard for b in row if b.callback_data == query.data]
    return labels[-1] if labels else None


def _answered(message: Message, query: CallbackQuery, following: str) -> str:
    """The pressed question with the choice shown, then what comes next, as one message's text.

    Only the question part of the pressed message is kept (what followed its own last "→" line), so
    a run of button questions does not pile up in one message.
    """
    label = _pressed_label(message, query)
    question = _ANSWERED.split(message.text or "")[-1]
    merged = f"{question}\n→ {label or '✓'}\n\n{following}"
    return merged if utf16_len(merged) <= MAX_TEXT else following


def _markup(reply: Reply) -> InlineKeyboardMarkup | None:
    if not reply.buttons:
        return None
    return InlineKeyboardMarkup(
        [[InlineKeyboardButton(b.label, callback_data=b.data) for b in row] for row in reply.buttons]
    )


async def set_commands(app: Application[Any, Any, Any, Any, Any, Any]) -> None:
    """The command menu, from the registry: the same commands and texts as /help."""
    frontend: TelegramFrontend = app.bot_data["frontend"]
    menu = frontend.router.registry.menu()
    await asyncio.gather(  # the two menus do not wait on each other
        *(
            app.bot.set_my_commands(
                [BotCommand(name, t(lang, key)[:256]) for name, key in menu],
                scope=BotCommandScopeDefault(),
                language_code=None if lang == "zh" else lang,
            )
            for lang in ("zh", "en")
        )
    )


def attach(app: Application[Any, Any, Any, Any, Any, Any], runtime: Runtime) -> TelegramFrontend:
    """Wire the front end's handlers to an Application, once."""
    frontend = TelegramFrontend(runtime.router)
    frontend.register(app)
    frontend.bind(app)
    app.bot_data["frontend"] = frontend
    app.bot_data["runtime"] = runtime
    return frontend


async def on_start(app: Application[Any, Any, Any, Any, Any, Any]) -> None:
    """What a starting bot does (tests call it on a running Application): publish the command menu."""
    await set_commands(app)
    log.info("bot started")


# Start-up work that waits until updates are flowing and the bot has had nothing to do for _QUIET
# seconds (at most _LONGEST): a message waiting since before the start is answered first.
_QUIET = 1.0
_LONGEST = 5.0


async def _quiet(app: Application[Any, Any, Any, Any, Any, Any], processor: ChatOrderedProcessor) -> None:
    """Until no update has been queued or in progress for _QUIET seconds, or _LONGEST have passed."""
    loop = asyncio.get_running_loop()
    start = since = loop.time()
    while loop.time() - start < _LONGEST:
        if processor.running or processor.waiting_chats or app.update_queue.qsize():
            since = loop.time()
        elif loop.time() - since >= _QUIET:
            return
        await asyncio.sleep(0.05)


async def once_polling(
    app: Application[Any, Any, Any, Any, Any, Any], processor: ChatOrderedProcessor
) -> None:
    """What a starting bot does after its first getUpdates, not before it (post_init starts this):
    the command menu at once; when the first updates are answered, the reminder loop's first tick
    (what fell due while down) and the data tasks.

    The date rules are not warmed up here any more: they load with the first date read (~40 ms, once
    a process), where a warm-up would keep ~4.5 MiB of lunar tables in every idle process."""
    while not app.running:  # Application.start() follows the updater's start_polling/start_webhook
        await asyncio.sleep(0.01)
    try:
        await set_commands(app)
    except TelegramError as exc:  # the menu is a convenience: the bot works without it
        log.warning("command menu not published: %s", type(exc).__name__)
    await _quiet(app, processor)
    try:
        start_reminders(app)  # due reminders, digests: a tick now, then every poll
        start_data_tasks(app)  # the daily backup (CRM_BACKUP_*), the monthly quality reports
    except Exception:  # nobody awaits this task: say it here
        log.exception("start-up tasks failed")
        raise
    log.info("bot started")


def start_reminders(app: Application[Any, Any, Any, Any, Any, Any]) -> Reminders:
    """Start the loop on PTB's event loop, sending through the Application's rate-limited bot."""
    runtime = app.bot_data["runtime"]
    settings = runtime.settings
    service = Reminders(
        runtime.sessions,
        TelegramSender(app.bot, sent=app.bot_data["frontend"].note_message),
        clock=runtime.router.clock,
        default_tz=settings.timezone,
        poll_seconds=settings.reminder_poll_seconds,
        lease_seconds=settings.reminder_lease_seconds,
        digest_time=settings.digest_time,
        scan_seconds=settings.reminder_scan_minutes * 60,
        birthday_ahead_days=settings.birthday_ahead_days,
    )
    frontend: TelegramFrontend = app.bot_data["frontend"]
    if frontend.metrics is not None:
        service.on_report = frontend.metrics.observe_reminders
    service.start()
    app.bot_data["reminders"] = service
    log.info("reminders: polling every %.0fs", settings.reminder_poll_seconds)
    return service


async def stop_reminders(app: Application[Any, Any, Any, Any, Any, Any]) -> None:
    service = app.bot_data.pop("reminders", None)
    if isinstance(service, Reminders):
        await service.stop()


def build_application(
    settings: Settings, runtime: Runtime | None = None, *, metrics: Any = None, **builder_options: Any
) -> Application[Any, Any, Any, Any, Any, Any]:
    """The real Application. Given a runtime (tests), handlers are attached now; else post_init opens one.

    metrics (a bot.metrics.Metrics) counts updates, latencies and reminders; with a metrics port in
    the settings, /metrics and /healthz are served on it while the bot runs.
    """
    assert settings.bot_token is not None
    owned: list[Runtime] = []
    servers: list[Any] = []
    starting: list[asyncio.Task[None]] = []

    async def post_init(app: Application[Any, Any, Any, Any, Any, Any]) -> None:
        if "frontend" not in app.bot_data:
            rt = await open_runtime(settings)  # on PTB's own event loop
            owned.append(rt)
            attach(app, rt)
        if metrics is not None:
            await _start_metrics(app, settings, metrics, servers)
        # the rest once polling runs: the first getUpdates waits only for the database
        starting.append(asyncio.get_running_loop().create_task(once_polling(app, processor)))

    async def stop_starting() -> None:
        while starting:
            task = starting.pop()
            task.cancel()
            with contextlib.suppress(Exception, asyncio.CancelledError):  # a failure was logged
                await task

    async def post_stop(app: Application[Any, Any, Any, Any, Any, Any]) -> None:
        await stop_starting()  # before the reminders stop: they must not start afterwards
        await stop_reminders(app)  # while the bot can still send
        await stop_data_tasks(app)

    async def post_shutdown(app: Application[Any, Any, Any, Any, Any, Any]) -> None:
        await stop_starting()
        await stop_reminders(app)
        await stop_data_tasks(app)
        for server in servers:
            server.stop()
        for rt in owned:
            await rt.close()

    observe = metrics.observe_update if metrics is not None else None
    processor = ChatOrderedProcessor(settings.max_concurrent_updates, observe=observe)
    if metrics is not None:
        metrics.in_progress.set_function(lambda: processor.running)
    flood = metrics.flood_waits.inc if metrics is not None else None
    builder: ApplicationBuilder[Any, Any, Any, Any, Any, Any] = (
        Application.builder()
        .token(settings.bot_token.get_secret_value())
        .base_url(settings.bot_api_url)
        .base_file_url(settings.bot_file_url)
        # messages paced per chat and overall (28/s, bursts of 1: no second past Telegram's ~30),
        # interactive before reminders, a 429 pausing only its own chat
        .rate_limiter(ChatRateLimiter(on_flood=flood))
        # different chats at once, one chat's updates in order
        .concurrent_updates(processor)
        .post_init(post_init)
        .post_stop(post_stop)
        .post_shutdown(post_shutdown)
    )
    for name, value in {**_requests(builder_options), **builder_options}.items():
        builder = getattr(builder, name)(value)
    app = builder.build()
    if runtime is not None:
        attach(app, runtime)
    return app


def _requests(given: dict[str, Any]) -> dict[str, Any]:
    """PTB's two HTTP clients (updates, everything else) as PTB would make them, with one TLS context.

    Each httpx client otherwise parses the CA bundle into a context of its own (~1 MiB each); a
    context is safe to share. Left to the caller when it brings its own (tests, benchmarks).
    """
    if {"request", "get_updates_request"} & set(given):
        return {}
    import httpx
    from telegram.request import HTTPXRequest

    tls = {"verify": httpx.create_ssl_context()}
    return {
        "request": HTTPXRequest(connection_pool_size=256, httpx_kwargs=tls),  # PTB's own sizes
        "get_updates_request": HTTPXRequest(connection_pool_size=1, httpx_kwargs=tls),
    }


async def _start_metrics(
    app: Application[Any, Any, Any, Any, Any, Any], settings: Settings, metrics: Any, servers: list[Any]
) -> None:
    from bot.metrics import serve
    from storage.ops import ping, time_statements

    runtime: Runtime = app.bot_data["runtime"]
    frontend: TelegramFrontend = app.bot_data["frontend"]
    frontend.metrics = metrics
    time_statements(runtime.engine, metrics.db_seconds.observe)
    port = metrics_port(settings)
    if port is not None:
        servers.append(await serve(metrics, settings.metrics_listen, port, lambda: ping(runtime.engine)))


def metrics_port(settings: Settings, webhook: bool = False) -> int | None:
    """CRM_METRICS_PORT; in webhook mode the port after the webhook's when it is not set."""
    if settings.metrics_port is not None:
        return settings.metrics_port
    return settings.webhook_port + 1 if webhook else None


def webhook_options(settings: Settings) -> dict[str, Any]:
    """What Updater.start_webhook / Application.run_webhook take, from the CRM_WEBHOOK_* settings."""
    if not settings.webhook_url:
        raise ValueError("CRM_WEBHOOK_URL is not set (the public https URL Telegram posts updates to)")
    if settings.webhook_secret is None or not settings.webhook_secret.get_secret_value():
        raise ValueError("CRM_WEBHOOK_SECRET is not set (every replica checks it on each request)")
    secret = settings.webhook_secret.get_secret_value()
    if not re.fullmatch(r"[A-Za-z0-9_-]{1,256}", secret):
        raise ValueError("CRM_WEBHOOK_SECRET may hold only A-Z, a-z, 0-9, _ and -, at most 256 characters")
    return {
        "listen": settings.webhook_listen,
        "port": settings.webhook_port,
        "url_path": urlsplit(settings.webhook_url).path or "/",
        "webhook_url": settings.webhook_url,
        "secret_token": secret,
        "allowed_updates": Update.ALL_TYPES,
    }


def _freeze() -> None:
    """What start-up made (modules, classes: ~170,000 objects) lives as long as the process: left out
    of every later garbage collection, whose first full pass would take ~0.1 s on the event loop.
    The heap the imports freed goes back to the system (glibc keeps it otherwise: ~2.5 MiB)."""
    gc.freeze()
    with contextlib.suppress(OSError, AttributeError):  # not glibc (musl, macOS): nothing to give back
        ctypes.CDLL("libc.so.6").malloc_trim(0)


def run_polling(settings: Settings) -> int:
    metrics = None
    if settings.metrics_port is not None:
        from bot.metrics import Metrics

        metrics = Metrics()
    app = build_application(settings, metrics=metrics)
    _freeze()
    app.run_polling(allowed_updates=Update.ALL_TYPES, drop_pending_updates=False)
    return 0


def run_webhook(settings: Settings) -> int:
    """Serve Telegram's webhook (PTB's run_webhook, tornado); any number of replicas on one PostgreSQL."""
    from bot.metrics import Metrics

    options = webhook_options(settings)
    if settings.metrics_port is None:
        settings = msgspec.structs.replace(settings, metrics_port=metrics_port(settings, webhook=True))
    app = build_application(settings, metrics=Metrics())
    _freeze()
    app.run_webhook(**options, drop_pending_updates=False)
    return 0
