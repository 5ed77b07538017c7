"""The build's second half: the pieces of every input, partition by partition, added up into the final nodes
and edges (``graph/resolve.py`` settles each name's type and merges names), written to nodes.jsonl,
edges.jsonl and the database.

Each partition holds everything that may become one node (the pieces of names with one alias key, or
grouped by a decision) and every edge between such groups, so a partition is read alone and memory stays
bounded by the largest partition, not the graph.
"""

from __future__ import annotations

import csv
import io
import multiprocessing
import os
import shutil
from collections import Counter
from typing import Any

import orjson

from kgcli import shards
from kgcli.graph import store
from kgcli.graph.aliases import alias_words, containment_pairs
from kgcli.graph.facts import edge_id, entity_id, grounded, mention_key
from kgcli.graph.resolve import Cluster, NameNode, Resolution, cluster, settle, shown_name
from kgcli.progress import PlainLines, progress

PARTITIONS = "0123456789abcdef"
# The database's columns: the graph and each element's count and first sentence; the mentions themselves
# are in nodes.jsonl and edges.jsonl (in the database they would cost their size again in memory, since
# LadybugDB checkpoints a table in memory).
NODE_HEADER = ["id", "name", "type", "kind", "count", "properties", "context", "grounded"]
EDGE_HEADER = ["from", "to", "id", "relation", "kind", "count", "context", "grounded"]
EDGE_KINDS = ("relation", "attribute", "argument")  # the kind an edge keeps when read as several


def node_pieces(node: dict[str, Any]) -> list[dict[str, Any]]:
    """A built node read back as the pieces it absorbed: one per name and type its mentions had (a mention
    of a merged name keeps its own name's ``key``)."""
    had: dict[tuple[str, str], list[dict]] = {}
    for mention in node["mentions"]:
        key = mention.pop("key", node["key"])
        had.setdefault((key, mention.get("as") or node["type"]), []).append(mention)
    return [{"id": node["id"], "kind": node["kind"], "type": kind, "key": key,
             "properties": node["properties"] if key == node["key"] else {}, "mentions": mentions}
            for (key, kind), mentions in sorted(had.items())]


def edge_pieces(edge: dict[str, Any]) -> list[dict[str, Any]]:
    """A built edge read back as the pieces it absorbed: one per pair of names its statements joined."""
    had: dict[tuple[str, str], list[dict]] = {}
    for mention in edge["mentions"]:
        keys = (mention.pop("head_key", edge["head_key"]), mention.pop("tail_key", edge["tail_key"]))
        had.setdefault(keys, []).append(mention)
    return [{"id": edge["id"], "kind": edge["kind"], "relation": edge["relation"], "head_key": head,
             "tail_key": tail, "mentions": mentions} for (head, tail), mentions in sorted(had.items())]


_VOTE_RANK = {"ner": 0, "schema": 1}


def _rank(mention: dict[str, Any]) -> int:
    return _VOTE_RANK.get(mention.get("by") or "", 2)


def _mention_order(entry: tuple[tuple, dict]) -> tuple:
    key, mention = entry
    return (str(key[0]), *key[1:], mention.get("as") or "", mention.get("head_as") or "",
            mention.get("tail_as") or "")


