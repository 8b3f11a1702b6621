"""At-most-once handling of Telegram updates: the de-duplication store's upkeep. Updates are
claimed by ``domain.services.users.claim_and_find_sender`` (with their sender, one round trip);
``claim_update`` claims one in the caller's transaction."""

from __future__ import annotations

import datetime as dt

from sqlalchemy import delete
from sqlalchemy.dialects.postgresql import insert
from sqlalchemy.ext.asyncio import AsyncSession

from domain.models.telegram import ProcessedUpdate

# Telegram keeps an unconfirmed update for 24 hours; after that it is never delivered again.
RETENTION = dt.timedelta(days=2)


async def claim_update(session: AsyncSession, bot_id: int, update_id: int) -> bool:
    """Mark the update handled in the caller's transaction; False when it already was.

    A concurrent claim of the same update waits on the unique key until the first
    transaction ends: it then gets False (committed) or True (rolled back).
    """
    claimed = await session.scalar(
        insert(ProcessedUpdate)
        .values(bot_id=bot_id, update_id=update_id)
        .on_conflict_do_nothing()
        .returning(ProcessedUpdate.update_id)
    )
    return claimed is not None


async def purge_processed_updates(session: AsyncSession, now: dt.datetime) -> int:
    """Forget updates older than RETENTION; returns how many rows went."""
    result = await session.execute(
        delete(ProcessedUpdate).where(ProcessedUpdate.processed_at < now - RETENTION)
    )
    return int(getattr(result, "rowcount", 0) or 0)
