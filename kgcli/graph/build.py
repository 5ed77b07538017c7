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

import contextlib
import hashlib
import os
import shutil
import tempfile
import threading
import time
from collections import Counter
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field, replace
from typing import IO, Any

import orjson

from kgcli import shards
from kgcli.collector import cycles_paused
from kgcli.documents.grounding import normalise
from kgcli.documents.language import script_language
from kgcli.documents.result import DOC_ID, UNPARSED, is_merged_document
from kgcli.errors import KgcError, warn
from kgcli.graph import store
from kgcli.graph.aggregate import PARTITIONS, Aggregate, edge_pieces, node_pieces
from kgcli.graph.decisions import Decisions, load_decisions
from kgcli.graph.facts import document_facts, part_of
from kgcli.graph.resolve import Resolution
from kgcli.io import check_input, display_name, parse_lines, read_jsonl
from kgcli.outputs import GRAPH_WRITER, atomic_folder, protected
from kgcli.progress import PlainLines, progress

# Node types and relations are tables of the database: each costs memory and files to create, so a graph
# holds at most this many unless asked (an answer is bound to its schema, a whole corpus rarely needs more).
MAX_LABELS = 1000
NAMES_REMEMBERED = 1 << 18  # names whose group and partition a reader keeps at a time
PROGRESS_STEP = 256  # records read between two progress advances


@dataclass
class BuildSettings:
    append: bool = False
    overwrite: bool = False
    skip_unparsed: bool = False
    gold: bool = False  # answer each converted record from its gold 'label' (the test set's own graph)
    max_labels: int = MAX_LABELS  # distinct node types and relations together
    keep_ungrounded: bool = False  # strings not in their text become nodes, marked grounded: false
    resolve: str | None = None  # "names" or "aliases"; None: as the graph was built ("names" for a new one)
    decisions: str | None = None  # a decisions file (graph/decisions.py)
    dry_run: bool = False  # resolve only: work in a scratch folder, GRAPH untouched


@dataclass
class BuildSummary:
    nodes: int
    edges: int
    documents: int
    records: int
    unparsed: int
    seconds: float
    labels: dict[str, int] = field(default_factory=dict)
    merged: list[dict[str, Any]] = field(default_factory=list)  # a dry run's nodes that merged names

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
    """Node and edge pieces spilled to disk, one file per first hex digit of the id. Worker processes that
    read one input in shards append to their own files (``owner``: their process id) in a folder of their
    own, which joins the partition once every shard of that input has been read (``adopt``)."""

    def __init__(self, folder: str, owner: str = ""):
        self.folder = folder
        self.owner = owner
        self.adopted: list[str] = []
        os.makedirs(folder, exist_ok=bool(owner))
        self.files: dict[str, IO[bytes]] = {}
        for kind in ("n", "e"):
            for digit in PARTITIONS:
                name = kind + digit + (f".{owner}" if owner else "")
                self.files[kind + digit] = open(os.path.join(folder, name), "ab" if owner else "wb")

    def add(self, kind: str, piece: dict[str, Any]) -> None:
        self.files[kind + piece["part"]].write(orjson.dumps(piece) + b"\n")

    def close(self) -> None:
        for handle in self.files.values():
            handle.close()

    def adopt(self, folder: str) -> None:
        """A worker folder's files become part of the partitions."""
        self.adopted.append(folder)

    def paths(self, kind: str, digit: str) -> list[str]:
        """The files of one partition: its own, then each adopted folder's."""
        found = [os.path.join(self.folder, kind + digit)]
        for folder in self.adopted:
            found += sorted(os.path.join(folder, name) for name in os.listdir(folder)
                            if name.startswith(f"{kind}{digit}."))
        return found

    def size(self) -> int:
        return sum(os.path.getsize(path) for kind in "ne" for digit in PARTITIONS
                   for path in self.paths(kind, digit))

    def read(self, kind: str, digit: str) -> Iterator[dict[str, Any]]:
        """One partition's pieces, read once: each file goes when it has been read (in the worker that read
        it, so the build does not end removing a gigabyte)."""
        loads = orjson.loads
        for path in self.paths(kind, digit):
            with open(path, "rb") as handle:
                for line in handle:
                    yield loads(line)
            os.remove(path)


