"""Scoring predictions: P/R/F1 per task, per source (or task) and per type (the seed's ``eval_func.py``).

Records (converted test records + ``output``) are grouped by task + source + id (NER and RE records of the
same text share an id, and may share a file); the first record of a group
supplies the gold label, every record adds the tuples of its output. Matching is the seed's: a predicted
tuple is a hit if it is still in the gold multiset (``normal``) or set (``set``). Scores are micro
averages in percent. ``legacy`` reproduces the seed's protocol: strict ``json.loads`` (no repairs), no
schema-key check, and F1 computed from P and R already rounded to 2 decimals.

Streaming: groups are scored when the next group starts; for a group that shows up again later, only its
unmatched gold (and, in set mode, its predictions so far) is kept, so memory stays small.
"""

from __future__ import annotations

import gc
import itertools
import operator
from collections import Counter
from collections.abc import Iterable
from dataclasses import dataclass, field
from typing import Any

import orjson

from kgcli import blocks
from kgcli.errors import KgcError
from kgcli.io import BLANK, display_name, iter_lines, read_jsonl, reparse_line
from kgcli.repair import parse_answer
from kgcli.tasks import Task, get_task

MATCH_MODES = ("normal", "set")
MAIN = ("main",)
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


class _Tally:
    """Counts of one report block (one source or task, or everything when there is no --sort-by).

    While scoring, each metric has three lists of type names — one entry per gold tuple, per predicted
    tuple, per hit — filled with C-level ``extend``s; they are counted once, at the end (``counts``).
    """

    __slots__ = ("lists", "merged", "samples", "parse_errors", "repaired", "off_schema")

    def __init__(self) -> None:
        self.lists: dict[str, tuple[list[str], list[str], list[str]]] = {}
        self.merged: dict[str, dict[str, list[int]]] = {}
        self.samples = self.parse_errors = self.repaired = self.off_schema = 0

    def table(self, metric: str) -> tuple[list[str], list[str], list[str]]:
        """(gold types, predicted types, hit types) of one metric."""
        found = self.lists.get(metric)
        if found is None:
            found = self.lists[metric] = ([], [], [])
        return found

    def counts(self) -> dict[str, dict[str, list[int]]]:
        """metric → type → [gold, pred, tp]."""
        result = {metric: {t: list(c) for t, c in by_type.items()} for metric, by_type in self.merged.items()}
        for metric, lists in self.lists.items():
            by_type = result.setdefault(metric, {})
            for position, names in enumerate(lists):
                for type_name, n in Counter(names).items():
                    by_type.setdefault(type_name, [0, 0, 0])[position] += n
        return result

    def summary(self) -> tuple:
        """A small picklable form (for worker processes)."""
        return self.samples, self.parse_errors, self.repaired, self.off_schema, self.counts()

    def merge_summary(self, summary: tuple) -> None:
        samples, parse_errors, repaired, off_schema, counts = summary
        self.samples += samples
        self.parse_errors += parse_errors
        self.repaired += repaired
        self.off_schema += off_schema
        for metric, by_type in counts.items():
            mine = self.merged.setdefault(metric, {})
            for type_name, values in by_type.items():
                total = mine.setdefault(type_name, [0, 0, 0])
                for position in range(3):
                    total[position] += values[position]

    def add_to(self, block: Block) -> None:
        block.samples += self.samples
        block.parse_errors += self.parse_errors
        block.repaired += self.repaired
        block.off_schema += self.off_schema
        for metric, by_type in self.counts().items():
            counts = block.counts(metric)
            for type_name, (gold, pred, hit) in by_type.items():
                counts.gold += gold
                counts.pred += pred
                counts.tp += hit
                type_counts = block.type_counts(type_name, metric)
                type_counts.gold += gold
                type_counts.pred += pred
                type_counts.tp += hit


def _compact(task: Task, tally: _Tally, remaining: dict[str, dict], seen: dict[str, set] | None) -> tuple:
    """A closed group: what a later record of it could still change (unmatched gold, seen predictions)."""
    for left in remaining.values():
        if any(left.values()):  # counts never go below 0
            return task, tally, remaining, seen
    return task, tally, None, seen


