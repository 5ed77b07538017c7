"""Cutting a JSON-lines file into blocks for worker processes (convert's test split, eval).

Blocks are byte ranges that start and end on line boundaries (optionally never between two lines that
belong together); workers are forked, so they share the parent's imports and hash seed; results come back in
block order. Error line numbers found inside a block are turned back into file line numbers here.
"""

from __future__ import annotations

import multiprocessing
import os
from collections.abc import Callable, Iterator
from typing import Any

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
    """Byte ranges [start, end) on line boundaries; ``together(previous, line)`` keeps a line in the block
    of the line before it (eval keeps all chunks of one instance in one block)."""
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
    """The raw lines of one block (without their newline)."""
    with open(path, "rb") as handle:
        handle.seek(start)
        lines = handle.read(end - start).split(b"\n")
    if lines and lines[-1] == b"":
        lines.pop()
    return lines


def first_number(start: int) -> int:
    """Line numbers inside a block start at 1 in the first block (where a BOM may be), else at 2; see
    ``file_line``."""
    return 1 if start == 0 else 2


def file_line(path: str, start: int, line: int | None) -> int | None:
    """A block-local line number (as numbered by ``first_number``) as a line number of the file."""
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


def run(work: Callable[[Any], Any], jobs: list[Any]) -> Iterator[Any]:
    """Results of ``work(job)`` in job order, from forked worker processes."""
    with multiprocessing.get_context("fork").Pool(min(workers(), len(jobs)) or 1) as pool:
        yield from pool.imap(work, jobs)
