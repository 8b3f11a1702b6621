"""Telegram's own notices: a person blocking or unblocking the bot."""

from __future__ import annotations

from aiogram import Router
from aiogram.filters import KICKED, MEMBER, ChatMemberUpdatedFilter
from aiogram.types import ChatMemberUpdated
from sqlalchemy.ext.asyncio import AsyncSession

from bot.router_gates import FeatureRouter
from domain.services.users import UserContext, set_reachable


def router() -> Router:
    router = FeatureRouter(name="system")

    @router.my_chat_member(ChatMemberUpdatedFilter(member_status_changed=KICKED))
    async def blocked(event: ChatMemberUpdated, user: UserContext, session: AsyncSession) -> None:
        await set_reachable(session, user.user_id, reachable=False)

    @router.my_chat_member(ChatMemberUpdatedFilter(member_status_changed=MEMBER))
    async def unblocked(event: ChatMemberUpdated, user: UserContext, session: AsyncSession) -> None:
        await set_reachable(session, user.user_id, reachable=True)

    return router
