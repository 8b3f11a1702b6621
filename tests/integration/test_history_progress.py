"""History, progress series, plate calculator, charts and export against a real PostgreSQL:
sessions inserted across time zones, each series checked value by value, the export parsed
back with the csv and json modules."""

from __future__ import annotations

import csv
import datetime as dt
import io
import itertools
import json
import uuid
from dataclasses import dataclass
from decimal import Decimal
from typing import Any

import pytest
from hypothesis import given
from hypothesis import strategies as st
from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from domain.errors import NotAllowed, NotFound
from domain.models.exercise import Exercise
from domain.models.training_log import LoggedSet, TrainingSession, TrainingSessionSource
from domain.services import charts, export, history, progress
from domain.services.strength import WeightUnit, estimated_1rm
from domain.services.users import TelegramIdentity, resolve_telegram_user

UTC = dt.UTC
NOW = dt.datetime(2026, 6, 17, 12, 0, tzinfo=UTC)  # a Wednesday
_telegram_ids = itertools.count(810_000_001)


@dataclass(frozen=True)
class S:
    """A set to insert: exercise code, reps, load in kg, and extra columns."""

    code: str
    reps: int | None = 5
    load: str | None = "100"
    extra: dict[str, Any] | None = None


async def new_user(session: AsyncSession, name: str = "ann") -> uuid.UUID:
    """A user created as the bot creates one (MEMBER role: may read their own log)."""
    context = await resolve_telegram_user(
        session,
        TelegramIdentity(telegram_user_id=next(_telegram_ids), first_name=name),
        default_locale="en",
        now=NOW,
    )
    return context.user_id


_exercise_ids: dict[str, uuid.UUID] = {}


async def exercise_id(session: AsyncSession, code: str) -> uuid.UUID:
    if code not in _exercise_ids:
        found = await session.scalar(select(Exercise.id).where(Exercise.code == code))
        assert found is not None, code
        _exercise_ids[code] = found
    return _exercise_ids[code]


async def add_session(
    session: AsyncSession,
    user_id: uuid.UUID,
    started_at: dt.datetime,
    sets: list[S],
    *,
    soreness: int | None = None,
    notes: str | None = None,
) -> uuid.UUID:
    training = TrainingSession(
        user_id=user_id,
        started_at=started_at,
        finished_at=started_at + dt.timedelta(hours=1),
        soreness=soreness,
        notes=notes,
        source=TrainingSessionSource.FREE_TEXT,
    )
    session.add(training)
    await session.flush()
    for index, one in enumerate(sets):
        session.add(
            LoggedSet(
                session_id=training.id,
                user_id=user_id,
                exercise_id=await exercise_id(session, one.code),
                performed_at=started_at + dt.timedelta(minutes=2 * index),
                set_index=index,
                reps=one.reps,
                load_kg=None if one.load is None else Decimal(one.load),
                **(one.extra or {}),
            )
        )
    await session.flush()
    return training.id


# --------------------------------------------------------------------------------------------
# History
# --------------------------------------------------------------------------------------------


async def test_session_page_pages_newest_first_and_only_own(session: AsyncSession) -> None:
    ann, bob = await new_user(session, "ann"), await new_user(session, "bob")
    start = dt.datetime(2026, 1, 1, 18, tzinfo=UTC)
    ids = [
        await add_session(
            session,
            ann,
            start + dt.timedelta(days=day),
            [
                S("barbell_bench_press"),
                S("back_squat", 3, "140"),
                S("barbell_bench_press", 8, "80"),
            ],
        )
        for day in range(23)
    ]
    await add_session(session, bob, start + dt.timedelta(days=100), [S("back_squat")])
    await add_session(session, ann, start - dt.timedelta(days=1), [])  # a session with no sets

    first = await history.session_page(session, ann, page=0)
    assert [row.id for row in first.sessions] == ids[::-1][:10]
    assert first.has_next
    assert not first.has_previous
    row = first.sessions[0]
    assert row.set_count == 3
    assert row.volume_kg == Decimal(5 * 100 + 3 * 140 + 8 * 80)
    assert row.exercises == ["Barbell Bench Press", "Back Squat"]  # order of first set

    third = await history.session_page(session, ann, page=2)
    assert [row.id for row in third.sessions[:3]] == ids[::-1][20:23]
    assert len(third.sessions) == 4
    assert not third.has_next
    assert third.has_previous
    empty = third.sessions[-1]
    assert (empty.set_count, empty.volume_kg, empty.exercises) == (0, Decimal(0), [])

    french = await history.session_page(session, ann, page=0, locale="fr")
    assert french.sessions[0].exercises[0] == "Développé couché à la barre"
    assert (await history.session_page(session, bob)).sessions[0].set_count == 1


