"""A realistic graph written and read back, and the constraints that reject bad rows."""

from __future__ import annotations

import datetime as dt
import uuid
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from decimal import Decimal

import pytest
from sqlalchemy import func, select, text, update
from sqlalchemy.exc import DBAPIError, IntegrityError
from sqlalchemy.ext.asyncio import AsyncSession

from domain.models.access import Permission, PermissionGrant, Visibility
from domain.models.anatomy import Muscle
from domain.models.enums import ResourceType
from domain.models.exercise import Exercise, ExerciseVariant
from domain.models.institution import (
    Institution,
    InstitutionDepartment,
    InstitutionInvite,
    InstitutionMember,
    InstitutionMemberRole,
)
from domain.models.lookup import DifficultyLevel, Status
from domain.models.program import Program, ProgramSchedule, ScheduleWorkout
from domain.models.training_log import LoggedSet, TrainingSession, TrainingSessionSource
from domain.models.user import (
    ProfessionalClientRelation,
    ProfessionalRelationStatus,
    ProfessionalRelationType,
    User,
    UserProgram,
    UserShareInvite,
    UserWorkoutProgress,
)
from domain.models.workout import ExerciseInstruction, Tempo, TempoType, Workout, WorkoutSet

UTC = dt.UTC


async def visibility(session: AsyncSession, code: str, resource: ResourceType) -> uuid.UUID:
    query = select(Visibility.id).where(
        Visibility.code == code, Visibility.resource_type == resource
    )
    return (await session.execute(query)).scalar_one()


async def difficulty(session: AsyncSession, code: str) -> uuid.UUID:
    query = select(DifficultyLevel.id).where(DifficultyLevel.code == code)
    return (await session.execute(query)).scalar_one()


async def exercise(session: AsyncSession, code: str) -> Exercise:
    return (await session.execute(select(Exercise).where(Exercise.code == code))).scalar_one()


@dataclass
class Graph:
    institution: Institution
    coach: User
    athletes: list[User]
    program: Program
    schedule: ProgramSchedule
    workouts: list[Workout]


async def build_graph(session: AsyncSession) -> Graph:
    """An institution with a department, a coach, two athletes and a 3-week program."""
    coach = User(first_name="Camille", telegram_user_id=1001, locale="fr", timezone="Europe/Paris")
    athletes = [
        User(first_name="Ivan", telegram_user_id=1002, locale="ru", timezone="Europe/Moscow"),
        User(first_name="Ada", telegram_user_id=1003, locale="en", timezone="America/New_York"),
    ]
    session.add_all([coach, *athletes])
    await session.flush()

    gym = Institution(
        name="Forge Gym",
        slug="forge-gym",
        created_by=coach.id,
        visibility_id=await visibility(session, "INSTITUTION_MEMBER", ResourceType.INSTITUTION),
    )
    session.add(gym)
    await session.flush()
    department = InstitutionDepartment(institution_id=gym.id, name="Strength")
    session.add(department)
    await session.flush()
    coach_role = (
        await session.execute(text("SELECT id FROM role WHERE code = 'COACH'"))
    ).scalar_one()
    member = InstitutionMember(institution_id=gym.id, user_id=coach.id, department_id=department.id)
    session.add(member)
    await session.flush()
    session.add(
        InstitutionMemberRole(institution_member_id=member.id, role_id=coach_role, is_active=True)
    )
    for athlete in athletes:
        session.add(InstitutionMember(institution_id=gym.id, user_id=athlete.id))
        session.add(
            ProfessionalClientRelation(
                professional_id=coach.id,
                customer_id=athlete.id,
                institution_id=gym.id,
                relation_type=ProfessionalRelationType.COACH,
                status=ProfessionalRelationStatus.ACTIVE,
                consent_scope={"logs": True, "charts": True},
                consented_at=dt.datetime.now(UTC),
            )
        )

    intermediate = await difficulty(session, "INTERMEDIATE")
    workout_visibility = await visibility(session, "INSTITUTION", ResourceType.WORKOUT)
    squat = await exercise(session, "back_squat")
    tempo_types = (await session.execute(select(TempoType).order_by(TempoType.code))).scalars()
    tempo_ids = [tempo.id for tempo in tempo_types][:4]
    quads = (
        await session.execute(select(Muscle.id).where(Muscle.code == "rectus_femoris"))
    ).scalar_one()

    workouts = []
    for name in ("Lower A", "Lower B"):
        workout = Workout(
            name=name,
            owner_id=coach.id,
            institution_id=gym.id,
            difficulty_level_id=intermediate,
            visibility_id=workout_visibility,
            estimated_duration_seconds=3600,
        )
        session.add(workout)
        await session.flush()
        for index in range(3):
            work_set = WorkoutSet(
                workout_id=workout.id,
                order_index=index,
                name=f"Squat {index + 1}",
                rest_after_seconds=180,
                target_muscle_id=quads,
                sets_count=1,
                target_reps=5,
                target_load_kg=Decimal("100.00"),
                target_rpe=Decimal("8.0"),
            )
            session.add(work_set)
            await session.flush()
            instruction = ExerciseInstruction(
                workout_set_id=work_set.id,
                exercise_id=squat.id,
                rest_between_seconds=0,
                order_index=0,
            )
            session.add(instruction)
            await session.flush()
            session.add_all(
                Tempo(exercise_instruction_id=instruction.id, order_index=phase, tempo_type_id=t)
                for phase, t in enumerate(tempo_ids)
            )
        workouts.append(workout)

    program = Program(
        title="Three-week squat primer",
        description="Squat three times a week for three weeks.",
        owner_id=coach.id,
        institution_id=gym.id,
        difficulty_level_id=intermediate,
        visibility_id=await visibility(session, "INSTITUTION", ResourceType.PROGRAM),
        duration_weeks=3,
    )
    session.add(program)
    await session.flush()
    schedule = ProgramSchedule(program_id=program.id, schedule_length_days=21)
    session.add(schedule)
    await session.flush()
    for week in range(3):
        for slot, day in enumerate((0, 2, 4)):
            session.add(
                ScheduleWorkout(
                    program_schedule_id=schedule.id,
                    workout_id=workouts[slot % 2].id,
                    day_number=week * 7 + day,
                    order_index=0,
                )
            )
    for athlete in athletes:
        session.add(
            UserProgram(
                user_id=athlete.id,
                program_id=program.id,
                assigned_by=coach.id,
                start_date=dt.date(2026, 11, 23),
                is_active=True,
            )
        )
    await session.flush()
    return Graph(gym, coach, athletes, program, schedule, workouts)


