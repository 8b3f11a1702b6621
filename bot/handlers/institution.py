"""/institution: create a gym or club (coaches), its screen for members, and for its admins
the departments, members (role, department, removal), invite links and settings. Opening an
``inv_<token>`` link shows the institution and the role offered and asks consent before
joining; the admins are told who joined.

Every id in a button is re-checked by the service against the institution it belongs to
(domain/services/institutions.py ``require_admin``). Ids travel as 22-character URL-safe
base64 so two of them fit Telegram's 64-byte callback data.
"""

from __future__ import annotations

import datetime as dt
import html
import logging
import uuid
from collections.abc import Awaitable, Callable
from typing import Any
from zoneinfo import ZoneInfo

from aiogram import Bot, F, Router
from aiogram.exceptions import TelegramAPIError
from aiogram.filters import Command
from aiogram.filters.callback_data import CallbackData
from aiogram.fsm.context import FSMContext
from aiogram.fsm.state import State, StatesGroup
from aiogram.types import CallbackQuery, InlineKeyboardMarkup, Message
from sqlalchemy.ext.asyncio import AsyncSession

from bot.clock import now as current_instant
from bot.commands import CommandInfo
from bot.handlers.start import DEEP_LINK_HANDLERS, ask_language
from bot.i18n import N_, CatalogI18n, _, ngettext
from bot.keyboards import (
    NOT_A_COMMAND,
    chunks,
    inline,
    parse_short_id,
    screen_message,
    short_id,
)
from bot.labels import value_label
from bot.router_gates import FeatureRouter
from domain.errors import Conflict, InvalidInput, NotFound
from domain.models.setting import SettingDataType
from domain.services import institutions as inst
from domain.services import invites
from domain.services.institutions import (
    InstitutionSettingView,
    InstitutionView,
    LastAdmin,
    MemberPage,
    MemberView,
    RoleView,
)
from domain.services.link_tokens import LinkKind, LinkProblem, LinkRefused, deep_link
from domain.services.settings import InvalidSettingValue
from domain.services.timezones import find_timezone
from domain.services.users import UserContext

logger = logging.getLogger(__name__)

COMMANDS = (
    CommandInfo("institution", N_("your gym or club: members, invites, settings"), order=70),
)

LINK_PROBLEMS = {
    LinkProblem.UNKNOWN: N_(
        "This invite link is not valid. Check that you copied it whole, or ask the institution "
        "for a new one."
    ),
    LinkProblem.EXPIRED: N_("This invite link has expired. Ask the institution for a new one."),
    LinkProblem.REVOKED: N_(
        "This invite link was withdrawn by the institution. Ask them for a new one."
    ),
    LinkProblem.USED_UP: N_(
        "This invite link has already been used as many times as allowed. Ask the institution "
        "for a new one."
    ),
    LinkProblem.RATE_LIMITED: N_(
        "Too many invalid links were opened from your account. Please wait a few minutes and "
        "try again."
    ),
    LinkProblem.ALREADY_DONE: N_("You are already a member of this institution."),
    LinkProblem.OWN_LINK: N_("This is your own link."),
}
EXPIRED_STEP = N_("That step has expired. Send /institution to start again.")
NOT_FOUND = N_("I could not find that.")
NAME_PROBLEM = N_("Please send a name of 1 to {limit} characters.")
DUPLICATE_DEPARTMENT = N_("There is already a department with that name. Please choose another.")
LAST_ADMIN = N_(
    "An institution keeps at least one administrator. Make someone else an administrator first."
)
SETTING_HINTS = {
    SettingDataType.TIME: N_("Send a time as HH:MM, for example 07:30."),
    SettingDataType.TIMEZONE: N_("Send a time zone such as Europe/Paris, or a big city near you."),
}
SEND_NEW_VALUE = N_("Send the new value.")
DAYS_LABELS = {1: N_("1 day"), 7: N_("7 days"), 30: N_("30 days")}
NO_DEPARTMENT = "-"


# --------------------------------------------------------------------------------------------
# Callback data
# --------------------------------------------------------------------------------------------


class InstHome(CallbackData, prefix="ih"):
    pass


class InstNew(CallbackData, prefix="in"):
    pass


class InstOpen(CallbackData, prefix="io"):
    i: str


class DeptList(CallbackData, prefix="idl"):
    i: str


class DeptNew(CallbackData, prefix="idn"):
    i: str


class DeptOpen(CallbackData, prefix="ido"):
    d: str


class DeptRename(CallbackData, prefix="idr"):
    d: str


class DeptDelete(CallbackData, prefix="idx"):
    d: str


class MemberList(CallbackData, prefix="iml"):
    i: str
    o: int = 0


class MemberOpen(CallbackData, prefix="imo"):
    m: str


class MemberRoleMenu(CallbackData, prefix="imr"):
    m: str


class MemberRoleSet(CallbackData, prefix="ims"):
    m: str
    r: str


class MemberDeptMenu(CallbackData, prefix="imd"):
    m: str


class MemberDeptSet(CallbackData, prefix="imp"):
    m: str
    d: str  # NO_DEPARTMENT for none


class MemberRemove(CallbackData, prefix="imx"):
    m: str


class MemberRemoveYes(CallbackData, prefix="imy"):
    m: str


class InviteMenu(CallbackData, prefix="ivm"):
    i: str


class InviteNew(CallbackData, prefix="ivn"):
    i: str


class InviteRole(CallbackData, prefix="ivr"):
    r: str


class InviteDept(CallbackData, prefix="ivd"):
    d: str


class InviteDays(CallbackData, prefix="ive"):
    n: int


