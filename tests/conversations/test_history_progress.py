"""/history, /progress and /export through the emulator: paging, a session's sets, a forged
callback with someone else's session refused, three PNG charts and the records, the plate
calculator with good and bad input, and two documents whose content parses."""

from __future__ import annotations

import csv
import datetime as dt
import io
import json
import uuid
from decimal import Decimal

import pytest
from sqlalchemy import select

from bot.emulator.driver import BotMessage, EmulatedUser
from bot.handlers.history import HistorySession
from domain.models.exercise import Exercise
from domain.models.training_log import LoggedSet, TrainingSession, TrainingSessionSource
from domain.services.settings import set_user_setting
from tests.conversations.conftest import Harness

PNG = b"\x89PNG\r\n\x1a\n"


@pytest.fixture
async def harness(scripted_harness: Harness) -> Harness:
    return scripted_harness


async def log_sessions(
    harness: Harness, user_id: uuid.UUID, count: int, *, start: dt.datetime | None = None
) -> list[uuid.UUID]:
    """``count`` sessions a day apart (the newest yesterday): squat 5 × (100 + day) and bench
    5 × 80, soreness 0..9."""
    start = start or dt.datetime.now(dt.UTC).replace(microsecond=0) - dt.timedelta(days=count)
    ids: list[uuid.UUID] = []
    async with harness.session_factory() as session, session.begin():
        squat = await session.scalar(select(Exercise.id).where(Exercise.code == "back_squat"))
        bench = await session.scalar(
            select(Exercise.id).where(Exercise.code == "barbell_bench_press")
        )
        assert squat is not None
        assert bench is not None
        for day in range(count):
            began = start + dt.timedelta(days=day)
            training = TrainingSession(
                user_id=user_id,
                started_at=began,
                finished_at=began + dt.timedelta(hours=1),
                soreness=day % 10,
                notes='solid, "fast" day' if day == 0 else None,
                source=TrainingSessionSource.FREE_TEXT,
            )
            session.add(training)
            await session.flush()
            for index, (exercise, load) in enumerate(
                [(squat, Decimal(100 + day)), (bench, Decimal(80))]
            ):
                session.add(
                    LoggedSet(
                        session_id=training.id,
                        user_id=user_id,
                        exercise_id=exercise,
                        performed_at=began + dt.timedelta(minutes=5 * index),
                        set_index=index,
                        reps=5,
                        load_kg=load,
                    )
                )
            ids.append(training.id)
    return ids


async def newcomer(harness: Harness, name: str) -> tuple[EmulatedUser, uuid.UUID]:
    """A person who talked to the bot once (so their row exists) and has an empty log."""
    person = harness.user(name)
    replies = await person.send("/history")
    assert "You have not logged any training yet" in replies[-1].text
    assert "/today" in replies[-1].text
    assert "/log" in replies[-1].text
    return person, await harness.user_id(person)


def stored_file(harness: Harness, message: BotMessage) -> bytes:
    assert message.file_id is not None
    record = harness.emulator.file(message.file_id)
    assert record is not None
    assert record.data is not None
    return record.data


# --------------------------------------------------------------------------------------------
# /history
# --------------------------------------------------------------------------------------------


async def test_history_pages_and_shows_a_session(harness: Harness) -> None:
    amy, amy_id = await newcomer(harness, "amy")
    await log_sessions(harness, amy_id, 12)

    first = (await amy.send("/history"))[-1]
    assert "Your training history — page 1" in first.text
    assert "Back Squat, Barbell Bench Press" in first.text
    assert "2 sets · 955 kg" in first.text  # 5 × 111 + 5 × 80 on the newest
    labels = first.labels()
    assert sum(label[0].isdigit() for label in labels) == 10
    assert "Older ▶" in labels
    assert "◀ Newer" not in labels

    second = (await amy.tap("Older ▶"))[-1]
    assert second.edited
    assert "page 2" in second.text
    assert [label.split(".")[0] for label in second.labels() if label[0].isdigit()] == ["11", "12"]
    assert "◀ Newer" in second.labels()
    assert "Older ▶" not in second.labels()

    detail = (await amy.tap(2))[-1]  # session 12: the oldest, day 0
    assert "Back Squat" in detail.text
    assert "1. 5 × 100 kg" in detail.text
    assert "Barbell Bench Press" in detail.text
    assert "5 × 80 kg" in detail.text
    assert "Soreness: 0/10" in detail.text
    assert 'Notes: solid, "fast" day' in detail.text

    back = (await amy.tap("⬅️ Back to the list"))[-1]
    assert "page 2" in back.text


async def test_history_in_pounds(harness: Harness) -> None:
    lee, lee_id = await newcomer(harness, "lee")
    await log_sessions(harness, lee_id, 1)
    async with harness.session_factory() as session, session.begin():
        await set_user_setting(session, lee_id, "weight_unit", "lb")
    await lee.send("/history")
    detail = (await lee.tap(1))[-1]
    assert "5 × 220.5 lb" in detail.text  # 100 kg
    assert "5 × 176.4 lb" in detail.text  # 80 kg