async def test_session_detail_groups_sets_and_refuses_others(session: AsyncSession) -> None:
    ann, bob = await new_user(session, "ann"), await new_user(session, "bob")
    own = await add_session(
        session,
        ann,
        dt.datetime(2026, 5, 1, 9, tzinfo=UTC),
        [
            S("back_squat", 5, "60", {"is_warmup": True}),
            S("barbell_bench_press", 5, "90"),
            S("back_squat", 5, "120", {"rpe": Decimal("8.5")}),
        ],
        soreness=4,
        notes="felt good",
    )
    theirs = await add_session(session, bob, dt.datetime(2026, 5, 1, 9, tzinfo=UTC), [S("plank")])

    detail = await history.session_detail(session, ann, own)
    assert [group.name for group in detail.exercises] == ["Back Squat", "Barbell Bench Press"]
    squat = detail.exercises[0].sets
    assert [(line.reps, line.load_kg, line.is_warmup) for line in squat] == [
        (5, Decimal("60.00"), True),
        (5, Decimal("120.00"), False),
    ]
    assert squat[1].rpe == Decimal("8.5")
    assert squat[0].e1rm_kg is None  # warm-ups give no estimate
    assert (detail.soreness, detail.notes) == (4, "felt good")

    with pytest.raises((NotAllowed, NotFound)):
        await history.session_detail(session, ann, theirs)
    with pytest.raises((NotAllowed, NotFound)):
        await history.session_detail(session, ann, uuid.uuid4())


async def test_exercise_history_last_sessions_of_one_exercise(session: AsyncSession) -> None:
    ann, bob = await new_user(session, "ann"), await new_user(session, "bob")
    start = dt.datetime(2026, 3, 1, 18, tzinfo=UTC)
    for week in range(7):
        await add_session(
            session,
            ann,
            start + dt.timedelta(weeks=week),
            [
                S("back_squat", 5, str(100 + 5 * week)),
                S("plank", None, None, {"duration_seconds": 60}),
                S("back_squat", 3, str(110 + 5 * week)),
            ],
        )
    await add_session(session, bob, start + dt.timedelta(weeks=10), [S("back_squat", 1, "300")])
    squat = await exercise_id(session, "back_squat")

    found = await history.exercise_history(session, ann, squat)
    assert found.name == "Back Squat"
    assert len(found.sessions) == 5
    newest = found.sessions[0]
    assert newest.performed_at == start + dt.timedelta(weeks=6)
    assert [(line.reps, line.load_kg) for line in newest.sets] == [
        (5, Decimal("130.00")),
        (3, Decimal("140.00")),
    ]
    assert newest.best_e1rm_kg == max(
        estimated_1rm(Decimal(130), 5), estimated_1rm(Decimal(140), 3)
    )
    assert [past.performed_at for past in found.sessions] == [
        start + dt.timedelta(weeks=week) for week in range(6, 1, -1)
    ]

    never = await history.exercise_history(session, ann, await exercise_id(session, "hip_thrust"))
    assert (never.name, never.sessions) == (None, [])

    recent = await history.recent_exercises(session, ann)
    assert [choice.name for choice in recent] == ["Back Squat", "Plank"]


# --------------------------------------------------------------------------------------------
# Progress series
# --------------------------------------------------------------------------------------------


async def test_e1rm_trend_per_local_day_and_main_lifts(session: AsyncSession) -> None:
    ann = await new_user(session)
    late = dt.datetime(2026, 6, 10, 23, 30, tzinfo=UTC)  # 11 June in Auckland, 10 June in LA
    await add_session(
        session,
        ann,
        late,
        [
            S("back_squat", 5, "100"),
            S("back_squat", 1, "130"),
            S("back_squat", 20, "60"),  # too many reps: no estimate
            S("back_squat", 1, "200", {"is_warmup": True}),  # warm-ups never count
            S("barbell_curl", 8, "40"),
        ],
    )
    await add_session(
        session, ann, late - dt.timedelta(days=3), [S("barbell_bench_press", 5, "80")]
    )
    await add_session(session, ann, late - dt.timedelta(days=400), [S("back_squat", 1, "500")])

    auckland = await progress.e1rm_trends(session, ann, timezone="Pacific/Auckland", now=NOW)
    # One session each (ties in id order); the curl is no compound lift.
    assert sorted(lift.name for lift in auckland) == ["Back Squat", "Barbell Bench Press"]
    squat = next(lift for lift in auckland if lift.name == "Back Squat")
    assert squat.compound
    assert [point.day for point in squat.points] == [dt.date(2026, 6, 11)]
    assert squat.points[0].e1rm_kg == Decimal(130)  # max(e1RM 5×100 ≈ 115.8, single 130)

    los_angeles = await progress.e1rm_trends(session, ann, timezone="America/Los_Angeles", now=NOW)
    la_squat = next(lift for lift in los_angeles if lift.name == "Back Squat")
    assert la_squat.points[0].day == dt.date(2026, 6, 10)

    curls_only = await new_user(session, "cal")
    await add_session(session, curls_only, late, [S("barbell_curl", 8, "40")])
    only = await progress.e1rm_trends(session, curls_only, timezone="UTC", now=NOW, locale="ru")
    assert [lift.name for lift in only] == ["Подъём штанги на бицепс"]
    assert only[0].points[0].e1rm_kg == pytest.approx(estimated_1rm(Decimal(40), 8))