class InviteUses(CallbackData, prefix="ivu"):
    u: int  # 0 = unlimited


class InviteRevoke(CallbackData, prefix="ivx"):
    v: str


class SettingList(CallbackData, prefix="isl"):
    i: str


class SettingOpen(CallbackData, prefix="iso"):
    i: str
    k: str


class SettingChoose(CallbackData, prefix="isc"):
    i: str
    k: str
    v: str


class SettingReset(CallbackData, prefix="isr"):
    i: str
    k: str


class InviteAnswer(CallbackData, prefix="ij"):
    t: str  # the link's token (the person already holds it: it came in their /start)
    ok: bool


class InstForm(StatesGroup):
    name = State()
    department = State()
    rename = State()
    setting = State()


# --------------------------------------------------------------------------------------------
# Rendering
# --------------------------------------------------------------------------------------------


def roles_text(roles: tuple[RoleView, ...]) -> str:
    return ", ".join(html.escape(role.name) for role in roles) or _("no role")


def local_time(moment: dt.datetime, timezone: str) -> str:
    return moment.astimezone(ZoneInfo(timezone)).strftime("%Y-%m-%d %H:%M")


def institution_screen(view: InstitutionView, several: bool) -> tuple[str, InlineKeyboardMarkup]:
    lines = [f"🏢 <b>{html.escape(view.name)}</b>"]
    if view.my_roles:
        lines.append(_("Your role: {roles}").format(roles=roles_text(view.my_roles)))
    if view.my_department:
        lines.append(
            _("Your department: {department}").format(department=html.escape(view.my_department))
        )
    lines.append(_("Members: {count}").format(count=view.members))
    if view.departments:
        lines.append(
            _("Departments: {names}").format(
                names=", ".join(html.escape(d.name) for d in view.departments)
            )
        )
    rows: list[list[tuple[str, CallbackData]]] = []
    key = short_id(view.id)
    if view.is_admin:
        rows.append([(_("👥 Members"), MemberList(i=key)), (_("🗂 Departments"), DeptList(i=key))])
        rows.append(
            [(_("🔗 Invite links"), InviteMenu(i=key)), (_("⚙️ Settings"), SettingList(i=key))]
        )
    if several:
        rows.append([(_("⬅️ My institutions"), InstHome())])
    return "\n".join(lines), inline(rows)


def members_screen(
    institution_id: uuid.UUID, name: str, page: MemberPage
) -> tuple[str, InlineKeyboardMarkup]:
    lines = [_("👥 Members of {name} ({count})").format(name=html.escape(name), count=page.total)]
    for member in page.members:
        line = f"• {html.escape(member.name)} — {roles_text(member.roles)}"
        if member.department:
            line += f" · {html.escape(member.department)}"
        lines.append(line)
    rows: list[list[tuple[str, CallbackData]]] = [
        list(row)
        for row in chunks([(m.name[:30], MemberOpen(m=short_id(m.id))) for m in page.members], 2)
    ]
    key = short_id(institution_id)
    paging: list[tuple[str, CallbackData]] = []
    if page.offset > 0:
        paging.append(("◀️", MemberList(i=key, o=max(0, page.offset - page.limit))))
    if page.has_next:
        paging.append(("▶️", MemberList(i=key, o=page.offset + page.limit)))
    if paging:
        rows.append(paging)
    rows.append([(_("⬅️ Back"), InstOpen(i=key))])
    return "\n".join(lines), inline(rows)


def member_screen(member: MemberView, timezone: str) -> tuple[str, InlineKeyboardMarkup]:
    lines = [
        f"👤 <b>{html.escape(member.name)}</b>",
        _("Role: {roles}").format(roles=roles_text(member.roles)),
        _("Department: {department}").format(
            department=html.escape(member.department) if member.department else _("none")
        ),
        _("Member since {date}").format(date=local_time(member.joined_at, timezone)[:10]),
    ]
    key = short_id(member.id)
    rows: list[list[tuple[str, CallbackData]]] = [
        [
            (_("🎭 Change role"), MemberRoleMenu(m=key)),
            (_("🗂 Change department"), MemberDeptMenu(m=key)),
        ],
        [(_("🚫 Remove from the institution"), MemberRemove(m=key))],
        [(_("⬅️ Members"), MemberList(i=short_id(member.institution_id)))],
    ]
    return "\n".join(lines), inline(rows)


def setting_value_text(view: InstitutionSettingView, i18n: CatalogI18n, locale: str) -> str:
    return html.escape(value_label(view.value, i18n, locale))


def setting_line(view: InstitutionSettingView, i18n: CatalogI18n, locale: str) -> str:
    source = _("set by the institution") if view.overridden else _("default")
    return f"• {html.escape(view.name)}: <b>{setting_value_text(view, i18n, locale)}</b> ({source})"


def problem_text(problem: LinkProblem) -> str:
    return _(LINK_PROBLEMS[problem])


def offer_text(role: RoleView | None, department: str | None) -> str:
    text = _("as {role}").format(role=f"<b>{html.escape(role.name)}</b>") if role else ""
    if department:
        text += " " + _("in the department {department}").format(
            department=f"<b>{html.escape(department)}</b>"
        )
    return text.strip()


# --------------------------------------------------------------------------------------------
# The invite link
# --------------------------------------------------------------------------------------------


