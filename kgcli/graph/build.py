"""``kgc graph build``: merged documents or prediction files → a GRAPH folder.

Streaming, so a million triples build in well under a gigabyte: each input record's node and edge pieces
(``facts``) are written to sixteen partition files by the first digit of their id; each partition is then
read alone, its pieces added up per id (mentions united, so the same mention read twice counts once) and
written out in id order. The result is the same whatever the order of the inputs, and ``--append`` is a
build whose first input is the existing graph: the same documents appended twice change nothing.

Everything is written in a temporary folder beside GRAPH and renamed into place when complete; a failed
build leaves no GRAPH (and an existing one as it was).
"""

from __future__ import annotations

import csv
import hashlib
import os
import shutil
import time
from collections import Counter
from collections.abc import Iterator
from dataclasses import dataclass, field
from typing import IO, Any

import orjson

from kgcli.documents.result import DOC_ID, UNPARSED, is_merged_document
from kgcli.errors import KgcError, warn
from kgcli.graph import store
from kgcli.graph.facts import document_facts, edge_id, entity_id, grounded, mention_key, part_of
from kgcli.graph.resolve import settle, shown_name
from kgcli.io import check_input, display_name, read_jsonl
from kgcli.outputs import GRAPH_WRITER, atomic_folder, protected

PARTITIONS = "0123456789abcdef"
# The database's columns: the graph and each element's count and first sentence; the mentions themselves
# are in nodes.jsonl and edges.jsonl (in the database they would cost their size again in memory, since
# LadybugDB checkpoints a table in memory).
NODE_HEADER = ["id", "name", "type", "kind", "count", "properties", "context", "grounded"]
EDGE_HEADER = ["from", "to", "id", "relation", "kind", "count", "context", "grounded"]
EDGE_KINDS = ("relation", "attribute", "argument")  # the kind an edge keeps when read as several


# Node types and relations are tables of the database: each costs memory and files to create, so a graph
# holds at most this many unless asked (an answer is bound to its schema, a whole corpus rarely needs more).
MAX_LABELS = 1000


@dataclass
class BuildSettings:
    append: bool = False
    overwrite: bool = False
    skip_unparsed: bool = False
    gold: bool = False  # answer each converted record from its gold 'label' (the test set's own graph)
    max_labels: int = MAX_LABELS  # distinct node types and relations together
    keep_ungrounded: bool = False  # strings not in their text become nodes, marked grounded: false


@dataclass
class BuildSummary:
    nodes: int
    edges: int
    documents: int
    records: int
    unparsed: int
    seconds: float
    labels: dict[str, int] = field(default_factory=dict)

    def line(self) -> str:
        return (
            f"{self.nodes} node(s), {self.edges} edge(s) from {self.documents} document(s) "
            f"({self.records} record(s), {self.unparsed} unparsed answer(s) skipped), {self.seconds:.1f} s"
        )


def check_target(out: str, settings: BuildSettings) -> bool:
    """Before any work: may GRAPH be written? True when it exists (and is a kgc graph to append to or
    replace); a folder kgc did not write is never touched."""
    if protected(out):
        raise KgcError("--out is /, the home folder, the current folder or a folder above it; give a graph "
                       "folder of its own", out)
    if os.path.exists(out) and not os.path.isdir(out):
        raise KgcError("--out names a file, not a graph folder", out)
    if not os.path.isdir(out):
        parent = os.path.dirname(os.path.abspath(out))
        if not os.path.isdir(parent):
            raise KgcError("--out: the folder it would be made in does not exist", out)
        if not os.access(parent, os.W_OK | os.X_OK):
            raise KgcError("--out: not writable (permission denied)", out)
        return False
    if not store.is_graph_folder(out):
        if os.listdir(out):
            raise KgcError("--out is a folder that kgc graph build did not write; give a new folder", out)
        return False
    store.read_meta(out)
    if not (settings.append or settings.overwrite):
        raise KgcError(
            "--out is an existing graph; pass --append to add to it or --overwrite to replace it", out
        )
    return True