async def test_e1rm_trend_keeps_four_most_trained_lifts(session: AsyncSession) -> None:
    ann = await new_user(session)
    lifts = {
        "back_squat": 5,
        "conventional_deadlift": 4,
        "barbell_bench_press": 3,
        "overhead_press": 2,
        "front_squat": 1,
    }
    for code, sessions in lifts.items():
        for day in range(sessions):
            await add_session(
                session, ann, NOW - dt.timedelta(days=day + 1, hours=len(code)), [S(code)]
            )
    found = await progress.e1rm_trends(session, ann, timezone="UTC", now=NOW)
    assert [lift.sessions for lift in found] == [5, 4, 3, 2]
    assert "Front Squat" not in [lift.name for lift in found]
    assert all(len(lift.points) == lift.sessions for lift in found)


async def test_weekly_volume_groups_and_local_weeks(session: AsyncSession) -> None:
    ann = await new_user(session)
    # Sunday 14 June 23:30 UTC: still the week of 8 June in UTC, Monday 15 June in Auckland.
    sunday_night = dt.datetime(2026, 6, 14, 23, 30, tzinfo=UTC)
    await add_session(
        session,
        ann,
        sunday_night,
        [
            S("barbell_bench_press", 5, "100"),
            S("barbell_bench_press", 5, "100"),
            S("barbell_bench_press", 5, "50", {"is_warmup": True}),
            S("back_squat", 5, "120"),
        ],
    )
    await add_session(session, ann, NOW - dt.timedelta(weeks=20), [S("back_squat")])  # too old

    utc = await progress.weekly_volume(session, ann, timezone="UTC", now=NOW)
    assert utc.weeks[-1] == dt.date(2026, 6, 15)
    assert utc.weeks[0] == dt.date(2026, 3, 30)
    assert len(utc.weeks) == 12
    by_code = {group.code: group for group in utc.groups}
    # Bench press: chest and triceps (arms) are primary; squat: thighs and glutes.
    assert set(by_code) == {"CHEST", "ARMS", "THIGHS", "GLUTES"}
    assert by_code["CHEST"].sets[-2:] == [2, 0]  # the week of 8 June in UTC
    assert by_code["CHEST"].volume_kg[-2] == Decimal(1000)
    assert by_code["THIGHS"].sets[-2] == 1
    assert utc.groups[0].code in {"CHEST", "ARMS"}  # most sets first

    auckland = await progress.weekly_volume(
        session, ann, timezone="Pacific/Auckland", now=NOW, locale="fr"
    )
    chest = next(group for group in auckland.groups if group.code == "CHEST")
    assert chest.sets[-2:] == [0, 2]  # Monday 15 June there
    assert chest.name == "Poitrine"


async def test_soreness_trend_and_progress_report(session: AsyncSession) -> None:
    ann = await new_user(session)
    await add_session(session, ann, NOW - dt.timedelta(days=3), [S("back_squat")], soreness=3)
    await add_session(
        session,
        ann,
        NOW - dt.timedelta(days=3, hours=-1),
        [S("plank", None, None, {"duration_seconds": 30})],
        soreness=6,
    )
    await add_session(session, ann, NOW - dt.timedelta(days=1), [S("back_squat")], soreness=2)
    await add_session(session, ann, NOW - dt.timedelta(days=200), [S("back_squat")], soreness=9)
    await add_session(session, ann, NOW - dt.timedelta(days=2), [S("back_squat")])

    points = await progress.soreness_trend(session, ann, timezone="UTC", now=NOW)
    assert [(point.day, point.soreness) for point in points] == [
        (dt.date(2026, 6, 14), Decimal("4.5")),
        (dt.date(2026, 6, 16), Decimal("2.0")),
    ]

    report = await progress.progress_report(session, ann, timezone="UTC", now=NOW)
    assert not report.empty
    assert [record.exercise_name for record in report.records][:1] == ["Back Squat"]
    stranger = await new_user(session, "zed")
    assert (await progress.progress_report(session, stranger, timezone="UTC", now=NOW)).empty


