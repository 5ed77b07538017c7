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

import array
import contextlib
import operator
from collections import Counter
from collections.abc import Iterable
from dataclasses import dataclass, field
from typing import Any

import orjson

from kgcli import shards
from kgcli.collector import cycles_paused
from kgcli.errors import KgcError, warn
from kgcli.io import display_name, parse_lines, read_jsonl
from kgcli.records import INSTRUCTION, SCHEMA, head_end, parse_instruction, schema_span
from kgcli.repair import THINK_OPEN, parse_answer, split_thinking
from kgcli.tasks import Task, get_task, shared_task

MATCH_MODES = ("normal", "set")
MAIN = ("main",)
SORT_BY = ("source", "task")


@dataclass
class Counts:
    tp: int = 0
    pred: int = 0
    gold: int = 0


def tally_sets(gold: Iterable[tuple], pred: Iterable[tuple], right: Iterable[tuple], total: Counts,
               per: dict[str, Counts], prefix: str = "") -> None:
    """Add sets of tuples, each labelled by its last element, to a total and to per-label counts (keyed
    ``prefix + label``): the document and graph scores' one way of counting."""
    for items, name in ((gold, "gold"), (pred, "pred"), (right, "tp")):
        for label, count in Counter(item[-1] for item in items).items():
            setattr(total, name, getattr(total, name) + count)
            counts = per.setdefault(f"{prefix}{label}", Counts())
            setattr(counts, name, getattr(counts, name) + count)


def prf(counts: Counts, legacy: bool = False) -> tuple[float, float, float]:
    """P, R, F1 in percent, rounded to 2 decimals (legacy: F1 from the rounded P and R, as the seed)."""
    p = 100 * counts.tp / counts.pred if counts.pred else 0.0
    r = 100 * counts.tp / counts.gold if counts.gold else 0.0
    if legacy:
        p, r = round(p, 2), round(r, 2)
    f = 2 * p * r / (p + r) if p + r else 0.0
    return round(p, 2), round(r, 2), round(f, 2)


@dataclass
class ReportRow:
    """Scores of one report row (total, one source, or one task)."""

    samples: int = 0
    parse_errors: int = 0
    repaired: int = 0
    off_schema: int = 0
    thinking: int = 0  # answers after a <think>…</think> block (the block dropped)
    unfinished_thinking: int = 0  # parse errors: the answer ended inside its <think> block
    answers: int = 0  # records scored (each with an answer), not in the report
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
        if self.thinking or self.unfinished_thinking:  # reasoning models only: other reports keep their keys
            result.update(thinking=self.thinking, unfinished_thinking=self.unfinished_thinking)
        per_type: dict[str, Any] = {}
        for type_name in sorted(self.per_type):
            entry: dict[str, Any] = {}
            _scores(entry, self.per_type[type_name], legacy)
            per_type[type_name] = entry
        result["per_type"] = per_type
        return result


HEADLINE = ("main", "argument")  # each task's main metric: its tuples, or an event task's arguments


def _scores(into: dict[str, Any], metrics: dict[str, Counts], legacy: bool) -> None:
    """P/R/F1 and counts of each metric, after the headline: P, R, F1 of the main metric of every task in
    the block (an event task's is its argument score: the end-to-end one), named by ``headline`` where it
    is not plain ``main``."""
    if set(metrics) - {"main"}:
        headline = [m for m in HEADLINE if m in metrics]
        counts = Counts()
        for metric in headline:
            counts.tp += metrics[metric].tp
            counts.pred += metrics[metric].pred
            counts.gold += metrics[metric].gold
        into["P"], into["R"], into["F1"] = prf(counts, legacy)
        into["tp"], into["pred"], into["gold"] = counts.tp, counts.pred, counts.gold
        into["headline"] = "+".join(headline) or "none"
    for metric in sorted(metrics, key=lambda m: ("main", "event", "argument").index(m)):
        counts = metrics[metric]
        p, r, f = prf(counts, legacy)
        if metric == "main" and "headline" in into:
            continue  # already the headline's part
        prefix = "" if metric == "main" else f"{metric}_"
        into[f"{prefix}P"], into[f"{prefix}R"], into[f"{prefix}F1"] = p, r, f
        into[f"{prefix}tp"], into[f"{prefix}pred"] = counts.tp, counts.pred
        into[f"{prefix}gold"] = counts.gold


