"""The merged document (``kgc extract``'s result): its field names, and typed readers, in one place.

One JSON object per document: ``doc_id``, the document's own metadata, one list per kind of result
(``entities``, ``relations``, ``events``, ``arguments``, ``attributes``), ``chunks`` and
``unparsed_answers`` and ``off_schema_answers`` (answers that parse but name none of their schema's keys).
Each result carries the task that found it, its fields (the task's ``result_fields``:
an entity's ``text`` and ``type``, a relation's ``head``, ``relation``, ``tail``, …), ``grounded``, its
mentions (``mentions`` when it has one string, else ``<field>_mentions`` per string) and the ``records``
that answered it. A mention is ``chunk``, ``start``, ``end`` (document offsets), ``record``, the ``context``
sentence and its grounding ``status`` (``exact``, ``normalised`` or ``loose``: ``documents/grounding.py``);
a string not in the text has no mentions and ``grounded: false``. A result with two strings (a relation, an
attribute, an event's trigger and one argument) lists its ``statements``: per chunk that gave it, the pair of
its two ends nearest each other there — ``chunk``, ``record``, ``start``/``end`` covering both, ``head`` and
``tail`` offsets, ``context`` and ``status`` (the looser end's) — each pair once; the graph counts these.

The merge writes it (``documents/merge.py``); the document scores and the graph read it through
``read_document``, which checks what becomes IRIs and table cells downstream (offsets are whole numbers)
and leaves out entries that miss their strings, as a reader of a hand-edited file should.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any, NamedTuple

from kgcli.documents.grounding import STATUSES
from kgcli.errors import KgcError

DOC_ID, CHUNKS, UNPARSED, OFF_SCHEMA = "doc_id", "chunks", "unparsed_answers", "off_schema_answers"
ENTITIES, RELATIONS, EVENTS = "entities", "relations", "events"
ARGUMENTS, ATTRIBUTES = "arguments", "attributes"
KINDS = (ENTITIES, RELATIONS, EVENTS, ARGUMENTS, ATTRIBUTES)
TASK, GROUNDED, MENTIONS, RECORDS, STATEMENTS = "task", "grounded", "mentions", "records", "statements"
# a mention's fields (a statement's too, with HEAD and TAIL)
CHUNK, START, END, RECORD, CONTEXT, STATUS = "chunk", "start", "end", "record", "context", "status"
HEAD, TAIL = "head", "tail"


def mentions_field(name: str | None) -> str:
    """Where a result keeps a string's mentions: ``mentions`` when it has one string (``name`` None), else
    ``<field>_mentions``."""
    return MENTIONS if name is None else f"{name}_{MENTIONS}"


def mention(chunk: int, start: int, end: int, record: str, context: str, status: str) -> dict[str, Any]:
    """A mention as the merge writes it."""
    return {CHUNK: chunk, START: start, END: end, RECORD: record, CONTEXT: context, STATUS: status}


def statement(chunk: int, record: str, head: tuple[int, int] | None, tail: tuple[int, int] | None,
              context: str, status: str | None) -> dict[str, Any]:
    """A statement as the merge writes it: one pair of an edge's ends, or no offsets at all."""
    if head is None or tail is None:
        return {CHUNK: chunk, RECORD: record, START: None, END: None, HEAD: None, TAIL: None, CONTEXT: "",
                STATUS: None}
    return {CHUNK: chunk, RECORD: record, START: min(head[0], tail[0]), END: max(head[1], tail[1]),
            HEAD: list(head), TAIL: list(tail), CONTEXT: context, STATUS: status}


def is_merged_document(record: dict[str, Any]) -> bool:
    """Whether a JSON line is a merged document (not a prediction record)."""
    return DOC_ID in record and any(kind in record for kind in KINDS)


class Mention(NamedTuple):
    """A tuple, not a dataclass: a graph of a million triples reads a few million of them."""

    start: int | None
    end: int | None
    record: str | int | None = None
    context: str = ""
    chunk: int | None = None
    status: str | None = None  # exact, normalised, loose; None without offsets


@dataclass(frozen=True)
class Entity:
    text: str
    type: str
    mentions: list[Mention]
    records: list[str]


@dataclass(frozen=True)
class Relation:
    head: str
    relation: str
    tail: str
    head_mentions: list[Mention]
    tail_mentions: list[Mention]
    records: list[str]
    head_type: str | None = None  # the types the schema gives (SPO)
    tail_type: str | None = None
    statements: list[Mention] = field(default_factory=list)  # start/end cover both ends


@dataclass(frozen=True)
class Attribute:
    entity: str
    attribute: str
    value: str
    entity_mentions: list[Mention]
    value_mentions: list[Mention]
    records: list[str]
    entity_type: str | None = None  # the type the answer gave the entity under
    statements: list[Mention] = field(default_factory=list)


@dataclass(frozen=True)
class Argument:
    role: str
    argument: str
    mentions: list[Mention]
    statements: list[Mention] = field(default_factory=list)  # with the trigger


@dataclass(frozen=True)
class Event:
    type: str
    trigger: str  # "" for an event without one (EEA)
    mentions: list[Mention]
    arguments: list[Argument]
    records: list[str]


@dataclass(frozen=True)
class MergedDocument:
    doc_id: str
    entities: list[Entity] = field(default_factory=list)
    relations: list[Relation] = field(default_factory=list)
    attributes: list[Attribute] = field(default_factory=list)
    events: list[Event] = field(default_factory=list)
    unparsed_answers: int = 0


