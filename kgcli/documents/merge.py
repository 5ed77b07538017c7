"""The answers to a document's chunks → one result per document, every extracted string grounded in it.

Each prediction record (a converted chunk record + ``output``) is read by its task module: the answer is
parsed (and repaired) as ``kgc eval`` parses it, turned into the task's tuples, and every string position of a
tuple (entity, head, tail, trigger, argument — ``Task.span_index``) is located in the chunk's text
(``kgcli.documents.grounding``) and moved to document offsets. Results are keyed by task kind and normalised
values, so the same entity or triple from several chunks is one result with all its mentions, and a mention
seen in two overlapping chunks (same document offsets) counts once. Each mention names the chunk and the
record it was answered in and carries the sentence around it. A string absent from the text is kept with
``grounded: false`` and no offsets (``drop_ungrounded``: dropped). What a tuple leaves out and the task knows
(``Task.details``: an event's arguments, the types the schema gives) rides along on its result. No model is
called: the result for a whole document is the union of the results for its parts.

With ``sentences=True`` a record that is not a chunk (a plain prediction record) is a one-chunk document of
its own, named by its id.
"""

from __future__ import annotations

from collections.abc import Iterable, Iterator
from dataclasses import dataclass, field
from typing import Any

from kgcli.documents.grounding import STATUSES, Grounder, context_of, normalise
from kgcli.documents.result import (
    ARGUMENTS,
    CHUNKS,
    DOC_ID,
    GROUNDED,
    KINDS,
    MENTIONS,
    OFF_SCHEMA,
    RECORDS,
    STATEMENTS,
    TASK,
    UNPARSED,
    joined_context,
    mention,
    mentions_field,
    pair_rank,
    statement,
)
from kgcli.errors import KgcError, warn
from kgcli.records import INPUT, INSTRUCTION, OUTPUT, SCHEMA, parse_instruction
from kgcli.repair import parse_answer
from kgcli.tasks import Task, shared_task

# a mention: its first chunk, that chunk's record id, the sentence around it and its grounding status
_Seen = tuple[int, str, str, str]


def _ground(into: dict[tuple[int, int], _Seen], value: str, grounder: Grounder, start: int, chunk: int,
            record_id: str) -> None:
    """A string's occurrences in one chunk, at document offsets (the first chunk that saw one keeps it)."""
    spans, status = grounder.find(value)
    for begin, end in spans:
        into.setdefault((start + begin, start + end),
                        (chunk, record_id, context_of(grounder.text, begin, end), status or ""))


@dataclass
class _Result:
    task: Task
    metric: str
    values: tuple
    # span position → {(start, end): (first chunk, its record id, the sentence around it, its status)}
    mentions: dict[int, dict[tuple[int, int], _Seen]]
    order: int
    # the records that gave it, first first, each with its chunk and the chunk's document offsets
    records: dict[str, tuple[int, int, int]] = field(default_factory=dict)
    extra: dict[str, Any] = field(default_factory=dict)  # Task.details, merged over the chunks


@dataclass
class _Document:
    doc_id: str
    metadata: dict[str, Any]
    results: dict[tuple, _Result] = field(default_factory=dict)
    chunks: set[int] = field(default_factory=set)
    answers: int = 0
    unparsed: int = 0
    off_schema: int = 0


@dataclass
class MergeStats:
    documents: int = 0
    chunks: int = 0
    answers: int = 0
    unparsed: int = 0
    off_schema: int = 0  # answers that parse but name no key of their schema
    extractions: int = 0
    grounded: int = 0
    off_schema_names: int = 0  # answered names the chunk's schema did not ask for (KG attributes), left out
    statuses: dict[str, int] = field(default_factory=lambda: dict.fromkeys(STATUSES, 0))  # mentions each
    sample: str | None = None  # the first answer that did not parse or fit its schema, for the error line
    expected: str = ""  # the keys that answer's schema asked for

    @property
    def mentions(self) -> int:
        return sum(self.statuses.values())

    def note_bad(self, output: str, keys: Any) -> None:
        if self.sample is None:
            self.sample = output
            self.expected = ", ".join(sorted(map(str, keys)))[:200] if keys else ""

    @property
    def grounded_percent(self) -> float:
        return 100.0 * self.grounded / self.extractions if self.extractions else 100.0