def _count(tuples: list[tuple], left: dict[tuple, int], pred_types: list[str], hit_types: list[str],
           type_of: Any) -> None:
    """Predicted tuples of one metric; a hit while the gold multiset (or set) still has the tuple."""
    pred_types.extend(map(type_of, tuples))
    for item in tuples:
        if left.get(item, 0) > 0:
            left[item] -= 1
            hit_types.append(type_of(item))


def _unseen(tuples: list[tuple], seen: set[tuple]) -> list[tuple]:
    """Set mode: each distinct prediction of an instance counts once, over all its chunks."""
    fresh = [t for t in dict.fromkeys(tuples) if t not in seen]
    seen.update(fresh)
    return fresh


class Tally:
    """Counts of one report block (one source or task, or everything when there is no --sort-by).

    While scoring, each metric has three lists of type names — one entry per gold tuple, per predicted
    tuple, per hit — filled with C-level ``extend``s; they are counted once, at the end (``counts``).
    """

    __slots__ = ("lists", "merged", "samples", "parse_errors", "repaired", "off_schema", "answers",
                 "thinking", "unfinished_thinking")

    def __init__(self) -> None:
        self.lists: dict[str, tuple[list[str], list[str], list[str]]] = {}
        self.merged: dict[str, dict[str, list[int]]] = {}
        self.samples = self.parse_errors = self.repaired = self.off_schema = self.answers = 0
        self.thinking = self.unfinished_thinking = 0

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
        return (self.samples, self.parse_errors, self.repaired, self.off_schema, self.counts(), self.answers,
                self.thinking, self.unfinished_thinking)

    def merge_summary(self, summary: tuple) -> None:
        samples, parse_errors, repaired, off_schema, counts, answers, thinking, unfinished = summary
        self.thinking += thinking
        self.unfinished_thinking += unfinished
        self.answers += answers
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

    def add_to(self, block: ReportRow) -> None:
        block.samples += self.samples
        block.parse_errors += self.parse_errors
        block.repaired += self.repaired
        block.off_schema += self.off_schema
        block.thinking += self.thinking
        block.unfinished_thinking += self.unfinished_thinking
        block.answers += self.answers
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


# One instance being scored (all chunks of one task + source + id), as the tuple (task, tally, plan, seen):
# ``plan`` holds, per metric of the task (in the task's order), (unmatched gold tuple → count, predicted
# types, hit types, the tuple's type getter); ``seen`` the predictions so far in set mode, else None. A tuple
# (not an object) because one is made per instance and unpacked into the scoring loop's locals.
Group = tuple[Task, "Tally", list[tuple], "dict[str, set] | None"]


