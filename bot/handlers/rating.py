"""The rating prompt after a finished workout: "How was <workout>?" with ⭐1–5, then each
rating criterion for workouts (1–5, skippable), then an optional short review.

``ask_for_rating`` sends the prompt (the session flow calls it once the workout is finished).
The steps are stateless buttons (the workout id and the answers so far travel in the callback
data) until the review, which is a conversation step. Each answer is stored at once through
domain.services.workout_rating, which re-checks that the person may read the workout, did
finish it and does not own it: a forged id is refused and nothing is written. Rating again
replaces the earlier rating (new stars clear the earlier criteria and review).
"""

from __future__ import annotations

import html
import uuid
from collections.abc import Sequence
from functools import cache

from aiogram import Bot, F, Router
from aiogram.exceptions import TelegramBadRequest
from aiogram.filters.callback_data import CallbackData
from aiogram.fsm.context import FSMContext
from aiogram.fsm.state import State, StatesGroup
from aiogram.types import CallbackQuery, InlineKeyboardMarkup, Message
from aiogram.utils.i18n import I18n
from sqlalchemy.ext.asyncio import AsyncSession

from bot.commands import CommandInfo
from bot.i18n import N_, CatalogI18n, _
from bot.keyboards import NOT_A_COMMAND, inline, parse_short_id, short_id
from bot.router_gates import FeatureRouter
from domain.errors import NotAllowed, NotFound
from domain.services import workout_rating
from domain.services.users import UserContext
from domain.services.workout_rating import CannotRate, RatingPrompt, ReviewInvalid

COMMANDS: tuple[CommandInfo, ...] = ()

SCORES = range(1, 6)
NOT_A_CHOICE = N_("That is not one of the choices.")
NOT_ALLOWED = N_("Sorry, you are not allowed to do that.")
CANNOT_RATE = {
    "own": N_("You cannot rate your own workout."),
    "not_done": N_("You can rate a workout once you have finished it."),
}
HOW_WAS = N_("How was <b>{workout}</b>? Tap the stars.")
NOT_NOW = N_("Not now")
SKIP = N_("Skip")


class RatingForm(StatesGroup):
    review = State()  # data: workout (short id)


class RateStars(CallbackData, prefix="wrs"):
    workout: str  # short id
    score: int


class RateCriterion(CallbackData, prefix="wrc"):
    workout: str
    stars: int
    done: str  # the scores given so far, one digit per criterion in order (0 = skipped)
    score: int  # 1..5, or 0 to skip this one


class RateLater(CallbackData, prefix="wrl"):
    pass


class RateSkipReview(CallbackData, prefix="wrk"):
    pass


@cache
def _catalogs() -> CatalogI18n:
    return CatalogI18n()


def _translate(message: str, locale: str) -> str:
    i18n = I18n.get_current(no_error=True) or _catalogs()
    return i18n.gettext(message, locale=locale)


def stars(score: int) -> str:
    return "⭐" * score


def stars_keyboard(workout_id: uuid.UUID, later_label: str) -> InlineKeyboardMarkup:
    ident = short_id(workout_id)
    rows: list[Sequence[tuple[str, CallbackData]]] = [
        [(f"{score}⭐", RateStars(workout=ident, score=score)) for score in SCORES],
        [(later_label, RateLater())],
    ]
    return inline(rows)


async def ask_for_rating(
    bot: Bot,
    chat_id: int,
    *,
    user: UserContext,
    workout_id: uuid.UUID,
    locale: str,
    session: AsyncSession,
) -> bool:
    """Send "How was <workout>?" with ⭐1–5 to ``chat_id``; False (nothing sent) when the person
    cannot rate that workout (not readable, their own, or never finished)."""
    try:
        prompt = await workout_rating.rating_prompt(
            session, user.user_id, workout_id, locale=locale
        )
    except (NotAllowed, NotFound, CannotRate):
        return False
    text = _translate(HOW_WAS, locale).format(workout=html.escape(prompt.workout_name))
    await bot.send_message(
        chat_id, text, reply_markup=stars_keyboard(workout_id, _translate(NOT_NOW, locale))
    )
    return True


def criterion_screen(
    prompt: RatingPrompt, score: int, done: str
) -> tuple[str, InlineKeyboardMarkup]:
    criterion = prompt.criteria[len(done)]
    ident = short_id(prompt.workout_id)
    lines = [
        f"<b>{html.escape(prompt.workout_name)}</b>: {stars(score)}",
        "",
        _("{number} of {count} · <b>{criterion}</b>").format(
            number=len(done) + 1, count=len(prompt.criteria), criterion=html.escape(criterion.name)
        ),
        html.escape(criterion.question),
    ]
    rows: list[Sequence[tuple[str, CallbackData]]] = [
        [
            (str(value), RateCriterion(workout=ident, stars=score, done=done, score=value))
            for value in SCORES
        ],
        [(_(SKIP), RateCriterion(workout=ident, stars=score, done=done, score=0))],
    ]
    return "\n".join(lines), inline(rows)


def review_prompt(prompt: RatingPrompt, score: int) -> tuple[str, InlineKeyboardMarkup]:
    text = "\n".join(
        [
            f"<b>{html.escape(prompt.workout_name)}</b>: {stars(score)}",
            "",
            html.escape(
                _("Write a short review (up to {max} characters) or tap Skip.").format(
                    max=workout_rating.REVIEW_MAX_LENGTH
                )
            ),
        ]
    )
    return text, inline([[(_(SKIP), RateSkipReview())]])


