"""The server's startup objects are frozen out of the garbage collector's walks."""

from __future__ import annotations

import gc

from referkit.kit.memory import YOUNG_GENERATION, freeze_startup_objects


def test_startup_objects_are_frozen_once() -> None:
    freeze_startup_objects()
    frozen = gc.get_freeze_count()
    assert frozen > 1000  # at least the modules imported so far
    assert gc.get_threshold()[0] == YOUNG_GENERATION
    kept = [object() for _ in range(10)]
    freeze_startup_objects()  # a second application in the same process freezes nothing more
    assert gc.get_freeze_count() == frozen
    assert kept