class Evaluator:
    """Streaming scorer: ``add`` records one by one, then ``report``."""

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
        self.tallies: dict[str, _Tally] = {}
        self._tasks: dict[str, Task] = {}
        self._open_key: str | None = None
        self._open: tuple | None = None  # (task, tally, remaining gold, tables, seen) of the open group
        self._done: dict[str, tuple] = {}
        # schema text → output keys; task-independent, since each element shape names its own key field
        self._schemas: dict[str, set[str] | None] = {}

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
        self.consume([(where[1], record)], where[0])

    def consume(self, records: Iterable[Any], name: str, first_line: int | None = None) -> None:
        """Score records: (line number, record) pairs (record None = an unreadable line under --skip-bad),
        or, with ``first_line``, raw JSON lines numbered from it (parsed here, saving a generator hop).

        The per-record work is written out in this one loop, with the open group's state in locals: it is
        where eval spends its time. Group starts of flat-gold tasks (NER, RE, KG) are inlined too; anything
        else, or anything unusual in a label, goes through ``_start``.
        """
        loads, decode_error = orjson.loads, orjson.JSONDecodeError
        id_output_source = operator.itemgetter("id", "output", "source", "task")
        legacy, fixed_task, set_mode, done = self.legacy, self.fixed_task, self.set_mode, self._done
        chain, strings, schemas = itertools.chain.from_iterable, {str}, self._schemas
        single_tally = None if self.sort_by else self.tally_named("")
        single_table = single_tally.table("main") if single_tally is not None else None
        single_tables = {"main": single_table}
        second = operator.itemgetter(1)
        last_head: str | None = None
        last_allowed: set[str] | None = None
        open_key = self._open_key
        task, tally, remaining, tables, seen = self._open or (None, None, None, None, None)
        # Nothing here forms reference cycles; without the cycle collector scanning the growing group table
        # every few thousand allocations, the loop runs about 10% faster.
        gc_was_enabled = gc.isenabled()
        gc.disable()
        try:
            number = (first_line or 1) - 1
            for record in records:
                if first_line is None:
                    number, record = record
                else:
                    number += 1
                    try:
                        record = loads(record)
                    except decode_error as exc:
                        try:
                            record = reparse_line(record, number, name, exc)
                        except KgcError:
                            if not self.skip_bad:
                                raise
                            record = None
                        if record is BLANK:
                            continue
                    if type(record) is not dict and record is not None:
                        if not self.skip_bad:
                            raise KgcError(f"expected a JSON object, got {type(record).__name__}", name, number)
                        record = None
                if record is None:
                    self.bad_lines += 1
                    continue
                try:
                    try:
                        record_id, output, source, task_name = id_output_source(record)
                    except KeyError:
                        record_id, output, source, task_name = (record.get("id"), record.get("output"),
                                                                record.get("source"), record.get("task"))
                    if record_id is None:
                        raise ValueError("record has no 'id'")
                    if type(output) is not str:
                        raise ValueError("record has no 'output' string (run kgc predict first)")
                    if type(source) is str and type(record_id) is str and type(task_name) is str:
                        key = task_name + "\x1f" + source + "\x1f" + record_id
                    else:
                        key = f"{task_name}\x1f{'None' if source is None else source}\x1f{record_id}"
                    if key != open_key:
                        if open_key is not None:
                            if seen is None and not any(map(any, map(dict.values, remaining.values()))):
                                done[open_key] = (task, tally, None, None)  # the usual case: all gold matched
                            else:
                                done[open_key] = _compact(task, tally, remaining, seen)
                            open_key = None
                        task = fixed_task or self._task_for(record)
                        if key in done:
                            task, tally, remaining, seen = done.pop(key)
                            remaining = remaining or {m: {} for m in task.metrics}
                            tables = {m: tally.table(m) for m in task.metrics}
                        else:
                            left = None
                            if task.gold_is_rows:
                                label = record.get("label")
                                try:
                                    items = loads(label) if type(label) is str else None
                                    if type(items) is list:
                                        # Gold tuples, de-duplicated (the task's rule, and set mode's).
                                        left = dict.fromkeys(map(task.fields_getter, items), 1)
                                        if not strings.issuperset(map(type, chain(left))):
                                            left = None
                                except (decode_error, KeyError, TypeError):
                                    left = None
                            if left is None:
                                tally, remaining, tables, seen = self._start(record, task)
                            else:
                                tally = single_tally or self._tally_for(record)
                                tally.samples += 1
                                if tally is single_tally:
                                    table, tables = single_table, single_tables
                                else:
                                    table = tally.table("main")
                                    tables = {"main": table}
                                remaining = {"main": left}
                                seen = {"main": set()} if set_mode else None
                                table[0].extend(map(second, left))
                        open_key = key
                except (ValueError, KgcError) as exc:
                    if not self.skip_bad:
                        raise KgcError(exc.message if isinstance(exc, KgcError) else str(exc), name, number) from None
                    self.bad_lines += 1
                    continue
                obj = None
                if not legacy:
                    try:
                        obj = loads(output)
                    except decode_error:
                        pass
                if type(obj) is not dict:
                    obj, repaired = parse_answer(output, repair=not legacy)
                    if obj is None:
                        tally.parse_errors += 1
                        continue
                    if repaired:
                        tally.repaired += 1
                allowed = None
                if not legacy:
                    instruction = record.get("instruction")
                    if type(instruction) is str:
                        # The instruction up to its input text is the same for every chunk with this schema:
                        # compare with the last one, else look the schema text up in the cache.
                        if last_head is not None and instruction.startswith(last_head):
                            allowed = last_allowed
                        else:
                            start = instruction.find('"schema": ')
                            end = instruction.find(', "input": ', start)
                            allowed = schemas.get(instruction[start + 10 : end], False) if start >= 0 < end else False
                            if allowed is False:
                                allowed = self._schema_keys(task, instruction)
                            if start >= 0 < end:
                                last_head, last_allowed = instruction[: end + 11], allowed
                if task.metrics == MAIN and seen is None:  # the common case, without the per-metric loop
                    found: list[tuple] = []
                    off_schema = task.collect_main(obj, allowed, found)
                    if off_schema and not legacy:
                        tally.off_schema += off_schema
                    if found:
                        left = remaining["main"]
                        _, pred_types, hit_types = tables["main"]
                        pred_types.extend(map(second, found))
                        for item in found:
                            if left.get(item, 0) > 0:
                                left[item] -= 1
                                hit_types.append(item[1])
                    continue
                tuples = {m: [] for m in task.metrics}
                off_schema = task.collect_all(obj, allowed, tuples)
                if off_schema and not legacy:
                    tally.off_schema += off_schema
                for metric, found in tuples.items():
                    if not found:
                        continue
                    if seen is not None:
                        seen_here = seen[metric]
                        found = [t for t in dict.fromkeys(found) if t not in seen_here]
                        seen_here.update(found)
                    left, (_, pred_types, hit_types) = remaining[metric], tables[metric]
                    index = task.type_index[metric]
                    pred_types.extend([item[index] for item in found])
                    for item in found:
                        if left.get(item, 0) > 0:
                            left[item] -= 1
                            hit_types.append(item[index])
        finally:
            if gc_was_enabled:
                gc.enable()
            self._open_key = open_key
            self._open = (task, tally, remaining, tables, seen) if open_key is not None else None

    def _tally_for(self, record: dict) -> _Tally:
        name = ""
        if self.sort_by:
            value = record.get(self.sort_by)
            name = str(value if value is not None else "None")
        return self.tally_named(name)

    def tally_named(self, name: str) -> _Tally:
        tally = self.tallies.get(name)
        if tally is None:
            tally = self.tallies[name] = _Tally()
        return tally

    def _start(self, record: dict, task: Task) -> tuple:
        """A new group's (tally, remaining gold, tables, seen), its gold from the record's label."""
        label = record.get("label")
        if not isinstance(label, str):
            raise ValueError("record has no 'label' (convert the test split from annotated data)")
        try:
            items = orjson.loads(label)
        except orjson.JSONDecodeError:
            raise ValueError("'label' is not valid JSON") from None
        if not isinstance(items, list):
            raise ValueError("'label' must be a JSON list of annotations")
        try:
            checked = task.read_items({task.annotation_key: items}) or []
        except ValueError as exc:
            raise ValueError(f"label: {exc}") from None
        gold = task.gold(checked)
        tally = self._tally_for(record)
        tally.samples += 1
        remaining: dict[str, dict] = {}
        tables = {metric: tally.table(metric) for metric in task.metrics}
        for metric in task.metrics:
            tuples = gold.get(metric, [])
            if self.set_mode:
                tuples = list(dict.fromkeys(tuples))
            left: dict[tuple, int] = {}
            for item in tuples:
                left[item] = left.get(item, 0) + 1
            index = task.type_index[metric]
            tables[metric][0].extend([item[index] for item in tuples])
            remaining[metric] = left
        return tally, remaining, tables, ({m: set() for m in task.metrics} if self.set_mode else None)

    def _close_open(self) -> None:
        if self._open is not None and self._open_key is not None:
            task, tally, remaining, _, seen = self._open
            self._done[self._open_key] = _compact(task, tally, remaining, seen)
        self._open = self._open_key = None

    def _schema_keys(self, task: Task, instruction: Any) -> set[str] | None:
        """The chunk's output keys, cached by the instruction's schema text (few distinct per file)."""
        if type(instruction) is not str:
            return None
        start = instruction.find('"schema": ')
        end = instruction.find(', "input": ', start)
        if start < 0 or end < 0:
            keys = schema_keys(task, instruction)
            return None if keys is None else set(keys)
        cache_key = instruction[start + 10 : end]
        keys = self._schemas.get(cache_key, False)
        if keys is False:
            try:
                keys = {task.output_key(element) for element in orjson.loads(cache_key)}
            except (orjson.JSONDecodeError, KeyError, TypeError):
                found = schema_keys(task, instruction)
                keys = None if found is None else set(found)
            if len(self._schemas) > 10_000:
                self._schemas.clear()
            self._schemas[cache_key] = keys
        return keys

    # -- report ---------------------------------------------------------------------------------------
    def blocks(self) -> tuple[Block, dict[str, Block]]:
        """(total, per sort-by name) report blocks built from the tallies."""
        self._close_open()
        total, named = Block(), {}
        for name, tally in self.tallies.items():
            tally.add_to(total)
            if self.sort_by:
                named[name] = Block()
                tally.add_to(named[name])
        return total, named

    def report(self) -> dict[str, Any]:
        total, named = self.blocks()
        result = {"total": total.to_json(self.legacy)}
        if self.bad_lines:
            result["total"]["skipped_lines"] = self.bad_lines
        for name in sorted(named):
            result[name] = named[name].to_json(self.legacy)
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
    evaluator.consume(records, name)
    return evaluator.report()


def evaluate_file(path: str, **options: Any) -> dict[str, Any]:
    """Score a prediction file (``-`` = stdin) and return the report dictionary."""
    name = display_name(path)
    if blocks.worth_it(path):
        from kgcli.parallel_eval import evaluate_parallel

        evaluator = evaluate_parallel(path, name, options)
        if evaluator is not None:
            return evaluator.report()
    evaluator = Evaluator(**options)
    if evaluator.skip_bad:
        evaluator.consume(tolerant_lines(iter_lines(path)), name)
    else:
        evaluator.consume(read_jsonl(path), name)
    return evaluator.report()


def tolerant_lines(lines: Iterable[tuple[int, bytes]]) -> Iterable[tuple[int, dict | None]]:
    """(line number, record), with None for a line that is not a JSON object (--skip-bad counts those)."""
    for number, raw in lines:
        try:
            value = orjson.loads(raw)
        except orjson.JSONDecodeError:
            yield number, None
            continue
        yield number, value if isinstance(value, dict) else None