class Aggregate:
    """Add up the pieces per name (types settled and names merged: ``graph/resolve.py``) and per edge,
    partition by partition; write nodes.jsonl, edges.jsonl and the database; ``counts`` is what graph.json
    says of them."""

    def __init__(self, partitions: Any, work: str, resolution: Resolution, database: bool = True,
                 lines: PlainLines | None = None):
        self.partitions = partitions
        self.work = work
        self.resolution = resolution
        self.staging = _Staging(os.path.join(work, "staging"))
        self.labels: Counter = Counter()
        self.relations: Counter = Counter()
        self.pairs: dict[str, set[tuple[str, str]]] = {}
        self.names: dict[str, str] = {}  # node id → shown name
        self.final: dict[tuple[str, str], tuple[str, str]] = {}  # (name key, type it had) → (node id, type)
        self.split: list[tuple[str, dict[str, dict[str, int]]]] = []
        self.proposals: list[dict[str, Any]] = []
        self.candidates: dict[str, tuple[str, str, int, str]] = {}  # node id → (key, name, mentions, type)
        self.documents: set[str] = set()
        self.database = database
        self.lines = lines  # progress lines shared with the rest of the build

    def run(self) -> dict[str, Any]:
        parallel = shards.workers() > 1 and self.partitions.size() >= shards.MIN_BYTES
        for what, name, add in (("nodes", store.NODES, self._add_nodes),
                                ("edges", store.EDGES, self._add_edges)):
            with progress(f"graph build: adding up {what}", len(PARTITIONS), "partitions",
                          self.lines) as advance:
                if parallel:
                    self._in_workers(what, name, add, advance)
                else:
                    with open(os.path.join(self.work, name), "wb") as out:
                        for digit in PARTITIONS:
                            self._partition(what, digit, out)
                            advance(1)
            if what == "nodes":
                self._containment()
        self.staging.close()
        tables = store.table_names(self.labels, self.relations)
        if self.database:
            node_files = {key[1]: path for key, path in self.staging.files.items() if key[0] == "n"}
            edge_files = {key[1:]: path for key, path in self.staging.files.items() if key[0] == "e"}
            with progress("graph build: loading the database", len(node_files) + len(edge_files),
                          "tables", self.lines) as advance:
                store.create_database(os.path.join(self.work, store.DATABASE), tables, self.pairs,
                                      node_files, edge_files, loaded=advance,
                                      broken={self.staging.files[key] for key in self.staging.broken})
        shutil.rmtree(self.staging.folder)
        return {
            "nodes": sum(self.labels.values()),
            "edges": sum(self.relations.values()),
            "documents": len(self.documents),
            "labels": dict(sorted(self.labels.items())),
            "relations": dict(sorted(self.relations.items())),
            "tables": tables,
            "split_names": [{"name": name, "votes": votes}
                            for name, votes in sorted(self.split, key=lambda s: s[0])],
            "proposals": sorted(self.proposals, key=lambda p: (p["type"], p["names"])),
        }

    def _partition(self, what: str, digit: str, out: Any) -> None:
        """One partition's nodes (``what``: nodes) or edges, written to ``out``."""
        if what == "edges":
            self._edges(digit, out)
            return
        for record in self._nodes(digit):
            self._write_node(out, record)

    # -- partitions in worker processes ------------------------------------------------------------
    # Forked workers take a partition each, with this aggregate as it stands (the node ids settled so far
    # are what the edges need); each writes its partition's part of nodes.jsonl or edges.jsonl and its
    # own staged rows, and returns what it added up; the parts are joined in partition order, so the
    # files are the same bytes as one process writes.

    def _in_workers(self, what: str, name: str, add: Any, advance: Any) -> None:
        global _ACTIVE
        _ACTIVE = self
        try:
            context = multiprocessing.get_context("fork")
            with context.Pool(min(shards.workers(), len(PARTITIONS))) as pool, \
                    open(os.path.join(self.work, name), "wb") as out:
                jobs = [(what, digit) for digit in PARTITIONS]
                for digit, found in zip(PARTITIONS, pool.imap(_partition_in_worker, jobs), strict=True):
                    add(found)
                    part = os.path.join(self.work, f"{name}.{digit}")
                    with open(part, "rb") as handle:
                        shutil.copyfileobj(handle, out, 1 << 20)
                    os.remove(part)
                    self.staging.absorb(found["staging"])
                    advance(1)
        finally:
            _ACTIVE = None

    def _worker_start(self, digit: str, nodes: bool) -> None:
        """In a worker: what one partition adds up starts empty (for edges, the nodes settled stay)."""
        if nodes:
            self.final, self.names, self.candidates = {}, {}, {}
            self.split, self.proposals, self.labels, self.documents = [], [], Counter(), set()
        self.relations, self.pairs = Counter(), {}
        self.staging = _Staging(os.path.join(self.work, f"staging.{'n' if nodes else 'e'}{digit}"))

    def _add_nodes(self, found: dict[str, Any]) -> None:
        self.final.update(found["final"])
        self.names.update(found["names"])
        self.candidates.update(found["candidates"])
        self.split += found["split"]
        self.proposals += found["proposals"]
        self.labels.update(found["labels"])
        self.documents |= found["documents"]

    def _add_edges(self, found: dict[str, Any]) -> None:
        self.relations.update(found["relations"])
        for relation, pairs in found["pairs"].items():
            self.pairs.setdefault(relation, set()).update(pairs)

    def _nodes(self, digit: str) -> list[dict[str, Any]]:
        groups: dict[str, dict[str, Any]] = {}
        for piece in self.partitions.read("n", digit):
            group = groups.setdefault(piece["key"], {"kind": piece["kind"], "had": {}})
            had = group["had"].setdefault(piece["type"], {"mentions": {}, "properties": {}})
            kept = had["mentions"]
            for mention in piece["mentions"]:
                start = mention.get("start")  # mention_key, inline: a partition holds a few million mentions
                key = ((mention["doc"], start, mention["end"], "", "") if start is not None
                       else mention_key(mention))
                old = kept.get(key)
                if old is None or _rank(mention) < _rank(old):  # a voting copy of a mention wins
                    kept[key] = mention
            for attribute, values in piece.get("properties", {}).items():
                had["properties"].setdefault(attribute, set()).update(values)
        entities: list[NameNode] = []
        events: list[NameNode] = []
        split: list[tuple[str, str, dict]] = []
        decided = self.resolution.decisions.types
        for name_key, group in sorted(groups.items()):
            is_entity = group["kind"] == "entity"
            settled = settle({t: Counter(m.get("by") for m in h["mentions"].values())
                              for t, h in group["had"].items()}, decided.get(name_key) if is_entity else None)
            merged: dict[str, list[str]] = {}
            for kind, into in settled.final.items():
                merged.setdefault(into, []).append(kind)
            for node_type, kinds in merged.items():
                entries = [(key, m) for kind in kinds for key, m in group["had"][kind]["mentions"].items()]
                forms = Counter(m["text"] for _, m in entries)
                node = NameNode(name_key, node_type, len(entries), shown_name(forms),
                                {"kinds": kinds, "entries": entries, "group": group, "settled": settled})
                (entities if is_entity else events).append(node)
            if settled.split:
                split.append((name_key, next(iter(settled.final)), settled.votes))
        clusters, proposed = cluster(entities, self.resolution.aliases, self.resolution.decisions)
        clusters += [Cluster(node.type, node.key, [(node, "")]) for node in events]
        records = [self._node_record(c) for c in clusters]
        for name_key, kind, votes in split:
            self.split.append((self.names[self.final[(name_key, kind)][0]], votes))
        for first, second in proposed:
            self.proposals.append(self._proposal("alias", first, second))
        return sorted(records, key=lambda r: r["id"])

    def _node_record(self, c: Cluster) -> dict[str, Any]:
        first = c.members[0][0]
        is_entity = first.payload["group"]["kind"] == "entity"
        node_id = entity_id(c.type, c.key) if is_entity else c.key
        entries: list[tuple[tuple, dict]] = []
        properties: dict[str, set] = {}
        votes: dict[str, Counter] = {}
        voted: set[str] = set()
        for member, _ in c.members:
            payload = member.payload
            for key, mention in payload["entries"]:
                if member.key != c.key:
                    mention["key"] = member.key
                entries.append((key, mention))
            for kind in payload["kinds"]:
                self.final[(member.key, kind)] = (node_id, c.type)
                for attribute, values in payload["group"]["had"][kind]["properties"].items():
                    properties.setdefault(attribute, set()).update(values)
            if member.key not in voted:  # a name's votes, once per name (a split name's on each node)
                voted.add(member.key)
                for ballot, counts in payload["settled"].votes.items():
                    votes.setdefault(ballot, Counter()).update(counts)
        entries.sort(key=_mention_order)
        mentions = [m for _, m in entries]
        name = self.names[node_id] = shown_name(Counter(m["text"] for m in mentions))
        shown_why = next((why for member, why in c.members if member.form == name), "")
        absorbed = []  # every name and type the node took in but its shown name as its own type
        for member, why in c.members:
            for kind in member.payload["kinds"]:
                if member.form == name and kind == c.type:
                    continue
                if member.form == name or kind != member.type:  # its own name, another type: the vote
                    by = "decision" if member.payload["settled"].decided else "type"
                else:
                    by = why or shown_why or "alias"
                absorbed.append({"name": member.form, "type": kind,
                                 "mentions": len(member.payload["group"]["had"][kind]["mentions"]), "by": by})
        record = {
            "id": node_id, "name": name, "type": c.type, "kind": first.payload["group"]["kind"],
            "key": c.key, "count": len({key for key, _ in entries}), "grounded": grounded(mentions),
            "forms": sorted({m["text"] for m in mentions}),
            "votes": {b: dict(sorted(v.items())) for b, v in sorted(votes.items()) if v},
            "merged_from": sorted(absorbed, key=lambda a: (a["name"], a["type"])),
            "properties": {a: sorted(v) for a, v in sorted(properties.items())},
            "mentions": mentions,
        }
        if is_entity and not any(ch.isdigit() for ch in c.key):
            self.candidates[node_id] = (c.key, name, record["count"], c.type)
        return record

    def _proposal(self, why: str, first: NameNode, second: NameNode) -> dict[str, Any]:
        ids = [self.final[(n.key, n.payload["kinds"][0])][0] for n in (first, second)]
        return {"why": why, "type": first.type, "names": [first.form, second.form], "ids": ids,
                "mentions": [first.mentions, second.mentions]}

    def _containment(self) -> None:
        """Names that one contains the other's start or end (same type, no digits): proposed."""
        found = containment_pairs((node_id, node_type, alias_words(key))
                                  for node_id, (key, _, _, node_type) in self.candidates.items())
        decisions = self.resolution.decisions
        for short, long in found:
            (short_key, short_name, short_count, node_type), (long_key, long_name, long_count, _) = (
                self.candidates[short], self.candidates[long])
            if decisions.apart(short_key, long_key):
                continue
            self.proposals.append({"why": "containment", "type": node_type, "names": [short_name, long_name],
                                   "ids": [short, long], "mentions": [short_count, long_count]})
        self.candidates.clear()

    def _write_node(self, out: Any, record: dict[str, Any]) -> None:
        self.documents.update(str(m["doc"]) for m in record["mentions"])
        out.write(orjson.dumps(record) + b"\n")
        self.labels[record["type"]] += 1
        self.staging.write(
            ("n", record["type"]),
            NODE_HEADER,
            [record["id"], record["name"], record["type"], record["kind"], record["count"],
             store.json_text(record["properties"]), _first_context(record["mentions"]),
             _boolean(record["grounded"])],
        )

    def _edges(self, digit: str, out: Any) -> None:
        edges: dict[str, dict[str, Any]] = {}
        final = self.final
        for piece in self.partitions.read("e", digit):
            keys = (piece["head_key"], piece["tail_key"])
            relation, kind = piece["relation"], piece["kind"]
            for mention in piece["mentions"]:
                head_as, tail_as = mention["head_as"], mention["tail_as"]
                head, tail = final[(keys[0], head_as)], final[(keys[1], tail_as)]
                identity = edge_id(head[0], relation, tail[0])
                edge = edges.get(identity)
                if edge is None:
                    edge = edges[identity] = {"kind": kind, "relation": relation, "head": head, "tail": tail,
                                              "mentions": {}}
                elif kind != edge["kind"]:
                    # the same edge read as a relation (RE) and an attribute (KG) is a relation
                    edge["kind"] = min(edge["kind"], kind, key=EDGE_KINDS.index)
                start = mention.get("start")
                seen = ((mention["doc"], start, mention["end"], "", "") if start is not None
                        else mention_key(mention), head_as, tail_as)
                old = edge["mentions"].get(seen)
                if old is None or keys < old[0]:  # one statement of two names: the same whatever the order
                    edge["mentions"][seen] = (keys, mention)
        for identity in sorted(edges):
            self._write_edge(out, identity, edges[identity])

    def _write_edge(self, out: Any, identity: str, edge: dict[str, Any]) -> None:
        if len(edge["mentions"]) == 1:  # most edges are stated once
            (key, (keys, mention)), = edge["mentions"].items()
            entries, (head_key, tail_key) = [(key[0], mention)], keys
        else:
            entries = sorted(((key[0], m) for key, (_, m) in edge["mentions"].items()), key=_mention_order)
            head_key = min(keys[0] for keys, _ in edge["mentions"].values())
            tail_key = min(keys[1] for keys, _ in edge["mentions"].values())
            for keys, mention in edge["mentions"].values():
                if keys[0] != head_key:
                    mention["head_key"] = keys[0]
                if keys[1] != tail_key:
                    mention["tail_key"] = keys[1]
        mentions = [m for _, m in entries]
        (head, head_type), (tail, tail_type) = edge["head"], edge["tail"]
        record = {
            "id": identity,
            "kind": edge["kind"],
            "relation": edge["relation"],
            "head": head,
            "head_name": self.names[head],
            "head_type": head_type,
            "head_key": head_key,
            "tail": tail,
            "tail_name": self.names[tail],
            "tail_type": tail_type,
            "tail_key": tail_key,
            "count": len({key for key, _ in entries}),
            "grounded": grounded(mentions),
            "mentions": mentions,
        }
        out.write(orjson.dumps(record) + b"\n")
        self.relations[edge["relation"]] += 1
        self.pairs.setdefault(edge["relation"], set()).add((head_type, tail_type))
        self.staging.write(
            ("e", edge["relation"], head_type, tail_type),
            EDGE_HEADER,
            [head, tail, identity, edge["relation"], edge["kind"], record["count"],
             _first_context(mentions), _boolean(record["grounded"])],
        )


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
        self.broken: set[Any] = set()  # keys whose file holds a line break inside a field

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
        text = io.StringIO()
        writer = csv.writer(text, lineterminator="\n")
        lines = len(rows)
        if not os.path.exists(path):
            writer.writerow(self.headers[key])
            lines += 1
        writer.writerows(rows)
        written = text.getvalue()
        if written.count("\n") != lines or "\r" in written:
            self.broken.add(key)  # the database reads such a file with its one-thread reader
        with open(path, "a", encoding="utf-8", newline="") as handle:
            handle.write(written)
        self.held -= len(rows)
        rows.clear()

    def close(self) -> None:
        for key in self.waiting:
            self._append(key)

    def absorb(self, other: _Staging) -> None:
        """Another (closed) staging's files appended to this one's, key by key, and removed."""
        for key, path in other.files.items():
            if key in other.broken:
                self.broken.add(key)
            if key in self.waiting:
                self._append(key)  # rows held here go first
            else:
                self.files[key] = os.path.join(self.folder, f"{len(self.files)}.csv")
                self.headers[key] = other.headers[key]
                self.waiting[key] = []
            new = not os.path.exists(self.files[key])
            with open(path, "rb") as source, open(self.files[key], "ab") as target:
                header = source.readline()
                if new:
                    target.write(header)
                shutil.copyfileobj(source, target, 1 << 20)
        shutil.rmtree(other.folder)


