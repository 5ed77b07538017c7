"""Progress on stderr: a rich bar on a terminal; anywhere else (a log file, SLURM, CI) one plain line every
``PLAIN_EVERY`` seconds, so a long run is never silent and a short one prints nothing extra. ``kgc -q``
shows neither; ``KGC_PLAIN_PROGRESS=0`` turns the plain lines off.
"""

from __future__ import annotations

import contextlib
import os
import sys
import time
from collections.abc import Callable, Iterator

PLAIN_EVERY = 15.0


def plain_progress() -> bool:
    from kgcli.errors import quiet

    return not sys.stderr.isatty() and not quiet() and os.environ.get("KGC_PLAIN_PROGRESS") != "0"


def bar_progress() -> bool:
    from kgcli.errors import quiet

    return sys.stderr.isatty() and not quiet()


class PlainLines:
    """``tick(text)`` prints ``text`` on stderr at most every PLAIN_EVERY seconds; ``force`` (the last
    step) prints only when an earlier line did, so a short run adds nothing."""

    def __init__(self) -> None:
        self.last = time.perf_counter()
        self.printed = False

    def tick(self, text: str, force: bool = False) -> None:
        now = time.perf_counter()
        if now - self.last >= PLAIN_EVERY or (force and self.printed):
            self.last = now
            self.printed = True
            print(f"      {text}", file=sys.stderr, flush=True)


@contextlib.contextmanager
def progress(description: str, total: int | None = None,
             unit: str = "records") -> Iterator[Callable[..., None]]:
    """Yield ``advance(n=1, **fields)``; a no-op unless stderr is a TTY (or plain lines are asked for)."""
    if plain_progress():
        lines, done, started = PlainLines(), 0, time.perf_counter()

        def advance_plain(n: int = 1, **fields: str) -> None:
            nonlocal done
            done += n
            rate = done / max(time.perf_counter() - started, 1e-9)
            of = f"/{total}" if total else ""
            lines.tick(f"{description}: {done}{of} {unit} ({rate:,.2f}/s)",
                       force=bool(total and done >= total))

        yield advance_plain
        return
    if not bar_progress():
        yield lambda n=1, **fields: None
        return
    from rich.console import Console
    from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeElapsedColumn

    columns = [TextColumn("[bold]{task.description}"), BarColumn(), MofNCompleteColumn(),
               TextColumn("{task.fields[rate]}"), TextColumn("{task.fields[info]}"), TimeElapsedColumn()]
    with Progress(*columns, console=Console(stderr=True), transient=True, refresh_per_second=4) as bar:
        task = bar.add_task(description, total=total, rate="", info="")

        def advance(n: int = 1, **fields: str) -> None:
            speed = bar.tasks[0].speed
            rate = f"{speed:,.1f} {unit}/s" if speed else ""
            bar.update(task, advance=n, rate=rate, **fields)

        yield advance
