"""``kgc graph export``: a GRAPH folder → the formats the stores people run read.

Every format is written from ``nodes.jsonl`` and ``edges.jsonl`` as a stream (GraphML excepted: networkx
holds the graph), to a temporary file or folder renamed into place when complete. Names are never
stripped or rewritten: node types become labels and classes, relations relationship types and
properties, back-quoted (Cypher) or percent-encoded (IRIs), so 人物, 地点 and 出生地 stay three names, and
every value travels as data (a CSV field, a Cypher parameter, an RDF literal), so quotes, backslashes and
newlines in names survive.

- ``neo4j``: a folder of ``nodes.csv``, ``relationships.csv``, ``mentions.csv`` (each mention a
  ``Mention`` node) and ``mention_links.csv`` in ``neo4j-admin database import``'s header format (``:ID``,
  ``:LABEL``, ``:START_ID``, ``:END_ID``, ``:TYPE``), and ``import.sh [--overwrite] [DATABASE]``.
- ``cypher``: a cypher-shell script: uniqueness constraints, then ``:param rows => [...]`` batches, each
  followed by one ``UNWIND $rows AS row MERGE …``.
- ``graphml``: networkx's GraphML (node and edge attributes as data keys).
- ``turtle`` / ``jsonld``: RDF (pyoxigraph): types as classes, relations as properties, every edge also a
  reified ``rdf:Statement`` with its count, and mentions as PROV provenance (document, offsets, record,
  context), minted per node and edge so each cites its own text. Text literals carry their documents'
  language (``@zh``, ``@en``) where the script tells it. IRIs percent-encode names (人物 is
  ``type/%E4%BA%BA%E7%89%A9``): query by ``rdfs:label``.
- ``csv``: a folder of ``nodes.csv`` and ``edges.csv``.
- ``triples``: JSON lines ``head, head_type, relation, tail, tail_type``, one per edge, then one per
  attribute value kept as a property (``tail_type`` null).
"""

from __future__ import annotations

import csv
import os
import re
from collections.abc import Iterator
from dataclasses import dataclass
from typing import IO, Any
from urllib.parse import quote

import orjson

from kgcli.errors import KgcError, warn
from kgcli.graph import store
from kgcli.io import read_jsonl, spreadsheet_row
from kgcli.outputs import atomic_file, atomic_folder, check_output_folder

FORMATS = ("neo4j", "cypher", "graphml", "turtle", "jsonld", "csv", "triples")
FOLDER_FORMATS = ("neo4j", "csv")
DEFAULT_BASE_IRI = "http://example.org/kgc/"
BATCH = 1000
WRITER = "kgc graph export"  # the folder rule's name for the folders (neo4j, csv) an export writes


@dataclass
class ExportSummary:
    format: str
    path: str
    nodes: int
    edges: int
    command: str | None = None

    def line(self) -> str:
        return f"{self.format}: {self.nodes} node(s), {self.edges} edge(s) → {self.path}"


def check_format(name: str) -> str:
    """The export format, case-blind (``Turtle`` is ``turtle``, as ``ner`` is ``NER``)."""
    if name.lower() not in FORMATS:
        raise KgcError(f"unknown export format {name!r}; available: {', '.join(FORMATS)}")
    return name.lower()


def check_base_iri(base: str) -> str:
    if not (base.startswith(("http://", "https://", "urn:")) and base.endswith(("/", "#", ":"))):
        raise KgcError(f"--base-iri {base!r} must be an http(s):// or urn: IRI ending in '/', '#' or ':'")
    if any(c in base for c in ' <>"{}|\\^`'):
        raise KgcError(f"--base-iri {base!r} has a character an IRI cannot hold")
    return base


