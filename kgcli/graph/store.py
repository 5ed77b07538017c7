"""The GRAPH folder and its embedded database (LadybugDB: the maintained fork of Kùzu; Cypher, no server).

A GRAPH folder holds ``nodes.jsonl`` and ``edges.jsonl`` (the graph itself, id-sorted), ``graph.json``
(counts, inputs, versions and the database's table names) and ``graph.lbdb``, the database. In the
database every node type is a node table and every relation a relationship table, so a query reads as
the graph does: ``MATCH (p:人物)-[:出生地]->(c:地点) RETURN p.name, c.name``. Table names are case-blind
in LadybugDB and nodes and relationships share one namespace, so a relation named like a node type (an
event role 地点 beside the entity type 地点) gets the table ``地点_rel``; ``graph.json`` lists every
name's table. The database holds each node's and edge's count and first sentence (``context``), not the
mentions themselves: LadybugDB checkpoints a table in memory, and the mentions (in the JSON-lines files)
would cost their size again there.
"""

from __future__ import annotations

import os
import re
from collections.abc import Callable, Iterable
from typing import Any

import orjson

from kgcli.errors import KgcError
from kgcli.graph.facts import ENTITY

NODES = "nodes.jsonl"
EDGES = "edges.jsonl"
META = "graph.json"
DIGESTS = "documents.json"  # each document's SHA-256, as extracted (kgc graph show --documents checks it)
LANGUAGES = "languages.json"  # each document's language by its script (zh, en), where it has one
DATABASE = "graph.lbdb"
FORMAT = "kgc-graph"
FORMAT_VERSION = 2  # 2: mentions carry their grounding status; nodes and edges `grounded`

NODE_COLUMNS = (
    "id STRING PRIMARY KEY, name STRING, type STRING, kind STRING, count INT64, "
    "properties STRING, context STRING, grounded BOOLEAN"
)
EDGE_COLUMNS = "id STRING, relation STRING, kind STRING, count INT64, context STRING, grounded BOOLEAN"
# LadybugDB takes most of the machine's memory for its buffer pool by default; a table's bulk load and
# checkpoint need about its size.
BUFFER_POOL = 1024 * 1024 * 1024
# CSV as Python's csv module writes it; a file with a line break inside a field needs the one-thread reader.
COPY_OPTIONS = "header=true, parallel={parallel}, quote='\"', escape='\"'"


def json_text(value: Any) -> str:
    """A value as JSON text (properties and mentions in CSV fields and database columns)."""
    return orjson.dumps(value).decode("utf-8")


def quote_name(name: str) -> str:
    """A back-quoted Cypher name (a back-quote inside is doubled): any label survives as it is."""
    return "`" + name.replace("`", "``") + "`"


def table_names(labels: Iterable[str], relations: Iterable[str]) -> dict[str, dict[str, str]]:
    """Each node type's and relation's table name: the name itself, unless a name that differs only in case,
    or a node type, took it first (then ``_rel``, or ``_2``, ``_3``, … appended)."""
    taken: set[str] = set()
    tables: dict[str, dict[str, str]] = {"nodes": {}, "relations": {}}
    labels = {*labels, ENTITY}  # always there, so a query of any node binds even in an empty graph
    for group, names, suffix in (
        ("nodes", sorted(set(labels)), "_2"),
        ("relations", sorted(set(relations)), "_rel"),
    ):
        for name in names:
            table = name.replace("\x00", "\ufffd")
            if table.casefold() in taken:
                table, number = f"{name}{suffix}", 2
                while table.casefold() in taken:
                    number += 1
                    table = f"{name}_{number}"
            taken.add(table.casefold())
            tables[group][name] = table
    return tables


def read_languages(folder: str) -> dict[str, str]:
    """``languages.json``: document → ``zh`` or ``en`` (empty for a graph built before it was kept)."""
    path = os.path.join(folder, LANGUAGES)
    if not os.path.exists(path):
        return {}
    with open(path, "rb") as handle:
        return orjson.loads(handle.read())


def read_meta(folder: str) -> dict[str, Any]:
    """The GRAPH folder's ``graph.json``, checked: a folder that kgc did not write is refused."""
    if not os.path.isdir(folder):
        raise KgcError("no such graph folder (build one with kgc graph build)", folder)
    path = os.path.join(folder, META)
    try:
        with open(path, "rb") as handle:
            meta = orjson.loads(handle.read())
    except FileNotFoundError:
        raise KgcError(f"not a graph folder written by kgc graph build (no {META})", folder) from None
    except orjson.JSONDecodeError:
        raise KgcError(f"{META} is not JSON: not a graph folder written by kgc graph build", folder) from None
    if not isinstance(meta, dict) or meta.get("format") != FORMAT:
        raise KgcError(f"{META} is not a kgc graph's: not a graph folder written by kgc graph build", folder)
    if meta.get("version") != FORMAT_VERSION:
        raise KgcError(
            f"graph format version {meta.get('version')!r}; this kgc reads {FORMAT_VERSION} (build it again)",
            folder,
        )
    for name in (NODES, EDGES, DATABASE):
        if not os.path.exists(os.path.join(folder, name)):
            raise KgcError(f"the graph folder has no {name} (build it again)", folder)
    return meta


