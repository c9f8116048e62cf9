"""What the router does when something goes wrong on the way: group chats, strangers, redeliveries,
update ids that restart lower, replies that never arrived, edited answers, forged numbers, long cards."""

from __future__ import annotations

import itertools

import pytest
from sqlalchemy import func, select

from bot.router import Incoming, Result, Router
from flows.engine import Input
from flows.i18n import t
from flows.limits import MAX_CALLBACK_BYTES, MAX_TEXT, utf16_len
from storage import repo
from storage.models import Conversation, Customer, SeenUpdate, User
from tests.conftest import Clock, Database

ANN, STRANGER, GROUP = 1001, 9999, -100123456
_ids = itertools.count(1000)


async def _router(db: Database, clock: Clock) -> Router:
    async with db.sessions.begin() as s:
        await repo.add_user(s, ANN, "Ann", "sales")
    return Router(db.sessions, clock=clock)


def _inc(**kw: object) -> Incoming:
    base: dict[str, object] = {"chat_id": ANN, "telegram_id": ANN, "language_code": "en"}
    if "update_id" not in kw:
        base["update_id"] = next(_ids)
    return Incoming(**(base | kw))  # type: ignore[arg-type]


def _text(result: Result) -> str:
    return "\n".join(r.text for r in result.replies)


def _button(result: Result, label: str) -> str:
    found = [b.data for r in result.replies for row in r.buttons for b in row if label in b.label]
    assert found, f"no {label!r} in {_text(result)}"
    return found[0]


async def test_a_group_chat_gets_one_pointer_to_a_private_chat_and_nothing_else(
    db: Database, clock: Clock
) -> None:
    router = await _router(db, clock)
    first = await router.handle(
        _inc(chat_id=GROUP, chat_type="supergroup", bot_username="crm_bot", command="my")
    )
    assert "https://t.me/crm_bot" in _text(first) and "private" in _text(first)
    again = await router.handle(
        _inc(chat_id=GROUP, chat_type="supergroup", input=Input(kind="text", text="hi"))
    )
    stranger = await router.handle(
        _inc(chat_id=GROUP, telegram_id=STRANGER, chat_type="group", command="start")
    )
    assert again.replies == [] and stranger.replies == []
    async with db.sessions() as s:
        ann = (await s.execute(select(User).where(User.telegram_id == ANN))).scalar_one()
        assert ann.chat_id is None  # the group never becomes where her reminders go
        assert (await s.execute(select(func.count()).select_from(Conversation))).scalar_one() == 0
        assert (await s.execute(select(func.count()).select_from(SeenUpdate))).scalar_one() == 0
    clock.advance(days=1)
    tomorrow = await router.handle(_inc(chat_id=GROUP, chat_type="group", command="my"))
    assert "private" in _text(tomorrow)
    # in private she is served as usual
    private = await router.handle(_inc(command="my"))
    assert "private chat" not in _text(private)


async def test_a_stranger_is_refused_once_a_day(db: Database, clock: Clock) -> None:
    router = await _router(db, clock)
    first = await router.handle(_inc(chat_id=STRANGER, telegram_id=STRANGER, command="start"))
    assert str(STRANGER) in _text(first) and not first.registered
    second = await router.handle(
        _inc(chat_id=STRANGER, telegram_id=STRANGER, input=Input(kind="text", text="?"))
    )
    assert second.replies == [] and not second.registered
    clock.advance(days=1)
    third = await router.handle(_inc(chat_id=STRANGER, telegram_id=STRANGER, command="start"))
    assert str(STRANGER) in _text(third)


async def test_update_ids_that_restart_lower_are_not_taken_for_redeliveries(
    db: Database, clock: Clock
) -> None:
    router = await _router(db, clock)
    assert (await router.handle(_inc(update_id=900_000, command="new_customer"))).replies
    clock.advance(days=8)  # a quiet week: Telegram picks a new, lower start
    reset = await router.handle(_inc(update_id=17, command="cancel"))
    assert "cancel" in _text(reset).lower() or "progress" in _text(reset).lower()
    later = await router.handle(_inc(update_id=18, command="new_customer"))
    assert "What kind of customer" in _text(later)
    # even the very id seen a week ago is new now: only the last days' ids are redeliveries
    same = await router.handle(_inc(update_id=900_000, command="cancel"))
    assert "already received" not in _text(same) and "cancelled" in _text(same).lower()