def check_target(fmt: str, out: str, overwrite: bool) -> None:
    """Before any work: the output path is usable (a folder for neo4j and csv, a file or - otherwise)."""
    if out == "-":
        if fmt in FOLDER_FORMATS:
            raise KgcError(f"--format {fmt} writes a folder of files; give --out FOLDER")
        return
    if fmt in FOLDER_FORMATS and os.path.isfile(out):
        raise KgcError(f"--format {fmt} writes a folder, and --out is a file", out)
    if fmt in FOLDER_FORMATS:
        check_output_folder(out, writer=WRITER, overwrite=overwrite)  # only a folder an export wrote goes
    elif os.path.exists(out) and not overwrite:
        raise KgcError("--out exists; pass --overwrite to replace it", out)
    if fmt not in FOLDER_FORMATS and os.path.isdir(out):
        raise KgcError(f"--format {fmt} writes a file, and --out is a folder", out)
    parent = os.path.dirname(os.path.abspath(out))
    if not os.path.isdir(parent):
        raise KgcError("--out: the folder it would be written in does not exist", out)


def nodes(folder: str) -> Iterator[dict[str, Any]]:
    for _, node in read_jsonl(os.path.join(folder, store.NODES)):
        yield node


def edges(folder: str) -> Iterator[dict[str, Any]]:
    for _, edge in read_jsonl(os.path.join(folder, store.EDGES)):
        yield edge


def export_graph(
    folder: str, fmt: str, out: str, *, base_iri: str = DEFAULT_BASE_IRI, overwrite: bool = False
) -> ExportSummary:
    fmt = check_format(fmt)
    if fmt in ("turtle", "jsonld"):
        check_base_iri(base_iri)
    meta = store.read_meta(folder)
    check_target(fmt, out, overwrite)
    command = None
    if fmt == "neo4j":
        with atomic_folder(out, WRITER) as work:
            write_neo4j(folder, work, meta)
        command = f"{_shell_quote(os.path.join(os.path.abspath(out), 'import.sh'))} [--overwrite] [DATABASE]"
    elif fmt == "csv":
        with atomic_folder(out, WRITER) as work:
            write_csv(folder, work)
    else:
        with atomic_file(out) as handle:
            {
                "cypher": write_cypher,
                "graphml": write_graphml,
                "triples": write_triples,
                "turtle": lambda f, h: write_rdf(f, h, "turtle", base_iri),
                "jsonld": lambda f, h: write_rdf(f, h, "jsonld", base_iri),
            }[fmt](folder, handle)
    return ExportSummary(fmt, out, meta["nodes"], meta["edges"], command)


# ---- Neo4j ------------------------------------------------------------------------------------------
# Mentions are their own nodes (``mentions.csv``), linked from the node they mention (``mention_links.csv``)
# or naming the edge they state (``edge``): in a node's row they would make a popular node's row grow past
# neo4j-admin's read buffer (4 MiB by default; 150–200 bytes a mention) and stop the import.
NEO4J_NODE_HEADER = ["id:ID", "name", "type", "kind", "count:long", "grounded:boolean", "merged_from",
                     "properties", "mentions:long", ":LABEL"]
NEO4J_EDGE_HEADER = [":START_ID", ":END_ID", ":TYPE", "id", "kind", "count:long", "grounded:boolean",
                     "mentions:long"]
NEO4J_MENTION_HEADER = ["id:ID(Mention)", "node", "edge", "doc", "start:long", "end:long", "record", "text",
                        "context", "status", ":LABEL"]
NEO4J_LINK_HEADER = [":START_ID", ":END_ID(Mention)", ":TYPE"]
NEO4J_FILES = {"nodes": ("nodes.csv", "mentions.csv"), "relationships": ("relationships.csv",
                                                                         "mention_links.csv")}
READ_BUFFER = 4 * 1024 * 1024  # neo4j-admin's default --read-buffer-size: a row must fit in it


def array_delimiter(labels: list[str]) -> str:
    """neo4j-admin splits a :LABEL field on its array delimiter: one that no label contains."""
    for candidate in ";|¦\u241e":
        if not any(candidate in label for label in labels):
            return candidate
    raise KgcError("every array delimiter neo4j-admin could use appears in some node type")


def free_name(preferred: str, taken: set[str]) -> str:
    """``preferred``, or ``Kgc`` + it when the graph already uses the name (a node type called Mention)."""
    name = preferred
    while name.casefold() in {t.casefold() for t in taken}:
        name = "Kgc" + name
    return name


NODE_FIELDS = ("id", "name", "type", "kind", "count", "grounded", "merged_from", "properties", "mentions")
EDGE_FIELDS = (
    "id",
    "head",
    "head_name",
    "head_type",
    "relation",
    "tail",
    "tail_name",
    "tail_type",
    "kind",
    "count",
    "grounded",
    "mentions",
)


