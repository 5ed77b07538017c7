"""Scoring predictions: P/R/F1 per task, per source (or task) and per type (the seed's ``eval_func.py``).

Records (converted test records + ``output``) are grouped by source + id; the first record of a group
supplies the gold label, every record adds the tuples of its output. Matching is the seed's: a predicted
tuple is a hit if it is still in the gold multiset (``normal``) or set (``set``). Scores are micro
averages in percent. ``legacy`` reproduces the seed's protocol: strict ``json.loads`` (no repairs), no
schema-key check, and F1 computed from P and R already rounded to 2 decimals.

Streaming: groups are scored when the next group starts; for a group that shows up again later, only its
unmatched gold (and, in set mode, its predictions so far) is kept, so memory stays small.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Iterable
from dataclasses import dataclass, field
from typing import Any

import orjson

from kgcli.errors import KgcError
from kgcli.io import display_name, read_jsonl
from kgcli.repair import parse_answer
from kgcli.tasks import Task, get_task

MATCH_MODES = ("normal", "set")
SORT_BY = ("source", "task")


@dataclass
class Counts:
    tp: int = 0
    pred: int = 0
    gold: int = 0

    def add(self, other: Counts) -> None:
        self.tp += other.tp
        self.pred += other.pred
        self.gold += other.gold


def prf(counts: Counts, legacy: bool = False) -> tuple[float, float, float]:
    """P, R, F1 in percent, rounded to 2 decimals (legacy: F1 from the rounded P and R, as the seed)."""
    p = 100 * counts.tp / counts.pred if counts.pred else 0.0
    r = 100 * counts.tp / counts.gold if counts.gold else 0.0
    if legacy:
        p, r = round(p, 2), round(r, 2)
    f = 2 * p * r / (p + r) if p + r else 0.0
    return round(p, 2), round(r, 2), round(f, 2)


@dataclass
class Block:
    """Scores of one report row (total, one source, or one task)."""

    samples: int = 0
    parse_errors: int = 0
    repaired: int = 0
    off_schema: int = 0
    metrics: dict[str, Counts] = field(default_factory=dict)
    per_type: dict[str, dict[str, Counts]] = field(default_factory=dict)

    def counts(self, metric: str) -> Counts:
        return self.metrics.setdefault(metric, Counts())

    def type_counts(self, type_name: str, metric: str) -> Counts:
        return self.per_type.setdefault(type_name, {}).setdefault(metric, Counts())

    def to_json(self, legacy: bool = False) -> dict[str, Any]:
        result: dict[str, Any] = {}
        _scores(result, self.metrics, legacy)
        result.update(samples=self.samples, parse_errors=self.parse_errors, repaired=self.repaired,
                      off_schema=self.off_schema)
        per_type: dict[str, Any] = {}
        for type_name in sorted(self.per_type):
            entry: dict[str, Any] = {}
            _scores(entry, self.per_type[type_name], legacy)
            per_type[type_name] = entry
        result["per_type"] = per_type
        return result


def _scores(into: dict[str, Any], metrics: dict[str, Counts], legacy: bool) -> None:
    for metric in sorted(metrics, key=lambda m: ("main", "event", "argument").index(m)):
        counts = metrics[metric]
        p, r, f = prf(counts, legacy)
        prefix = "" if metric == "main" else f"{metric}_"
        into[f"{prefix}P"], into[f"{prefix}R"], into[f"{prefix}F1"] = p, r, f
        into[f"{prefix}tp"], into[f"{prefix}pred"], into[f"{prefix}gold"] = counts.tp, counts.pred, counts.gold


@dataclass
class _Group:
    task: Task
    blocks: list[Block]
    gold: dict[str, Counter]  # unmatched gold, per metric
    seen: dict[str, set] | None  # predictions already counted (set mode)


class Evaluator:
    def __init__(self, task: str | None = None, sort_by: str | None = None, match_mode: str = "normal",
                 legacy: bool = False, skip_bad: bool = False):
        if match_mode not in MATCH_MODES:
            raise KgcError(f"--match-mode must be normal or set, got {match_mode!r}")
        if sort_by not in (None, "", *SORT_BY):
            raise KgcError(f"--sort-by must be source or task, got {sort_by!r}")
        self.fixed_task = get_task(task) if task else None
        self.sort_by = sort_by or None
        self.set_mode = match_mode == "set"
        self.legacy = legacy
        self.skip_bad = skip_bad
        self.bad_lines = 0
        self.total = Block()
        self.blocks: dict[str, Block] = {}
        self._tasks: dict[str, Task] = {}
        self._open_key: str | None = None
        self._open: _Group | None = None
        self._done: dict[str, _Group] = {}

    # -- records ---------------------------------------------------------------------------------------
    def _task_for(self, record: dict) -> Task:
        if self.fixed_task is not None:
            return self.fixed_task
        name = record.get("task")
        if not isinstance(name, str):
            raise ValueError("record has no 'task'; pass --task")
        if name not in self._tasks:
            self._tasks[name] = get_task(name)
        return self._tasks[name]

    def add(self, record: dict, where: tuple[str, int]) -> None:
        try:
            self._add(record)
        except ValueError as exc:
            if not self.skip_bad:
                raise KgcError(str(exc), *where) from None
            self.bad_lines += 1
        except KgcError as exc:
            if not self.skip_bad:
                raise KgcError(exc.message, *where) from None
            self.bad_lines += 1

    def _add(self, record: dict) -> None:
        record_id = record.get("id")
        if record_id is None:
            raise ValueError("record has no 'id'")
        output = record.get("output")
        if not isinstance(output, str):
            raise ValueError("record has no 'output' string (run kgc predict first)")
        source = record.get("source")
        key = f"{source if source is not None else 'None'}{record_id}"
        task = self._task_for(record)
        if key != self._open_key:
            group = self._reopen(key) if key in self._done else self._start(key, record, task)
        else:
            group = self._open
        assert group is not None
        self._score_output(group, output, record.get("instruction"))

    def _start(self, key: str, record: dict, task: Task) -> _Group:
        label = record.get("label")
        if not isinstance(label, str):
            raise ValueError("record has no 'label' (convert the test split from annotated data)")
        try:
            items = orjson.loads(label)
        except orjson.JSONDecodeError:
            raise ValueError("'label' is not valid JSON") from None
        if not isinstance(items, list):
            raise ValueError("'label' must be a JSON list of annotations")
        for index, item in enumerate(items):
            if not isinstance(item, dict):
                raise ValueError(f"label[{index}] must be an object")
            task.check_item(item, f"label[{index}]")
        gold = task.gold(task.dedup(items))
        blocks = [self.total]
        if self.sort_by:
            name = record.get(self.sort_by)
            blocks.append(self.blocks.setdefault(str(name if name is not None else "None"), Block()))
        gold_counters: dict[str, Counter] = {}
        for metric in task.metrics:
            tuples = list(dict.fromkeys(gold.get(metric, []))) if self.set_mode else gold.get(metric, [])
            gold_counters[metric] = Counter(tuples)
            for block in blocks:
                block.counts(metric).gold += len(tuples)
                for item in tuples:
                    block.type_counts(task.type_of(metric, item), metric).gold += 1
        for block in blocks:
            block.samples += 1
        self._close_open()
        group = _Group(task, blocks, gold_counters, {m: set() for m in task.metrics} if self.set_mode else None)
        self._open_key, self._open = key, group
        return group

    def _reopen(self, key: str) -> _Group:
        self._close_open()
        group = self._done.pop(key)
        self._open_key, self._open = key, group
        return group

    def _close_open(self) -> None:
        if self._open_key is not None and self._open is not None:
            # Keep only what a later record of the same group could still change.
            self._open.gold = {metric: +counter for metric, counter in self._open.gold.items()}
            self._done[self._open_key] = self._open
        self._open_key, self._open = None, None

    def _score_output(self, group: _Group, output: str, instruction: Any) -> None:
        task = group.task
        obj, repaired = parse_answer(output, repair=not self.legacy)
        for block in group.blocks:
            if obj is None:
                block.parse_errors += 1
            elif repaired:
                block.repaired += 1
        if obj is None:
            return
        keys = None if self.legacy else schema_keys(task, instruction)
        scored = task.predicted(obj, keys)
        for block in group.blocks:
            block.off_schema += scored.off_schema
        for metric, tuples in scored.tuples.items():
            if self.set_mode:
                assert group.seen is not None
                fresh = [t for t in dict.fromkeys(tuples) if t not in group.seen[metric]]
                group.seen[metric].update(fresh)
                tuples = fresh
            remaining = group.gold[metric]
            for item in tuples:
                hit = remaining.get(item, 0) > 0
                if hit:
                    remaining[item] -= 1
                type_name = task.type_of(metric, item)
                for block in group.blocks:
                    counts = block.counts(metric)
                    counts.pred += 1
                    type_counts = block.type_counts(type_name, metric)
                    type_counts.pred += 1
                    if hit:
                        counts.tp += 1
                        type_counts.tp += 1

    # -- report ---------------------------------------------------------------------------------------
    def report(self) -> dict[str, Any]:
        result = {"total": self.total.to_json(self.legacy)}
        if self.bad_lines:
            result["total"]["skipped_lines"] = self.bad_lines
        for name in sorted(self.blocks):
            result[name] = self.blocks[name].to_json(self.legacy)
        return result


def schema_keys(task: Task, instruction: Any) -> list[str] | None:
    """The output keys the chunk asked for, from the instruction's ``schema`` (None if unreadable)."""
    if not isinstance(instruction, str):
        return None
    try:
        inner = orjson.loads(instruction)
        return [task.output_key(element) for element in inner["schema"]]
    except (orjson.JSONDecodeError, KeyError, TypeError):
        return None


def evaluate_records(records: Iterable[tuple[int, dict]], name: str, **options: Any) -> dict[str, Any]:
    evaluator = Evaluator(**options)
    for number, record in records:
        evaluator.add(record, (name, number))
    return evaluator.report()


def evaluate_file(path: str, **options: Any) -> dict[str, Any]:
    """Score a prediction file (``-`` = stdin) and return the report dictionary."""
    name = display_name(path)
    evaluator = Evaluator(**options)
    lines = _tolerant_lines(path) if evaluator.skip_bad else read_jsonl(path)
    for number, record in lines:
        if record is None:
            evaluator.bad_lines += 1
        else:
            evaluator.add(record, (name, number))
    return evaluator.report()


def _tolerant_lines(path: str) -> Iterable[tuple[int, dict | None]]:
    from kgcli.io import iter_lines

    for number, raw in iter_lines(path):
        try:
            value = orjson.loads(raw)
        except orjson.JSONDecodeError:
            yield number, None
            continue
        yield number, value if isinstance(value, dict) else None