async def test_a_redelivered_update_shows_the_open_question_instead_of_silence(
    db: Database, clock: Clock
) -> None:
    router = await _router(db, clock)
    start = await router.handle(_inc(command="new_customer"))
    pressed = _inc(callback=_button(start, "Individual"))
    first = await router.handle(pressed)
    assert "real name" in _text(first)
    again = await router.handle(pressed)  # the same update once more: applied once, question shown
    assert "already received" in _text(again) and "real name" in _text(again)
    async with db.sessions() as s:
        row = (await s.execute(select(Conversation))).scalar_one()
        assert row.state["step"] == "name" and row.state["answers"]["kind"] == "individual"


async def test_a_redelivered_save_shows_what_was_saved(db: Database, clock: Clock) -> None:
    router = await _router(db, clock)
    result = await router.handle(_inc(command="new_customer"))
    for _ in range(30):
        text = _text(result)
        if "Please check" in text:
            break
        if "kind of customer" in text:
            result = await router.handle(_inc(callback=_button(result, "Individual")))
        elif "real name" in text:
            result = await router.handle(_inc(input=Input(kind="text", text="Zhang Wei")))
        else:
            labels = [b.label for r in result.replies for row in r.buttons for b in row]
            pick = next(
                x for x in ("Skip", "Later", "Different customer", "Potential") if any(x in y for y in labels)
            )
            result = await router.handle(_inc(callback=_button(result, pick)))
    save = _inc(callback=_button(result, "Save"))
    assert "saved" in _text(await router.handle(save))
    again = await router.handle(save)
    assert "it was saved" in _text(again) and "Zhang Wei" in _text(again)
    async with db.sessions() as s:
        assert (await s.execute(select(func.count()).select_from(Customer))).scalar_one() == 1


async def test_an_answer_to_a_question_that_never_arrived_is_not_applied(db: Database, clock: Clock) -> None:
    router = await _router(db, clock)
    start = await router.handle(_inc(command="new_customer", confirms=True))
    assert start.confirm
    await router.delivered(ANN, ANN, 501)  # the kind question reached her as message 501
    asked = await router.handle(_inc(callback=_button(start, "Individual"), confirms=True))
    assert "real name" in _text(asked)  # ...but suppose this reply was lost on the way (a crash)
    clock.advance(seconds=40)  # she waited for it, then typed what she had in mind
    typed = await router.handle(_inc(input=Input(kind="text", text="Main business: software"), confirms=True))
    assert "not sure my last question reached you" in _text(typed) and "real name" in _text(typed)
    async with db.sessions() as s:
        row = (await s.execute(select(Conversation))).scalar_one()
        assert "name" not in row.state["answers"]
    await router.delivered(ANN, ANN, 503)  # this time it arrived
    named = await router.handle(
        _inc(input=Input(kind="text", text="Zhang Wei"), message_id=12, confirms=True)
    )
    assert "Zhang Wei" not in _text(named) or "real name" not in _text(named)
    async with db.sessions() as s:
        row = (await s.execute(select(Conversation))).scalar_one()
        assert row.state["answers"]["name"] == "Zhang Wei"


async def test_a_reply_to_an_earlier_question_answers_that_question(db: Database, clock: Clock) -> None:
    router = await _router(db, clock)
    start = await router.handle(_inc(command="new_customer", confirms=True))
    await router.delivered(ANN, ANN, 601)
    await router.handle(_inc(callback=_button(start, "Individual"), confirms=True))
    await router.delivered(ANN, ANN, 602)  # "real name?"
    await router.handle(_inc(input=Input(kind="text", text="Zhang Wei"), message_id=20, confirms=True))
    await router.delivered(ANN, ANN, 603)  # the next question
    fixed = await router.handle(
        _inc(input=Input(kind="text", text="Zhang Wen"), reply_to=602, message_id=21, confirms=True)
    )
    assert "Corrected" in _text(fixed)
    async with db.sessions() as s:
        row = (await s.execute(select(Conversation))).scalar_one()
        assert row.state["answers"]["name"] == "Zhang Wen" and row.state["step"] != "name"