def _row(item: dict[str, Any], fields: tuple[str, ...]) -> list[Any]:
    """An item's CSV fields; properties and mentions as JSON text, booleans as true / false."""
    return [store.json_text(item.get(f, [])) if f in ("properties", "mentions", "merged_from")
            else ("true" if item[f] else "false") if f == "grounded" else item[f] for f in fields]


def _write_csv(path: str, header: list[str] | tuple[str, ...], rows: Iterator[list[Any]]) -> int:
    """Write the rows; the size in bytes of the largest (its fields, quoted, and their separators)."""
    largest = 0
    with open(path, "w", encoding="utf-8", newline="") as handle:
        writer = csv.writer(handle)
        writer.writerow(header)
        for row in rows:
            writer.writerow(row)
            size = sum(len(str(field).encode("utf-8")) + 3 for field in row)
            largest = max(largest, size)
    return largest


def _mention_rows(folder: str, label: str, links: list[list[str]], link_type: str) -> Iterator[list[Any]]:
    """One row per mention of every node and edge; a node's links to its mentions collected in ``links``."""
    for kind, items in (("node", nodes(folder)), ("edge", edges(folder))):
        for item in items:
            for number, m in enumerate(item["mentions"]):
                key = f"{item['id']}:{number}"
                if kind == "node":
                    links.append([item["id"], key, link_type])
                yield [key, item["id"] if kind == "node" else "", item["id"] if kind == "edge" else "",
                       m["doc"], "" if m.get("start") is None else m["start"],
                       "" if m.get("end") is None else m["end"], m.get("record") or "", m["text"],
                       m.get("context") or "", m.get("status") or "", label]


def write_neo4j(folder: str, out: str, meta: dict[str, Any]) -> None:
    labels = list(meta["labels"])
    delimiter = array_delimiter(labels)
    mention_label = free_name("Mention", set(labels))
    link_type = free_name("HAS_MENTION", {e["relation"] for e in edges(folder)})
    largest = _write_csv(
        os.path.join(out, "nodes.csv"),
        NEO4J_NODE_HEADER,
        ([*_row(node, NODE_FIELDS[:-1]), len(node["mentions"]), node["type"]] for node in nodes(folder)),
    )
    largest = max(largest, _write_csv(
        os.path.join(out, "relationships.csv"),
        NEO4J_EDGE_HEADER,
        (
            [e["head"], e["tail"], e["relation"], *_row(e, ("id", "kind", "count", "grounded")),
             len(e["mentions"])]
            for e in edges(folder)
        ),
    ))
    links: list[list[str]] = []
    largest = max(largest, _write_csv(os.path.join(out, "mentions.csv"), NEO4J_MENTION_HEADER,
                                      _mention_rows(folder, mention_label, links, link_type)))
    _write_csv(os.path.join(out, "mention_links.csv"), NEO4J_LINK_HEADER, iter(links))
    buffer = read_buffer(largest)
    with open(os.path.join(out, "import.sh"), "w", encoding="utf-8") as handle:
        handle.write(import_script(delimiter, buffer))
    from kgcli.outputs import umask

    os.chmod(os.path.join(out, "import.sh"), 0o777 & ~umask())  # executable, as the umask allows


def read_buffer(largest_row: int) -> int | None:
    """A ``--read-buffer-size`` (bytes, a power of two) that holds the largest row twice over, when the
    default would not; None when the default does."""
    if 2 * largest_row <= READ_BUFFER:
        return None
    size = READ_BUFFER
    while size < 2 * largest_row:
        size *= 2
    return size