class _Partitions:
    """Node and edge pieces spilled to disk, one file per first hex digit of the id."""

    def __init__(self, folder: str):
        self.folder = folder
        os.makedirs(folder)
        self.files: dict[str, IO[bytes]] = {}
        for kind in ("n", "e"):
            for digit in PARTITIONS:
                self.files[kind + digit] = open(os.path.join(folder, kind + digit), "wb")

    def add(self, kind: str, piece: dict[str, Any]) -> None:
        self.files[kind + piece["part"]].write(orjson.dumps(piece) + b"\n")

    def close(self) -> None:
        for handle in self.files.values():
            handle.close()

    def read(self, kind: str, digit: str) -> Iterator[dict[str, Any]]:
        with open(os.path.join(self.folder, kind + digit), "rb") as handle:
            for line in handle:
                yield orjson.loads(line)


class _Reader:
    """Input files → node and edge pieces, with the counts the summary reports.

    A merged document (``kgc extract``'s result) is turned into pieces at once. Prediction records are
    merged first, across all inputs, so that the chunks of one document and the answers of several tasks
    on one text (NER in one file, RE in another) make one document, whose NER answers type its relations'
    ends; their pieces follow at ``finish``.
    """

    def __init__(self, partitions: _Partitions, skip_unparsed: bool, gold: bool = False,
                 max_labels: int = MAX_LABELS, keep_ungrounded: bool = False):
        from kgcli.documents.merge import DocumentMerger

        self.labels: set[tuple[str, str]] = set()
        self.max_labels = max_labels
        self.partitions = partitions
        self.skip_unparsed = skip_unparsed
        self.gold = gold
        self.keep_ungrounded = keep_ungrounded
        self.left_out = 0  # ungrounded nodes and edges left out, per document
        self.merger = DocumentMerger(sentences=True)
        self.documents = self.records = self.unparsed = 0
        self.read_ids: set[str] = set()

    def document(self, document: dict[str, Any]) -> None:
        nodes, edges, left_out = document_facts(document, self.keep_ungrounded)
        self.left_out += left_out
        for node in nodes:
            self.piece("n", node)
        for edge in edges:
            self.piece("e", edge)
        self.documents += 1

    def piece(self, kind: str, piece: dict[str, Any]) -> None:
        """A node or edge piece to the partitions; its type or relation counted against ``max_labels``."""
        label = (kind, piece["type"] if kind == "n" else piece["relation"])
        if label not in self.labels:
            self.labels.add(label)
            if len(self.labels) > self.max_labels:
                raise KgcError(f"more than {self.max_labels:,} node types and relations (each is a table of "
                               "the database): are the answers bound to a schema? --max-labels N builds it "
                               "anyway")
        self.partitions.add(kind, piece)

    def read(self, path: str) -> dict[str, Any]:
        name = display_name(path)
        records = 0
        documents: set[str] = set()
        for number, record in read_jsonl(path):
            records += 1
            if self.gold:
                record = self.gold_answered(record, name, number)
            if "output" in record and "instruction" in record:
                if not self.merger.add(record, name, number):
                    if not self.skip_unparsed:
                        raise KgcError(
                            "the answer ('output') does not parse as JSON; --skip-unparsed builds "
                            "the graph without such answers",
                            name,
                            number,
                        )
                    self.unparsed += 1
                documents.add(str(record.get("doc_id", record.get("id", f"{name}:{number}"))))
            elif is_merged_document(record):
                self.unparsed += int(record.get(UNPARSED) or 0)
                try:
                    self.document(record)
                except KgcError as exc:
                    raise KgcError(exc.message, name, number) from None
                documents.add(str(record[DOC_ID]))
            elif "instruction" in record:
                raise KgcError(
                    "a converted record without 'output': run kgc predict on it first, or pass --gold to "
                    "build the graph of its labels",
                    name,
                    number,
                )
            else:
                raise KgcError(
                    "neither a kgc extract result (doc_id, entities, relations, …) nor a prediction "
                    "record (instruction, output)",
                    name,
                    number,
                )
        self.records += records
        self.read_ids |= documents
        with open(path, "rb") as handle:
            digest = hashlib.file_digest(handle, "sha256").hexdigest()
        return {"path": name, "records": records, "documents": len(documents), "sha256": digest}

    def gold_answered(self, record: dict[str, Any], name: str, number: int) -> dict[str, Any]:
        """A converted test record with its gold 'label' rendered as the answer, by its task (the answer
        a perfect model gives)."""
        from kgcli.records import INPUT, SCHEMA, parse_instruction
        from kgcli.tasks import shared_task
        from kgcli.tasks.base import AnnotationError, Options

        inner = parse_instruction(record.get("instruction"))
        label = record.get("label")
        if inner is None or not isinstance(label, str) or not isinstance(inner.get(INPUT), str):
            raise KgcError("--gold needs converted test records (instruction and 'label')", name, number)
        try:
            task = shared_task(str(record.get("task", "")))
        except KgcError as exc:
            raise KgcError(exc.message, name, number) from None
        try:
            items = task.read_items({task.annotation_key: orjson.loads(label)}) or []
            answer = task.render(inner.get(SCHEMA) or [], items, inner[INPUT], Options())
        except (orjson.JSONDecodeError, AnnotationError, KeyError, TypeError) as exc:
            raise KgcError(f"'label' is not this task's gold annotations ({exc})", name, number) from None
        return {**record, "output": orjson.dumps(answer).decode("utf-8")}

    def finish(self) -> None:
        for document in self.merger.documents():
            self.document(document)