async def test_realistic_graph_round_trip(session: AsyncSession) -> None:
    graph = await build_graph(session)
    session.expunge_all()

    days = (
        await session.execute(
            select(ScheduleWorkout.day_number)
            .where(ScheduleWorkout.program_schedule_id == graph.schedule.id)
            .order_by(ScheduleWorkout.day_number)
        )
    ).scalars()
    assert list(days) == [0, 2, 4, 7, 9, 11, 14, 16, 18]

    sets_per_workout = dict(
        (
            await session.execute(
                select(Workout.name, func.count(WorkoutSet.id))
                .join(WorkoutSet, WorkoutSet.workout_id == Workout.id)
                .where(Workout.owner_id == graph.coach.id)
                .group_by(Workout.name)
            )
        ).all()
    )
    assert sets_per_workout == {"Lower A": 3, "Lower B": 3}

    tempo_phases = (
        await session.execute(
            select(func.count())
            .select_from(Tempo)
            .join(ExerciseInstruction)
            .join(WorkoutSet)
            .where(WorkoutSet.workout_id == graph.workouts[0].id)
        )
    ).scalar_one()
    assert tempo_phases == 3 * 4

    clients = (
        await session.execute(
            select(User.first_name)
            .join(ProfessionalClientRelation, ProfessionalClientRelation.customer_id == User.id)
            .where(
                ProfessionalClientRelation.professional_id == graph.coach.id,
                ProfessionalClientRelation.status == ProfessionalRelationStatus.ACTIVE,
            )
            .order_by(User.first_name)
        )
    ).scalars()
    assert list(clients) == ["Ada", "Ivan"]

    members = (
        await session.execute(
            select(func.count())
            .select_from(InstitutionMember)
            .where(InstitutionMember.institution_id == graph.institution.id)
        )
    ).scalar_one()
    assert members == 3
    fetched = await session.get(Institution, graph.institution.id)
    assert fetched is not None
    assert fetched.name == "Forge Gym"
    assert fetched.created_at.tzinfo is not None  # timestamptz