def _strings(entry: Any, *names: str) -> bool:
    if type(entry) is not dict and not isinstance(entry, dict):
        return False
    for name in names:
        value = entry.get(name)
        if type(value) is not str or not value:
            return False
    return True


def _optional(entry: dict[str, Any], name: str) -> str | None:
    value = entry.get(name)
    return value if isinstance(value, str) and value else None


def read_mentions(listed: Any) -> list[Mention]:
    """A result's mentions, each checked to be character offsets (both null, or whole numbers with
    0 <= start <= end) with a record id and a context sentence: offsets become IRIs and table cells
    downstream, and ``../admin`` must never become part of one."""
    if listed is None:
        return []
    if not isinstance(listed, list):
        raise KgcError("'mentions' is not a list")
    found = []
    append, statuses = found.append, STATUSES
    for item in listed:
        if type(item) is not dict:
            raise KgcError("a mention is not an object with start and end")
        get = item.get
        start, end, record, context = get(START), get(END), get(RECORD), get(CONTEXT, "")
        if (type(start) is not int or type(end) is not int or not 0 <= start <= end) and not (
                start is None and end is None):
            raise KgcError(f"a mention's start and end are not character offsets ({start!r}, {end!r})")
        if record is not None and type(record) is not str and not isinstance(record, _RECORD_IDS):
            raise KgcError("a mention's record is not a record id")
        if type(context) is not str and not isinstance(context, str):
            raise KgcError("a mention's context is not a string")
        chunk, status = get(CHUNK), get(STATUS)
        append(Mention(start, end, record, context, chunk if type(chunk) is int else None,
                       status if start is not None and status in statuses else None))
    return found


def pair_rank(head: tuple[int, int], tail: tuple[int, int], head_context: str, tail_context: str) -> tuple:
    """How likely a (head span, tail span) pair states a result, best first: in one sentence before two, the
    head first before the tail first (as a triple reads), then nearest each other, then the first."""
    return (head_context != tail_context, tail[0] < head[0], max(0, tail[0] - head[1], head[0] - tail[1]),
            min(head[0], tail[0]), head, tail)


def joined_context(first: str, second: str) -> str:
    """The sentence(s) an edge's two ends sit in: one when it holds the other."""
    if second in first:
        return first
    if first in second:
        return second
    return f"{first} … {second}"


def read_statements(entry: dict[str, Any], heads: list[Mention], tails: list[Mention]) -> list[Mention]:
    """An edge's statements (as mentions spanning both ends). A file written before statements existed
    gets one: its two ends' best grounded pair (``pair_rank``), else none."""
    if STATEMENTS in entry:
        return read_mentions(entry[STATEMENTS])
    pairs = [(h, t) for h in heads for t in tails if h.start is not None and t.start is not None]
    if not pairs:
        return []
    h, t = min(pairs, key=lambda p: pair_rank((p[0].start, p[0].end), (p[1].start, p[1].end), p[0].context,
                                              p[1].context))
    return [Mention(min(h.start, t.start), max(h.end, t.end), h.record, joined_context(h.context, t.context),
                    h.chunk, h.status)]


def _records(entry: dict[str, Any]) -> list[str]:
    records = entry.get(RECORDS)
    return [r for r in records if isinstance(r, _RECORD_IDS)] if isinstance(records, list) else []


_RECORD_IDS = (str, int)


def read_document(record: dict[str, Any]) -> MergedDocument:
    """A merged document, typed: entries missing their strings are left out; a mention that is not
    offsets is an error (``KgcError``, for the caller to place at its line)."""
    def listed(kind: str) -> list[dict[str, Any]]:
        value = record.get(kind)
        return value if isinstance(value, list) else []

    entities = [Entity(e["text"], e["type"], read_mentions(e.get(MENTIONS)), _records(e))
                for e in listed(ENTITIES) if _strings(e, "text", "type")]
    def relation(r: dict[str, Any]) -> Relation:
        heads, tails = read_mentions(r.get("head_mentions")), read_mentions(r.get("tail_mentions"))
        return Relation(r["head"], r["relation"], r["tail"], heads, tails, _records(r),
                        _optional(r, "head_type"), _optional(r, "tail_type"),
                        read_statements(r, heads, tails))

    def attribute(a: dict[str, Any]) -> Attribute:
        owners, values = read_mentions(a.get("entity_mentions")), read_mentions(a.get("value_mentions"))
        return Attribute(a["entity"], a["attribute"], a["value"], owners, values, _records(a),
                         _optional(a, "entity_type"), read_statements(a, owners, values))

    def event(e: dict[str, Any]) -> Event:
        triggers = read_mentions(e.get(MENTIONS))
        arguments = []
        for a in e.get("arguments") or []:
            if _strings(a, "role", "argument"):
                values = read_mentions(a.get(MENTIONS))
                arguments.append(Argument(a["role"], a["argument"], values,
                                          read_statements(a, triggers, values)))
        trigger = e["trigger"] if isinstance(e.get("trigger"), str) else ""
        return Event(e["type"], trigger, triggers, arguments, _records(e))

    relations = [relation(r) for r in listed(RELATIONS) if _strings(r, "head", "relation", "tail")]
    attributes = [attribute(a) for a in listed(ATTRIBUTES) if _strings(a, "entity", "attribute", "value")]
    events = [event(e) for e in listed(EVENTS) if _strings(e, "type")]
    unparsed = record.get(UNPARSED)
    return MergedDocument(str(record.get(DOC_ID)), entities, relations, attributes, events,
                          unparsed if type(unparsed) is int else 0)