def build_graph(inputs: list[str], out: str, settings: BuildSettings) -> BuildSummary:
    """Build (or ``--append`` to) the GRAPH folder ``out`` from prediction or merged-document files."""
    started = time.monotonic()
    if not inputs:
        raise KgcError("give at least one input file (kgc extract results or kgc predict output)")
    for path in inputs:
        check_input(path)
    exists = check_target(out, settings)
    old_meta = store.read_meta(out) if exists and settings.append else None
    with atomic_folder(out, GRAPH_WRITER) as work:  # a failed build leaves GRAPH as it was
        partitions = _Partitions(os.path.join(work, "parts"))
        reader = _Reader(partitions, settings.skip_unparsed, settings.gold, settings.max_labels,
                         settings.keep_ungrounded)
        inputs_meta = list(old_meta["inputs"]) if old_meta else []
        old_nodes: dict[str, list[tuple[str, str]]] = {}  # id → the (name, type it had) it absorbed
        if old_meta:  # the graph so far, as the pieces it was built from: its types are settled again
            for _, node in read_jsonl(os.path.join(out, store.NODES)):
                for piece in node_pieces(node):
                    reader.piece("n", piece)
                    old_nodes.setdefault(node["id"], []).append((piece["key"], piece["type"]))
            for _, edge in read_jsonl(os.path.join(out, store.EDGES)):
                reader.piece("e", {**edge, "part": part_of(edge["head_key"], edge["relation"],
                                                           edge["tail_key"])})
        for path in inputs:
            inputs_meta.append(reader.read(path))
        reader.finish()
        partitions.close()
        counts = _aggregate(partitions, work)
        final = counts.pop("final")
        shutil.rmtree(partitions.folder)
        retired = {old: sorted({final[p][0] for p in absorbed})
                   for old, absorbed in sorted(old_nodes.items())
                   if {final[p][0] for p in absorbed} != {old}}
        if retired:
            counts["retired"] = retired
            listed = ", ".join(f"{old} → {' + '.join(new)}" for old, new in list(retired.items())[:10])
            warn(f"{len(retired)} node id(s) retired (the type of their name changed with the new "
                 f"documents): {listed}{', …' if len(retired) > 10 else ''} (graph.json lists them all)")
        if not counts["nodes"] and reader.records:
            raise KgcError(_why_empty(reader))
        if counts["split_names"]:
            listed = ", ".join(
                f"{s['name']} ({', '.join(f'{t} {n}' for t, n in next(iter(s['votes'].values())).items())})"
                for s in counts["split_names"][:5])
            more = len(counts["split_names"]) - 5
            warn(f"{len(counts['split_names'])} name(s) typed several ways, no type with two thirds of the "
                 f"votes, kept one node per type: {listed}{f', and {more} more' if more > 0 else ''} "
                 "(graph.json lists them)")
        meta = {
            "format": store.FORMAT,
            "version": store.FORMAT_VERSION,
            **counts,
            "unparsed_skipped": reader.unparsed + (old_meta["unparsed_skipped"] if old_meta else 0),
            "inputs": inputs_meta,
            "versions": _versions(),
        }
        with open(os.path.join(work, store.META), "wb") as handle:
            handle.write(orjson.dumps(meta, option=orjson.OPT_INDENT_2) + b"\n")
    return BuildSummary(
        counts["nodes"],
        counts["edges"],
        len(reader.read_ids),
        reader.records,
        reader.unparsed,
        time.monotonic() - started,
        counts["labels"],
    )