class Evaluator:
    """Streaming scorer: ``consume`` records (in any number of calls), then ``report``."""

    def __init__(self, task: str | None = None, sort_by: str | None = None, match_mode: str = "normal",
                 legacy: bool = False, skip_bad: bool = False):
        if match_mode not in MATCH_MODES:
            raise KgcError(f"--match-mode must be normal or set, got {match_mode!r}")
        if sort_by not in (None, "", *SORT_BY):
            raise KgcError(f"--sort-by must be source or task, got {sort_by!r}")
        self.legacy = legacy
        self.fixed_task = self._protocol(get_task(task)) if task else None
        self.sort_by = sort_by or None
        self.set_mode = match_mode == "set"
        self.skip_bad = skip_bad
        self.bad_lines = 0
        self.tallies: dict[str, Tally] = {}
        self._tasks: dict[str, Task] = {}
        self._open_key: str | None = None
        self._open: Group | None = None
        self._done: dict[str, Group | None] = {}  # closed groups; None: settled (all gold matched, no set)
        self._layouts: dict[str, tuple[Tally, list[tuple]]] = {}
        self._merged_notes: Counter = Counter()  # notes of worker processes, and records left out
        self._schemas: dict[str, set[str] | None] = {}  # schema text → output keys (see _allowed_keys)
        self._last_head = "\x00"  # the last instruction's head (up to its input) and its keys
        self._last_allowed: set[str] | None = None

    def consume(self, records: Iterable[tuple[int, dict | None]], name: str) -> None:
        """Score (line number, record) pairs (record None = an unreadable line under --skip-bad).

        Hot loop: the open group's state is kept in locals, so the usual record (same group as the last one,
        or a new group) costs a few dictionary look-ups, one answer parse and one pass over its tuples.
        """
        wanted = self.fixed_task.name if self.fixed_task is not None else None
        loads, decode_error = orjson.loads, orjson.JSONDecodeError
        fields = operator.itemgetter("id", "output", "source", "task")
        gold_of = operator.itemgetter(0)
        legacy, done, open_key = self.legacy, self._done, self._open_key
        task, tally, plan, seen = self._open or (None, None, None, None)
        single = task is not None and task.metrics == MAIN
        if single:
            left, pred_types, hit_types, type_of = plan[0]
        last_head, last_allowed = self._last_head, self._last_allowed
        fixed, layouts, set_mode = self.fixed_task, self._layouts, self.set_mode
        with cycles_paused():  # nothing here forms reference cycles
            try:
                for number, record in records:
                    if record is None:
                        self.bad_lines += 1
                        continue
                    try:
                        try:
                            record_id, output, source, task_name = fields(record)
                        except KeyError:
                            record_id, output, source, task_name = (record.get("id"), record.get("output"),
                                                                    record.get("source"), record.get("task"))
                        if wanted is not None and task_name and task_name != wanted and self._other_task(
                                task_name, wanted):
                            continue
                        if record_id is None:
                            if "doc_id" in record and "instruction" not in record:
                                raise ValueError("this is a merged document (kgc extract's output), not a "
                                                 "prediction record: score it against the annotated "
                                                 "documents with --documents DOCS")
                            raise ValueError("record has no 'id'")
                        if type(output) is not str:
                            raise ValueError("record has no 'output' string (run kgc predict first)")
                        if type(source) is str and type(record_id) is str and type(task_name) is str:
                            key = task_name + "\x1f" + source + "\x1f" + record_id
                        else:
                            key = f"{task_name}\x1f{'None' if source is None else source}\x1f{record_id}"
                        if key != open_key:
                            if open_key is not None:
                                if single:
                                    settled = not any(left.values())
                                else:
                                    settled = not any(map(any, map(dict.values, map(gold_of, plan))))
                                done[open_key] = (None if settled and seen is None
                                                  else (task, tally, plan, seen))
                                open_key = None
                            if key in done or set_mode or legacy:
                                task, tally, plan, seen = self._group(key, record)
                            else:  # the usual new group, as _group starts it (distinct gold, no set)
                                task = fixed or self._task_for(record)
                                gold = task.gold_counts(record.get("label"))
                                tally, layout = layouts.get(task.name) or self._layout(task, record)
                                tally.samples += 1
                                plan, seen = [], None
                                for metric, gold_types, pred_types, hit_types, type_of in layout:
                                    left = gold.get(metric) or {}
                                    gold_types.extend(map(type_of, left))
                                    plan.append((left, pred_types, hit_types, type_of))
                            single = task.metrics == MAIN
                            if single:  # the one metric's state, in locals for the loop below
                                left, pred_types, hit_types, type_of = plan[0]
                            open_key = key
                    except (ValueError, KgcError) as exc:
                        if not self.skip_bad:
                            raise KgcError(exc.message if isinstance(exc, KgcError) else str(exc), name,
                                           number) from None
                        self.bad_lines += 1
                        continue
                    tally.answers += 1
                    answer = None
                    if not legacy and THINK_OPEN in output and output.lstrip().startswith(THINK_OPEN):
                        output, thinking = split_thinking(output)
                        if thinking == "open":
                            tally.parse_errors += 1
                            tally.unfinished_thinking += 1
                            continue
                        tally.thinking += 1
                    if not legacy:
                        try:
                            answer = loads(output)
                        except decode_error:
                            pass
                    if type(answer) is not dict:
                        answer, repaired = parse_answer(output, repair=not legacy)
                        if answer is None:
                            tally.parse_errors += 1
                            continue
                        if repaired:
                            tally.repaired += 1
                    if legacy:
                        allowed = None
                    else:
                        instruction = record.get(INSTRUCTION)
                        if type(instruction) is str and instruction.startswith(last_head):
                            allowed = last_allowed  # the same schema chunk as the last record
                        else:
                            allowed = self._allowed_keys(task, instruction)
                            last_head, last_allowed = self._last_head, self._last_allowed
                    if single:
                        main: list[tuple] = []
                        off_schema = task.collect_main(answer, allowed, main)
                        by_metric = None
                    else:
                        by_metric = {m: [] for m in task.metrics}
                        off_schema = task.collect_all(answer, allowed, by_metric)
                    if off_schema and not legacy:
                        tally.off_schema += off_schema
                    if by_metric is None:  # one metric: _count written out (it runs for nearly every record)
                        if main:
                            if seen is not None:
                                main = _unseen(main, seen["main"])
                            pred_types.extend(map(type_of, main))
                            for item in main:
                                if left.get(item, 0) > 0:
                                    left[item] -= 1
                                    hit_types.append(type_of(item))
                    else:
                        for entry, metric in zip(plan, task.metrics, strict=True):
                            tuples = by_metric[metric]
                            if tuples:
                                _count(tuples if seen is None else _unseen(tuples, seen[metric]), *entry)
            finally:
                self._open_key = open_key
                self._open = (task, tally, plan, seen) if open_key is not None else None
                self._last_head, self._last_allowed = last_head, last_allowed

    def _other_task(self, task_name: Any, wanted: str) -> bool:
        """--task on a mixed file: a record of another task is left out and counted (one that names none,
        or the task in other letter case, is scored)."""
        if str(task_name).upper() == wanted:
            return False
        self._merged_notes[f"record(s) of other tasks left out (--task {wanted})"] += 1
        return True

    def _group(self, key: str, record: dict) -> Group:
        """The group ``key`` starts (its gold from the record's label), or resumes if seen before."""
        task = self.fixed_task or self._task_for(record)
        if key in self._done:
            earlier = self._done.pop(key)
            if earlier is not None:
                return earlier
            # settled: later answers still count, on nothing left
            tally, layout = self._layouts.get(task.name) or self._layout(task, record)
            return task, tally, [({}, preds, hits, type_of) for _, _, preds, hits, type_of in layout], None
        gold = task.gold_counts(record.get("label"))
        tally, layout = self._layouts.get(task.name) or self._layout(task, record)
        tally.samples += 1
        plan = []
        for metric, gold_types, pred_types, hit_types, type_of in layout:
            left = gold.get(metric) or {}
            if self.set_mode:
                left = dict.fromkeys(left, 1)
            if len(left) == sum(left.values()):
                gold_types.extend(map(type_of, left))
            else:
                gold_types.extend([type_of(item) for item, n in left.items() for _ in range(n)])
            plan.append((left, pred_types, hit_types, type_of))
        return task, tally, plan, {m: set() for m in task.metrics} if self.set_mode else None

    def _layout(self, task: Task, record: dict) -> tuple[Tally, list[tuple]]:
        """The record's report block and, per metric of the task, (metric, gold types, predicted types, hit
        types, type getter): cached by task while there is one block (no --sort-by)."""
        tally = self._tally_for(record)
        layout = [(metric, *tally.table(metric), type_of) for metric, type_of in task.type_getters.items()]
        if self.sort_by is None:
            self._layouts[task.name] = tally, layout
        return tally, layout

    def _allowed_keys(self, task: Task, instruction: Any) -> set[str] | None:
        """The output keys the record's chunk asked for (None: unknown, every key counts), looked up by the
        schema text in a cache (few distinct per file). The caller first compares the instruction with the
        last one's head: it is the same for every chunk with this schema."""
        if type(instruction) is not str:
            return None
        span = schema_span(instruction)
        if span is None:
            return schema_keys(task, instruction)
        text = instruction[span[0] : span[1]]
        allowed = self._schemas.get(text, False)
        if allowed is False:
            try:
                allowed = task.output_keys(orjson.loads(text))
            except orjson.JSONDecodeError:
                allowed = None
            if allowed is None:
                allowed = schema_keys(task, instruction)
            if len(self._schemas) > 10_000:
                self._schemas.clear()
            self._schemas[text] = allowed
        self._last_head, self._last_allowed = instruction[: head_end(span)], allowed
        return allowed

    def _task_for(self, record: dict) -> Task:
        name = record.get("task")
        if not isinstance(name, str):
            raise ValueError("record has no 'task'; pass --task")
        if name not in self._tasks:
            self._tasks[name] = self._protocol(get_task(name))
        return self._tasks[name]

    def _protocol(self, task: Task) -> Task:
        task.legacy = self.legacy
        return task

    def notes(self) -> Counter:
        """Notices from the tasks (e.g. what the seed's protocol would have scored differently)."""
        found = Counter(self._merged_notes)
        for task in [self.fixed_task, *self._tasks.values()]:
            if task is not None:
                found.update(task.notes)
        return found

    def _tally_for(self, record: dict) -> Tally:
        name = ""
        if self.sort_by:
            value = record.get(self.sort_by)
            name = str(value if value is not None else "None")
        return self.tally_named(name)

    def tally_named(self, name: str) -> Tally:
        tally = self.tallies.get(name)
        if tally is None:
            tally = self.tallies[name] = Tally()
        return tally

    def _close_open(self) -> None:
        if self._open is not None and self._open_key is not None:
            self._done[self._open_key] = self._open
        self._open = self._open_key = None

    # -- workers ---------------------------------------------------------------------------------------
    def partial(self) -> tuple[dict[str, tuple], int, array.array, Counter]:
        """What a worker sends back (picklable): tally summaries, bad lines, its instance keys as hashes
        (forked workers share the hash seed, to spot an instance scored in two shards), and its notes."""
        self._close_open()
        keys = array.array("q", map(hash, self._done))
        summaries = {name: tally.summary() for name, tally in self.tallies.items()}
        return summaries, self.bad_lines, keys, self.notes()

    def merge(self, partial: tuple[dict[str, tuple], int, array.array, Counter]) -> None:
        summaries, bad_lines, _, notes = partial
        self.bad_lines += bad_lines
        self._merged_notes.update(notes)
        for name, summary in summaries.items():
            self.tally_named(name).merge_summary(summary)

    # -- report ---------------------------------------------------------------------------------------
    def blocks(self) -> tuple[ReportRow, dict[str, ReportRow]]:
        """(total, per sort-by name) report blocks built from the tallies."""
        self._close_open()
        total, named = ReportRow(), {}
        for name, tally in self.tallies.items():
            tally.add_to(total)
            if self.sort_by:
                named[name] = ReportRow()
                tally.add_to(named[name])
        return total, named

    def report(self) -> dict[str, Any]:
        total, named = self.blocks()
        result = {"total": total.to_json(self.legacy)}
        if self.bad_lines:
            result["total"]["skipped_lines"] = self.bad_lines
        notes = self.notes()
        if notes:
            result["total"]["notes"] = {note: count for note, count in sorted(notes.items())}
        for name in sorted(named):
            result[name] = named[name].to_json(self.legacy)
        return result