async def test_an_edited_answer_corrects_its_field_rechecked(db: Database, clock: Clock) -> None:
    router = await _router(db, clock)
    start = await router.handle(_inc(command="new_customer"))
    await router.handle(_inc(callback=_button(start, "Individual")))
    await router.handle(_inc(input=Input(kind="text", text="Jon Smith"), message_id=31))
    bad = await router.handle(_inc(input=Input(kind="text", text="J"), message_id=31, edited=True))
    assert "not applied" in _text(bad)
    good = await router.handle(_inc(input=Input(kind="text", text="John Smith"), message_id=31, edited=True))
    assert "Corrected" in _text(good) and "John Smith" in _text(good)
    other = await router.handle(_inc(input=Input(kind="text", text="whatever"), message_id=5, edited=True))
    assert "Edits to earlier messages are not applied" in _text(other)
    async with db.sessions() as s:
        row = (await s.execute(select(Conversation))).scalar_one()
        assert row.state["answers"]["name"] == "John Smith"


async def test_forged_numbers_in_button_data_get_nothing(db: Database, clock: Clock) -> None:
    router = await _router(db, clock)
    for data in (
        "g|log|99999999999999999999",
        "g|cust|①",
        "g|edit|²",
        "g|my|99999999999999999999",
        "g|cust|-1",
    ):
        result = await router.handle(_inc(callback=data))
        assert _text(result) == t("en", "bot.not_allowed")


async def test_every_reply_fits_telegrams_limits(db: Database, clock: Clock) -> None:
    router = await _router(db, clock)
    start = await router.handle(_inc(command="new_customer"))
    await router.handle(_inc(callback=_button(start, "Individual")))
    await router.handle(_inc(input=Input(kind="text", text="Zhang Wei")))
    result = await router.handle(_inc(command="help"))
    long_text = "e\u0301" * 3000  # shown as 3,000 characters, 6,000 UTF-16 units
    from flows.engine import Button, Reply
    from flows.limits import fit

    pieces = fit([Reply(long_text, [[Button("ok", "g|x")]])])
    assert len(pieces) == 2 and all(utf16_len(p.text) <= MAX_TEXT for p in pieces)
    assert "".join(p.text for p in pieces) == long_text and pieces[-1].buttons and not pieces[0].buttons
    emoji = "👨‍👩‍👧 " * 1000
    assert all(utf16_len(p.text) <= MAX_TEXT for p in fit([Reply(emoji)]))
    for r in result.replies:
        assert utf16_len(r.text) <= MAX_TEXT
        assert all(len(b.data.encode()) <= MAX_CALLBACK_BYTES for row in r.buttons for b in row)


async def test_a_time_zone_name_too_long_for_the_file_system_is_refused_not_a_crash(
    db: Database, clock: Clock
) -> None:
    router = await _router(db, clock)
    for zone in ("Asia/" + "x" * 300, "../../etc/passwd", "Europe/\x00London", "A" * 5000):
        result = await router.handle(_inc(command="tz", args=zone))
        assert "Unknown time zone" in _text(result)
    async with db.sessions() as s:
        ann = (await s.execute(select(User).where(User.telegram_id == ANN))).scalar_one()
        assert ann.tz is None


async def test_a_database_that_does_not_answer_keeps_the_answers_and_says_try_again(
    db: Database, clock: Clock, monkeypatch: pytest.MonkeyPatch
) -> None:
    router = await _router(db, clock)
    start = await router.handle(_inc(command="new_customer"))
    await router.handle(_inc(callback=_button(start, "Individual")))
    real = repo.save_conversation

    async def stalled(*args: object, **kwargs: object) -> None:
        raise TimeoutError  # as asyncpg's command timeout or a pool timeout would

    monkeypatch.setattr(repo, "save_conversation", stalled)
    busy = await router.handle(_inc(input=Input(kind="text", text="Zhang Wei")))
    assert "did not answer in time" in _text(busy) and "kept" in _text(busy)
    monkeypatch.setattr(repo, "save_conversation", real)
    async with db.sessions() as s:
        row = (await s.execute(select(Conversation))).scalar_one()
        assert row.state["answers"] == {"kind": "individual"} and row.state["step"] == "name"
    again = await router.handle(_inc(input=Input(kind="text", text="Zhang Wei")))
    assert "status" in _text(again).lower()


