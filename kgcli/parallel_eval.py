"""eval of a large file by several processes.

Blocks never split an instance (all chunks with one task + source + id stay in one block), so each worker's counts
simply add up. Should an instance show up in two blocks anyway (a text repeated far apart in the file), the
parallel result is dropped and the caller scores the file in one process, which merges it exactly.
"""

from __future__ import annotations

import array
from typing import Any

import orjson

from kgcli import blocks
from kgcli.errors import KgcError
from kgcli.evaluate import Evaluator


def _same_instance(previous: bytes, line: bytes) -> bool:
    try:
        first, second = orjson.loads(previous), orjson.loads(line)
    except orjson.JSONDecodeError:
        return False
    if not isinstance(first, dict) or not isinstance(second, dict):
        return False
    return (first.get("task"), first.get("source"), first.get("id")) == (
        second.get("task"), second.get("source"), second.get("id"))


def _work(job: tuple[dict[str, Any], str, str, int, int]) -> tuple[str, Any]:
    options, path, name, start, end = job
    evaluator = Evaluator(**options)
    lines = blocks.block_lines(path, start, end)
    number = blocks.first_number(start)
    try:
        evaluator.consume(lines, name, first_line=number)
        evaluator._close_open()
    except KgcError as exc:
        return "error", (exc.message, exc.file, exc.line)
    # Instance keys travel back as hashes (forked workers share the hash seed), to spot repeats across blocks.
    keys = array.array("q", map(hash, evaluator._done))
    summaries = {name: tally.summary() for name, tally in evaluator.tallies.items()}
    return "ok", (summaries, evaluator.bad_lines, keys)


def evaluate_parallel(path: str, name: str, options: dict[str, Any]) -> Evaluator | None:
    """The merged evaluator, or None when an instance spans blocks (then score in one process)."""
    ranges = blocks.blocks(path, together=_same_instance)
    merged = Evaluator(**options)
    seen: set[int] = set()
    count = 0
    jobs = [(options, path, name, start, end) for start, end in ranges]
    for index, (status, payload) in enumerate(blocks.run(_work, jobs)):
        if status == "error":
            message, file, line = payload
            raise KgcError(message, file, blocks.file_line(path, ranges[index][0], line))
        summaries, bad_lines, keys = payload
        count += len(keys)
        seen.update(keys)
        merged.bad_lines += bad_lines
        for tally_name, summary in summaries.items():
            merged.tally_named(tally_name).merge_summary(summary)
    return merged if len(seen) == count else None