# fields of a prediction record that are not the document's metadata
_RECORD_FIELDS = {"id", "task", "source", INSTRUCTION, OUTPUT, "label", "doc_id", "chunk", "start", "end"}


class DocumentMerger:
    """Feed prediction records with ``add``; ``documents()`` gives one merged result per document."""

    def __init__(self, drop_ungrounded: bool = False, sentences: bool = False):
        self.drop_ungrounded = drop_ungrounded
        self.sentences = sentences
        self.stats = MergeStats()
        self._documents: dict[str, _Document] = {}
        self._grounder: Grounder | None = None

    def add(self, record: dict, name: str, number: int) -> bool:
        """Merge one prediction record; False when its answer does not parse (counted, nothing added)."""
        doc_id = record.get("doc_id")
        start = record.get("start")
        if doc_id is None and self.sentences:
            doc_id, start = record.get("id", f"{name}:{number}"), 0
        if doc_id is None or not isinstance(start, int):
            raise KgcError("not a chunk record (no 'doc_id' and 'start'): chunk the documents with kgc chunk "
                           "before kgc convert", name, number)
        task = self._task(record, name, number)
        inner = parse_instruction(record.get(INSTRUCTION))
        if inner is None or not isinstance(inner.get(INPUT), str):
            raise KgcError("'instruction' is not an IEPile instruction (JSON with schema and input)", name,
                           number)
        output = record.get(OUTPUT)
        if not isinstance(output, str):
            raise KgcError("record has no 'output' string (run kgc predict first)", name, number)
        document = self._documents.get(str(doc_id))
        if document is None:
            metadata = {k: v for k, v in record.items() if k not in _RECORD_FIELDS}
            document = self._documents[str(doc_id)] = _Document(str(doc_id), metadata)
        chunk = record.get("chunk", 0)
        record_id = str(record.get("id", f"{name}:{number}"))
        document.chunks.add(chunk)
        document.answers += 1
        answer, _ = parse_answer(output)
        schema = inner.get(SCHEMA)
        allowed = task.output_keys(schema) if isinstance(schema, list) else None
        if not isinstance(answer, dict):
            document.unparsed += 1
            self.stats.note_bad(output, allowed)
            return False
        if answer and allowed is not None and not allowed.intersection(answer):
            document.off_schema += 1  # parsed, but in a shape that names none of the schema's keys
            self.stats.note_bad(output, allowed)
            return True
        by_metric: dict[str, list[tuple]] = {metric: [] for metric in task.metrics}
        task.collect_all(answer, allowed, by_metric)
        details = task.details(answer, schema) if by_metric else {}
        text = inner[INPUT]
        grounder = self._grounder_of(text)
        given = (chunk, start, start + len(text))
        for metric, tuples in by_metric.items():
            spans = task.span_index[metric]
            for values in dict.fromkeys(tuples):
                if not task.in_schema(metric, values, details.get((metric, values)), schema):
                    self.stats.off_schema_names += 1  # a name the schema never asked for: no new label
                    continue
                key = (task.result_kind[metric], task.name, metric,
                       tuple(normalise(v) if i in spans and isinstance(v, str) else v
                             for i, v in enumerate(values)))
                result = document.results.get(key)
                if result is None:
                    result = document.results[key] = _Result(task, metric, values, {i: {} for i in spans},
                                                             len(document.results))
                result.records.setdefault(record_id, given)
                for position in spans:
                    _ground(result.mentions[position], str(values[position]), grounder, start, chunk,
                            record_id)
                extra = details.get((metric, values))
                if extra:
                    self._add_details(result, extra, grounder, start, chunk, record_id)
        return True

    @staticmethod
    def _add_details(result: _Result, extra: dict[str, Any], grounder: Grounder, start: int,
                     chunk: int, record_id: str) -> None:
        """Merge one chunk's details into a result: linked arguments grounded like spans and united by
        (role, normalised argument); any other field keeps its first value."""
        for name, value in extra.items():
            if name != ARGUMENTS:
                result.extra.setdefault(name, value)
                continue
            linked = result.extra.setdefault(ARGUMENTS, {})
            for argument in value:
                entry = linked.setdefault((argument["role"], normalise(argument["argument"])),
                                          (argument, {}))
                _ground(entry[1], argument["argument"], grounder, start, chunk, record_id)

    @staticmethod
    def _task(record: dict, name: str, number: int) -> Task:
        try:
            return shared_task(str(record.get("task", "")))
        except KgcError as exc:
            raise KgcError(exc.message, name, number) from None

    def _grounder_of(self, text: str) -> Grounder:
        if self._grounder is None or self._grounder.text != text:
            self._grounder = Grounder(text)
        return self._grounder

    def stream(self, records: Iterable[tuple[int, dict]], name: str) -> Iterator[dict[str, Any]]:
        """Merge (line number, prediction record) pairs whose documents come one after another (as kgc
        extract writes them), yielding each document's result as soon as its last record is in: memory
        holds one document, not the corpus."""
        current = None
        for number, record in records:
            doc_id = record.get("doc_id")
            if current is not None and doc_id != current and current in self._documents:
                yield self._render(self._documents.pop(current))
            current = doc_id
            self.add(record, name, number)
        yield from self.documents()

    def documents(self) -> Iterator[dict[str, Any]]:
        """One result per document, in the order documents were first seen."""
        while self._documents:
            yield self._render(self._documents.pop(next(iter(self._documents))))
        if self.stats.off_schema_names:
            warn(f"{self.stats.off_schema_names} answered name(s) outside their chunk's schema (KG "
                 "attributes it did not ask for) were left out")

    def _render(self, document: _Document) -> dict[str, Any]:
        stats = self.stats
        stats.documents += 1
        stats.chunks += len(document.chunks)
        stats.answers += document.answers
        stats.unparsed += document.unparsed
        stats.off_schema += document.off_schema
        _settle(document)
        out: dict[str, Any] = {DOC_ID: document.doc_id, **document.metadata}
        for kind in KINDS:
            out[kind] = []
        ranked = sorted(document.results.values(), key=lambda r: (_first(r), r.order))
        for result in ranked:
            grounded = all(result.mentions[p] for p in result.mentions)
            stats.extractions += 1
            stats.grounded += grounded
            if self.drop_ungrounded and not grounded:
                continue
            for mentions in result.mentions.values():
                for seen in mentions.values():
                    stats.statuses[seen[3]] += 1
            out[result.task.result_kind[result.metric]].append(_entry(result, grounded))
        out[CHUNKS] = len(document.chunks)
        out[UNPARSED] = document.unparsed
        out[OFF_SCHEMA] = document.off_schema
        return out