IMPORT_SCRIPT = """#!/bin/sh
# Load this graph into Neo4j 5 with neo4j-admin (stop the database first).
#   import.sh [--overwrite] [DATABASE]
# DATABASE defaults to neo4j. A database that exists is never replaced unless --overwrite is given.
# neo4j-admin is $NEO4J_HOME/bin/neo4j-admin (NEO4J_HOME defaults to the current folder); the CSV files
# are read from this script's own folder, by absolute path, wherever it is.
set -eu
overwrite=false
database=neo4j
for arg in "$@"; do
  case "$arg" in
    --overwrite) overwrite=true ;;
    -*) echo "import.sh: unknown option $arg (usage: import.sh [--overwrite] [DATABASE])" >&2; exit 2 ;;
    *) database=$arg ;;
  esac
done
here=$(cd "$(dirname "$0")" && pwd -P)
exec "${{NEO4J_HOME:-.}}/bin/neo4j-admin" database import full \\
  {files} \\
  --multiline-fields=true --array-delimiter={delimiter}{buffer} \\
  --overwrite-destination="$overwrite" "$database"
"""


def import_script(delimiter: str, buffer: int | None) -> str:
    files = " ".join(f'--{kind}="$here/{name}"' for kind, names in NEO4J_FILES.items() for name in names)
    size = f" --read-buffer-size={buffer // (1024 * 1024)}m" if buffer else ""
    return IMPORT_SCRIPT.format(files=files, delimiter=_shell_quote(delimiter), buffer=size)


def _shell_quote(text: str) -> str:
    return "'" + text.replace("'", "'\\''") + "'"


# ---- Cypher -----------------------------------------------------------------------------------------
# Only what a string literal cannot hold as it is: its quote, the escape character, and the line breaks
# (cypher-shell reads a ``:param`` command to the end of its line). Every other character is written raw:
# Neo4j, LadybugDB and FalkorDB read raw control characters alike, while their escapes differ (FalkorDB has
# no ``\\uXXXX``: it would keep the six characters).
_CYPHER_ESCAPES = {"\\": "\\\\", '"': '\\"', "\n": "\\n", "\r": "\\r"}


def cypher_literal(value: Any) -> str:
    """A Cypher literal of a parameter value: strings double-quoted with Cypher's escapes, maps with
    back-quoted keys, lists, integers, booleans and null."""
    if isinstance(value, str):
        return '"' + "".join(_CYPHER_ESCAPES.get(c, c) for c in value) + '"'
    if value is None:
        return "null"
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, int):
        return str(value)
    if isinstance(value, dict):
        return "{" + ", ".join(f"{store.quote_name(k)}: {cypher_literal(v)}" for k, v in value.items()) + "}"
    if isinstance(value, list):
        return "[" + ", ".join(cypher_literal(v) for v in value) + "]"
    raise TypeError(f"no Cypher literal for {type(value).__name__}")


def _batches(rows: Iterator[tuple[Any, dict]]) -> Iterator[tuple[Any, list[dict]]]:
    """Consecutive rows with the same key, BATCH at a time."""
    key, batch = None, []
    for row_key, row in rows:
        if batch and (row_key != key or len(batch) >= BATCH):
            yield key, batch
            batch = []
        key = row_key
        batch.append(row)
    if batch:
        yield key, batch


# cypher-shell splits a script into statements reading ``\`` as an escape even inside back-quotes, where
# Cypher does not: a label ending in ``\`` would hide its closing back-quote from the splitter, and a later
# ``;`` in a name would end a statement early. Labels and relationship types are written with this look-alike
# instead (values are parameters and keep their backslashes).
SHELL_BACKSLASH = "\uff3c"  # ＼ FULLWIDTH REVERSE SOLIDUS


def shell_safe_name(name: str) -> str:
    """A back-quoted label or relationship type that cypher-shell splits as Cypher reads it."""
    return store.quote_name(name.replace("\\", SHELL_BACKSLASH))