class _Reader:
    """Input files → node and edge pieces, with the counts the summary reports.

    A merged document (``kgc extract``'s result) is turned into pieces at once. Prediction records are
    merged first, across all inputs, so that the chunks of one document and the answers of several tasks
    on one text (NER in one file, RE in another) make one document, whose NER answers type its relations'
    ends; their pieces follow at ``finish``.
    """

    def __init__(self, partitions: _Partitions, resolution: Resolution, skip_unparsed: bool,
                 gold: bool = False, max_labels: int = MAX_LABELS, keep_ungrounded: bool = False):
        from kgcli.documents.merge import DocumentMerger

        self.labels: set[tuple[str, str]] = set()
        self.max_labels = max_labels
        self.partitions = partitions
        self.resolution = resolution
        self.gold_ids: dict[str, dict[tuple[str, str], str]] = {}  # doc → (name, type) → annotated id
        self.entity_ids = False  # whether annotated documents gave their entities ids
        self.digests: dict[str, str] = {}  # document → the SHA-256 of its text, where extract recorded it
        self.languages: dict[str, str] = {}  # document → its language by script, where it has one
        self.skip_unparsed = skip_unparsed
        self.gold = gold
        self.keep_ungrounded = keep_ungrounded
        self.left_out = 0  # ungrounded nodes and edges left out, per document
        self.merger = DocumentMerger(sentences=True)
        self.documents = self.records = self.unparsed = 0
        self.read_ids: set[str] = set()
        self.lines = PlainLines()  # the build's progress lines, one interval over all its steps
        self.groups: dict[str, str] = {}  # name key → its resolution group
        self.parts: dict[str, str] = {}  # entity name key → its partition

    def document(self, document: dict[str, Any]) -> None:
        ids = self.gold_ids.get(str(document.get(DOC_ID)))
        if isinstance(document.get("doc_sha256"), str) and document["doc_sha256"]:
            self.digests[str(document.get(DOC_ID))] = document["doc_sha256"]
        nodes, edges, left_out = document_facts(document, self.keep_ungrounded, ids)
        # the document's language by the script of its sentences that gave the graph (a merged document
        # keeps its sentences, not its whole text)
        language = script_language("".join(dict.fromkeys(
            m["context"] or m["text"] for node in nodes for m in node["mentions"])))
        if language:
            self.languages[str(document.get(DOC_ID))] = language
        self.left_out += left_out
        for node in nodes:
            self.piece("n", node)
        for edge in edges:
            self.piece("e", edge)
        self.documents += 1

    def merged(self, record: dict[str, Any], name: str, number: int) -> str:
        """A merged document read at ``name``:``number`` → its pieces; returns its id."""
        self.unparsed += int(record.get(UNPARSED) or 0)
        try:
            self.document(record)
        except KgcError as exc:
            raise KgcError(exc.message, name, number) from None
        return str(record[DOC_ID])

    def piece(self, kind: str, piece: dict[str, Any]) -> None:
        """A node or edge piece to the partitions; its type or relation counted against ``max_labels``."""
        label = (kind, piece["type"] if kind == "n" else piece["relation"])
        if label not in self.labels:
            self.count_label(label)
        group = self.group
        if kind == "e":
            piece["part"] = part_of(group(piece["head_key"]), piece["relation"], group(piece["tail_key"]))
        elif piece["kind"] == "entity":
            part = self.parts.get(piece["key"])
            if part is None:
                part = self.parts[piece["key"]] = part_of(group(piece["key"]))
            piece["part"] = part
        else:
            piece["part"] = part_of(piece["key"])
        self.partitions.add(kind, piece)

    def group(self, key: str) -> str:
        """``Resolution.group``, remembered: a name recurs in many documents."""
        found = self.groups.get(key)
        if found is None:
            if len(self.groups) >= NAMES_REMEMBERED:
                self.groups.clear()
                self.parts.clear()
            found = self.groups[key] = self.resolution.group(key)
        return found

    def count_label(self, label: tuple[str, str]) -> None:
        """A node type or relation seen; more of them than ``max_labels`` stops the build."""
        self.labels.add(label)
        if len(self.labels) > self.max_labels:
            raise KgcError(f"more than {self.max_labels:,} node types and relations (each is a table of "
                           "the database): are the answers bound to a schema? --max-labels N builds it "
                           "anyway")

    def read(self, path: str) -> dict[str, Any]:
        name = display_name(path)
        digest = _Digest(path)  # on a thread, while the records are read
        read = None
        with progress(f"graph build: reading {name}", unit="records", lines=self.lines) as advance:
            if not self.gold and shards.worth_it(path) and _merged_documents(path):
                read = self._read_sharded(path, name, advance)
            if read is None:
                read = self._read_records(path, name, advance)
        records, documents = read
        if not records:  # an empty file or pipe: a stage before it gave nothing, never a graph to build
            raise KgcError("no records: expected kgc extract results or kgc predict output, one JSON object "
                           "per line", name)
        self.records += records
        self.read_ids |= documents
        return {"path": name, "records": records, "documents": len(documents), "sha256": digest.hexdigest()}

    def _read_sharded(self, path: str, name: str, advance: Callable[[int], None]
                      ) -> tuple[int, set[str]] | None:
        """A file of merged documents read by worker processes, one shard each, into partition files of
        their own; None (and nothing kept) when a shard holds anything but merged documents."""
        folder = os.path.join(self.partitions.folder, f"input{len(self.partitions.adopted)}")
        settings = (folder, name, self.resolution, self.keep_ungrounded, self.max_labels)
        records, documents = 0, set()
        found: list[dict[str, Any]] = []
        mixed = False  # not only merged documents: the file is read again here, in order
        for _, summary in shards.map_shards(path, _shard_facts, settings, size=shards.BLOCK_BYTES * 8):
            # every shard is waited for (a pool stopped while its workers send results can hang)
            mixed = mixed or summary is None
            if not mixed:
                found.append(summary)
                advance(summary["records"])
        if mixed:
            shutil.rmtree(folder, ignore_errors=True)
            return None
        for summary in found:
            records += summary["records"]
            documents |= summary["documents"]
            self.unparsed += summary["unparsed"]
            self.left_out += summary["left_out"]
            self.documents += summary["counted"]
            self.digests.update(summary["digests"])
            self.languages.update(summary["languages"])
            for label in summary["labels"]:
                self.count_label(label)
        if os.path.isdir(folder):
            self.partitions.adopt(folder)
        return records, documents

    def read_graph(self, folder: str) -> dict[str, list[tuple[str, str]]]:
        """A built graph's nodes and edges as the pieces they absorbed (in worker processes where the files
        are large); returns each node id's (name key, type it had) pairs."""
        absorbed: dict[str, list[tuple[str, str]]] = {}
        with progress("graph build: reading the graph so far", unit="nodes and edges",
                      lines=self.lines) as advance:
            for kind, name in (("n", store.NODES), ("e", store.EDGES)):
                path = os.path.join(folder, name)
                if shards.worth_it(path):
                    part = os.path.join(self.partitions.folder, f"graph-{kind}")
                    settings = (part, display_name(path), self.resolution, self.max_labels, kind)
                    for _, found in shards.map_shards(path, _shard_graph, settings,
                                                      size=shards.BLOCK_BYTES * 8):
                        absorbed.update(found["absorbed"])
                        for label in found["labels"]:
                            if label not in self.labels:
                                self.count_label(label)
                        advance(found["count"])
                    if os.path.isdir(part):
                        self.partitions.adopt(part)
                    continue
                for _, item in read_jsonl(path):
                    _graph_pieces(self, kind, item, absorbed)
                    advance(1)
        return absorbed

    def _read_records(self, path: str, name: str, advance: Callable[[int], None]) -> tuple[int, set[str]]:
        records = 0
        documents: set[str] = set()
        for number, record in read_jsonl(path):
            records += 1
            if not records % PROGRESS_STEP:
                advance(PROGRESS_STEP)
            if self.gold and "instruction" not in record and isinstance(record.get("text"), str):
                self.gold_document(record, name, number)
                documents.add(str(record.get("doc_id", record.get("id", f"{name}:{number}"))))
                continue
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
                documents.add(self.merged(record, name, number))
            elif "instruction" in record:
                raise KgcError(
                    "a converted record without 'output': run kgc predict on it first, or pass --gold to "
                    "build the graph of its labels",
                    name,
                    number,
                )
            elif isinstance(record.get("text"), str):
                raise KgcError(
                    "an annotated document (text, entity, relation): pass --gold to build the graph of its "
                    "annotations, or run kgc extract on it first",
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
        advance(records % PROGRESS_STEP)
        return records, documents

    def gold_answered(self, record: dict[str, Any], name: str, number: int) -> dict[str, Any]:
        """A converted test record with its gold 'label' rendered as the answer, by its task (the answer
        a perfect model gives: ``tasks/gold.py``)."""
        from kgcli.tasks.gold import gold_output_at

        return {**record, "output": gold_output_at(record, name, number, "--gold")}

    def gold_document(self, record: dict[str, Any], name: str, number: int) -> None:
        """An annotated document (the raw format: ``text`` with ``entity`` and ``relation`` lists) answered
        from its own annotations, task by task, as a perfect model would; an ``id`` per entity (one for every
        form of one thing) makes the node that entity, not its name."""
        from kgcli.records import INPUT, SCHEMA
        from kgcli.tasks import shared_task
        from kgcli.tasks.base import AnnotationError, Options

        doc_id = str(record.get("doc_id", record.get("id", f"{name}:{number}")))
        text = record["text"]
        for task_name, key, label in (("NER", "entity", "entity_type"), ("RE", "relation", "relation")):
            items = record.get(key)
            if not items:
                continue
            task = shared_task(task_name)
            try:
                read = task.read_items({task.annotation_key: items}) or []
                schema = sorted({str(item[label]) for item in items})
                answer = task.render(schema, read, text, Options())
            except (AnnotationError, KeyError, TypeError) as exc:
                raise KgcError(f"'{key}' is not the raw annotation format ({exc})", name, number) from None
            instruction = orjson.dumps({"instruction": "", SCHEMA: schema, INPUT: text}).decode()
            self.merger.add({"doc_id": doc_id, "start": 0, "chunk": 0, "id": f"{doc_id}#{task_name}",
                             "task": task_name, "instruction": instruction,
                             "output": orjson.dumps(answer).decode()}, name, number)
        for item in record.get("entity") or []:
            if isinstance(item, dict) and item.get("id") is not None:
                self.entity_ids = True
                self.gold_ids.setdefault(doc_id, {})[(normalise(str(item.get("entity"))),
                                                      str(item.get("entity_type")))] = str(item["id"])

    def finish(self) -> None:
        for document in self.merger.documents():
            self.document(document)


def _merged_documents(path: str) -> bool:
    """Whether a file's first line is a merged document (worth reading in shards: each line stands alone)."""
    with open(path, "rb") as handle:
        first = handle.readline()
    try:
        record = orjson.loads(first.lstrip(b"\xef\xbb\xbf"))
    except orjson.JSONDecodeError:
        return False
    return isinstance(record, dict) and is_merged_document(record)


def _shard_facts(lines: list[bytes], first: int, index: int, settings: tuple) -> dict[str, Any] | None:
    """In a worker: one shard of merged documents → pieces in the worker's own partition files, and what
    the reader counts; None when the shard holds anything else."""
    folder, name, resolution, keep_ungrounded, max_labels = settings
    partitions = _Partitions(folder, owner=str(os.getpid()))
    try:
        reader = _Reader(partitions, resolution, False, False, max_labels, keep_ungrounded)
        records, documents = 0, set()
        with cycles_paused():
            for number, record in parse_lines(lines, name, first):
                if not is_merged_document(record):
                    return None
                records += 1
                documents.add(reader.merged(record, name, number))
    finally:
        partitions.close()
    return {"records": records, "documents": documents, "unparsed": reader.unparsed,
            "left_out": reader.left_out, "counted": reader.documents, "digests": reader.digests,
            "languages": reader.languages, "labels": reader.labels}


def _graph_pieces(reader: _Reader, kind: str, item: dict[str, Any],
                  absorbed: dict[str, list[tuple[str, str]]]) -> None:
    """A built node or edge back to its pieces, into the reader's partitions; a node's (name key, type it
    had) pairs noted under its id."""
    if kind == "n":
        for piece in node_pieces(item):
            reader.piece("n", piece)
            absorbed.setdefault(item["id"], []).append((piece["key"], piece["type"]))
    else:
        for piece in edge_pieces(item):
            reader.piece("e", piece)


def _shard_graph(lines: list[bytes], first: int, index: int, settings: tuple) -> dict[str, Any]:
    """In a worker: one shard of a built graph's nodes.jsonl or edges.jsonl → pieces in the worker's own
    partition files."""
    folder, name, resolution, max_labels, kind = settings
    partitions = _Partitions(folder, owner=str(os.getpid()))
    absorbed: dict[str, list[tuple[str, str]]] = {}
    count = 0
    try:
        reader = _Reader(partitions, resolution, False, False, max_labels)
        with cycles_paused():
            for _, item in parse_lines(lines, name, first):
                _graph_pieces(reader, kind, item, absorbed)
                count += 1
    finally:
        partitions.close()
    return {"absorbed": absorbed, "labels": reader.labels, "count": count}


class _Digest:
    """A file's SHA-256, computed on a thread (hashlib leaves the interpreter free while it hashes); for
    anything but a regular file (a pipe can be read once), after the records, as before."""

    def __init__(self, path: str):
        self.value = ""
        self.error: BaseException | None = None
        self.thread = threading.Thread(target=self._run, args=(path,), daemon=True)
        self.started = os.path.isfile(path)
        if self.started:
            self.thread.start()

    def _run(self, path: str) -> None:
        try:
            with open(path, "rb") as handle:
                self.value = hashlib.file_digest(handle, "sha256").hexdigest()
        except BaseException as exc:  # reported by hexdigest, in the caller's thread
            self.error = exc

    def hexdigest(self) -> str:
        if not self.started:
            self.started = True
            self.thread.start()
        self.thread.join()
        if self.error is not None:
            raise self.error
        return self.value


def build_graph(inputs: list[str], out: str, settings: BuildSettings) -> BuildSummary:
    """Build (or ``--append`` to) the GRAPH folder ``out`` from prediction or merged-document files."""
    if not inputs:
        raise KgcError("give at least one input file (kgc extract results or kgc predict output)")
    for path in inputs:
        check_input(path)
    decisions = load_decisions(settings.decisions) if settings.decisions else None
    exists = check_target(out, settings)
    old_meta = store.read_meta(out) if exists and settings.append else None
    return _build(inputs, out, settings, old_meta, decisions)


def resolve_graph(folder: str, settings: BuildSettings) -> tuple[BuildSummary, dict[str, Any]]:
    """``kgc graph resolve``: the graph settled again with its own pieces (the aliases rule and decisions
    given, else its own); with ``dry_run`` in a scratch folder, GRAPH untouched. Returns the summary and
    the graph's new metadata (its merges are in the nodes: ``merged_nodes``)."""
    if not store.is_graph_folder(folder):
        raise KgcError("not a kgc graph folder (no graph.json): build one with kgc graph build", folder)
    decisions = load_decisions(settings.decisions) if settings.decisions else None
    old_meta = store.read_meta(folder)
    settings = replace(settings, append=True)
    if settings.dry_run:
        with tempfile.TemporaryDirectory(prefix=".kgc-resolve.") as scratch:
            summary = _build([], folder, settings, old_meta, decisions, scratch=scratch)
            summary.merged = [node for _, node in read_jsonl(os.path.join(scratch, store.NODES))
                              if node.get("merged_from")]
            with open(os.path.join(scratch, store.META), "rb") as handle:  # a dry run builds no database
                return summary, orjson.loads(handle.read())
    summary = _build([], folder, settings, old_meta, decisions)
    return summary, store.read_meta(folder)


def _resolution(settings: BuildSettings, old_meta: dict[str, Any] | None, decisions: Decisions | None
                ) -> Resolution:
    """The build's resolution: the aliases rule as asked, else as the graph was built; the graph's
    decisions with the new file's added."""
    old = (old_meta or {}).get("resolution") or {}
    rule = settings.resolve or old.get("rule") or "names"
    kept = Decisions.from_json(old.get("decisions"))
    return Resolution(rule == "aliases", kept.joined(decisions) if decisions else kept)


def _build(inputs: list[str], out: str, settings: BuildSettings, old_meta: dict[str, Any] | None,
           decisions: Decisions | None, scratch: str | None = None) -> BuildSummary:
    started = time.monotonic()
    resolution = _resolution(settings, old_meta, decisions)
    folder = contextlib.nullcontext(scratch) if scratch else atomic_folder(out, GRAPH_WRITER)
    with folder as work, cycles_paused():  # a failed build leaves GRAPH as it was
        partitions = _Partitions(os.path.join(work, "parts"))
        reader = _Reader(partitions, resolution, settings.skip_unparsed, settings.gold, settings.max_labels,
                         settings.keep_ungrounded)
        inputs_meta = list(old_meta["inputs"]) if old_meta else []
        old_nodes: dict[str, list[tuple[str, str]]] = {}  # id → the (name, type it had) it absorbed
        if old_meta:  # the graph so far, as the pieces it was built from: its names are resolved again
            old_nodes = reader.read_graph(out)
        for path in inputs:
            inputs_meta.append(reader.read(path))
        reader.finish()
        partitions.close()
        aggregate = Aggregate(partitions, work, resolution, database=scratch is None, lines=reader.lines)
        counts = aggregate.run()
        shutil.rmtree(partitions.folder)
        retired = {old: sorted({aggregate.final[p][0] for p in absorbed})
                   for old, absorbed in sorted(old_nodes.items())
                   if {aggregate.final[p][0] for p in absorbed} != {old}}
        if retired:
            counts["retired"] = retired
            if not settings.dry_run:
                listed = ", ".join(f"{old} → {' + '.join(new)}" for old, new in list(retired.items())[:10])
                warn(f"{len(retired)} node id(s) retired (the type or name of their node changed): "
                     f"{listed}{', …' if len(retired) > 10 else ''} (graph.json lists them all)")
        if not counts["nodes"] and reader.records:
            raise KgcError(_why_empty(reader))
        if not settings.dry_run:
            _warn_resolution(counts, out)
        meta = {
            "format": store.FORMAT,
            "version": store.FORMAT_VERSION,
            **counts,
            "resolution": {"rule": "aliases" if resolution.aliases else "names",
                           **({"decisions": resolution.decisions.to_json()} if resolution.decisions else {})},
            "entity_ids": reader.entity_ids or bool(old_meta and old_meta.get("entity_ids")),
            "unparsed_skipped": reader.unparsed + (old_meta["unparsed_skipped"] if old_meta else 0),
            "inputs": inputs_meta,
            "versions": _versions(),
        }
        with open(os.path.join(work, store.META), "wb") as handle:
            handle.write(orjson.dumps(meta, option=orjson.OPT_INDENT_2) + b"\n")
        _write_per_document(out if old_meta else None, work, reader.digests, store.DIGESTS)
        _write_per_document(out if old_meta else None, work, reader.languages, store.LANGUAGES)
    return BuildSummary(
        counts["nodes"],
        counts["edges"],
        len(reader.read_ids),
        reader.records,
        reader.unparsed,
        time.monotonic() - started,
        counts["labels"],
    )


def _write_per_document(old: str | None, work: str, found: dict[str, str], name: str) -> None:
    """A per-document file (documents.json: each text's SHA-256 as extracted; languages.json): the graph's
    own entries, then the new inputs'."""
    digests: dict[str, str] = {}
    if old and os.path.exists(os.path.join(old, name)):
        with open(os.path.join(old, name), "rb") as handle:
            digests = orjson.loads(handle.read())
    digests.update(found)
    with open(os.path.join(work, name), "wb") as handle:
        handle.write(orjson.dumps(dict(sorted(digests.items()))) + b"\n")


def _warn_resolution(counts: dict[str, Any], out: str) -> None:
    """The names the build kept split, and the merges it only proposes."""
    if counts["split_names"]:
        listed = ", ".join(
            f"{s['name']} ({', '.join(f'{t} {n}' for t, n in next(iter(s['votes'].values())).items())})"
            for s in counts["split_names"][:5])
        more = len(counts["split_names"]) - 5
        warn(f"{len(counts['split_names'])} name(s) typed several ways, no type with two thirds of the "
             f"votes, kept one node per type: {listed}{f', and {more} more' if more > 0 else ''} "
             "(graph.json lists them)")
    if counts["proposals"]:
        why = Counter(p["why"] for p in counts["proposals"])
        told = " and ".join(f"{n} by {WHY[w]}" for w, n in sorted(why.items()))
        warn(f"{len(counts['proposals'])} merge(s) proposed, not made ({told}): kgc graph resolve "
             f"{out} --dry-run lists them with their evidence")


WHY = {"alias": "alias key (--resolve aliases merges them)", "containment": "one name inside the other"}


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