def _first(result: _Result) -> int:
    starts = [start for mentions in result.mentions.values() for start, _ in mentions]
    return min(starts) if starts else 1 << 62


def _settle(document: _Document) -> None:
    """Claimed spans: an occurrence inside a longer grounded mention of the same document (any task, any
    type) is not a mention of the shorter string (北京 in 北京大学, York in New York); the shorter name keeps
    its own standalone occurrences. Settled per document, after every chunk is in, because a chunk can end
    inside a longer name."""
    groups: list[dict[tuple[int, int], _Seen]] = []
    for result in document.results.values():
        groups.extend(result.mentions.values())
        for _, mentions in result.extra.get(ARGUMENTS, {}).values():
            groups.append(mentions)
    spans = sorted({span for group in groups for span in group}, key=lambda span: (span[0], -span[1]))
    claimed, reach = set(), -1
    for span in spans:  # by start, longer first: a span is inside another iff an earlier one reaches past it
        if reach >= span[1]:
            claimed.add(span)
        reach = max(reach, span[1])
    if claimed:
        for group in groups:
            for span in claimed.intersection(group):
                del group[span]


def _nearest(heads: dict[tuple[int, int], _Seen], tails: dict[tuple[int, int], _Seen], low: int,
             high: int) -> tuple[tuple[int, int], tuple[int, int]] | None:
    """The (head span, tail span) pair inside ``[low, high)`` that most likely states the result
    (``pair_rank``)."""
    inside_heads = [span for span in heads if low <= span[0] and span[1] <= high]
    inside_tails = [span for span in tails if low <= span[0] and span[1] <= high]
    if not inside_heads or not inside_tails:
        return None
    return min(((h, t) for h in inside_heads for t in inside_tails),
               key=lambda pair: pair_rank(*pair, heads[pair[0]][2], tails[pair[1]][2]))