def schema_keys(task: Task, instruction: Any) -> set[str] | None:
    """The output keys the chunk asked for, from the instruction's ``schema`` (None if unreadable)."""
    inner = parse_instruction(instruction)
    return None if inner is None or SCHEMA not in inner else task.output_keys(inner[SCHEMA])


def _same_instance(previous: bytes, line: bytes) -> bool:
    """Two lines of one instance (task + source + id): shards never separate them."""
    try:
        first, second = orjson.loads(previous), orjson.loads(line)
    except orjson.JSONDecodeError:
        return False
    if not isinstance(first, dict) or not isinstance(second, dict):
        return False
    return (first.get("task"), first.get("source"), first.get("id")) == (
        second.get("task"), second.get("source"), second.get("id"))


def _score_shard(lines: list[bytes], first_line: int, index: int, job: tuple[dict[str, Any], str]) -> tuple:
    """Worker: score one shard."""
    options, name = job
    evaluator = Evaluator(**options)
    evaluator.consume(parse_lines(lines, name, first_line, tolerant=evaluator.skip_bad), name)
    return evaluator.partial()


def evaluate_parallel(path: str, name: str, options: dict[str, Any]) -> Evaluator | None:
    """The file scored by several processes: the merged evaluator, or None when an instance shows up in two
    shards anyway (a text repeated far apart in the file; then the caller scores it in one process, which
    merges it exactly). Shards never split an instance, so the workers' counts simply add up."""
    merged = Evaluator(**options)
    seen: set[int] = set()
    count = 0
    work = shards.map_shards(path, _score_shard, (options, name), together=_same_instance)
    with contextlib.closing(work) as results:
        for _, partial in results:
            merged.merge(partial)
            count += len(partial[2])
            seen.update(partial[2])
    return merged if len(seen) == count else None