async def test_last_sessions_of_an_exercise_use_the_index(session: AsyncSession) -> None:
    graph = await build_graph(session)
    athlete = graph.athletes[0]
    squat = await exercise(session, "back_squat")
    start = dt.datetime(2026, 11, 1, 8, tzinfo=UTC)
    for day in range(5):
        training = TrainingSession(
            user_id=athlete.id,
            started_at=start + dt.timedelta(days=day),
            source=TrainingSessionSource.FREE_TEXT,
        )
        session.add(training)
        await session.flush()
        session.add_all(
            LoggedSet(
                session_id=training.id,
                user_id=athlete.id,
                exercise_id=squat.id,
                performed_at=training.started_at + dt.timedelta(minutes=index * 3),
                set_index=index,
                reps=5,
                load_kg=Decimal(100 + day * 5),
            )
            for index in range(3)
        )
    await session.flush()

    last_three = (
        select(LoggedSet.session_id, func.max(LoggedSet.performed_at).label("at"))
        .where(LoggedSet.user_id == athlete.id, LoggedSet.exercise_id == squat.id)
        .group_by(LoggedSet.session_id)
        .order_by(func.max(LoggedSet.performed_at).desc())
        .limit(3)
    )
    rows = (await session.execute(last_three)).all()
    assert [row.at.day for row in rows] == [5, 4, 3]

    await session.execute(text("SET LOCAL enable_seqscan = off"))
    compiled = last_three.compile(compile_kwargs={"literal_binds": True})
    plan = "\n".join((await session.execute(text(f"EXPLAIN {compiled}"))).scalars())
    assert "ix_logged_set_user_exercise_performed" in plan


BadRow = Callable[[AsyncSession, Graph], Awaitable[None]]


async def duplicate_workout_name_same_owner(session: AsyncSession, graph: Graph) -> None:
    first = graph.workouts[0]
    session.add(
        Workout(
            name=first.name,
            owner_id=first.owner_id,
            difficulty_level_id=first.difficulty_level_id,
            visibility_id=first.visibility_id,
        )
    )


async def duplicate_catalogue_exercise_name(session: AsyncSession, graph: Graph) -> None:
    squat = await exercise(session, "back_squat")
    session.add(
        Exercise(
            name=squat.name,
            owner_id=None,
            description="copy",
            instructions="copy",
            difficulty_level_id=squat.difficulty_level_id,
            visibility_id=squat.visibility_id,
        )
    )


async def soreness_eleven(session: AsyncSession, graph: Graph) -> None:
    completed = (
        await session.execute(
            select(Status.id).where(Status.type == "COMPLETION", Status.code == "COMPLETED")
        )
    ).scalar_one()
    session.add(
        UserWorkoutProgress(
            user_id=graph.athletes[0].id,
            workout_id=graph.workouts[0].id,
            completion_status_id=completed,
            soreness_post_workout=11,
        )
    )


async def session_soreness_eleven(session: AsyncSession, graph: Graph) -> None:
    session.add(
        TrainingSession(
            user_id=graph.athletes[0].id,
            started_at=dt.datetime.now(UTC),
            soreness=11,
            source=TrainingSessionSource.GUIDED,
        )
    )


async def day_beyond_schedule(session: AsyncSession, graph: Graph) -> None:
    session.add(
        ScheduleWorkout(
            program_schedule_id=graph.schedule.id,
            workout_id=graph.workouts[0].id,
            day_number=21,  # days are 0-based: 21 is the 22nd day of a 21-day schedule
            order_index=0,
        )
    )


async def negative_day(session: AsyncSession, graph: Graph) -> None:
    session.add(
        ScheduleWorkout(
            program_schedule_id=graph.schedule.id,
            workout_id=graph.workouts[0].id,
            day_number=-1,
            order_index=1,
        )
    )


async def shrink_schedule_below_booked_day(session: AsyncSession, graph: Graph) -> None:
    await session.execute(
        update(ProgramSchedule)
        .where(ProgramSchedule.id == graph.schedule.id)
        .values(schedule_length_days=14)
    )


async def share_invite_for_nothing(session: AsyncSession, graph: Graph) -> None:
    session.add(UserShareInvite(invited_by=graph.coach.id))


async def coach_coaching_themselves(session: AsyncSession, graph: Graph) -> None:
    session.add(
        ProfessionalClientRelation(
            professional_id=graph.coach.id,
            customer_id=graph.coach.id,
            relation_type=ProfessionalRelationType.COACH,
        )
    )


async def second_active_relation_same_pair(session: AsyncSession, graph: Graph) -> None:
    session.add(
        ProfessionalClientRelation(
            professional_id=graph.coach.id,
            customer_id=graph.athletes[0].id,
            relation_type=ProfessionalRelationType.COACH,
            status=ProfessionalRelationStatus.PENDING,
        )
    )


async def duplicate_telegram_id(session: AsyncSession, graph: Graph) -> None:
    session.add(User(first_name="Impostor", telegram_user_id=graph.coach.telegram_user_id))


async def rpe_out_of_range(session: AsyncSession, graph: Graph) -> None:
    squat = await exercise(session, "back_squat")
    training = TrainingSession(
        user_id=graph.athletes[1].id,
        started_at=dt.datetime.now(UTC),
        source=TrainingSessionSource.GUIDED,
    )
    session.add(training)
    await session.flush()
    session.add(
        LoggedSet(
            session_id=training.id,
            user_id=graph.athletes[1].id,
            exercise_id=squat.id,
            performed_at=dt.datetime.now(UTC),
            set_index=0,
            reps=5,
            rpe=Decimal("11"),
        )
    )


