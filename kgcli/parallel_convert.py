"""The test split of a large file, converted by several processes (it needs no random generator).

The file is cut at line boundaries into blocks (``kgcli.blocks``); worker processes convert blocks in order,
each into its own part file beside OUT; the parent appends the parts in order into the atomic output. Output
bytes, warnings and error messages are those of the one-process path.
"""

from __future__ import annotations

import array
import os
import shutil
from collections import Counter
from typing import IO, Any

from kgcli import blocks
from kgcli.errors import KgcError
from kgcli.io import parse_lines


def _work(job: tuple[Any, str, str, int, int, str]) -> tuple[str, Any]:
    config, path, name, start, end, part = job
    from kgcli.convert import Converter

    try:
        converter = Converter(config)
        lines = blocks.block_lines(path, start, end)
        with open(part, "w", encoding="utf-8", newline="\n") as out:
            for text in converter.convert_records(parse_lines(lines, name, blocks.first_number(start)), name):
                out.write(text)
        stats = converter.stats
        # Text ids travel back as their hashes (forked workers share the hash seed): 8 bytes instead of a
        # 64-character string each, enough to count texts repeated across blocks.
        ids = array.array("q", map(hash, converter._seen_ids))
        return "ok", (stats.records_in, stats.skipped, stats.unknown_types, ids)
    except KgcError as exc:
        return "error", (exc.message, exc.file, exc.line)


def convert_parallel(in_path: str, name: str, config: Any, out: IO[str], out_dir: str) -> Any:
    """Convert IN into the open OUT handle; returns merged ConvertStats."""
    from kgcli.convert import ConvertStats

    ranges = blocks.blocks(in_path)
    parts = [os.path.join(out_dir, f".kgc-part-{os.getpid()}-{i}.tmp") for i in range(len(ranges))]
    jobs = [(config, in_path, name, start, end, parts[i]) for i, (start, end) in enumerate(ranges)]
    stats = ConvertStats()
    seen: set[int] = set()
    unknown: Counter = Counter()
    out.flush()
    try:
        for index, (status, payload) in enumerate(blocks.run(_work, jobs)):
            if status == "error":
                message, file, line = payload
                raise KgcError(message, file, blocks.file_line(in_path, ranges[index][0], line))
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