def is_graph_folder(folder: str) -> bool:
    return os.path.isfile(os.path.join(folder, META))


def create_database(
    path: str,
    tables: dict[str, dict[str, str]],
    pairs: dict[str, set[tuple[str, str]]],
    node_files: dict[str, str],
    edge_files: dict[tuple[str, str, str], str],
    loaded: Callable[[int], None] | None = None,
    broken: set[str] | None = None,
) -> None:
    """A new database at ``path``: one table per node type and per relation (with every FROM/TO pair of
    types it links), bulk-loaded from the staged CSV files with COPY; ``loaded(1)`` after each file.
    ``broken``: the files with a line break inside a field (read with one thread; the others in parallel);
    None: every file may have one."""

    def options(file: str) -> str:
        return COPY_OPTIONS.format(parallel="false" if broken is None or file in broken else "true")

    import ladybug

    database = ladybug.Database(path, buffer_pool_size=BUFFER_POOL)
    try:
        connection = ladybug.Connection(database)
        for table in tables["nodes"].values():
            connection.execute(f"CREATE NODE TABLE {quote_name(table)}({NODE_COLUMNS})")
        for relation, table in tables["relations"].items():
            ends = ", ".join(
                f"FROM {quote_name(tables['nodes'][a])} TO {quote_name(tables['nodes'][b])}"
                for a, b in sorted(pairs[relation])
            )
            connection.execute(f"CREATE REL TABLE {quote_name(table)}({ends}, {EDGE_COLUMNS})")
        for label, file in node_files.items():
            connection.execute(
                f"COPY {quote_name(tables['nodes'][label])} FROM {_literal(file)} ({options(file)})"
            )
            if loaded:
                loaded(1)
        for (relation, head, tail), file in edge_files.items():
            source, target = tables["nodes"][head], tables["nodes"][tail]
            extra = f", from={_literal(source)}, to={_literal(target)}" if len(pairs[relation]) > 1 else ""
            connection.execute(
                f"COPY {quote_name(tables['relations'][relation])} FROM {_literal(file)} "
                f"({options(file)}{extra})"
            )
            if loaded:
                loaded(1)
        connection.close()
    finally:
        database.close()


def _literal(text: str) -> str:
    return "'" + text.replace("\\", "\\\\").replace("'", "\\'") + "'"


def query(folder: str, cypher: str, parameters: dict[str, Any] | None = None) -> tuple[list[str], list[list]]:
    """(column names, rows) of a Cypher query on a GRAPH folder's database, opened read-only; a query the
    database refuses is the user's mistake, reported in one line."""
    import ladybug

    read_meta(folder)
    database = ladybug.Database(os.path.join(folder, DATABASE), read_only=True)
    try:
        connection = ladybug.Connection(database)
        try:
            result = connection.execute(cypher, parameters or {})
        except RuntimeError as exc:
            message = _first_line(str(exc))
            hint = _quote_hint(cypher, read_meta(folder)) if message.startswith("Parser exception") else ""
            hint = hint or _dialect_hint(cypher, message)
            raise KgcError(f"the query failed: {message}{hint}") from None
        if isinstance(result, list):  # several statements: the last one's rows
            result = result[-1]
        columns, rows = result.get_column_names(), result.get_all()
        connection.close()
        return columns, rows
    finally:
        database.close()


def _quote_hint(cypher: str, meta: dict[str, Any]) -> str:
    """For a query that does not parse: the graph's labels and relations with a space or a hyphen that it
    names without back-quotes (Cypher reads `:works for` as `:works`, then a stray word)."""
    names = [n for n in [*meta.get("labels", {}), *meta.get("relations", {})] if not re.fullmatch(r"\w+", n)]
    found = [n for n in names if re.search(r":\s*" + re.escape(n), cypher)]
    if not found:
        return ""
    return " (a label or relation with a space or a hyphen needs back-quotes: " + ", ".join(
        f":`{n}`" for n in found[:3]) + ")"


# Neo4j habits that LadybugDB's Cypher writes otherwise (README, "Cypher here is LadybugDB's dialect"): what a
# failed query holds → what to write instead
DIALECT_HINTS = (
    (r"\btype\s*\(", "a relationship's type is label(r) here, where Neo4j writes type(r)"),
    (r"\b(?:all)?shortestpaths?\s*\(",
     "a shortest path is written MATCH p = (a)-[* SHORTEST 1..4]->(b) here, not shortestPath(…)"),
    (r"\belementid\s*\(", "a node's kgc id is n.id here; id(n) is the database's internal one"),
)


def _dialect_hint(cypher: str, message: str) -> str:
    """For a query that fails to parse or calls a function the database lacks: the first Neo4j habit it
    holds, and how LadybugDB writes it."""
    if not (message.startswith("Parser exception") or "does not exist" in message):
        return ""
    for pattern, hint in DIALECT_HINTS:
        if re.search(pattern, cypher, flags=re.IGNORECASE):
            return f" ({hint})"
    return ""


def _first_line(message: str) -> str:
    return message.strip().splitlines()[0] if message.strip() else "unknown error"