async def logged_set_without_measure(session: AsyncSession, graph: Graph) -> None:
    squat = await exercise(session, "back_squat")
    training = TrainingSession(
        user_id=graph.athletes[1].id,
        started_at=dt.datetime.now(UTC),
        source=TrainingSessionSource.GUIDED,
    )
    session.add(training)
    await session.flush()
    session.add(
        LoggedSet(
            session_id=training.id,
            user_id=graph.athletes[1].id,
            exercise_id=squat.id,
            performed_at=dt.datetime.now(UTC),
            set_index=0,
        )
    )


async def exercise_variant_of_itself(session: AsyncSession, graph: Graph) -> None:
    squat = await exercise(session, "back_squat")
    session.add(
        ExerciseVariant(
            exercise_id=squat.id, variant_exercise_id=squat.id, order_index=9, difficulty_delta=0
        )
    )


async def permission_name_mismatch(session: AsyncSession, graph: Graph) -> None:
    session.add(
        Permission(name="USER.WORKOUT.DELETE", actor="USER", resource="WORKOUT", action="CREATE")
    )


async def grant_without_grantee(session: AsyncSession, graph: Graph) -> None:
    permission = (await session.execute(select(Permission.id).limit(1))).scalar_one()
    session.add(PermissionGrant(grantee_type="USER", permission_id=permission))


async def invite_used_beyond_max(session: AsyncSession, graph: Graph) -> None:
    session.add(InstitutionInvite(institution_id=graph.institution.id, max_uses=1, use_count=2))


async def duplicate_department_name(session: AsyncSession, graph: Graph) -> None:
    session.add(InstitutionDepartment(institution_id=graph.institution.id, name="Strength"))


async def duplicate_visibility_level(session: AsyncSession, graph: Graph) -> None:
    session.add(Visibility(code="PRIVATE", resource_type=ResourceType.WORKOUT, name="again"))


async def member_twice(session: AsyncSession, graph: Graph) -> None:
    session.add(InstitutionMember(institution_id=graph.institution.id, user_id=graph.coach.id))


@pytest.mark.parametrize(
    ("bad_row", "expected"),
    [
        (duplicate_workout_name_same_owner, "uq_workout_owner_id_name"),
        (duplicate_catalogue_exercise_name, "uq_exercise_owner_id_name"),
        (soreness_eleven, "soreness"),
        (session_soreness_eleven, "ck_training_session_soreness"),
        (day_beyond_schedule, "day_number"),
        (negative_day, "ck_schedule_workout_"),
        (shrink_schedule_below_booked_day, "cannot shrink to 14 days"),
        (share_invite_for_nothing, "ck_user_share_invite_"),
        (coach_coaching_themselves, "ck_user_professional_customer_relation_"),
        (second_active_relation_same_pair, "user_professional_customer_relation"),
        (duplicate_telegram_id, "telegram_user_id"),
        (rpe_out_of_range, "ck_logged_set_rpe"),
        (logged_set_without_measure, "ck_logged_set_"),
        (exercise_variant_of_itself, "ck_exercise_variant_"),
        (permission_name_mismatch, "ck_permission_"),
        (grant_without_grantee, "ck_permission_grant_"),
        (invite_used_beyond_max, "ck_institution_invite_"),
        (duplicate_department_name, "uq_institution_department_institution_id_name"),
        (duplicate_visibility_level, "uq_visibility_code_resource_type"),
        (member_twice, "uq_institution_member_institution_id_user_id"),
    ],
    ids=lambda value: getattr(value, "__name__", ""),
)
async def test_constraint_rejects_bad_row(
    session: AsyncSession, bad_row: BadRow, expected: str
) -> None:
    graph = await build_graph(session)

    async def attempt() -> None:
        async with session.begin_nested():
            await bad_row(session, graph)
            await session.flush()

    with pytest.raises((IntegrityError, DBAPIError)) as error:
        await attempt()
    message = str(error.value.orig)
    # The named constraint (or the trigger's message naming the column) refused the row,
    # not some other NOT NULL or FK we tripped over by accident.
    assert expected in message, message


async def test_same_workout_name_for_two_owners_is_fine(session: AsyncSession) -> None:
    graph = await build_graph(session)
    other = graph.athletes[0]
    first = graph.workouts[0]
    session.add(
        Workout(
            name=first.name,
            owner_id=other.id,
            difficulty_level_id=first.difficulty_level_id,
            visibility_id=first.visibility_id,
        )
    )
    await session.flush()
    count = (
        await session.execute(select(func.count()).where(Workout.name == first.name))
    ).scalar_one()
    assert count == 2