def _why_empty(reader: _Reader) -> str:
    """The one line that says why records gave no node."""
    if reader.left_out:
        return (f"no node: every string of the {reader.records} record(s) is ungrounded (not in its text; "
                f"{reader.left_out} node(s) and edge(s) left out); --keep-ungrounded builds them, marked")
    if reader.unparsed:
        return (f"no node: {reader.unparsed} answer(s) did not parse and the rest named nothing; check "
                "the answers (kgc eval shows parse errors)")
    return (f"no node: the {reader.records} record(s) hold no entity, relation or event (answers empty or "
            "in a shape that names none of their schema's keys)")


def _versions() -> dict[str, str]:
    from importlib.metadata import version

    import kgcli

    return {"kgc": kgcli.__version__, "ladybug": version("ladybug")}


class _Staging:
    """The CSV files the database is loaded from: one per node type, one per (relation, head type, tail
    type). Rows wait in memory and go out a batch at a time, each file opened only while a batch is
    appended: a graph of a thousand types never holds a thousand files open."""

    BATCH = 512  # rows per key before its batch is appended
    HELD = 16384  # rows held in all before every batch is appended

    def __init__(self, folder: str):
        self.folder = folder
        os.makedirs(folder)
        self.files: dict[Any, str] = {}
        self.headers: dict[Any, list[str]] = {}
        self.waiting: dict[Any, list[list[Any]]] = {}
        self.held = 0

    def write(self, key: Any, header: list[str], row: list[Any]) -> None:
        rows = self.waiting.get(key)
        if rows is None:
            self.files[key] = os.path.join(self.folder, f"{len(self.files)}.csv")
            self.headers[key] = header
            rows = self.waiting[key] = []
        rows.append(row)
        self.held += 1
        if len(rows) >= self.BATCH:
            self._append(key)
        elif self.held >= self.HELD:
            for waiting in list(self.waiting):
                self._append(waiting)

    def _append(self, key: Any) -> None:
        rows = self.waiting[key]
        if not rows:
            return
        path = self.files[key]
        new = not os.path.exists(path)
        with open(path, "a", encoding="utf-8", newline="") as handle:
            writer = csv.writer(handle)
            if new:
                writer.writerow(self.headers[key])
            writer.writerows(rows)
        self.held -= len(rows)
        rows.clear()

    def close(self) -> None:
        for key in self.waiting:
            self._append(key)


def _boolean(value: bool) -> str:
    return "true" if value else "false"