async def test_a_confirmation_for_an_older_question_leaves_the_newer_one_unconfirmed(
    db: Database, clock: Clock
) -> None:
    router = await _router(db, clock)
    start = await router.handle(_inc(command="new_customer", confirms=True))
    asked = await router.handle(_inc(callback=_button(start, "Individual"), confirms=True))
    await router.delivered(ANN, ANN, 700, start.seq)  # late news of the first question's sending
    clock.advance(seconds=40)
    typed = await router.handle(_inc(input=Input(kind="text", text="Zhang Wei"), confirms=True))
    assert "not sure my last question reached you" in _text(typed)  # "real name?" is not confirmed
    await router.delivered(ANN, ANN, 701, asked.seq)
    named = await router.handle(_inc(input=Input(kind="text", text="Zhang Wei"), confirms=True))
    assert "not sure" not in _text(named)


async def test_a_failed_send_is_shown_again_at_once_and_an_answer_typed_ahead_is_applied(
    db: Database, clock: Clock
) -> None:
    router = await _router(db, clock)
    start = await router.handle(_inc(command="new_customer", confirms=True))
    await router.delivered(ANN, ANN, 801, start.seq)
    asked = await router.handle(_inc(callback=_button(start, "Individual"), confirms=True))
    # typed ahead, a second later, while "real name?" is still on its way: applied, in order
    ahead = await router.handle(_inc(input=Input(kind="text", text="Zhang Wei"), confirms=True))
    assert "not sure" not in _text(ahead)
    async with db.sessions() as s:
        row = (await s.execute(select(Conversation))).scalar_one()
        assert row.state["answers"]["name"] == "Zhang Wei"
    await router.undelivered(ANN, ANN, ahead.seq)  # the front end could not send the next question
    typed = await router.handle(_inc(input=Input(kind="text", text="13812345678"), confirms=True))
    assert "not sure my last question reached you" in _text(typed)
    assert asked.seq is not None and ahead.seq is not None and ahead.seq > asked.seq


async def test_expired_update_ids_are_swept_now_and_then_not_kept_for_ever(
    db: Database, clock: Clock
) -> None:
    router = await _router(db, clock)
    for update_id in range(640_001, 640_010):  # not multiples of 64: no sweep on these
        await router.handle(_inc(update_id=update_id, command="help"))
    clock.advance(days=4)
    await router.handle(_inc(update_id=640_064, command="help"))  # one in 64 sweeps its chat
    async with db.sessions() as s:
        kept = (await s.execute(select(SeenUpdate.update_id))).scalars().all()
    assert kept == [640_064]


@pytest.mark.parametrize("db", [pytest.param("postgres", marks=pytest.mark.postgres)], indirect=True)
async def test_a_pooled_connection_the_server_closed_costs_no_step(db: Database, clock: Clock) -> None:
    """No pre-ping: the step whose pooled connection had been closed by the server (a restart, an idle
    timeout) runs again on a new one, once, instead of telling the person the database is busy."""
    from sqlalchemy import text

    from storage.db import make_engine
    from tests.conftest import PG_URL

    router = await _router(db, clock)
    start = await router.handle(_inc(command="new_customer"))
    async with db.engine.connect() as conn:  # the pool's connection, returned to it afterwards
        pid = (await conn.execute(text("SELECT pg_backend_pid()"))).scalar_one()
    admin = make_engine(PG_URL, isolation_level="AUTOCOMMIT")
    try:
        async with admin.connect() as other:
            await other.execute(text("SELECT pg_terminate_backend(:pid)"), {"pid": pid})
    finally:
        await admin.dispose()
    pressed = await router.handle(_inc(callback=_button(start, "Individual")))
    assert "real name" in _text(pressed)
    assert t("en", "bot.busy") not in _text(pressed)


async def test_a_stored_conversation_that_is_not_one_is_dropped_and_the_person_can_start_again(
    db: Database, clock: Clock
) -> None:
    router = await _router(db, clock)
    await router.handle(_inc(command="new_customer"))
    async with db.sessions.begin() as s:  # hand-edited, or written by a version that never existed
        row = (await s.execute(select(Conversation))).scalar_one()
        row.state = {"flow": 12, "phase": "nowhere"}
    resumed = await router.handle(_inc(command="continue"))
    assert "Nothing is in progress" in _text(resumed)  # an answer, not a crash
    again = await router.handle(_inc(command="new_customer"))
    assert any(b.label.startswith("Individual") for r in again.replies for row in r.buttons for b in row)
    async with db.sessions() as s:
        assert (await s.execute(select(Conversation))).scalar_one().state["flow"] == "customer"