def _statements(heads: dict[tuple[int, int], _Seen], tails: dict[tuple[int, int], _Seen],
                records: dict[str, tuple[int, int, int]]) -> list[dict[str, Any]]:
    """What an edge rests on: per record that gave it, the nearest (head, tail) pair in that record's chunk;
    equal pairs from overlapping chunks are one statement. Without any such pair, one statement without
    offsets per record."""
    found: dict[tuple, dict[str, Any]] = {}
    for record_id, (chunk, low, high) in records.items():
        pair = _nearest(heads, tails, low, high)
        if pair is not None and pair not in found:
            head, tail = heads[pair[0]], tails[pair[1]]
            status = max(head[3], tail[3], key=lambda s: STATUSES.index(s) if s in STATUSES else -1)
            found[pair] = statement(chunk, record_id, pair[0], pair[1], joined_context(head[2], tail[2]),
                                    status)
    if found:
        return [found[pair] for pair in sorted(found)]
    return [statement(chunk, record_id, None, None, "", None) for record_id, (chunk, _, _) in records.items()]


def _entry(result: _Result, grounded: bool) -> dict[str, Any]:
    names = result.task.result_fields[result.metric]
    entry: dict[str, Any] = {TASK: result.task.name, **dict(zip(names, result.values, strict=True)),
                             GROUNDED: grounded}
    single = len(result.mentions) == 1
    for position, mentions in result.mentions.items():
        entry[mentions_field(None if single else names[position])] = _listed(mentions)
    if len(result.mentions) == 2:
        heads, tails = result.mentions.values()
        entry[STATEMENTS] = _statements(heads, tails, result.records)
    for name, value in result.extra.items():
        if name == ARGUMENTS:
            triggers = next(iter(result.mentions.values()), None)
            value = [{"role": argument["role"], "argument": argument["argument"], GROUNDED: bool(mentions),
                      MENTIONS: _listed(mentions),
                      **({STATEMENTS: _statements(triggers, mentions, result.records)} if triggers is not None
                         else {})}
                     for argument, mentions in value.values()]
        entry[name] = value
    entry[RECORDS] = list(result.records)
    return entry


def _listed(mentions: dict[tuple[int, int], _Seen]) -> list[dict[str, Any]]:
    return [mention(chunk, start, end, record, context, status)
            for (start, end), (chunk, record, context, status) in sorted(mentions.items())]


def merge_records(records: Iterable[tuple[int, dict]], name: str, *, drop_ungrounded: bool = False,
                  sentences: bool = False) -> tuple[list[dict[str, Any]], MergeStats]:
    """Every document's merged result from (line number, prediction record) pairs, and the run's counts."""
    merger = DocumentMerger(drop_ungrounded, sentences)
    for number, record in records:
        merger.add(record, name, number)
    return list(merger.documents()), merger.stats