_ACTIVE: Aggregate | None = None  # the aggregate a forked worker works for


def _partition_in_worker(job: tuple[str, str]) -> dict[str, Any]:
    """In a worker: one partition's nodes or edges (``job``: what, digit), written to
    ``nodes.jsonl.<digit>`` or ``edges.jsonl.<digit>``; returns what it added up."""
    what, digit = job
    aggregate = _ACTIVE
    assert aggregate is not None
    nodes = what == "nodes"
    aggregate._worker_start(digit, nodes=nodes)
    with open(os.path.join(aggregate.work, f"{store.NODES if nodes else store.EDGES}.{digit}"), "wb") as out:
        aggregate._partition(what, digit, out)
    aggregate.staging.close()
    if nodes:
        return {"final": aggregate.final, "names": aggregate.names, "candidates": aggregate.candidates,
                "split": aggregate.split, "proposals": aggregate.proposals, "labels": aggregate.labels,
                "documents": aggregate.documents, "staging": aggregate.staging}
    return {"relations": aggregate.relations, "pairs": aggregate.pairs, "staging": aggregate.staging}


def _boolean(value: bool) -> str:
    return "true" if value else "false"


def _first_context(mentions: list[dict]) -> str:
    """The sentence of the first mention that has one ("" when none has)."""
    return next((m["context"] for m in mentions if m.get("context")), "")


