"""One merged document (``kgc extract``'s result, or a prediction record merged as a one-chunk document)
→ the node and edge pieces it contributes to the graph.

Nodes are entities (type + normalised name) and events (type + trigger, within their document); edges are
relations and triples (RE, SPO), entity-valued attributes (KG) and event arguments (one edge per role).
An attribute whose value names no entity of the document is a property of its entity instead.

Entity types: a string's NER type in the same document where it has one (the most mentioned, then the
first in code-point order), else the type the schema gives (SPO's subject and object types, KG's entity
type), else ``Entity``. Ids are digests of what identifies a node or edge, so they are the same on every
run and machine.

A mention is ``{doc, start, end, record, text, context, status}``: the document, the character offsets
(None when the string is not in the text), the prediction record that gave it, the string as answered, the
sentence around it and how it was grounded (``exact``, ``normalised``, ``loose``; None without offsets). An
edge's mentions are its statements (``documents/result.py``): per chunk that gave it, its two ends nearest
each other there, each pair once — so an edge stated once has one mention however often its ends recur.

A string that is nowhere in its text (an ungrounded node, an edge without a grounded statement) stays out
unless ``keep_ungrounded``; kept, it is marked ``grounded: false`` downstream.
"""

from __future__ import annotations

import hashlib
from functools import lru_cache
from typing import Any

from kgcli.documents.grounding import normalise
from kgcli.documents.result import Attribute, Event, Mention, MergedDocument, read_document
from kgcli.graph.aliases import GOLD_KEY

ENTITY = "Entity"


def graph_id(*parts: str) -> str:
    """A stable 64-bit id (16 hex digits) of the parts."""
    return hashlib.blake2b("\x1f".join(parts).encode("utf-8"), digest_size=8).hexdigest()


@lru_cache(maxsize=1 << 16)
def entity_id(entity_type: str, key: str) -> str:
    """An entity node's id: its type and key (its normalised name; normalising one again changes nothing)."""
    return graph_id("entity", entity_type, normalise(key))


@lru_cache(maxsize=1 << 16)
def edge_id(head: str, relation: str, tail: str) -> str:
    return graph_id("edge", head, relation, tail)


def part_of(*keys: str) -> str:
    """The build's partition of a piece: by what stays the same while the types are settled (a node's
    normalised name, an edge's two names and relation), so every piece of one thing lands together."""
    return graph_id("part", *keys)[0]


def mention_key(mention: dict[str, Any]) -> tuple:
    """What makes two mentions one: the document and offsets; for a string not in the text, the document,
    the record and the string."""
    start = mention.get("start")
    if start is None:
        return (mention["doc"], -1, -1, mention.get("record") or "", mention.get("text", ""))
    return (mention["doc"], start, mention.get("end"), "", "")


def _mentions(doc: str, text: str, listed: list[Mention], records: list[str]) -> list[dict[str, Any]]:
    """Merged-result mentions → graph mentions; an ungrounded string gets one offset-less mention per
    record that answered it, so everything in the graph can be traced to a record."""
    found = [{"doc": doc, "start": m.start, "end": m.end, "record": m.record, "text": text,
              "context": m.context, "status": m.status} for m in listed]
    if found:
        return found
    return [
        {"doc": doc, "start": None, "end": None, "record": record, "text": text, "context": "",
         "status": None}
        for record in records or [None]
    ]


def grounded(mentions: list[dict[str, Any]]) -> bool:
    """Whether any of a node's or edge's mentions has offsets."""
    for mention in mentions:
        if mention.get("start") is not None:
            return True
    return False