async def test_forged_session_callback_is_refused(harness: Harness) -> None:
    ann, ann_id = await newcomer(harness, "ann")
    bob, bob_id = await newcomer(harness, "bob")
    await log_sessions(harness, ann_id, 1)
    bobs = await log_sessions(harness, bob_id, 1)

    screen = (await ann.send("/history"))[-1]
    forged = HistorySession(session=bobs[0].hex, page=0).pack()
    replies = await ann.press_data(forged, message=screen)
    assert replies == []  # nothing of Bob's was shown, the screen was not touched
    answer = ann.callback_answers[-1]
    assert answer.show_alert
    assert answer.text == "I could not find that session in your log."

    replies = await ann.press_data("hs:not-a-uuid:0", message=screen)
    assert replies == []
    assert ann.callback_answers[-1].text == "I could not find that session in your log."

    # Bob still reads his own.
    await bob.send("/history")
    mine = (await bob.tap(1))[-1]
    assert "5 × 100 kg" in mine.text


async def test_history_by_exercise(harness: Harness) -> None:
    cat, cat_id = await newcomer(harness, "cat")
    await log_sessions(harness, cat_id, 7)
    await cat.send("/history")
    picker = (await cat.tap("🏋 By exercise"))[-1]
    assert picker.labels()[:2] == ["Barbell Bench Press", "Back Squat"]
    squat = (await cat.tap("Back Squat"))[-1]
    assert "Back Squat: your last sessions" in squat.text
    # The last 5 of 7 sessions, newest (106 kg) first.
    assert squat.text.count("5 × ") == 5
    assert squat.text.index("5 × 106 kg") < squat.text.index("5 × 102 kg")
    assert "5 × 101 kg" not in squat.text
    assert "e1RM" in squat.text


# --------------------------------------------------------------------------------------------
# /progress
# --------------------------------------------------------------------------------------------


async def test_progress_sends_three_charts_and_records(harness: Harness) -> None:
    dan = harness.user("dan")
    replies = await dan.send("/progress")
    assert "You have not logged any training yet" in replies[-1].text
    dan_id = await harness.user_id(dan)
    await log_sessions(harness, dan_id, 20)

    actions_before = len(harness.emulator.calls_to("sendChatAction"))
    replies = await dan.send("/progress", timeout=30)
    photos = [reply for reply in replies if reply.kind == "photo"]
    assert len(photos) == 3
    for photo in photos:
        assert stored_file(harness, photo).startswith(PNG)
    actions = harness.emulator.calls_to("sendChatAction")[actions_before:]
    assert any(call.get("action") == "upload_photo" for call in actions)

    records = replies[-1]
    assert records.kind == "text"
    assert "Your personal records" in records.text
    assert "Back Squat" in records.text
    assert "heaviest 119 kg" in records.text  # 100 + 19 on the last day
    assert "🏋 Plate calculator" in records.labels()


async def test_plate_calculator(harness: Harness) -> None:
    eve, eve_id = await newcomer(harness, "eve")
    await log_sessions(harness, eve_id, 2)
    await eve.send("/progress", timeout=30)

    prompt = (await eve.tap("🏋 Plate calculator"))[-1]
    assert "Send the load you want on the bar, in kg" in prompt.text

    refused = (await eve.send("heavy"))[-1]
    assert "Please send a load as a number, for example 100." in refused.text
    refused = (await eve.send("15"))[-1]
    assert "lighter than the bar (20 kg)" in refused.text
    refused = (await eve.send("5000"))[-1]
    assert "at most 1000 kg" in refused.text

    answer = (await eve.send("100"))[-1]
    assert "100 kg on a 20 kg bar" in answer.text
    assert "• 25 kg × 1" in answer.text
    assert "• 15 kg × 1" in answer.text
    assert "cannot be loaded exactly" not in answer.text

    # Done: plain text is no longer read as a load.
    assert "Each side" not in (await eve.send("60"))[-1].text

    await eve.tap("🏋 Another load")
    inexact = (await eve.send("101,5"))[-1]
    assert "101.5 kg cannot be loaded exactly" in inexact.text
    assert "Closest: 100 kg (below) or 102.5 kg (above)" in inexact.text

    await eve.tap("🏋 Another load")
    pounds = (await eve.send("225 lb"))[-1]
    assert "225 lb on a 45 lb bar" in pounds.text
    assert "• 45 lb × 2" in pounds.text


# --------------------------------------------------------------------------------------------
# /export
# --------------------------------------------------------------------------------------------


async def test_export_sends_two_documents_that_parse(harness: Harness) -> None:
    fay = harness.user("fay")
    replies = await fay.send("/export")
    assert "You have not logged any training yet" in replies[-1].text
    fay_id = await harness.user_id(fay)
    ids = await log_sessions(harness, fay_id, 3)

    replies = await fay.send("/export")
    documents = [reply for reply in replies if reply.kind == "document"]
    assert [document.file_name for document in documents] == [
        "training-log.csv",
        "training-log.json",
    ]
    assert "3 sessions, 6 sets" in documents[0].text

    rows = list(csv.DictReader(io.StringIO(stored_file(harness, documents[0]).decode("utf-8-sig"))))
    assert len(rows) == 6
    assert [row["exercise"] for row in rows[:2]] == ["Back Squat", "Barbell Bench Press"]
    assert rows[0]["load_kg"] == "100"
    assert rows[0]["session_notes"] == 'solid, "fast" day'
    assert rows[-1]["session_id"] == str(ids[-1])

    document = json.loads(stored_file(harness, documents[1]))
    assert [item["id"] for item in document["sessions"]] == [str(one) for one in ids]
    assert [len(item["sets"]) for item in document["sessions"]] == [2, 2, 2]