def write_cypher(folder: str, handle: IO[bytes]) -> None:
    labels = sorted({node["type"] for node in nodes(folder)})
    relations = {edge["relation"] for edge in edges(folder)}
    changed = sum("\\" in name for name in (*labels, *relations))
    if changed:
        warn(f"{changed} label(s) or relationship type(s) hold a backslash, written as {SHELL_BACKSLASH} in "
             "the Cypher script (cypher-shell would read it as an escape and split the script wrongly)")
    write = handle.write
    write(b"// kgc graph: run with  cypher-shell -f FILE  (Neo4j 5). Every value is a parameter.\n")
    for label in labels:
        name = shell_safe_name(label)
        write(f"CREATE CONSTRAINT IF NOT EXISTS FOR (n:{name}) REQUIRE n.id IS UNIQUE;\n".encode())
    node_rows = (
        (
            node["type"],
            {
                "id": node["id"],
                "name": node["name"],
                "type": node["type"],
                "kind": node["kind"],
                "count": node["count"],
                "grounded": node["grounded"],
                "merged_from": store.json_text(node.get("merged_from", [])),
                "properties": store.json_text(node["properties"]),
                "mentions": store.json_text(node["mentions"]),
            },
        )
        for node in sorted(nodes(folder), key=lambda n: (n["type"], n["id"]))
    )
    for label, batch in _batches(node_rows):
        write(f":param rows => {cypher_literal(batch)}\n".encode())
        write(
            (
                f"UNWIND $rows AS row MERGE (n:{shell_safe_name(label)} {{id: row.id}}) "
                "SET n.name = row.name, n.type = row.type, n.kind = row.kind, n.count = row.count, "
                "n.grounded = row.grounded, n.merged_from = row.merged_from, n.properties = row.properties, "
                "n.mentions = row.mentions;\n"
            ).encode()
        )
    edge_rows = (
        (
            (e["relation"], e["head_type"], e["tail_type"]),
            {
                "start": e["head"],
                "end": e["tail"],
                "id": e["id"],
                "kind": e["kind"],
                "count": e["count"],
                "grounded": e["grounded"],
                "mentions": store.json_text(e["mentions"]),
            },
        )
        for e in sorted(edges(folder), key=lambda e: (e["relation"], e["head_type"], e["tail_type"], e["id"]))
    )
    for (relation, head, tail), batch in _batches(edge_rows):
        write(f":param rows => {cypher_literal(batch)}\n".encode())
        write(
            (
                f"UNWIND $rows AS row MATCH (a:{shell_safe_name(head)} {{id: row.start}}), "
                f"(b:{shell_safe_name(tail)} {{id: row.end}}) "
                f"MERGE (a)-[r:{shell_safe_name(relation)} {{id: row.id}}]->(b) "
                "SET r.kind = row.kind, r.count = row.count, r.grounded = row.grounded, "
                "r.mentions = row.mentions;\n"
            ).encode()
        )


# ---- GraphML, CSV, triples --------------------------------------------------------------------------
# Characters XML 1.0 cannot hold (C0 controls but tab, LF and CR; surrogates; U+FFFE and U+FFFF): a GraphML
# file with one of them is ill-formed, and no parser opens it.
_NOT_XML = re.compile("[\x00-\x08\x0b\x0c\x0e-\x1f\ud800-\udfff\ufffe\uffff]")


class _XmlText:
    """Strings made XML 1.0 text: what it cannot hold becomes U+FFFD, counted for one warning."""

    def __init__(self) -> None:
        self.replaced = 0

    def __call__(self, text: str) -> str:
        cleaned, count = _NOT_XML.subn("\ufffd", text)
        self.replaced += count
        return cleaned


def write_graphml(folder: str, handle: IO[bytes]) -> None:
    import networkx

    xml = _XmlText()
    graph = networkx.MultiDiGraph()
    for node in nodes(folder):
        graph.add_node(
            node["id"],
            name=xml(node["name"]),
            type=xml(node["type"]),
            kind=node["kind"],
            count=node["count"],
            grounded=node["grounded"],
            merged_from=xml(store.json_text(node.get("merged_from", []))),
            properties=xml(store.json_text(node["properties"])),
            mentions=xml(store.json_text(node["mentions"])),
        )
    for edge in edges(folder):
        graph.add_edge(
            edge["head"],
            edge["tail"],
            key=edge["id"],
            relation=xml(edge["relation"]),
            kind=edge["kind"],
            count=edge["count"],
            grounded=edge["grounded"],
            mentions=xml(store.json_text(edge["mentions"])),
        )
    import io

    buffer = io.BytesIO()
    networkx.write_graphml(graph, buffer, encoding="utf-8")
    # ElementTree writes a carriage return in text as it is, and every XML parser reads CR LF back as LF: as
    # a character reference it survives (the serialiser itself never writes one: its line breaks are LF)
    handle.write(buffer.getvalue().replace(b"\r", b"&#13;"))
    if xml.replaced:
        warn(f"{xml.replaced} character(s) that XML cannot hold (control characters) were written as U+FFFD "
             "in the GraphML file")