# --------------------------------------------------------------------------------------------
# Plates
# --------------------------------------------------------------------------------------------


def test_plates_exact_kg_and_lb() -> None:
    load = progress.plates_for(Decimal(100), WeightUnit.KG)
    assert load.exact
    assert load.achieved == Decimal(100)
    assert load.per_side == (Decimal(25), Decimal(15))
    assert load.counts == ((Decimal(25), 1), (Decimal(15), 1))

    pounds = progress.plates_for(Decimal(315), WeightUnit.LB)
    assert pounds.per_side == (Decimal(45), Decimal(45), Decimal(45))

    bar_only = progress.plates_for(Decimal(20), WeightUnit.KG)
    assert bar_only.exact
    assert bar_only.per_side == ()

    custom = progress.plates_for(Decimal(60), WeightUnit.KG, bar=Decimal(15))
    assert custom.per_side == (Decimal(20), Decimal("2.5"))


def test_plates_not_exact_says_nearest() -> None:
    load = progress.plates_for(Decimal(101), WeightUnit.KG)
    assert not load.exact
    assert (load.achieved, load.next_up, load.nearest) == (
        Decimal(100),
        Decimal("102.5"),
        Decimal(100),
    )
    assert progress.plates_for(Decimal(102), WeightUnit.KG).nearest == Decimal("102.5")


def test_plates_refusals() -> None:
    with pytest.raises(progress.InvalidPlateTarget) as below:
        progress.plates_for(Decimal(15), WeightUnit.KG)
    assert below.value.rule == "below_bar"
    with pytest.raises(progress.InvalidPlateTarget) as heavy:
        progress.plates_for(Decimal(5000), WeightUnit.LB)
    assert heavy.value.rule == "too_heavy"
    with pytest.raises(progress.InvalidPlateTarget) as bar:
        progress.plates_for(Decimal(50), WeightUnit.KG, bar=Decimal(0))
    assert bar.value.rule == "bar"


@pytest.mark.parametrize(
    ("typed", "expected"),
    [
        ("100", (Decimal(100), WeightUnit.KG)),
        (" 102,5 ", (Decimal("102.5"), WeightUnit.KG)),
        ("225 lb", (Decimal(225), WeightUnit.LB)),
        ("140кг", (Decimal(140), WeightUnit.KG)),
    ],
)
def test_parse_target(typed: str, expected: tuple[Decimal, WeightUnit]) -> None:
    assert progress.parse_target(typed, WeightUnit.KG) == expected


@pytest.mark.parametrize("typed", ["", "heavy", "100 stones", "-5", "1e3"])
def test_parse_target_refuses(typed: str) -> None:
    with pytest.raises(progress.InvalidPlateTarget) as refused:
        progress.parse_target(typed, WeightUnit.KG)
    assert refused.value.rule == "format"


@given(
    unit=st.sampled_from(list(WeightUnit)),
    hundredths=st.integers(min_value=0, max_value=90_000),
    bar=st.sampled_from([None, Decimal(10), Decimal(15), Decimal(20), Decimal(45)]),
)
def test_plates_property(unit: WeightUnit, hundredths: int, bar: Decimal | None) -> None:
    used_bar = progress.STANDARD_BAR[unit] if bar is None else bar
    target = used_bar + Decimal(hundredths) / 100
    if target > progress.MAX_TARGET[unit]:
        return
    load = progress.plates_for(target, unit, bar=bar)
    assert sum(load.per_side) * 2 + load.bar == load.achieved
    assert load.achieved <= target < load.next_up
    assert load.exact == (load.achieved == target)
    assert all(plate in progress.PLATES[unit] for plate in load.per_side)
    assert list(load.per_side) == sorted(load.per_side, reverse=True)
    # next_up is really loadable: its plates add up too.
    above = progress.plates_for(load.next_up, unit, bar=bar)
    assert above.exact


# --------------------------------------------------------------------------------------------
# Charts
# --------------------------------------------------------------------------------------------

LABELS = charts.ProgressLabels(
    e1rm_title="Estimated 1RM",
    e1rm_axis="kg",
    volume_title="Weekly sets",
    volume_axis="Sets",
    soreness_title="Soreness",
    soreness_axis="0–10",
    no_e1rm="No data",
    no_volume="No data",
    no_soreness="Нет данных",
)