def evaluate_file(path: str, **options: Any) -> dict[str, Any]:
    """Score a prediction file (``-`` = stdin) and return the report dictionary."""
    name = display_name(path)
    evaluator = evaluate_parallel(path, name, options) if shards.worth_it(path) else None
    if evaluator is None:
        evaluator = Evaluator(**options)
        evaluator.consume(read_jsonl(path, tolerant=evaluator.skip_bad), name)
    if not evaluator.tallies and not evaluator.bad_lines:
        wanted = f" of task {options['task'].upper()}" if options.get("task") else ""
        raise KgcError(f"no records{wanted}: expected predictions, one JSON object per line (kgc predict's "
                       "output)", name)
    answers = sum(tally.answers for tally in evaluator.tallies.values())
    if answers and sum(tally.parse_errors for tally in evaluator.tallies.values()) == answers:
        raise KgcError(f"none of the {answers} answer(s) parses as JSON: is the preset's template the one "
                       "the model was trained with, or is this a base model?", name)
    parsed = answers - sum(tally.parse_errors for tally in evaluator.tallies.values())
    off_schema = sum(tally.off_schema for tally in evaluator.tallies.values())
    if parsed and off_schema >= parsed:
        warn(f"{name}: every answer ({parsed}) names only keys its schema does not ask for (off_schema), so "
             "every score is 0: was the model asked in another language or with another schema (an answer "
             "keyed 'person' where the schema asks 人物)?")
    return evaluator.report()