class _Document:
    """One document's pieces, with the types its NER answers give its strings."""

    def __init__(self, document: MergedDocument, keep_ungrounded: bool = False,
                 ids: dict[tuple[str, str], str] | None = None):
        self.doc = document.doc_id
        self.ids = ids or {}
        self.by_name: dict[str, set[str]] = {}
        for (name, _), found in self.ids.items():
            self.by_name.setdefault(name, set()).add(found)
        self.keep = keep_ungrounded
        self.left_out: set[str] = set()  # ids of ungrounded nodes and edges left out
        self.cut_edges = 0  # edges left out because an end was
        self.nodes: dict[str, dict[str, Any]] = {}
        self.edges: dict[str, dict[str, Any]] = {}
        self.seen: dict[str, set[tuple]] = {}  # id → its mentions' keys
        votes: dict[str, dict[str, int]] = {}
        for entity in document.entities:
            counts = votes.get(name := normalise(entity.text))
            if counts is None:
                counts = votes[name] = {}
            counts[entity.type] = counts.get(entity.type, 0) + max(1, len(entity.mentions))
        self.types = {name: next(iter(counts)) if len(counts) == 1 else
                      min(counts, key=lambda t, c=counts: (-c[t], t)) for name, counts in votes.items()}

    def type_of(self, name: str, schema_type: Any = None) -> tuple[str, str | None]:
        """A string's type in this document and what gives it: its NER type here (whose own entity votes),
        else the schema's type (a ``schema`` vote), else ``Entity`` (no vote)."""
        found = self.types.get(normalise(name))
        if found:
            return found, None
        if isinstance(schema_type, str) and schema_type:
            return schema_type, "schema"
        return ENTITY, None

    def add(
        self, piece: dict[str, Any], mentions: list[dict], into: dict[str, dict[str, Any]],
        anchored: bool | None = None,
    ) -> dict[str, Any] | None:
        """A node or edge piece of this document, merged with the one of the same id seen before; None for
        an ungrounded one (``anchored`` False, or by default no mention with offsets) that is left out."""
        if not self.keep and not (grounded(mentions) if anchored is None else anchored):
            self.left_out.add(piece["id"])
            return None
        found = into.get(piece["id"])
        if found is None:
            found = into[piece["id"]] = {**piece, "mentions": []}
            self.seen[piece["id"]] = set()
        seen, kept = self.seen[piece["id"]], found["mentions"]
        for mention in mentions:
            start = mention["start"]  # mention_key, inline: a document's pieces hold a million of them
            key = ((mention["doc"], start, mention["end"], "", "") if start is not None
                   else mention_key(mention))
            if key not in seen:
                seen.add(key)
                kept.append(mention)
        return found

    def entity(
        self,
        name: str,
        entity_type: str,
        mentions: list[dict],
        properties: dict[str, list[str]] | None = None,
        by: str | None = None,
    ) -> dict[str, Any] | None:
        """An entity piece: its mentions say the type they had here (``as``) and whether they vote for it
        (``by``: ``ner``, ``schema`` or None); the build settles the type over the whole graph."""
        key = self.key(name, entity_type)
        piece = {"id": entity_id(entity_type, key), "kind": "entity", "type": entity_type, "key": key,
                 "properties": {}}
        for mention in mentions:
            mention["as"], mention["by"] = entity_type, by
        node = self.add(piece, mentions, self.nodes)
        if node is None:
            return None
        for attribute, values in (properties or {}).items():
            bucket = node["properties"].setdefault(attribute, [])
            bucket.extend(v for v in values if v not in bucket)
        return node

    def key(self, name: str, entity_type: str) -> str:
        """What identifies an entity: its normalised name, or where an annotated document gave the entity
        an id, that id (every form of one thing is one node; one name of two things, two)."""
        name = normalise(name)
        found = self.ids.get((name, entity_type))
        if found is None and len(self.by_name.get(name, ())) == 1:
            found = next(iter(self.by_name[name]))
        return name if found is None else GOLD_KEY + found

    def end(self, name: str, typed: tuple[str, str | None], mentions: list[dict]) -> dict[str, Any] | None:
        """An edge's end: an entity piece of the type ``type_of`` gave it."""
        return self.entity(name, typed[0], mentions, by=typed[1])

    def edge(self, kind: str, head: dict | None, relation: str, tail: dict | None,
             mentions: list[dict]) -> None:
        """An edge between two nodes of this document (none when either end was left out)."""
        if head is None or tail is None:
            self.cut_edges += 1
            return
        piece = {
            "id": edge_id(head["id"], relation, tail["id"]),
            "kind": kind,
            "relation": relation,
            "head_key": head["key"],
            "tail_key": tail["key"],
        }
        for mention in mentions:  # the build maps each end by the type it had here
            mention["head_as"], mention["tail_as"] = head["type"], tail["type"]
        self.add(piece, mentions, self.edges)


