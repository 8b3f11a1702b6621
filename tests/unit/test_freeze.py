"""Start-up objects are moved out of the collector's reach before the bot serves."""

from __future__ import annotations

import gc

from bot.runtime import freeze_startup_objects


def test_freezing_leaves_later_objects_to_the_collector() -> None:
    try:
        freeze_startup_objects()
        frozen = gc.get_freeze_count()
        assert frozen > 1000  # the interpreter, pytest and the bot's modules at least
        later = [[index] for index in range(100)]
        assert gc.is_tracked(later)
        assert gc.get_freeze_count() == frozen
    finally:
        gc.unfreeze()
    assert gc.get_freeze_count() == 0
