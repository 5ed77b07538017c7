"""A rich progress display on stderr, shown only when stderr is a terminal (pipes and CI stay clean)."""

from __future__ import annotations

import contextlib
import sys
from collections.abc import Callable, Iterator


@contextlib.contextmanager
def progress(description: str, total: int | None = None, unit: str = "records") -> Iterator[Callable[..., None]]:
    """Yield ``advance(n=1, **fields)``; a no-op unless stderr is a TTY."""
    if not sys.stderr.isatty():
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