async def test_charts_render_png_for_data_and_for_nothing(session: AsyncSession) -> None:
    ann = await new_user(session)
    for day in range(30):
        await add_session(
            session,
            ann,
            NOW - dt.timedelta(days=day * 2 + 1),
            [S("back_squat", 5, str(100 + day)), S("barbell_bench_press", 5, str(70 + day))],
            soreness=day % 10,
        )
    data = await progress.progress_data(session, ann, timezone="Europe/Paris", now=NOW)
    pictures = charts.progress_charts(data, WeightUnit.LB, LABELS)
    assert len(pictures) == 3
    for picture in pictures:
        assert picture.startswith(charts.PNG_SIGNATURE)
        width, height = int.from_bytes(picture[16:20], "big"), int.from_bytes(picture[20:24], "big")
        assert (width, height) == (1200, 900)

    nothing = progress.ProgressData(
        [], progress.WeeklyVolume(progress.local_weeks(NOW, "UTC"), []), []
    )
    empty_pictures = charts.progress_charts(nothing, WeightUnit.KG, LABELS)
    assert all(picture.startswith(charts.PNG_SIGNATURE) for picture in empty_pictures)


# --------------------------------------------------------------------------------------------
# Export
# --------------------------------------------------------------------------------------------


async def test_export_parses_back(session: AsyncSession) -> None:
    ann = await new_user(session)
    tricky = 'heavy, "grindy"\nnext line'
    first = await add_session(
        session,
        ann,
        dt.datetime(2026, 2, 1, 23, 30, tzinfo=UTC),  # 2 February in Moscow
        [
            S("back_squat", 5, "100", {"rpe": Decimal(8), "notes": tricky}),
            S("plank", None, None, {"duration_seconds": 45, "notes": "=HYPERLINK(1)"}),
        ],
        soreness=5,
        notes="Жим; «ok»",
    )
    second = await add_session(session, ann, dt.datetime(2026, 2, 3, 8, tzinfo=UTC), [])
    other = await new_user(session, "bob")
    await add_session(session, other, dt.datetime(2026, 2, 1, 8, tzinfo=UTC), [S("back_squat")])

    exported = await export.export_log(
        session, ann, timezone="Europe/Moscow", unit=WeightUnit.LB, now=NOW
    )
    assert (exported.session_count, exported.set_count) == (2, 2)
    assert exported.csv.startswith("\ufeff".encode())
    rows = list(csv.DictReader(io.StringIO(exported.csv.decode("utf-8-sig"))))
    assert list(rows[0]) == list(export.CSV_COLUMNS)
    assert len(rows) == 2
    squat, plank = rows
    assert (squat["date"], squat["time"]) == ("2026-02-02", "02:30")
    assert squat["session_id"] == str(first)
    assert (squat["exercise"], squat["set"], squat["reps"]) == ("Back Squat", "1", "5")
    assert (squat["load_kg"], squat["load"], squat["unit"]) == ("100", "220.46", "lb")
    assert (squat["rpe"], squat["soreness"]) == ("8", "5")
    assert squat["set_notes"] == tricky
    assert squat["session_notes"] == "Жим; «ok»"
    assert (plank["reps"], plank["load_kg"], plank["duration_seconds"]) == ("", "", "45")
    # Text that a spreadsheet would run as a formula is kept as text in the CSV only.
    assert plank["set_notes"] == "'=HYPERLINK(1)"

    document = json.loads(exported.json)
    assert document["timezone"] == "Europe/Moscow"
    assert document["unit"] == "lb"
    sessions = document["sessions"]
    assert [item["id"] for item in sessions] == [str(first), str(second)]
    assert sessions[0]["started_at"] == "2026-02-02T02:30:00+03:00"
    assert sessions[0]["soreness"] == 5
    assert sessions[1]["sets"] == []
    sets = sessions[0]["sets"]
    assert sets[0]["load_kg"] == 100
    assert sets[0]["load"] == pytest.approx(220.46)
    assert sets[0]["notes"] == tricky
    assert sets[0]["rpe"] == 8
    assert sets[1]["duration_seconds"] == 45
    assert sets[1]["reps"] is None
    assert sets[1]["notes"] == "=HYPERLINK(1)"

    nobody = await new_user(session, "new")
    empty = await export.export_log(session, nobody, timezone="UTC", unit=WeightUnit.KG)
    assert empty.empty
    assert json.loads(empty.json)["sessions"] == []
