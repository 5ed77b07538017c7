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

from kgcli.documents.grounding import NormalText, context_of, find_all, normalise
from kgcli.documents.result import (
    ARGUMENTS,
    CHUNKS,
    DOC_ID,
    GROUNDED,
    KINDS,
    MENTIONS,
    RECORDS,
    TASK,
    UNPARSED,
    mention,
    mentions_field,
)
from kgcli.errors import KgcError, warn
from kgcli.records import INPUT, INSTRUCTION, OUTPUT, SCHEMA, parse_instruction
from kgcli.repair import parse_answer
from kgcli.tasks import Task, shared_task


@dataclass
class _Result:
    task: Task
    metric: str
    values: tuple
    # span position → {(start, end): (first chunk, its record id, the sentence around the mention)}
    mentions: dict[int, dict[tuple[int, int], tuple[int, str, str]]]
    order: int
    records: dict[str, None] = field(default_factory=dict)  # the records that gave it, first first
    extra: dict[str, Any] = field(default_factory=dict)  # Task.details, merged over the chunks


@dataclass
class _Document:
    doc_id: str
    metadata: dict[str, Any]
    results: dict[tuple, _Result] = field(default_factory=dict)
    chunks: set[int] = field(default_factory=set)
    answers: int = 0
    unparsed: int = 0


@dataclass
class MergeStats:
    documents: int = 0
    chunks: int = 0
    answers: int = 0
    unparsed: int = 0
    extractions: int = 0
    grounded: int = 0
    off_schema: int = 0  # answered names the chunk's schema did not ask for (KG attributes), left out

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
        self._normal: tuple[str, NormalText] | None = None

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
        if not isinstance(answer, dict):
            document.unparsed += 1
            return False
        schema = inner.get(SCHEMA)
        allowed = task.output_keys(schema) if isinstance(schema, list) else None
        by_metric: dict[str, list[tuple]] = {metric: [] for metric in task.metrics}
        task.collect_all(answer, allowed, by_metric)
        details = task.details(answer, schema) if by_metric else {}
        text = inner[INPUT]
        normal = self._normal_text(text)
        for metric, tuples in by_metric.items():
            spans = task.span_index[metric]
            for values in dict.fromkeys(tuples):
                if not task.in_schema(metric, values, details.get((metric, values)), schema):
                    self.stats.off_schema += 1  # a name the schema never asked for: no new label
                    continue
                key = (task.result_kind[metric], task.name, metric,
                       tuple(normalise(v) if i in spans and isinstance(v, str) else v
                             for i, v in enumerate(values)))
                result = document.results.get(key)
                if result is None:
                    result = document.results[key] = _Result(task, metric, values, {i: {} for i in spans},
                                                             len(document.results))
                result.records.setdefault(record_id)
                for position in spans:
                    for begin, end in find_all(str(values[position]), text, normal):
                        result.mentions[position].setdefault(
                            (start + begin, start + end), (chunk, record_id, context_of(text, begin, end)))
                extra = details.get((metric, values))
                if extra:
                    self._add_details(result, extra, text, normal, start, chunk, record_id)
        return True

    @staticmethod
    def _add_details(result: _Result, extra: dict[str, Any], text: str, normal: NormalText, start: int,
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
                for begin, end in find_all(argument["argument"], text, normal):
                    entry[1].setdefault((start + begin, start + end),
                                        (chunk, record_id, context_of(text, begin, end)))

    @staticmethod
    def _task(record: dict, name: str, number: int) -> Task:
        try:
            return shared_task(str(record.get("task", "")))
        except KgcError as exc:
            raise KgcError(exc.message, name, number) from None

    def _normal_text(self, text: str) -> NormalText:
        if self._normal is None or self._normal[0] != text:
            self._normal = (text, NormalText(text))
        return self._normal[1]

    def documents(self) -> Iterator[dict[str, Any]]:
        """One result per document, in the order documents were first seen."""
        for document in self._documents.values():
            yield self._render(document)
        if self.stats.off_schema:
            warn(f"{self.stats.off_schema} answered name(s) outside their chunk's schema (KG attributes it "
                 "did not ask for) were left out")

    def _render(self, document: _Document) -> dict[str, Any]:
        stats = self.stats
        stats.documents += 1
        stats.chunks += len(document.chunks)
        stats.answers += document.answers
        stats.unparsed += document.unparsed
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
            out[result.task.result_kind[result.metric]].append(_entry(result, grounded))
        out[CHUNKS] = len(document.chunks)
        out[UNPARSED] = document.unparsed
        return out


def _first(result: _Result) -> int:
    starts = [start for mentions in result.mentions.values() for start, _ in mentions]
    return min(starts) if starts else 1 << 62


def _entry(result: _Result, grounded: bool) -> dict[str, Any]:
    names = result.task.result_fields[result.metric]
    entry: dict[str, Any] = {TASK: result.task.name, **dict(zip(names, result.values, strict=True)),
                             GROUNDED: grounded}
    single = len(result.mentions) == 1
    for position, mentions in result.mentions.items():
        entry[mentions_field(None if single else names[position])] = _listed(mentions)
    for name, value in result.extra.items():
        if name == ARGUMENTS:
            value = [{"role": argument["role"], "argument": argument["argument"], GROUNDED: bool(mentions),
                      MENTIONS: _listed(mentions)} for argument, mentions in value.values()]
        entry[name] = value
    entry[RECORDS] = list(result.records)
    return entry


def _listed(mentions: dict[tuple[int, int], tuple[int, str, str]]) -> list[dict[str, Any]]:
    return [mention(chunk, start, end, record, context)
            for (start, end), (chunk, record, context) in sorted(mentions.items())]


def merge_records(records: Iterable[tuple[int, dict]], name: str, *, drop_ungrounded: bool = False,
                  sentences: bool = False) -> tuple[list[dict[str, Any]], MergeStats]:
    """Every document's merged result from (line number, prediction record) pairs, and the run's counts."""
    merger = DocumentMerger(drop_ungrounded, sentences)
    for number, record in records:
        merger.add(record, name, number)
    return list(merger.documents()), merger.stats
