"""Transport bookkeeping that must survive a restart: which Telegram updates were handled.

Not a seed entity: added so that an update delivered twice (webhook retry after a lost
response, a restarted poller) is handled once (docs/schema-decisions.md).
"""

from __future__ import annotations

import datetime as dt

from sqlalchemy import BigInteger, func
from sqlalchemy.orm import Mapped, mapped_column

from domain.models.base import Base


class ProcessedUpdate(Base):
    """One handled update. The row commits with the update's own changes, so an update whose
    handling was rolled back is not marked and may be handled again."""

    __tablename__ = "processed_update"

    # Update ids are per bot: two bots on one database must not collide.
    bot_id: Mapped[int] = mapped_column(BigInteger, primary_key=True)
    update_id: Mapped[int] = mapped_column(BigInteger, primary_key=True)
    # Indexed: the purge deletes by age.
    processed_at: Mapped[dt.datetime] = mapped_column(server_default=func.now(), index=True)