async def open_invite(
    message: Message,
    payload: str,
    *,
    state: FSMContext,
    user: UserContext,
    session: AsyncSession,
    i18n: CatalogI18n,
) -> bool:
    """``/start inv_<token>``: the consent screen, or why the link cannot be used."""
    await state.clear()
    try:
        preview = await invites.preview_invite(
            session, user.user_id, payload, now=current_instant(), locale=user.locale
        )
    except LinkRefused as refused:
        # The recorded failure commits with the update; nothing else was changed.
        await message.answer(problem_text(refused.problem))
        if not user.onboarded and refused.problem is not LinkProblem.ALREADY_DONE:
            await ask_language(message, state, user)
        return True
    text = _("🏢 <b>{institution}</b> invites you to join {offer}.").format(
        institution=html.escape(preview.institution),
        offer=offer_text(preview.role, preview.department),
    )
    text += "\n\n" + _(
        "If you join, its administrators will see your name and your role there, and you will "
        "see the programs it shares with its members. Do you want to join?"
    )
    await message.answer(
        text,
        reply_markup=inline(
            [
                [
                    (_("✅ Join"), InviteAnswer(t=payload, ok=True)),
                    (_("No, thanks"), InviteAnswer(t=payload, ok=False)),
                ]
            ]
        ),
    )
    return True


DEEP_LINK_HANDLERS[LinkKind.INVITE.value] = open_invite


async def tell_admins(bot: Bot, i18n: CatalogI18n, joined: invites.JoinResult) -> None:
    """ "Nina joined Iron Temple as Coach", to each admin in their language; a blocked chat
    does not stop the others."""
    for admin in joined.admins:
        if admin.telegram_user_id is None:
            continue
        with i18n.use_locale(admin.locale):
            text = _("🆕 {name} joined {institution}").format(
                name=f"<b>{html.escape(joined.member_name)}</b>",
                institution=html.escape(joined.institution),
            )
            if admin.role_name:
                text += " " + _("as {role}").format(role=html.escape(admin.role_name))
            if joined.department:
                text += " · " + html.escape(joined.department)
        try:
            await bot.send_message(admin.telegram_user_id, text + ".")
        except TelegramAPIError:
            logger.warning("could not tell admin %s about a new member", admin.user_id)


# --------------------------------------------------------------------------------------------
# Router
# --------------------------------------------------------------------------------------------