def write_csv(folder: str, out: str) -> None:
    """Plain CSV, for spreadsheets: cells that would run as formulas start with ``'`` (the Neo4j folder
    keeps values exact: neo4j-admin reads text, and a ``'`` would become part of the name)."""
    _write_csv(os.path.join(out, "nodes.csv"), NODE_FIELDS,
               (spreadsheet_row(_row(n, NODE_FIELDS)) for n in nodes(folder)))
    _write_csv(os.path.join(out, "edges.csv"), EDGE_FIELDS,
               (spreadsheet_row(_row(e, EDGE_FIELDS)) for e in edges(folder)))


def write_triples(folder: str, handle: IO[bytes]) -> None:
    for e in edges(folder):
        handle.write(
            orjson.dumps(
                {
                    "head": e["head_name"],
                    "head_type": e["head_type"],
                    "relation": e["relation"],
                    "tail": e["tail_name"],
                    "tail_type": e["tail_type"],
                }
            )
            + b"\n"
        )
    for node in nodes(folder):
        for attribute, values in node["properties"].items():
            for value in values:
                handle.write(
                    orjson.dumps(
                        {
                            "head": node["name"],
                            "head_type": node["type"],
                            "relation": attribute,
                            "tail": value,
                            "tail_type": None,
                        }
                    )
                    + b"\n"
                )


# ---- RDF --------------------------------------------------------------------------------------------
RDF = "http://www.w3.org/1999/02/22-rdf-syntax-ns#"
RDFS = "http://www.w3.org/2000/01/rdf-schema#"
XSD = "http://www.w3.org/2001/XMLSchema#"
PROV = "http://www.w3.org/ns/prov#"


def _part(text: str) -> str:
    return quote(text, safe="")


class Vocabulary:
    """The IRIs a graph is written with, minted under one base IRI."""

    def __init__(self, base: str):
        self.base = base
        self.vocab = f"{base}vocab#"

    def node(self, node: dict[str, Any]) -> str:
        if node["kind"] == "event":
            return f"{self.base}event/{node['id']}"
        return f"{self.base}entity/{_part(node['type'])}/{_part(node['name'])}"

    def type(self, name: str) -> str:
        return f"{self.base}type/{_part(name)}"

    def relation(self, name: str) -> str:
        return f"{self.base}relation/{_part(name)}"

    def attribute(self, name: str) -> str:
        return f"{self.base}attribute/{_part(name)}"

    def edge(self, edge_id: str) -> str:
        return f"{self.base}edge/{edge_id}"

    def mention(self, owner: str, mention: dict[str, Any]) -> str:
        """A mention of one node or edge (``owner``, its id): two edges stated over one span are two
        mentions, each with its own text."""
        doc = _part(str(mention["doc"]))
        if mention.get("start") is None:
            record = _part(str(mention.get("record")))
            return f"{self.base}mention/{owner}/{doc}/record/{record}"
        return f"{self.base}mention/{owner}/{doc}/{mention['start']}-{mention['end']}"

    def term(self, name: str) -> str:
        return self.vocab + name


