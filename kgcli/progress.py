"""Progress on stderr: a rich bar on a terminal; anywhere else (a log file, SLURM, CI) one plain line every
``PLAIN_EVERY`` seconds, so a long run is never silent and a short one prints nothing extra. ``kgc -q``
shows neither; ``KGC_PLAIN_PROGRESS=0`` turns the plain lines off.

The plain lines come from a heartbeat thread as well as from each step: a batch that runs for minutes
(8 records on a CPU model) still says every 15 s that it is working, before it ends. ``clock`` and
``POLL`` are module settings so a test can run the heartbeat on a fake clock.
"""

from __future__ import annotations

import contextlib
import os
import sys
import threading
import time
from collections.abc import Callable, Iterator

PLAIN_EVERY = 15.0
POLL = 1.0  # how often the heartbeat looks at the clock (seconds of real time)
clock = time.monotonic


def emit(text: str) -> None:
    print(f"      {text}", file=sys.stderr, flush=True)


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
        self.last = clock()
        self.printed = False
        self.lock = threading.Lock()

    def tick(self, text: str, force: bool = False) -> None:
        with self.lock:
            now = clock()
            if now - self.last >= PLAIN_EVERY or (force and self.printed):
                self.last = now
                self.printed = True
                emit(text)

    @contextlib.contextmanager
    def heartbeat(self, text: Callable[[], str]) -> Iterator[None]:
        """While the block runs, ``tick(text())`` every POLL seconds: a line whenever PLAIN_EVERY has
        passed with none, even in the middle of one long step."""
        stop = threading.Event()

        def beat() -> None:
            while not stop.wait(POLL):
                self.tick(text())

        thread = threading.Thread(target=beat, name="kgc-progress", daemon=True)
        thread.start()
        try:
            yield
        finally:
            stop.set()
            thread.join()


@contextlib.contextmanager
def progress(description: str, total: int | None = None, unit: str = "records",
             lines: PlainLines | None = None) -> Iterator[Callable[..., None]]:
    """Yield ``advance(n=1, **fields)``; a no-op unless stderr is a TTY (or plain lines are asked for).
    ``lines``: plain lines shared by the steps of one run, so that steps shorter than the interval still
    say every PLAIN_EVERY seconds that the run goes on."""
    if plain_progress():
        lines, done, started = lines or PlainLines(), 0, clock()

        def status() -> str:
            elapsed = clock() - started
            of = f"/{total}" if total else ""
            return f"{description}: {done}{of} {unit} ({done / max(elapsed, 1e-9):,.2f}/s, {elapsed:,.0f} s)"

        def advance_plain(n: int = 1, **fields: str) -> None:
            nonlocal done
            done += n
            lines.tick(status(), force=bool(total and done >= total))

        with lines.heartbeat(status):
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
