"""The test split of a large file, converted by several processes (it needs no random generator).

The file is cut at line boundaries into blocks of a few MB; worker processes convert blocks in order
(``Pool.imap``), each into its own part file beside OUT; the parent appends the parts in order into the
atomic output. Output bytes, warnings and error messages are those of the one-process path.
"""

from __future__ import annotations

import array
import multiprocessing
import os
import shutil
from collections import Counter
from typing import IO, Any

from kgcli.errors import KgcError
from kgcli.io import parse_lines

BLOCK_BYTES = 1 << 20
MIN_BYTES = 4 << 20


def worth_it(in_path: str) -> bool:
    if os.environ.get("KGC_WORKERS") == "1" or (os.cpu_count() or 1) < 2:
        return False
    try:
        return os.path.isfile(in_path) and os.path.getsize(in_path) >= MIN_BYTES
    except OSError:
        return False


def blocks(path: str, size: int = BLOCK_BYTES) -> list[tuple[int, int]]:
    """Byte ranges [start, end) that begin and end on line boundaries."""
    total = os.path.getsize(path)
    ranges, start = [], 0
    with open(path, "rb") as handle:
        while start < total:
            handle.seek(min(start + size, total))
            handle.readline()
            end = min(handle.tell(), total)
            ranges.append((start, end))
            start = end
    return ranges


def _work(job: tuple[Any, str, str, int, int, int, str]) -> tuple[str, Any]:
    config, path, name, index, start, end, part = job
    from kgcli.convert import Converter

    try:
        converter = Converter(config)
        with open(path, "rb") as handle:
            handle.seek(start)
            data = handle.read(end - start)
        lines = data.split(b"\n")
        if lines and lines[-1] == b"":
            lines.pop()
        # Line numbers are block-local (from 2 after the first block, so only the file's first line may
        # carry a BOM); the parent turns them into file line numbers for errors.
        with open(part, "w", encoding="utf-8", newline="\n") as out:
            for text in converter.convert_records(parse_lines(lines, name, first_number=1 if start == 0 else 2), name):
                out.write(text)
        stats = converter.stats
        # Text ids travel back as their hashes (forked workers share the hash seed): 8 bytes instead of a
        # 64-character string each, enough to count texts repeated across blocks.
        ids = array.array("q", map(hash, converter._seen_ids))
        return "ok", (stats.records_in, stats.skipped, stats.unknown_types, ids)
    except KgcError as exc:
        return "error", (exc.message, exc.file, exc.line)


def convert_parallel(in_path: str, name: str, config: Any, out: IO[str], out_dir: str, workers: int) -> Any:
    """Convert IN into the open OUT handle; returns merged ConvertStats."""
    from kgcli.convert import ConvertStats

    ranges = blocks(in_path)
    parts = [os.path.join(out_dir, f".kgc-part-{os.getpid()}-{i}.tmp") for i in range(len(ranges))]
    jobs = [(config, in_path, name, i, s, e, parts[i]) for i, (s, e) in enumerate(ranges)]
    stats = ConvertStats()
    seen: set[int] = set()
    unknown: Counter = Counter()
    out.flush()
    try:
        with multiprocessing.get_context("fork").Pool(workers) as pool:
            for index, (status, payload) in enumerate(pool.imap(_work, jobs)):
                if status == "error":
                    message, file, line = payload
                    if line is not None and index > 0:
                        line += _lines_before(in_path, ranges[index][0]) - 1
                    pool.terminate()
                    raise KgcError(message, file, line)
                records, skipped, unknown_part, ids = payload
                stats.records_in += records
                stats.skipped += skipped
                unknown.update(unknown_part)
                seen.update(ids)
                _append(parts[index], out)
                os.unlink(parts[index])
    finally:
        for part in parts:
            if os.path.exists(part):
                os.unlink(part)
    stats.unknown_types = unknown
    stats.duplicate_texts = stats.records_in - stats.skipped - len(seen)
    return stats


def _append(part_path: str, out: IO[str]) -> None:
    """Append a part file to OUT inside the kernel where possible (no copy through Python)."""
    out.flush()
    with open(part_path, "rb") as part:
        size = os.fstat(part.fileno()).st_size
        try:
            done = 0
            while done < size:
                sent = os.copy_file_range(part.fileno(), out.fileno(), size - done)
                if sent == 0:
                    break
                done += sent
        except OSError:
            part.seek(done)
            shutil.copyfileobj(part, out.buffer, 1 << 20)


def _lines_before(path: str, offset: int) -> int:
    count = 0
    with open(path, "rb") as handle:
        remaining = offset
        while remaining > 0:
            chunk = handle.read(min(remaining, 1 << 20))
            if not chunk:
                break
            count += chunk.count(b"\n")
            remaining -= len(chunk)
    return count