def rdf_triples(folder: str, base: str) -> Iterator[Any]:
    """The graph as RDF triples (pyoxigraph terms), streamed."""
    from pyoxigraph import Literal, NamedNode, Triple

    v = Vocabulary(base)
    a, label = NamedNode(RDF + "type"), NamedNode(RDFS + "label")
    derived = NamedNode(PROV + "wasDerivedFrom")
    integer, boolean = NamedNode(XSD + "integer"), NamedNode(XSD + "boolean")
    count, kind, key = NamedNode(v.term("count")), NamedNode(v.term("kind")), NamedNode(v.term("id"))
    terms = {
        name: NamedNode(v.term(name))
        for name in ("document", "start", "end", "record", "text", "context", "status", "grounded",
                     "mergedFrom")
    }
    iris: dict[str, Any] = {}
    classes: set[str] = set()
    languages = store.read_languages(folder)

    def text(value: str, docs: set[str]) -> Any:
        """A literal of the documents' text, tagged with their language when they agree on a known one."""
        found = {languages.get(doc) for doc in docs}
        language = found.pop() if len(found) == 1 else None
        return Literal(value, language=language) if language else Literal(value)

    def provenance(subject: Any, owner: str, mentions: list[dict]) -> Iterator[Any]:
        for mention in mentions:
            node = NamedNode(v.mention(owner, mention))
            doc = str(mention["doc"])
            yield Triple(subject, derived, node)
            yield Triple(node, terms["document"], Literal(doc))
            if mention.get("start") is not None:
                yield Triple(node, terms["start"], Literal(str(mention["start"]), datatype=integer))
                yield Triple(node, terms["end"], Literal(str(mention["end"]), datatype=integer))
            if mention.get("record"):
                yield Triple(node, terms["record"], Literal(str(mention["record"])))
            yield Triple(node, terms["text"], text(mention["text"], {doc}))
            if mention.get("context"):
                yield Triple(node, terms["context"], text(mention["context"], {doc}))
            if mention.get("status"):
                yield Triple(node, terms["status"], Literal(mention["status"]))

    def grounded(subject: Any, item: dict[str, Any]) -> Any:
        return Triple(subject, terms["grounded"], Literal("true" if item["grounded"] else "false",
                                                          datatype=boolean))

    for node in nodes(folder):
        subject = iris[node["id"]] = NamedNode(v.node(node))
        class_iri = v.type(node["type"])
        if class_iri not in classes:
            classes.add(class_iri)
            yield Triple(NamedNode(class_iri), a, NamedNode(RDFS + "Class"))
            yield Triple(NamedNode(class_iri), label, Literal(node["type"]))
        yield Triple(subject, a, NamedNode(class_iri))
        docs = {str(m["doc"]) for m in node["mentions"]}
        yield Triple(subject, label, text(node["name"], docs))
        yield Triple(subject, key, Literal(node["id"]))
        yield Triple(subject, kind, Literal(node["kind"]))
        yield Triple(subject, count, Literal(str(node["count"]), datatype=integer))
        yield grounded(subject, node)
        for absorbed in node.get("merged_from", []):  # a name or type it absorbed: "name (type)"
            yield Triple(subject, terms["mergedFrom"], Literal(f"{absorbed['name']} ({absorbed['type']})"))
        for attribute, values in node["properties"].items():
            for value in values:
                yield Triple(subject, NamedNode(v.attribute(attribute)), text(value, docs))
        yield from provenance(subject, node["id"], node["mentions"])
    properties: set[str] = set()
    for edge in edges(folder):
        predicate_iri = v.relation(edge["relation"])
        predicate = NamedNode(predicate_iri)
        if predicate_iri not in properties:
            properties.add(predicate_iri)
            yield Triple(predicate, a, NamedNode(RDF + "Property"))
            yield Triple(predicate, label, Literal(edge["relation"]))
        head, tail = iris[edge["head"]], iris[edge["tail"]]
        yield Triple(head, predicate, tail)
        statement = NamedNode(v.edge(edge["id"]))
        yield Triple(statement, a, NamedNode(RDF + "Statement"))
        yield Triple(statement, NamedNode(RDF + "subject"), head)
        yield Triple(statement, NamedNode(RDF + "predicate"), predicate)
        yield Triple(statement, NamedNode(RDF + "object"), tail)
        yield Triple(statement, key, Literal(edge["id"]))
        yield Triple(statement, kind, Literal(edge["kind"]))
        yield Triple(statement, count, Literal(str(edge["count"]), datatype=integer))
        yield grounded(statement, edge)
        yield from provenance(statement, edge["id"], edge["mentions"])


def write_rdf(folder: str, handle: IO[bytes], fmt: str, base: str) -> None:
    import pyoxigraph

    rdf_format = pyoxigraph.RdfFormat.TURTLE if fmt == "turtle" else pyoxigraph.RdfFormat.JSON_LD
    prefixes = {"kgc": Vocabulary(base).vocab, "rdf": RDF, "rdfs": RDFS, "prov": PROV, "xsd": XSD}
    pyoxigraph.serialize(
        rdf_triples(folder, base), handle, format=rdf_format, prefixes=prefixes if fmt == "turtle" else None
    )
