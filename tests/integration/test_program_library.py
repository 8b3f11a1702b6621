"""The program library: scopes (mine, institution, public) filtered in SQL by what the actor
may read, paging, title search, tag / goal / difficulty filters; a program's weeks and days; a
workout's sets reached directly or through a readable program; forged ids refused."""

from __future__ import annotations

import uuid
from collections.abc import Iterable, Mapping
from decimal import Decimal

import pytest
from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from domain.errors import InvalidInput, NotAllowed
from domain.models.access import Visibility
from domain.models.institution import Institution, InstitutionMember
from domain.models.lookup import Category, DifficultyLevel, Tag
from domain.models.program import (
    Program,
    ProgramCategory,
    ProgramSchedule,
    ProgramTag,
    ScheduleWorkout,
)
from domain.models.user import User, UserOwnership, UserProgramOwnership
from domain.services.program_library import (
    PAGE_SIZE,
    FacetKind,
    LibraryFilter,
    LibraryScope,
    clean_search,
    facet_choices,
    library_page,
    program_week,
    workout_detail,
)
from tests.factories import SetSpec, make_user, make_workout


async def visibility(session: AsyncSession, resource: str, code: str) -> uuid.UUID:
    found = await session.scalar(
        select(Visibility.id).where(Visibility.resource_type == resource, Visibility.code == code)
    )
    assert found is not None
    return found


async def institution(session: AsyncSession, name: str, members: Iterable[User] = ()) -> uuid.UUID:
    row = Institution(name=name, visibility_id=await visibility(session, "INSTITUTION", "PRIVATE"))
    session.add(row)
    await session.flush()
    for member in members:
        session.add(InstitutionMember(institution_id=row.id, user_id=member.id))
    await session.flush()
    return row.id


