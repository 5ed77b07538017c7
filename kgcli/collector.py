"""The cycle collector paused around the loops that make millions of short-lived objects (records read,
pieces added up): they form no reference cycles, and with millions alive the collector's rescans cost more
than the loop's own work. One rule, used by ``convert``, ``eval`` and ``graph build``."""

from __future__ import annotations

import contextlib
import gc
from collections.abc import Iterator


@contextlib.contextmanager
def cycles_paused() -> Iterator[None]:
    """The cycle collector off inside, back on after (if it was on before)."""
    was = gc.isenabled()
    gc.disable()
    try:
        yield
    finally:
        if was:
            gc.enable()