def router() -> Router:
    router = FeatureRouter(name="institution")

    async def show(
        message: Message, text: str, keyboard: InlineKeyboardMarkup | None, *, edit: bool
    ) -> None:
        if edit:
            await message.edit_text(text, reply_markup=keyboard)
        else:
            await message.answer(text, reply_markup=keyboard)

    async def show_home(
        message: Message, session: AsyncSession, user: UserContext, *, edit: bool
    ) -> None:
        mine = await inst.my_institutions(session, user.user_id)
        if len(mine) == 1:
            await show_institution(message, session, user, mine[0].id, edit=edit, several=False)
            return
        creator = await inst.may_create_institution(session, user.user_id)
        rows: list[list[tuple[str, CallbackData]]] = [
            [(f"🏢 {summary.name[:40]}", InstOpen(i=short_id(summary.id)))] for summary in mine
        ]
        if creator:
            rows.append([(_("➕ Create an institution"), InstNew())])
        if mine:
            text = _("🏢 Your institutions")
        elif creator:
            text = _(
                "You do not belong to an institution yet. Create your gym, club or clinic here, "
                "then invite your coaches and members with a link."
            )
        else:
            text = _(
                "You do not belong to an institution yet. To join one, open the invite link its "
                "administrator sent you. Coaches can create one: choose “I coach” or “I run a gym "
                "or club” in /start."
            )
        await show(message, text, inline(rows) if rows else None, edit=edit)

    async def show_institution(
        message: Message,
        session: AsyncSession,
        user: UserContext,
        institution_id: uuid.UUID,
        *,
        edit: bool,
        several: bool | None = None,
        prefix: str = "",
    ) -> None:
        view = await inst.institution_view(session, user.user_id, institution_id, user.locale)
        if several is None:
            several = len(await inst.my_institutions(session, user.user_id)) > 1
        text, keyboard = institution_screen(view, several)
        await show(message, prefix + text, keyboard, edit=edit)

    async def show_members(
        message: Message,
        session: AsyncSession,
        user: UserContext,
        institution_id: uuid.UUID,
        offset: int,
        *,
        edit: bool,
    ) -> None:
        page = await inst.list_members(
            session, user.user_id, institution_id, locale=user.locale, offset=max(0, offset)
        )
        view = await inst.institution_view(session, user.user_id, institution_id, user.locale)
        text, keyboard = members_screen(institution_id, view.name, page)
        await show(message, text, keyboard, edit=edit)

    async def show_member(
        message: Message,
        session: AsyncSession,
        user: UserContext,
        member_id: uuid.UUID,
        *,
        edit: bool,
        prefix: str = "",
    ) -> None:
        member = await inst.member_detail(session, user.user_id, member_id, user.locale)
        text, keyboard = member_screen(member, user.timezone)
        await show(message, prefix + text, keyboard, edit=edit)

    async def show_departments(
        message: Message,
        session: AsyncSession,
        user: UserContext,
        institution_id: uuid.UUID,
        *,
        edit: bool,
        prefix: str = "",
    ) -> None:
        await inst.require_admin(session, user.user_id, institution_id)
        departments = await inst.list_departments(session, user.user_id, institution_id)
        key = short_id(institution_id)
        lines = [_("🗂 Departments")]
        if not departments:
            lines.append(_("No department yet."))
        lines.extend(
            f"• {html.escape(d.name)} — "
            + ngettext("{count} member", "{count} members", d.members).format(count=d.members)
            for d in departments
        )
        rows: list[list[tuple[str, CallbackData]]] = [
            list(row)
            for row in chunks([(d.name[:30], DeptOpen(d=short_id(d.id))) for d in departments], 2)
        ]
        rows.append([(_("➕ New department"), DeptNew(i=key)), (_("⬅️ Back"), InstOpen(i=key))])
        await show(message, prefix + "\n".join(lines), inline(rows), edit=edit)

    async def department_named(
        message: Message,
        state: FSMContext,
        session: AsyncSession,
        user: UserContext,
        save: Callable[[str], Awaitable[uuid.UUID]],
    ) -> None:
        """A typed department name, created or renamed by ``save`` (which returns the
        institution); a refused name is answered and the step goes on."""
        try:
            institution_id = await save(message.text or "")
        except InvalidInput:
            await message.answer(_(NAME_PROBLEM).format(limit=inst.DEPARTMENT_NAME_MAX))
            return
        except Conflict:
            await message.answer(_(DUPLICATE_DEPARTMENT))
            return
        await state.clear()
        await show_departments(
            message, session, user, institution_id, edit=False, prefix=_("Saved.") + "\n\n"
        )

    async def show_invites(
        message: Message,
        session: AsyncSession,
        user: UserContext,
        institution_id: uuid.UUID,
        *,
        edit: bool,
        prefix: str = "",
    ) -> None:
        active = await invites.list_invites(
            session, user.user_id, institution_id, now=current_instant(), locale=user.locale
        )
        key = short_id(institution_id)
        lines = [_("🔗 Active invite links")]
        if not active:
            lines.append(_("No active invite link."))
        rows: list[list[tuple[str, CallbackData]]] = []
        for number, view in enumerate(active, start=1):
            uses = (
                _("{used}/{max} uses").format(used=view.use_count, max=view.max_uses)
                if view.max_uses is not None
                else _("{used} uses, unlimited").format(used=view.use_count)
            )
            parts = [view.role.name if view.role else _("no role")]
            if view.department:
                parts.append(view.department)
            parts.append(uses)
            parts.append(
                _("expires {date}").format(date=local_time(view.expires_at, user.timezone))
            )
            lines.append(f"{number}. " + html.escape(" · ".join(parts)))
            rows.append(
                [
                    (
                        _("❌ Revoke #{number}").format(number=number),
                        InviteRevoke(v=short_id(view.id)),
                    )
                ]
            )
        rows.append([(_("➕ New invite link"), InviteNew(i=key)), (_("⬅️ Back"), InstOpen(i=key))])
        await show(message, prefix + "\n".join(lines), inline(rows), edit=edit)

    async def show_settings(
        message: Message,
        session: AsyncSession,
        user: UserContext,
        i18n: CatalogI18n,
        institution_id: uuid.UUID,
        *,
        edit: bool,
        prefix: str = "",
    ) -> None:
        views = await inst.institution_settings(session, user.user_id, institution_id, user.locale)
        key = short_id(institution_id)
        lines = [
            _("⚙️ Settings for your members"),
            _("A member's own choice still wins over these."),
            "",
        ]
        lines.extend(setting_line(view, i18n, user.locale) for view in views)
        rows: list[list[tuple[str, CallbackData]]] = [
            list(row)
            for row in chunks([(v.name[:30], SettingOpen(i=key, k=v.key)) for v in views], 2)
        ]
        rows.append([(_("⬅️ Back"), InstOpen(i=key))])
        await show(message, prefix + "\n".join(lines), inline(rows), edit=edit)

    async def show_setting(
        message: Message,
        session: AsyncSession,
        user: UserContext,
        i18n: CatalogI18n,
        institution_id: uuid.UUID,
        key: str,
        *,
        edit: bool,
        prefix: str = "",
    ) -> InstitutionSettingView:
        view = await inst.institution_setting(
            session, user.user_id, institution_id, key, user.locale
        )
        ikey = short_id(institution_id)
        lines = [
            f"⚙️ <b>{html.escape(view.name)}</b>",
            setting_line(view, i18n, user.locale),
        ]
        rows: list[list[tuple[str, CallbackData]]] = []
        if view.data_type is SettingDataType.BOOLEAN:
            rows.append(
                [
                    (value_label(True, i18n, user.locale), SettingChoose(i=ikey, k=key, v="1")),
                    (value_label(False, i18n, user.locale), SettingChoose(i=ikey, k=key, v="0")),
                ]
            )
        elif view.choices:
            buttons = [
                (
                    value_label(choice, i18n, user.locale),
                    SettingChoose(i=ikey, k=key, v=str(choice)),
                )
                for choice in view.choices
            ]
            rows.extend(list(row) for row in chunks(buttons, 3))
        else:
            lines.append(_(SETTING_HINTS.get(view.data_type, SEND_NEW_VALUE)))
        if view.overridden:
            rows.append([(_("↩️ Back to the default"), SettingReset(i=ikey, k=key))])
        rows.append([(_("⬅️ Settings"), SettingList(i=ikey))])
        await show(message, prefix + "\n".join(lines), inline(rows), edit=edit)
        return view

    def parsed(raw: str) -> uuid.UUID:
        found = parse_short_id(raw)
        if found is None:
            raise NotFound("bad id in a button", field="id")
        return found

    async def not_found(query: CallbackQuery) -> None:
        await query.answer(_(NOT_FOUND), show_alert=True)

    # --- home, create ----------------------------------------------------------------------

    @router.message(Command("institution"))
    async def institution_command(
        message: Message, state: FSMContext, session: AsyncSession, user: UserContext
    ) -> None:
        await state.clear()
        await show_home(message, session, user, edit=False)

    @router.callback_query(InstHome.filter())
    async def home(
        query: CallbackQuery, state: FSMContext, session: AsyncSession, user: UserContext
    ) -> None:
        await state.clear()
        await query.answer()
        await show_home(screen_message(query), session, user, edit=True)

    @router.callback_query(InstOpen.filter())
    async def open_institution(
        query: CallbackQuery,
        callback_data: InstOpen,
        state: FSMContext,
        session: AsyncSession,
        user: UserContext,
    ) -> None:
        institution_id = parse_short_id(callback_data.i)
        if institution_id is None:
            await not_found(query)
            return
        await state.clear()
        await show_institution(screen_message(query), session, user, institution_id, edit=True)
        await query.answer()

    @router.callback_query(InstNew.filter())
    async def new_institution(
        query: CallbackQuery, state: FSMContext, session: AsyncSession, user: UserContext
    ) -> None:
        if not await inst.may_create_institution(session, user.user_id):
            await query.answer(_("Only coaches can create an institution."), show_alert=True)
            return
        await state.clear()
        await state.set_state(InstForm.name)
        await query.answer()
        await screen_message(query).answer(
            _("What is the name of your gym, club or clinic?")
            + "\n"
            + _("Or send /cancel to stop.")
        )

    @router.message(InstForm.name, F.text, NOT_A_COMMAND)
    async def got_name(
        message: Message, state: FSMContext, session: AsyncSession, user: UserContext
    ) -> None:
        try:
            institution_id = await inst.create_institution(
                session, user.user_id, message.text or ""
            )
        except InvalidInput:
            await message.answer(_(NAME_PROBLEM).format(limit=inst.NAME_MAX))
            return
        await state.clear()
        await show_institution(
            message,
            session,
            user,
            institution_id,
            edit=False,
            prefix=_("✅ Created. You are its administrator.") + "\n\n",
        )

    # --- departments -------------------------------------------------------------------------

    @router.callback_query(DeptList.filter())
    async def departments(
        query: CallbackQuery,
        callback_data: DeptList,
        state: FSMContext,
        session: AsyncSession,
        user: UserContext,
    ) -> None:
        await state.clear()
        await show_departments(
            screen_message(query), session, user, parsed(callback_data.i), edit=True
        )
        await query.answer()

    @router.callback_query(DeptNew.filter())
    async def new_department(
        query: CallbackQuery,
        callback_data: DeptNew,
        state: FSMContext,
        session: AsyncSession,
        user: UserContext,
    ) -> None:
        institution_id = parsed(callback_data.i)
        await inst.require_admin(session, user.user_id, institution_id)
        await state.clear()
        await state.set_state(InstForm.department)
        await state.update_data(institution=institution_id.hex)
        await query.answer()
        await screen_message(query).answer(
            _("Name the new department, for example “Weightlifting”.")
            + "\n"
            + _("Or send /cancel to stop.")
        )

    @router.message(InstForm.department, F.text, NOT_A_COMMAND)
    async def got_department(
        message: Message, state: FSMContext, session: AsyncSession, user: UserContext
    ) -> None:
        institution_id = uuid.UUID(hex=(await state.get_data())["institution"])

        async def create(name: str) -> uuid.UUID:
            await inst.create_department(session, user.user_id, institution_id, name)
            return institution_id

        await department_named(message, state, session, user, create)

    @router.callback_query(DeptOpen.filter())
    async def open_department(
        query: CallbackQuery, callback_data: DeptOpen, session: AsyncSession, user: UserContext
    ) -> None:
        department_id = parsed(callback_data.d)
        # Checked against the department's own institution (a forged id is refused).
        department = await inst.department_detail(session, user.user_id, department_id)
        key = short_id(department_id)
        await query.answer()
        await screen_message(query).edit_text(
            f"🗂 <b>{html.escape(department.name)}</b>\n"
            + ngettext("{count} member", "{count} members", department.members).format(
                count=department.members
            ),
            reply_markup=inline(
                [
                    [(_("✏️ Rename"), DeptRename(d=key)), (_("🗑 Delete"), DeptDelete(d=key))],
                    [(_("⬅️ Back"), DeptList(i=short_id(department.institution_id)))],
                ]
            ),
        )

    @router.callback_query(DeptRename.filter())
    async def rename_department(
        query: CallbackQuery,
        callback_data: DeptRename,
        state: FSMContext,
        session: AsyncSession,
        user: UserContext,
    ) -> None:
        department_id = parsed(callback_data.d)
        await inst.department_detail(session, user.user_id, department_id)
        await state.clear()
        await state.set_state(InstForm.rename)
        await state.update_data(department=department_id.hex)
        await query.answer()
        await screen_message(query).answer(
            _("Send the department's new name.") + "\n" + _("Or send /cancel to stop.")
        )

    @router.message(InstForm.rename, F.text, NOT_A_COMMAND)
    async def got_rename(
        message: Message, state: FSMContext, session: AsyncSession, user: UserContext
    ) -> None:
        department_id = uuid.UUID(hex=(await state.get_data())["department"])

        async def rename(name: str) -> uuid.UUID:
            return await inst.rename_department(session, user.user_id, department_id, name)

        await department_named(message, state, session, user, rename)

    @router.callback_query(DeptDelete.filter())
    async def delete_department(
        query: CallbackQuery, callback_data: DeptDelete, session: AsyncSession, user: UserContext
    ) -> None:
        institution_id = await inst.delete_department(
            session, user.user_id, parsed(callback_data.d)
        )
        await query.answer(_("Department deleted. Its members stay, without a department."))
        await show_departments(screen_message(query), session, user, institution_id, edit=True)

    # --- members -----------------------------------------------------------------------------

    @router.callback_query(MemberList.filter())
    async def members(
        query: CallbackQuery,
        callback_data: MemberList,
        state: FSMContext,
        session: AsyncSession,
        user: UserContext,
    ) -> None:
        await state.clear()
        await show_members(
            screen_message(query),
            session,
            user,
            parsed(callback_data.i),
            callback_data.o,
            edit=True,
        )
        await query.answer()

    @router.callback_query(MemberOpen.filter())
    async def open_member(
        query: CallbackQuery, callback_data: MemberOpen, session: AsyncSession, user: UserContext
    ) -> None:
        await show_member(screen_message(query), session, user, parsed(callback_data.m), edit=True)
        await query.answer()

    @router.callback_query(MemberRoleMenu.filter())
    async def role_menu(
        query: CallbackQuery,
        callback_data: MemberRoleMenu,
        session: AsyncSession,
        user: UserContext,
    ) -> None:
        member_id = parsed(callback_data.m)
        member = await inst.member_detail(session, user.user_id, member_id, user.locale)
        roles = await inst.assignable_roles(session, member.institution_id, user.locale)
        key = short_id(member_id)
        buttons: list[tuple[str, CallbackData]] = [
            (role.name, MemberRoleSet(m=key, r=short_id(role.id))) for role in roles
        ]
        rows = [list(row) for row in chunks(buttons, 2)]
        rows.append([(_("⬅️ Back"), MemberOpen(m=key))])
        await query.answer()
        await screen_message(query).edit_text(
            _("Which role should {name} have?").format(name=html.escape(member.name)),
            reply_markup=inline(rows),
        )

    @router.callback_query(MemberRoleSet.filter())
    async def role_set(
        query: CallbackQuery,
        callback_data: MemberRoleSet,
        session: AsyncSession,
        user: UserContext,
    ) -> None:
        member_id = parsed(callback_data.m)
        try:
            await inst.set_member_role(session, user.user_id, member_id, parsed(callback_data.r))
        except LastAdmin:
            await query.answer(_(LAST_ADMIN), show_alert=True)
            return
        await query.answer(_("Role changed."))
        await show_member(screen_message(query), session, user, member_id, edit=True)

    @router.callback_query(MemberDeptMenu.filter())
    async def department_menu(
        query: CallbackQuery,
        callback_data: MemberDeptMenu,
        session: AsyncSession,
        user: UserContext,
    ) -> None:
        member_id = parsed(callback_data.m)
        member = await inst.member_detail(session, user.user_id, member_id, user.locale)
        departments = await inst.list_departments(session, user.user_id, member.institution_id)
        key = short_id(member_id)
        buttons: list[tuple[str, CallbackData]] = [
            (d.name[:30], MemberDeptSet(m=key, d=short_id(d.id))) for d in departments
        ]
        rows = [list(row) for row in chunks(buttons, 2)]
        rows.append([(_("No department"), MemberDeptSet(m=key, d=NO_DEPARTMENT))])
        rows.append([(_("⬅️ Back"), MemberOpen(m=key))])
        await query.answer()
        await screen_message(query).edit_text(
            _("Which department should {name} be in?").format(name=html.escape(member.name)),
            reply_markup=inline(rows),
        )

    @router.callback_query(MemberDeptSet.filter())
    async def department_set(
        query: CallbackQuery,
        callback_data: MemberDeptSet,
        session: AsyncSession,
        user: UserContext,
    ) -> None:
        member_id = parsed(callback_data.m)
        department = None if callback_data.d == NO_DEPARTMENT else parsed(callback_data.d)
        await inst.set_member_department(session, user.user_id, member_id, department)
        await query.answer(_("Department changed."))
        await show_member(screen_message(query), session, user, member_id, edit=True)

    @router.callback_query(MemberRemove.filter())
    async def remove_member(
        query: CallbackQuery,
        callback_data: MemberRemove,
        session: AsyncSession,
        user: UserContext,
    ) -> None:
        member_id = parsed(callback_data.m)
        member = await inst.member_detail(session, user.user_id, member_id, user.locale)
        key = short_id(member_id)
        await query.answer()
        await screen_message(query).edit_text(
            _("Remove {name} from the institution? Their roles there end too.").format(
                name=html.escape(member.name)
            ),
            reply_markup=inline(
                [[(_("🚫 Yes, remove"), MemberRemoveYes(m=key)), (_("⬅️ Back"), MemberOpen(m=key))]]
            ),
        )

    @router.callback_query(MemberRemoveYes.filter())
    async def remove_member_confirmed(
        query: CallbackQuery,
        callback_data: MemberRemoveYes,
        session: AsyncSession,
        user: UserContext,
    ) -> None:
        member_id = parsed(callback_data.m)
        member = await inst.member_detail(session, user.user_id, member_id, user.locale)
        try:
            await inst.remove_member(session, user.user_id, member_id)
        except LastAdmin:
            await query.answer(_(LAST_ADMIN), show_alert=True)
            return
        await query.answer(_("{name} was removed.").format(name=member.name))
        await show_members(
            screen_message(query), session, user, member.institution_id, 0, edit=True
        )

    # --- invite links ------------------------------------------------------------------------

    @router.callback_query(InviteMenu.filter())
    async def invite_menu(
        query: CallbackQuery,
        callback_data: InviteMenu,
        state: FSMContext,
        session: AsyncSession,
        user: UserContext,
    ) -> None:
        await state.clear()
        await show_invites(screen_message(query), session, user, parsed(callback_data.i), edit=True)
        await query.answer()

    @router.callback_query(InviteRevoke.filter())
    async def revoke(
        query: CallbackQuery, callback_data: InviteRevoke, session: AsyncSession, user: UserContext
    ) -> None:
        institution_id = await invites.revoke_invite(session, user.user_id, parsed(callback_data.v))
        await query.answer(_("Invite link revoked: it no longer works."))
        await show_invites(screen_message(query), session, user, institution_id, edit=True)

    @router.callback_query(InviteNew.filter())
    async def invite_new(
        query: CallbackQuery,
        callback_data: InviteNew,
        state: FSMContext,
        session: AsyncSession,
        user: UserContext,
    ) -> None:
        institution_id = parsed(callback_data.i)
        await inst.require_admin(session, user.user_id, institution_id)
        roles = await inst.assignable_roles(session, institution_id, user.locale)
        await state.clear()
        await state.set_data({"invite_institution": institution_id.hex})
        buttons = [(role.name, InviteRole(r=short_id(role.id))) for role in roles]
        await query.answer()
        await screen_message(query).answer(
            _("New invite link: which role will the newcomer get?"),
            reply_markup=inline([list(row) for row in chunks(buttons, 2)]),
        )

    async def invite_step(
        state: FSMContext, query: CallbackQuery, **update: Any
    ) -> dict[str, Any] | None:
        data = await state.get_data()
        if "invite_institution" not in data:
            await query.answer(_(EXPIRED_STEP), show_alert=True)
            return None
        await state.update_data(**update)
        return {**data, **update}

    @router.callback_query(InviteRole.filter())
    async def invite_role(
        query: CallbackQuery,
        callback_data: InviteRole,
        state: FSMContext,
        session: AsyncSession,
        user: UserContext,
    ) -> None:
        role_id = parsed(callback_data.r)
        data = await invite_step(state, query, invite_role=role_id.hex)
        if data is None:
            return
        institution_id = uuid.UUID(hex=data["invite_institution"])
        departments = await inst.list_departments(session, user.user_id, institution_id)
        await query.answer()
        if not departments:
            await ask_days(screen_message(query), state)
            return
        buttons = [(d.name[:30], InviteDept(d=short_id(d.id))) for d in departments]
        rows = [list(row) for row in chunks(buttons, 2)]
        rows.append([(_("No department"), InviteDept(d=NO_DEPARTMENT))])
        await screen_message(query).edit_text(
            _("Which department will they be in?"), reply_markup=inline(rows)
        )

    async def ask_days(message: Message, state: FSMContext) -> None:
        await message.edit_text(
            _("How long will the link work?"),
            reply_markup=inline(
                [[(_(label), InviteDays(n=days)) for days, label in DAYS_LABELS.items()]]
            ),
        )

    @router.callback_query(InviteDept.filter())
    async def invite_department(
        query: CallbackQuery, callback_data: InviteDept, state: FSMContext
    ) -> None:
        department = None if callback_data.d == NO_DEPARTMENT else parsed(callback_data.d)
        data = await invite_step(
            state, query, invite_department=department.hex if department else None
        )
        if data is None:
            return
        await query.answer()
        await ask_days(screen_message(query), state)

    @router.callback_query(InviteDays.filter())
    async def invite_days(
        query: CallbackQuery, callback_data: InviteDays, state: FSMContext
    ) -> None:
        data = await invite_step(state, query, invite_days=callback_data.n)
        if data is None:
            return
        await query.answer()
        await screen_message(query).edit_text(
            _("How many people may use it?"),
            reply_markup=inline(
                [
                    [
                        (_("1 person"), InviteUses(u=1)),
                        (_("10 people"), InviteUses(u=10)),
                        (_("Unlimited"), InviteUses(u=0)),
                    ]
                ]
            ),
        )

    @router.callback_query(InviteUses.filter())
    async def invite_uses(
        query: CallbackQuery,
        callback_data: InviteUses,
        state: FSMContext,
        session: AsyncSession,
        user: UserContext,
        bot: Bot,
    ) -> None:
        data = await invite_step(state, query)
        if data is None or "invite_role" not in data or "invite_days" not in data:
            if data is not None:
                await query.answer(_(EXPIRED_STEP), show_alert=True)
            return
        institution_id = uuid.UUID(hex=data["invite_institution"])
        department = data.get("invite_department")
        try:
            issued = await invites.create_invite(
                session,
                user.user_id,
                institution_id,
                role_id=uuid.UUID(hex=data["invite_role"]),
                department_id=uuid.UUID(hex=department) if department else None,
                days=int(data["invite_days"]),
                max_uses=callback_data.u or None,
                now=current_instant(),
            )
        except InvalidInput:
            await query.answer(_(EXPIRED_STEP), show_alert=True)
            return
        await state.clear()
        await query.answer()
        link = deep_link((await bot.me()).username, LinkKind.INVITE, issued.token)
        await screen_message(query).edit_text(
            _(
                "🔗 Your invite link (valid until {date}):\n{link}\n\nSend it to the people you "
                "invite. Anyone holding it can join, so share it only with them; you can revoke "
                "it at any time from the invite links screen."
            ).format(date=local_time(issued.expires_at, user.timezone), link=html.escape(link)),
            reply_markup=inline([[(_("🔗 Invite links"), InviteMenu(i=short_id(institution_id)))]]),
        )

    # --- settings ----------------------------------------------------------------------------

    @router.callback_query(SettingList.filter())
    async def settings_list(
        query: CallbackQuery,
        callback_data: SettingList,
        state: FSMContext,
        session: AsyncSession,
        user: UserContext,
        i18n: CatalogI18n,
    ) -> None:
        await state.clear()
        await show_settings(
            screen_message(query), session, user, i18n, parsed(callback_data.i), edit=True
        )
        await query.answer()

    @router.callback_query(SettingOpen.filter())
    async def setting_open(
        query: CallbackQuery,
        callback_data: SettingOpen,
        state: FSMContext,
        session: AsyncSession,
        user: UserContext,
        i18n: CatalogI18n,
    ) -> None:
        institution_id = parsed(callback_data.i)
        await state.clear()
        view = await show_setting(
            screen_message(query), session, user, i18n, institution_id, callback_data.k, edit=True
        )
        if view.data_type in SETTING_HINTS:
            await state.set_state(InstForm.setting)
            await state.update_data(institution=institution_id.hex, key=view.key)
        await query.answer()

    async def save_setting(
        session: AsyncSession, user: UserContext, institution_id: uuid.UUID, key: str, value: Any
    ) -> str | None:
        """None when saved, else why not (in the person's language)."""
        try:
            await inst.set_setting(session, user.user_id, institution_id, key, value)
        except InvalidSettingValue as refusal:
            if refusal.rule == "timezone":
                return _(SETTING_HINTS[SettingDataType.TIMEZONE])
            if refusal.rule == "format":
                return _(SETTING_HINTS[SettingDataType.TIME])
            return _("That value is not allowed for this setting.")
        return None

    @router.callback_query(SettingChoose.filter())
    async def setting_choose(
        query: CallbackQuery,
        callback_data: SettingChoose,
        state: FSMContext,
        session: AsyncSession,
        user: UserContext,
        i18n: CatalogI18n,
    ) -> None:
        institution_id = parsed(callback_data.i)
        view = await inst.institution_setting(
            session, user.user_id, institution_id, callback_data.k, user.locale
        )
        value: Any = callback_data.v
        if view.data_type is SettingDataType.BOOLEAN:
            value = callback_data.v == "1"
        problem = await save_setting(session, user, institution_id, view.key, value)
        if problem:
            await query.answer(problem, show_alert=True)
            return
        await state.clear()
        await query.answer(_("Saved."))
        await show_setting(
            screen_message(query), session, user, i18n, institution_id, view.key, edit=True
        )

    @router.message(InstForm.setting, F.text, NOT_A_COMMAND)
    async def setting_typed(
        message: Message,
        state: FSMContext,
        session: AsyncSession,
        user: UserContext,
        i18n: CatalogI18n,
    ) -> None:
        data = await state.get_data()
        institution_id = uuid.UUID(hex=data["institution"])
        key = str(data["key"])
        view = await inst.institution_setting(
            session, user.user_id, institution_id, key, user.locale
        )
        text = (message.text or "").strip()
        value: Any = text
        if view.data_type is SettingDataType.TIMEZONE:
            value = find_timezone(text) or text
        problem = await save_setting(session, user, institution_id, key, value)
        if problem:
            await message.answer(problem)
            return
        await state.clear()
        await show_setting(
            message,
            session,
            user,
            i18n,
            institution_id,
            key,
            edit=False,
            prefix=_("Saved.") + "\n\n",
        )

    @router.callback_query(SettingReset.filter())
    async def setting_reset(
        query: CallbackQuery,
        callback_data: SettingReset,
        state: FSMContext,
        session: AsyncSession,
        user: UserContext,
        i18n: CatalogI18n,
    ) -> None:
        institution_id = parsed(callback_data.i)
        await inst.reset_setting(session, user.user_id, institution_id, callback_data.k)
        await state.clear()
        await query.answer(_("Back to the default."))
        await show_setting(
            screen_message(query), session, user, i18n, institution_id, callback_data.k, edit=True
        )

    # --- joining -----------------------------------------------------------------------------

    @router.callback_query(InviteAnswer.filter())
    async def invite_answer(
        query: CallbackQuery,
        callback_data: InviteAnswer,
        state: FSMContext,
        session: AsyncSession,
        user: UserContext,
        i18n: CatalogI18n,
        bot: Bot,
    ) -> None:
        message = screen_message(query)
        if not callback_data.ok:
            await query.answer()
            await message.edit_text(_("No problem: you did not join."))
            if not user.onboarded:
                await ask_language(message, state, user)
            return
        try:
            joined = await invites.redeem_invite(
                session, user.user_id, callback_data.t, now=current_instant(), locale=user.locale
            )
        except LinkRefused as refused:
            await query.answer()
            await message.edit_text(problem_text(refused.problem))
            return
        # Tell the admins only what is committed.
        await session.commit()
        await query.answer()
        text = _("🎉 Welcome to {institution}! You joined {offer}.").format(
            institution=f"<b>{html.escape(joined.institution)}</b>",
            offer=offer_text(joined.role, joined.department),
        )
        await message.edit_text(text.replace(" .", "."))
        await tell_admins(bot, i18n, joined)
        if not user.onboarded:
            await ask_language(message, state, user)
        else:
            await message.answer(_("Send /institution to see it."))

    @router.message(InstForm.name, NOT_A_COMMAND)
    @router.message(InstForm.department, NOT_A_COMMAND)
    @router.message(InstForm.rename, NOT_A_COMMAND)
    @router.message(InstForm.setting, NOT_A_COMMAND)
    async def expected_text(message: Message) -> None:
        await message.answer(_("Please type your answer, or send /cancel to stop."))

    return router