async def edit(message: Message, text: str, keyboard: InlineKeyboardMarkup | None) -> None:
    try:
        await message.edit_text(text, reply_markup=keyboard)
    except TelegramBadRequest as error:
        if "not modified" not in error.message:
            raise


def router() -> Router:
    router = FeatureRouter(name="rating")

    async def checked_prompt(
        query: CallbackQuery, session: AsyncSession, user: UserContext, ident: str
    ) -> RatingPrompt | None:
        """The prompt for the workout in the callback, or None after answering the refusal."""
        workout_id = parse_short_id(ident)
        if workout_id is None:
            await query.answer(_(NOT_A_CHOICE), show_alert=True)
            return None
        try:
            return await workout_rating.rating_prompt(
                session, user.user_id, workout_id, locale=user.locale
            )
        except (NotAllowed, NotFound):
            await query.answer(_(NOT_ALLOWED), show_alert=True)
        except CannotRate as refusal:
            await query.answer(_(CANNOT_RATE[refusal.reason]), show_alert=True)
        return None

    async def to_review(
        query: CallbackQuery, state: FSMContext, prompt: RatingPrompt, score: int
    ) -> None:
        await state.set_state(RatingForm.review)
        await state.update_data(workout=short_id(prompt.workout_id))
        if isinstance(query.message, Message):
            text, keyboard = review_prompt(prompt, score)
            await edit(query.message, text, keyboard)

    @router.callback_query(RateStars.filter())
    async def chose_stars(
        query: CallbackQuery,
        callback_data: RateStars,
        state: FSMContext,
        session: AsyncSession,
        user: UserContext,
    ) -> None:
        if callback_data.score not in SCORES:
            await query.answer(_(NOT_A_CHOICE), show_alert=True)
            return
        prompt = await checked_prompt(query, session, user, callback_data.workout)
        if prompt is None:
            return
        await state.clear()  # a review step of an earlier prompt is over
        await workout_rating.rate_workout(
            session, user.user_id, prompt.workout_id, callback_data.score, criteria={}
        )
        await query.answer(_("Thanks!"))
        if not prompt.criteria:
            await to_review(query, state, prompt, callback_data.score)
            return
        if isinstance(query.message, Message):
            text, keyboard = criterion_screen(prompt, callback_data.score, "")
            await edit(query.message, text, keyboard)

    @router.callback_query(RateCriterion.filter())
    async def chose_criterion(
        query: CallbackQuery,
        callback_data: RateCriterion,
        state: FSMContext,
        session: AsyncSession,
        user: UserContext,
    ) -> None:
        done = callback_data.done
        valid = (
            callback_data.stars in SCORES
            and (callback_data.score == 0 or callback_data.score in SCORES)
            and all(digit in "012345" for digit in done)
        )
        if not valid:
            await query.answer(_(NOT_A_CHOICE), show_alert=True)
            return
        prompt = await checked_prompt(query, session, user, callback_data.workout)
        if prompt is None:
            return
        if len(done) >= len(prompt.criteria):
            await query.answer(_(NOT_A_CHOICE), show_alert=True)
            return
        done += str(callback_data.score)
        scores = {
            criterion.code: int(digit)
            for criterion, digit in zip(prompt.criteria, done, strict=False)
            if digit != "0"
        }
        await workout_rating.rate_workout(
            session, user.user_id, prompt.workout_id, callback_data.stars, criteria=scores
        )
        await query.answer()
        if len(done) < len(prompt.criteria):
            if isinstance(query.message, Message):
                text, keyboard = criterion_screen(prompt, callback_data.stars, done)
                await edit(query.message, text, keyboard)
            return
        await to_review(query, state, prompt, callback_data.stars)

    @router.callback_query(RateLater.filter())
    async def later(query: CallbackQuery) -> None:
        await query.answer()
        if isinstance(query.message, Message):
            await edit(query.message, html.escape(_("All right, maybe next time.")), None)

    @router.callback_query(RateSkipReview.filter())
    async def skip_review(query: CallbackQuery, state: FSMContext) -> None:
        await state.clear()
        await query.answer()
        if isinstance(query.message, Message):
            await edit(query.message, html.escape(_("Thanks! Your rating is saved.")), None)

    @router.message(RatingForm.review, F.text, NOT_A_COMMAND)
    async def typed_review(
        message: Message, state: FSMContext, session: AsyncSession, user: UserContext
    ) -> None:
        workout_id = parse_short_id(str((await state.get_data()).get("workout", "")))
        if workout_id is None:
            await state.clear()
            await message.answer(_(NOT_A_CHOICE))
            return
        try:
            given = await workout_rating.review_workout(
                session, user.user_id, workout_id, message.text or ""
            )
        except ReviewInvalid:
            await message.answer(
                _("A review is 1 to {max} characters. Please shorten it, or tap Skip.").format(
                    max=workout_rating.REVIEW_MAX_LENGTH
                )
            )
            return
        except (NotAllowed, NotFound, CannotRate):
            await state.clear()
            await message.answer(_(NOT_ALLOWED))
            return
        await state.clear()
        if given.status == "PENDING":
            await message.answer(
                _("Thanks for your review! Others will see it once a moderator has checked it.")
            )
        else:
            await message.answer(_("Thanks for your review!"))

    @router.message(RatingForm.review, NOT_A_COMMAND)
    async def review_not_text(message: Message) -> None:
        await message.answer(_("Please type your review as text, or tap Skip."))

    return router