def _edge_mentions(doc: str, statements: list[Mention], records: list[str], label: str) -> list[dict]:
    """An edge's statements as graph mentions (one offset-less mention per record when none has offsets)."""
    return _mentions(doc, label, [m for m in statements if m.start is not None], records)


def document_facts(record: dict[str, Any], keep_ungrounded: bool = False,
                   ids: dict[tuple[str, str], str] | None = None
                   ) -> tuple[list[dict[str, Any]], list[dict[str, Any]], int]:
    """(node pieces, edge pieces, how many ungrounded ones were left out) of one merged document; the same
    node may come several times (once per result it is part of): the build adds them up. ``ids``: an
    annotated document's entity ids by (normalised name, type)."""
    document = read_document(record)
    d = _Document(document, keep_ungrounded, ids)
    doc = d.doc
    for entity in document.entities:
        d.entity(entity.text, entity.type, _mentions(doc, entity.text, entity.mentions, entity.records),
                 by="ner")
    for relation in document.relations:
        records = relation.records
        heads = _mentions(doc, relation.head, relation.head_mentions, records)
        tails = _mentions(doc, relation.tail, relation.tail_mentions, records)
        head = d.end(relation.head, d.type_of(relation.head, relation.head_type), heads)
        tail = d.end(relation.tail, d.type_of(relation.tail, relation.tail_type), tails)
        d.edge("relation", head, relation.relation, tail,
               _edge_mentions(doc, relation.statements, records, relation.relation))
    _attributes(d, document.attributes)
    _events(d, document.events)
    return list(d.nodes.values()), list(d.edges.values()), len(d.left_out) + d.cut_edges


def _attributes(d: _Document, attributes: list[Attribute]) -> None:
    """KG answers: an entity-valued attribute is an edge, any other value a property of the entity."""
    known = set(d.types) | {normalise(n["mentions"][0]["text"]) for n in d.nodes.values()}
    for attribute in attributes:
        records = attribute.records
        owner_type, owner_by = ((attribute.entity_type, "schema") if attribute.entity_type
                                else d.type_of(attribute.entity))
        owner_mentions = _mentions(d.doc, attribute.entity, attribute.entity_mentions, records)
        if normalise(attribute.value) in known:
            values = _mentions(d.doc, attribute.value, attribute.value_mentions, records)
            owner = d.entity(attribute.entity, owner_type, owner_mentions, by=owner_by)
            target = d.end(attribute.value, d.type_of(attribute.value), values)
            d.edge("attribute", owner, attribute.attribute, target,
                   _edge_mentions(d.doc, attribute.statements, records, attribute.attribute))
        else:
            d.entity(attribute.entity, owner_type, owner_mentions, {attribute.attribute: [attribute.value]},
                     by=owner_by)


def _events(d: _Document, events: list[Event]) -> None:
    """Event nodes (type + trigger, within the document) with one edge per argument."""
    for event in events:
        trigger, records = event.trigger, event.records
        identity = ([normalise(trigger)] if trigger
                    else sorted(f"{a.role}={normalise(a.argument)}" for a in event.arguments))
        event_id = graph_id("event", d.doc, event.type, *identity)
        piece = {"id": event_id, "kind": "event", "type": event.type, "key": event_id, "properties": {}}
        triggers = _mentions(d.doc, trigger or event.type, event.mentions, records)
        for mention in triggers:
            mention["as"], mention["by"] = event.type, None
        # an event without a trigger (EEA) stands on its arguments
        anchored = None if trigger else any(m.start is not None for a in event.arguments for m in a.mentions)
        node = d.add(piece, triggers, d.nodes, anchored)
        for argument in event.arguments:
            values = _mentions(d.doc, argument.argument, argument.mentions, records)
            target = d.end(argument.argument, d.type_of(argument.argument), values)
            mentions = (_edge_mentions(d.doc, argument.statements, records, argument.role) if trigger
                        else [{**m, "text": argument.role} for m in values])
            d.edge("argument", node, argument.role, target, mentions)
