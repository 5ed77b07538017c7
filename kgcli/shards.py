"""Cutting a JSON-lines file into shards for worker processes, and the one driver that runs them.

Convert's test split and eval score large files in several processes. Both go through ``map_shards``: the
file is cut into byte ranges on line boundaries (optionally never between two lines that belong together),
forked workers handle one range each (sharing the parent's imports and hash seed), results come back in
shard order, and a ``KgcError`` raised inside a worker reaches the caller with its *file* line number.
"""

from __future__ import annotations

import functools
import multiprocessing
import os
import shutil
from collections.abc import Callable, Iterator
from typing import IO, Any

from kgcli.errors import KgcError

BLOCK_BYTES = 1 << 20
MIN_BYTES = 4 << 20


def worth_it(in_path: str) -> bool:
    """Use workers for a regular file of a few MB on a machine with several cores (KGC_WORKERS=1: never)."""
    if os.environ.get("KGC_WORKERS") == "1" or (os.cpu_count() or 1) < 2:
        return False
    try:
        return os.path.isfile(in_path) and os.path.getsize(in_path) >= MIN_BYTES
    except OSError:
        return False


def workers() -> int:
    return max(1, min(int(os.environ.get("KGC_WORKERS") or os.cpu_count() or 2), 8))


def blocks(path: str, size: int | None = None,
           together: Callable[[bytes, bytes], bool] | None = None) -> list[tuple[int, int]]:
    """Byte ranges [start, end) on line boundaries; ``together(previous, line)`` keeps a line in the range
    of the line before it (eval keeps all chunks of one instance in one range)."""
    size = size or BLOCK_BYTES
    total = os.path.getsize(path)
    ranges, start = [], 0
    with open(path, "rb") as handle:
        while start < total:
            handle.seek(min(start + size, total))
            previous = handle.readline()
            end = handle.tell()
            if together is not None:
                while end < total:
                    line = handle.readline()
                    if not together(previous, line):
                        break
                    previous, end = line, handle.tell()
            end = min(end, total)
            ranges.append((start, end))
            start = end
    return ranges


def block_lines(path: str, start: int, end: int) -> list[bytes]:
    """The raw lines of one range (without their newline)."""
    with open(path, "rb") as handle:
        handle.seek(start)
        lines = handle.read(end - start).split(b"\n")
    if lines and lines[-1] == b"":
        lines.pop()
    return lines


def first_number(start: int) -> int:
    """Line numbers inside a range start at 1 in the first one (where a BOM may be), else at 2; see
    ``file_line``."""
    return 1 if start == 0 else 2


def file_line(path: str, start: int, line: int | None) -> int | None:
    """A range-local line number (as numbered by ``first_number``) as a line number of the file."""
    if line is None or start == 0:
        return line
    count = 0
    with open(path, "rb") as handle:
        remaining = start
        while remaining > 0:
            chunk = handle.read(min(remaining, 1 << 20))
            if not chunk:
                break
            count += chunk.count(b"\n")
            remaining -= len(chunk)
    return line + count - 1


def _guarded(work: Callable[..., Any], job: tuple[str, int, int, int, Any]) -> tuple[str, Any]:
    path, start, end, index, extra = job
    try:
        return "ok", work(block_lines(path, start, end), first_number(start), index, extra)
    except KgcError as exc:
        return "error", (exc.message, exc.file, exc.line)


def map_shards(path: str, work: Callable[[list[bytes], int, int, Any], Any], extra: Any = None, *,
               together: Callable[[bytes, bytes], bool] | None = None, size: int | None = None
               ) -> Iterator[tuple[int, Any]]:
    """``(index, work(lines, first_line_number, index, extra))`` for every shard of ``path`` (of about
    ``size`` bytes, else ``BLOCK_BYTES``), in order.

    ``work`` runs in a forked worker and must be a module-level function; a ``KgcError`` it raises is
    raised here with the file's line number.
    """
    ranges = blocks(path, size, together=together)
    jobs = [(path, start, end, index, extra) for index, (start, end) in enumerate(ranges)]
    with multiprocessing.get_context("fork").Pool(min(workers(), len(jobs)) or 1) as pool:
        for index, (status, payload) in enumerate(pool.imap(functools.partial(_guarded, work), jobs)):
            if status == "error":
                message, file, line = payload
                raise KgcError(message, file, file_line(path, ranges[index][0], line))
            yield index, payload


def append_file(part_path: str, out: IO[str]) -> None:
    """Append a worker's part file to the open OUT, inside the kernel where possible (no copy through
    Python)."""
    out.flush()
    with open(part_path, "rb") as part:
        size = os.fstat(part.fileno()).st_size
        done = 0
        try:
            while done < size:
                sent = os.copy_file_range(part.fileno(), out.fileno(), size - done)
                if sent == 0:
                    break
                done += sent
        except OSError:
            part.seek(done)
            shutil.copyfileobj(part, out.buffer, 1 << 20)