def input_text(instruction: Any) -> str:
    """The ``input`` of an IEPile instruction (JSON text), or '' when it has none."""
    try:
        value = orjson.loads(instruction).get("input") if isinstance(instruction, str) else None
    except (orjson.JSONDecodeError, AttributeError):
        return ""
    return value if isinstance(value, str) else ""


def list_errors(path: str, limit: int, task: str | None = None) -> list[dict[str, Any]]:
    """The first ``limit`` instances (task + source + id, over all their chunks) whose predictions differ
    from their gold: false positives and false negatives, as sets of tuples (what to look at, not a score:
    the scores are ``evaluate_file``'s)."""
    name = display_name(path)
    wanted = task.upper() if task else None
    groups: dict[tuple, tuple[Task, dict[str, set], dict[str, set], int]] = {}
    texts: dict[tuple, str] = {}  # each instance's input text (its first chunk's), to name it by
    for number, record in read_jsonl(path):
        task_name = str(record.get("task") or wanted or "")
        if wanted and task_name.upper() != wanted:
            continue
        try:
            current = shared_task(task_name)
        except KgcError as exc:
            raise KgcError(exc.message, name, number) from None
        key = (current.name, str(record.get("source")), str(record.get("id")))
        if key not in groups:
            try:
                gold = {m: set(found) for m, found in current.gold_counts(record.get("label")).items()}
            except ValueError as exc:
                raise KgcError(str(exc), name, number) from None
            groups[key] = (current, gold, {m: set() for m in current.metrics}, number)
            texts[key] = input_text(record.get(INSTRUCTION))
        answer, _ = parse_answer(record.get("output") if isinstance(record.get("output"), str) else "")
        if isinstance(answer, dict):
            found: dict[str, list[tuple]] = {m: [] for m in current.metrics}
            current.collect_all(answer, schema_keys(current, record.get(INSTRUCTION)), found)
            for metric, tuples in found.items():
                groups[key][2][metric].update(tuples)
    errors = []
    for (task_name, source, record_id), (current, gold, predicted, line) in groups.items():
        positives, negatives = [], []
        for metric in current.metrics:
            wanted_tuples = gold.get(metric, set())
            positives += [list(t) for t in sorted(predicted[metric] - wanted_tuples, key=str)]
            negatives += [list(t) for t in sorted(wanted_tuples - predicted[metric], key=str)]
        if positives or negatives:
            errors.append({"task": task_name, "source": source, "id": record_id, "line": line,
                           "text": texts.get((task_name, source, record_id), ""),
                           "false_positives": positives, "false_negatives": negatives})
            if len(errors) >= limit:
                break
    return errors