async def program(
    session: AsyncSession,
    owner: User | None,
    title: str,
    *,
    level: str = "PRIVATE",
    institution_id: uuid.UUID | None = None,
    length: int = 14,
    days: Mapping[int, Iterable[uuid.UUID]] = {},
    optional: Iterable[tuple[int, uuid.UUID]] = (),
    difficulty: str = "BEGINNER",
    tags: Iterable[str] = (),
    categories: Iterable[str] = (),
) -> uuid.UUID:
    difficulty_id = await session.scalar(
        select(DifficultyLevel.id).where(DifficultyLevel.code == difficulty)
    )
    assert difficulty_id is not None
    row = Program(
        owner_id=owner.id if owner else None,
        institution_id=institution_id,
        title=title,
        description=f"About {title}",
        difficulty_level_id=difficulty_id,
        duration_weeks=max(1, -(-length // 7)),
        visibility_id=await visibility(session, "PROGRAM", level),
    )
    session.add(row)
    await session.flush()
    schedule = ProgramSchedule(program_id=row.id, schedule_length_days=length)
    session.add(schedule)
    await session.flush()
    optional_set = set(optional)
    for day, workouts in days.items():
        for order, workout in enumerate(workouts):
            session.add(
                ScheduleWorkout(
                    program_schedule_id=schedule.id,
                    workout_id=workout,
                    day_number=day,
                    order_index=order,
                    is_optional=(day, workout) in optional_set,
                )
            )
    for code in tags:
        tag = await session.scalar(select(Tag.id).where(Tag.type == "PROGRAM", Tag.code == code))
        assert tag is not None
        session.add(ProgramTag(program_id=row.id, tag_id=tag))
    for code in categories:
        category = await session.scalar(
            select(Category.id).where(Category.type == "PROGRAM", Category.code == code)
        )
        assert category is not None
        session.add(ProgramCategory(program_id=row.id, category_id=category))
    await session.flush()
    return row.id


async def titles(
    session: AsyncSession, user: User, wanted: LibraryFilter, *, page: int = 0
) -> list[str]:
    found = await library_page(session, user.id, wanted, page=page)
    return [row.title for row in found.rows]


def mine(found: list[str], tag: str) -> set[str]:
    """Only this test's programs: conversation tests commit public programs of their own."""
    return {title for title in found if title.endswith(tag)}


async def test_scopes_show_what_the_actor_may_read(session: AsyncSession) -> None:
    tag = uuid.uuid4().hex[:6]
    ada = await make_user(session, first_name="Ada")
    bob = await make_user(session, first_name="Bob")
    gym = await institution(session, "Gym", [ada])
    other_gym = await institution(session, "Other gym", [bob])
    await program(session, ada, f"Own {tag}")
    await program(session, bob, f"Bob private {tag}")
    await program(session, bob, f"Bob public {tag}", level="PUBLIC")
    await program(session, bob, f"Gym plan {tag}", level="INSTITUTION", institution_id=gym)
    await program(session, bob, f"Other gym {tag}", level="INSTITUTION", institution_id=other_gym)
    held = await program(session, bob, f"Held {tag}")
    ownership = UserOwnership(user_id=ada.id, granted_by=bob.id, is_primary_owner=False)
    session.add(ownership)
    await session.flush()
    session.add(UserProgramOwnership(id=ownership.id, program_id=held))
    await session.flush()

    everything = mine(await titles(session, ada, LibraryFilter(LibraryScope.ALL)), tag)
    assert everything == {f"Own {tag}", f"Bob public {tag}", f"Gym plan {tag}", f"Held {tag}"}
    assert mine(await titles(session, ada, LibraryFilter(LibraryScope.MINE)), tag) == {
        f"Own {tag}",
        f"Held {tag}",
    }
    assert mine(await titles(session, ada, LibraryFilter(LibraryScope.INSTITUTION)), tag) == {
        f"Gym plan {tag}"
    }
    assert mine(await titles(session, ada, LibraryFilter(LibraryScope.PUBLIC)), tag) == {
        f"Bob public {tag}"
    }
    # Bob sees his own, never Ada's private one nor the gym he is not in.
    assert mine(await titles(session, bob, LibraryFilter(LibraryScope.ALL)), tag) == {
        f"Bob private {tag}",
        f"Bob public {tag}",
        f"Gym plan {tag}",
        f"Other gym {tag}",
        f"Held {tag}",
    }
    # A revoked ownership takes the program out of Ada's library.
    ownership.is_revoked = True
    await session.flush()
    assert f"Held {tag}" not in await titles(session, ada, LibraryFilter(LibraryScope.ALL))


async def test_pages_search_and_filters(session: AsyncSession) -> None:
    ada = await make_user(session)
    for number in range(PAGE_SIZE + 2):
        await program(session, ada, f"Plan {number:02d}")
    await program(session, ada, "Squat cycle", difficulty="ADVANCED", categories=["STRENGTH"])
    await program(session, ada, "Home 100%", tags=["NO_GYM"])
    first = await library_page(session, ada.id, LibraryFilter(LibraryScope.MINE))
    assert len(first.rows) == PAGE_SIZE
    assert first.has_more
    assert first.page == 0
    second = await library_page(session, ada.id, LibraryFilter(LibraryScope.MINE), page=1)
    assert len(second.rows) == 4
    assert not second.has_more
    seen = [row.title for row in first.rows + second.rows]
    assert len(set(seen)) == PAGE_SIZE + 4
    assert all(row.mine for row in first.rows)

    def only(
        text: str | None = None, facet: FacetKind | None = None, code: str | None = None
    ) -> LibraryFilter:
        return LibraryFilter(LibraryScope.MINE, text, facet, code)

    assert await titles(session, ada, only("SQUAT")) == ["Squat cycle"]
    assert await titles(session, ada, only("plan 0")) != []
    # LIKE wildcards typed by a person are plain characters.
    assert await titles(session, ada, only("%")) == ["Home 100%"]
    assert await titles(session, ada, only("_")) == []
    assert await titles(session, ada, only(facet=FacetKind.TAG, code="NO_GYM")) == ["Home 100%"]
    assert await titles(session, ada, only(facet=FacetKind.CATEGORY, code="STRENGTH")) == [
        "Squat cycle"
    ]
    assert await titles(session, ada, only(facet=FacetKind.DIFFICULTY, code="ADVANCED")) == [
        "Squat cycle"
    ]
    assert await titles(session, ada, only(facet=FacetKind.TAG, code="NOPE")) == []
    difficulties = await facet_choices(session, FacetKind.DIFFICULTY, locale="fr")
    assert [facet.code for facet in difficulties][:2] == ["BEGINNER", "INTERMEDIATE"]
    assert difficulties[0].label == "Débutant"
    assert "NO_GYM" in {
        facet.code for facet in await facet_choices(session, FacetKind.TAG, locale="en")
    }
    with pytest.raises(InvalidInput):
        clean_search("   ")
    with pytest.raises(InvalidInput):
        clean_search("x" * 61)


async def test_weeks_days_and_workout_sets(session: AsyncSession) -> None:
    coach = await make_user(session, first_name="Coach")
    athlete = await make_user(session, first_name="Ann")
    legs = await make_workout(
        session,
        coach.id,
        "Legs",
        [
            SetSpec("back_squat", sets=4, reps=8, load_kg=Decimal(60), rest=90, tempo="3-1-1-0"),
            SetSpec("plank", sets=3, duration=45, rest=30),
        ],
        estimated_seconds=1500,
    )
    core = await make_workout(session, coach.id, "Core", [SetSpec("plank", sets=2, duration=60)])
    plan = await program(
        session,
        coach,
        "Public block",
        level="PUBLIC",
        length=10,
        days={0: [legs.id, core.id], 3: [legs.id], 8: [core.id]},
        optional={(0, core.id)},
    )
    week = await program_week(session, athlete.id, plan, 0)
    assert week.program.week_count == 2
    assert week.program.length_days == 10
    assert not week.program.can_update
    assert not week.program.can_share
    assert [day.day_number for day in week.days] == list(range(7))
    assert [slot.name for slot in week.days[0].slots] == ["Legs", "Core"]
    assert [slot.is_optional for slot in week.days[0].slots] == [False, True]
    assert week.days[0].slots[0].estimated_seconds == 1500
    assert week.days[1].is_rest
    assert not week.days[3].is_rest
    # The last week stops at the schedule's end; a week past it shows the last one.
    last = await program_week(session, athlete.id, plan, 5)
    assert last.week == 1
    assert [day.day_number for day in last.days] == [7, 8, 9]
    assert [slot.name for slot in last.days[1].slots] == ["Core"]
    owner_view = await program_week(session, coach.id, plan, 0)
    assert owner_view.program.can_update
    assert owner_view.program.can_share

    # The workouts are private: the athlete reads them through the public program's slot.
    slot = week.days[0].slots[0].slot_id
    detail = await workout_detail(session, athlete.id, slot_id=slot)
    assert detail.program_id == plan
    assert detail.estimated_seconds == 1500
    assert [line.exercises for line in detail.sets] == [["Back Squat"], ["Plank"]]
    squat = detail.sets[0]
    assert (squat.sets_count, squat.reps, squat.load_kg, squat.rest_seconds) == (
        4,
        8,
        Decimal(60),
        90,
    )
    assert squat.tempo is not None
    assert squat.tempo.count("-") == 3
    assert detail.sets[1].duration_seconds == 45
    assert not detail.can_update
    with pytest.raises(NotAllowed):
        await workout_detail(session, athlete.id, workout_id=legs.id)
    assert (await workout_detail(session, coach.id, workout_id=legs.id)).can_update


async def test_forged_ids_are_refused(session: AsyncSession) -> None:
    coach = await make_user(session)
    stranger = await make_user(session)
    workout = await make_workout(session, coach.id, "Secret", [SetSpec("plank", duration=30)])
    plan = await program(session, coach, "Private plan", days={0: [workout.id]})
    with pytest.raises(NotAllowed):
        await program_week(session, stranger.id, plan, 0)
    slot = await session.scalar(
        select(ScheduleWorkout.id).where(ScheduleWorkout.workout_id == workout.id)
    )
    assert slot is not None
    with pytest.raises(NotAllowed):
        await workout_detail(session, stranger.id, slot_id=slot)
    with pytest.raises(NotAllowed):
        await program_week(session, stranger.id, uuid.uuid4(), 0)