def _first_context(mentions: list[dict]) -> str:
    """The sentence of the first mention that has one ("" when none has)."""
    return next((m["context"] for m in mentions if m.get("context")), "")


def node_pieces(node: dict[str, Any]) -> list[dict[str, Any]]:
    """A built node read back as the pieces it absorbed: one per type its mentions had."""
    had: dict[str, list[dict]] = {}
    for mention in node["mentions"]:
        had.setdefault(mention.get("as") or node["type"], []).append(mention)
    return [{"id": node["id"], "kind": node["kind"], "type": kind, "key": node["key"],
             "part": part_of(node["key"]), "properties": node["properties"], "mentions": mentions}
            for kind, mentions in sorted(had.items())]


_VOTE_RANK = {"ner": 0, "schema": 1}


def _rank(mention: dict[str, Any]) -> int:
    return _VOTE_RANK.get(mention.get("by") or "", 2)


def _mention_order(entry: tuple[tuple, dict]) -> tuple:
    key, mention = entry
    return (str(key[0]), *key[1:], mention.get("as") or "", mention.get("head_as") or "",
            mention.get("tail_as") or "")


def _aggregate(partitions: _Partitions, work: str) -> dict[str, Any]:
    """Add up the pieces per name (types settled over the whole graph: ``graph/resolve.py``) and per edge,
    partition by partition; write nodes.jsonl, edges.jsonl and the database."""
    staging = _Staging(os.path.join(work, "staging"))
    labels: Counter = Counter()
    relations: Counter = Counter()
    pairs: dict[str, set[tuple[str, str]]] = {}
    names: dict[str, str] = {}
    final: dict[tuple[str, str], tuple[str, str]] = {}  # (name key, type it had) → (node id, its type)
    split: list[tuple[str, dict[str, dict[str, int]]]] = []
    documents: set[str] = set()
    with open(os.path.join(work, store.NODES), "wb") as out:
        for digit in PARTITIONS:
            groups: dict[str, dict[str, Any]] = {}
            for piece in partitions.read("n", digit):
                group = groups.setdefault(piece["key"], {"kind": piece["kind"], "had": {}})
                had = group["had"].setdefault(piece["type"], {"mentions": {}, "properties": {}})
                for mention in piece["mentions"]:
                    key = mention_key(mention)
                    old = had["mentions"].get(key)
                    if old is None or _rank(mention) < _rank(old):  # a voting copy of a mention wins
                        had["mentions"][key] = mention
                for attribute, values in piece.get("properties", {}).items():
                    had["properties"].setdefault(attribute, set()).update(values)
            records = []
            for name_key, group in groups.items():
                settled = settle({t: Counter(m.get("by") for m in h["mentions"].values())
                                  for t, h in group["had"].items()})
                merged: dict[str, list[str]] = {}
                for kind, into in settled.final.items():
                    merged.setdefault(into, []).append(kind)
                for node_type, kinds in merged.items():
                    node_id = entity_id(node_type, name_key) if group["kind"] == "entity" else name_key
                    entries = sorted(((key, m) for kind in kinds
                                      for key, m in group["had"][kind]["mentions"].items()),
                                     key=_mention_order)
                    mentions = [m for _, m in entries]
                    properties: dict[str, set] = {}
                    for kind in kinds:
                        for attribute, values in group["had"][kind]["properties"].items():
                            properties.setdefault(attribute, set()).update(values)
                    for kind in kinds:
                        final[(name_key, kind)] = (node_id, node_type)
                    count = len({key for key, _ in entries})
                    name = names[node_id] = shown_name(Counter(m["text"] for m in mentions))
                    absorbed = [{"type": kind, "mentions": len(group["had"][kind]["mentions"])}
                                for kind in sorted(kinds) if kind != node_type]
                    records.append({
                        "id": node_id, "name": name, "type": node_type, "kind": group["kind"],
                        "key": name_key,
                        "count": count, "grounded": grounded(mentions),
                        "forms": sorted({m["text"] for m in mentions}), "votes": settled.votes,
                        "merged_from": absorbed,
                        "properties": {a: sorted(v) for a, v in sorted(properties.items())},
                        "mentions": mentions,
                    })
                if settled.split:
                    split.append((names[final[(name_key, next(iter(settled.final)))][0]], settled.votes))
            for record in sorted(records, key=lambda r: r["id"]):
                documents.update(str(m["doc"]) for m in record["mentions"])
                out.write(orjson.dumps(record) + b"\n")
                labels[record["type"]] += 1
                staging.write(
                    ("n", record["type"]),
                    NODE_HEADER,
                    [record["id"], record["name"], record["type"], record["kind"], record["count"],
                     store.json_text(record["properties"]), _first_context(record["mentions"]),
                     _boolean(record["grounded"])],
                )
    with open(os.path.join(work, store.EDGES), "wb") as out:
        for digit in PARTITIONS:
            edges: dict[str, dict[str, Any]] = {}
            for piece in partitions.read("e", digit):
                for mention in piece["mentions"]:
                    head = final[(piece["head_key"], mention["head_as"])]
                    tail = final[(piece["tail_key"], mention["tail_as"])]
                    identity = edge_id(head[0], piece["relation"], tail[0])
                    edge = edges.get(identity)
                    if edge is None:
                        edge = edges[identity] = {
                            "kind": piece["kind"], "relation": piece["relation"], "head": head, "tail": tail,
                            "head_key": piece["head_key"], "tail_key": piece["tail_key"], "mentions": {}}
                    # the same edge read as a relation (RE) and an attribute (KG) is a relation
                    edge["kind"] = min(edge["kind"], piece["kind"], key=EDGE_KINDS.index)
                    seen = (mention_key(mention), mention["head_as"], mention["tail_as"])
                    edge["mentions"].setdefault(seen, mention)
            for identity in sorted(edges):
                edge = edges[identity]
                entries = sorted(((key[0], m) for key, m in edge["mentions"].items()), key=_mention_order)
                mentions = [m for _, m in entries]
                (head, head_type), (tail, tail_type) = edge["head"], edge["tail"]
                record = {
                    "id": identity,
                    "kind": edge["kind"],
                    "relation": edge["relation"],
                    "head": head,
                    "head_name": names[head],
                    "head_type": head_type,
                    "head_key": edge["head_key"],
                    "tail": tail,
                    "tail_name": names[tail],
                    "tail_type": tail_type,
                    "tail_key": edge["tail_key"],
                    "count": len({key for key, _ in entries}),
                    "grounded": grounded(mentions),
                    "mentions": mentions,
                }
                out.write(orjson.dumps(record) + b"\n")
                relations[edge["relation"]] += 1
                pairs.setdefault(edge["relation"], set()).add((head_type, tail_type))
                staging.write(
                    ("e", edge["relation"], head_type, tail_type),
                    EDGE_HEADER,
                    [head, tail, identity, edge["relation"], edge["kind"], record["count"],
                     _first_context(mentions), _boolean(record["grounded"])],
                )
    staging.close()
    tables = store.table_names(labels, relations)
    store.create_database(
        os.path.join(work, store.DATABASE),
        tables,
        pairs,
        {key[1]: path for key, path in staging.files.items() if key[0] == "n"},
        {key[1:]: path for key, path in staging.files.items() if key[0] == "e"},
    )
    shutil.rmtree(staging.folder)
    return {
        "nodes": sum(labels.values()),
        "edges": sum(relations.values()),
        "documents": len(documents),
        "labels": dict(sorted(labels.items())),
        "relations": dict(sorted(relations.items())),
        "tables": tables,
        "split_names": [{"name": name, "votes": votes} for name, votes in sorted(split, key=lambda s: s[0])],
        "final": final,
    }
