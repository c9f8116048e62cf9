"""The Telegram front end: updates become `Incoming`, replies become messages. No business rules here."""

from __future__ import annotations

import contextlib
import logging
from typing import Any

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
    AIORateLimiter,
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
from bot.router import Router
from bot.runtime import Runtime, open_runtime
from bot.senders import TelegramSender
from bot.telegram_progress import ProgressMessage
from bot.turn import Incoming
from flows.engine import Input, Reply
from flows.errors import Invalid
from flows.i18n import t
from flows.limits import split_text
from storage.files import MAX_BYTES

log = logging.getLogger(__name__)


class TelegramFrontend:
    def __init__(self, router: Router) -> None:
        self.router = router
        self.location_keyboard: set[int] = set()  # chats showing the share-location keyboard

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
        with contextlib.suppress(TelegramError):  # an expired query id must not stop the press
            await query.answer()
        await self._handle(update, Incoming(**self._who(update), callback=query.data or ""), query)

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

    async def _handle(self, update: Update, inc: Incoming, query: CallbackQuery | None = None) -> None:
        progress = self._progress(inc.chat_id)
        result = await self.router.handle(inc, self._fetch, progress)
        await progress.settle()  # the "⏳" message is done before the replies come under it
        last = await self.render(inc.chat_id, result.replies, query, result.lang)
        if result.confirm:  # the question was sent: an answer to it may now be applied
            await self.router.delivered(inc.chat_id, inc.telegram_id, last)

    # ------------------------------------------------------------ out

    async def render(
        self, chat_id: int, replies: list[Reply], query: CallbackQuery | None, lang: str
    ) -> int | None:
        """Send the replies; returns the id of the last message shown (the open question, if any)."""
        bot_message = query.message if query is not None and isinstance(query.message, Message) else None
        last: int | None = None
        for i, reply in enumerate(replies):
            markup = _markup(reply)
            text = split_text(reply.text)[0] or "…"  # the router has already split long replies
            if reply.edit and bot_message is not None and i == 0:
                try:
                    await bot_message.edit_text(text, reply_markup=markup)
                    last = bot_message.message_id
                    continue
                except BadRequest as exc:
                    if "not modified" in str(exc):
                        last = bot_message.message_id
                        continue
            elif bot_message is not None and i == 0 and query is not None:
                await self._close_pressed(bot_message, query)
            last = await self._send(chat_id, text, markup, bot_message, lang, reply.request_location)
            for file in reply.files:
                await self._send_file(chat_id, file)
        return last

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
        if request_location:
            keyboard = ReplyKeyboardMarkup(
                [[KeyboardButton(t(lang, "tg.share_location"), request_location=True)]],
                resize_keyboard=True,
                one_time_keyboard=True,
            )
            await bot.send_message(chat_id, t(lang, "tg.location_hint"), reply_markup=keyboard)
            self.location_keyboard.add(chat_id)
        elif chat_id in self.location_keyboard:
            self.location_keyboard.discard(chat_id)
            await bot.send_message(chat_id, "✓", reply_markup=ReplyKeyboardRemove())
        return int(sent.message_id)

    async def _send_file(self, chat_id: int, file: dict[str, Any]) -> None:
        """Send a stored attachment back: by Telegram's file id when we have one, else from disk."""
        bot = self._bot
        if file.get("file_id"):
            kind = str(file.get("kind"))
            try:
                if kind == "photo":
                    await bot.send_photo(chat_id, file["file_id"])
                elif kind == "voice":
                    await bot.send_voice(chat_id, file["file_id"])
                else:
                    await bot.send_document(chat_id, file["file_id"])
                return
            except BadRequest:
                pass  # an id from another bot token: upload the bytes instead
        with open(file["path"], "rb") as handle:
            await bot.send_document(chat_id, InputFile(handle, filename=file["name"]))

    async def _close_pressed(self, message: Message, query: CallbackQuery) -> None:
        """The answered question keeps its text and shows the choice, without live buttons."""
        label = None
        markup = message.reply_markup
        if markup is not None:
            for row in markup.inline_keyboard:
                for button in row:
                    if button.callback_data == query.data:
                        label = button.text
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
        return ProgressMessage(self._bot, chat_id)

    def bind(self, app: Application[Any, Any, Any, Any, Any, Any]) -> None:
        self._bot = app.bot

    async def on_error(self, update: object, context: ContextTypes.DEFAULT_TYPE) -> None:
        # the exception type only: its text may quote what the person typed
        log.error("update failed: %s", type(context.error).__name__, exc_info=context.error)
        if (
            isinstance(update, Update)
            and update.effective_chat is not None
            and not isinstance(context.error, Forbidden)
        ):
            user = update.effective_user
            lang = "zh" if user is None or (user.language_code or "zh").startswith("zh") else "en"
            with contextlib.suppress(TelegramError):
                await context.bot.send_message(update.effective_chat.id, t(lang, "tg.error"))


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
    for lang in ("zh", "en"):
        commands = [BotCommand(name, t(lang, key)[:256]) for name, key in menu]
        await app.bot.set_my_commands(
            commands, scope=BotCommandScopeDefault(), language_code=None if lang == "zh" else lang
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
    """What a starting bot does before taking updates: warm the date parser, publish the command menu."""
    from flows.dates import warm_up

    warm_up()
    await set_commands(app)
    log.info("bot started")


def start_reminders(app: Application[Any, Any, Any, Any, Any, Any]) -> Reminders:
    """Start the loop on PTB's event loop, sending through the Application's rate-limited bot."""
    runtime = app.bot_data["runtime"]
    settings = runtime.settings
    service = Reminders(
        runtime.sessions,
        TelegramSender(app.bot),
        clock=runtime.router.clock,
        default_tz=settings.timezone,
        poll_seconds=settings.reminder_poll_seconds,
        lease_seconds=settings.reminder_lease_seconds,
        digest_time=settings.digest_time,
        scan_seconds=settings.reminder_scan_minutes * 60,
        birthday_ahead_days=settings.birthday_ahead_days,
    )
    service.start()
    app.bot_data["reminders"] = service
    log.info("reminders: polling every %.0fs", settings.reminder_poll_seconds)
    return service


async def stop_reminders(app: Application[Any, Any, Any, Any, Any, Any]) -> None:
    service = app.bot_data.pop("reminders", None)
    if isinstance(service, Reminders):
        await service.stop()


def build_application(
    settings: Settings, runtime: Runtime | None = None, **builder_options: Any
) -> Application[Any, Any, Any, Any, Any, Any]:
    """The real Application. Given a runtime (tests), handlers are attached now; else post_init opens one."""
    assert settings.bot_token is not None
    owned: list[Runtime] = []

    async def post_init(app: Application[Any, Any, Any, Any, Any, Any]) -> None:
        if "frontend" not in app.bot_data:
            rt = await open_runtime(settings)  # on PTB's own event loop
            owned.append(rt)
            attach(app, rt)
        await on_start(app)
        start_reminders(app)  # due reminders, digests: a tick now, then every poll
        start_data_tasks(app)  # the daily backup (CRM_BACKUP_*), the monthly quality reports

    async def post_stop(app: Application[Any, Any, Any, Any, Any, Any]) -> None:
        await stop_reminders(app)  # while the bot can still send
        await stop_data_tasks(app)

    async def post_shutdown(app: Application[Any, Any, Any, Any, Any, Any]) -> None:
        await stop_reminders(app)
        await stop_data_tasks(app)
        for rt in owned:
            await rt.close()

    builder: ApplicationBuilder[Any, Any, Any, Any, Any, Any] = (
        Application.builder()
        .token(settings.bot_token.get_secret_value())
        .base_url(settings.bot_api_url)
        .base_file_url(settings.bot_file_url)
        .rate_limiter(
            # 5 per 0.2 s: 25/s with bursts of 5, so no one-second window goes past Telegram's ~30/s
            # (the default 30 per 1 s lets a burst of 30 follow a full second, drawing 429s)
            AIORateLimiter(overall_max_rate=5, overall_time_period=0.2, max_retries=3)
        )
        .post_init(post_init)
        .post_stop(post_stop)
        .post_shutdown(post_shutdown)
    )
    for name, value in builder_options.items():
        builder = getattr(builder, name)(value)
    app = builder.build()
    if runtime is not None:
        attach(app, runtime)
    return app


def run_polling(settings: Settings) -> int:
    app = build_application(settings)
    app.run_polling(allowed_updates=Update.ALL_TYPES, drop_pending_updates=False)
    return 0
