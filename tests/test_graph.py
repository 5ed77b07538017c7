"""The knowledge graph: build, the embedded database, every export loaded back into a real engine, append,
determinism, the document path, and the HTML view in headless Chromium.

Engines: LadybugDB (Cypher) for the GRAPH folder, pyoxigraph (Turtle) and rdflib (JSON-LD) with SPARQL,
networkx for GraphML. No Neo4j server runs here, so the Neo4j CSV files, the import command and the Cypher
script are read by parsers written from Neo4j's documented formats.
"""

from __future__ import annotations

import csv
import hashlib
import json
import os
import re
import subprocess
from pathlib import Path

import pytest

from tests.browser import chromium, view_renders
from tests.conftest import ROOT, read_jsonl, run_kgc
from tests.engines import sparql_reader
from tests.graph_samples import ODD_NAME, T1, T2, prediction_records, write_predictions

LABELS = ("人物", "地点")
RELATION = "出生地"


@pytest.fixture(scope="module")
def graph(tmp_path_factory) -> Path:
    """The sample graph, built once with the command a user types (its one string that is not in its text
    kept, marked: the exports below carry the mark)."""
    folder = tmp_path_factory.mktemp("graph")
    write_predictions(folder / "predictions.json")
    result = run_kgc("graph", "build", "predictions.json", "--out", "graph", "--keep-ungrounded", cwd=folder)
    assert result.returncode == 0, result.stderr_text
    assert "12 node(s), 6 edge(s) from 5 document(s)" in result.stderr_text
    return folder / "graph"


def test_a_string_not_in_its_text_stays_out_of_the_graph_unless_kept(graph, tmp_path):
    write_predictions(tmp_path / "predictions.json")
    result = run_kgc("graph", "build", "predictions.json", "--out", "plain", cwd=tmp_path, check=True)
    assert "11 node(s), 6 edge(s) from 5 document(s)" in result.stderr_text
    plain = {n["name"]: n for n in nodes_of(tmp_path / "plain")}
    kept = {n["name"]: n for n in nodes_of(graph)}
    assert set(kept) - set(plain) == {"不存在的人"} and not kept["不存在的人"]["grounded"]
    assert all(n["grounded"] for n in plain.values())
    assert [n for n in kept.values() if not n["grounded"]] == [kept["不存在的人"]]


def nodes_of(graph: Path) -> list[dict]:
    return read_jsonl(graph / "nodes.jsonl")


def edges_of(graph: Path) -> list[dict]:
    return read_jsonl(graph / "edges.jsonl")


def names(graph: Path) -> set[str]:
    return {n["name"] for n in nodes_of(graph)}


def export(graph: Path, fmt: str, out: Path, *extra: str) -> Path:
    result = run_kgc("graph", "export", str(graph), "--format", fmt, "--out", str(out), *extra)
    assert result.returncode == 0, result.stderr_text
    return out


# ---- what the graph holds ---------------------------------------------------------------------------
def test_the_graph_holds_typed_entities_events_relations_and_their_mentions(graph):
    nodes = {(n["name"], n["type"]): n for n in nodes_of(graph)}
    edges = {(e["head_name"], e["relation"], e["tail_name"]): e for e in edges_of(graph)}
    # RE ends typed by the NER answers on the same text; SPO's object by its schema; no type → Entity
    assert {("张三", "人物"), ("北京", "地点"), ("清华大学", "学校"), ("2008年5月12日", "Entity")} <= set(
        nodes
    )
    # the RE triple and the KG attribute with an entity value are one edge; a plain value is a property
    assert edges[("张三", "出生地", "北京")]["kind"] == "relation"
    assert nodes[("张三", "人物")]["properties"] == {"职业": ["医生"]}
    # an event node with one edge per argument role, the role 地点 beside the node type 地点
    event = nodes[("地震", "地震")]
    assert event["kind"] == "event"
    assert [(m["start"], m["end"]) for m in event["mentions"]] == [(T2.index("地震"), T2.index("地震") + 2)]
    assert edges[("地震", "地点", "四川汶川")]["kind"] == "argument"
    assert edges[("地震", "时间", "2008年5月12日")]["tail_type"] == "Entity"
    # every mention: document, exact offsets, the record, the sentence
    zhang = nodes[("张三", "人物")]["mentions"]
    assert [(m["start"], m["end"], m["context"]) for m in zhang] == [(0, 2, T1)]
    record_ids = {r["id"] for r in prediction_records()}
    assert all(m["record"] in record_ids for n in nodes.values() for m in n["mentions"])
    absent = nodes[("不存在的人", "人物")]
    assert absent["count"] == 1 and absent["mentions"][0]["start"] is None  # kept, never given offsets
    assert absent["grounded"] is False and absent["mentions"][0]["status"] is None
    assert {m["status"] for m in zhang} == {"exact"}
    edge = edges[("张三", "出生地", "北京")]
    assert (edge["mentions"][0]["start"], edge["mentions"][0]["end"]) == (0, T1.index("北京") + 2)


def test_ids_are_digests_of_what_identifies_a_node_or_edge(graph):
    def digest(*parts: str) -> str:
        return hashlib.blake2b("\x1f".join(parts).encode(), digest_size=8).hexdigest()

    nodes = {(n["name"], n["type"]): n["id"] for n in nodes_of(graph)}
    assert nodes[("张三", "人物")] == digest("entity", "人物", "张三")
    assert nodes[("Alice", "person")] == digest("entity", "person", "alice")  # the normalised name
    head, tail = nodes[("张三", "人物")], nodes[("北京", "地点")]
    assert digest("edge", head, "出生地", tail) in {e["id"] for e in edges_of(graph)}


def test_a_rebuild_and_a_shuffled_input_give_the_same_bytes(graph, tmp_path):
    records = prediction_records()
    write_predictions(tmp_path / "reversed.json", records[::-1])
    run_kgc("graph", "build", "reversed.json", "--out", "again", "--keep-ungrounded", cwd=tmp_path,
            check=True)
    for name in ("nodes.jsonl", "edges.jsonl"):
        assert (tmp_path / "again" / name).read_bytes() == (graph / name).read_bytes()


def test_append_of_the_same_documents_changes_nothing_and_new_ones_add_up(graph, tmp_path):
    records = prediction_records()
    write_predictions(tmp_path / "first.json", records[:6])
    write_predictions(tmp_path / "second.json", records[6:])
    run_kgc("graph", "build", "first.json", "--out", "g", "--keep-ungrounded", cwd=tmp_path, check=True)
    before = {n: (tmp_path / "g" / n).read_bytes() for n in ("nodes.jsonl", "edges.jsonl")}
    meta = json.loads((tmp_path / "g" / "graph.json").read_text())
    run_kgc("graph", "build", "first.json", "--out", "g", "--append", "--keep-ungrounded", cwd=tmp_path,
            check=True)
    again = json.loads((tmp_path / "g" / "graph.json").read_text())
    assert (again["nodes"], again["edges"], again["documents"]) == (
        meta["nodes"],
        meta["edges"],
        meta["documents"],
    )
    assert {n: (tmp_path / "g" / n).read_bytes() for n in before} == before
    run_kgc("graph", "build", "second.json", "--out", "g", "--append", "--keep-ungrounded", cwd=tmp_path,
            check=True)
    for name in ("nodes.jsonl", "edges.jsonl"):  # first + second appended = everything built at once
        assert (tmp_path / "g" / name).read_bytes() == (graph / name).read_bytes()
    assert len(json.loads((tmp_path / "g" / "graph.json").read_text())["inputs"]) == 3
    counts = run_kgc(
        "graph", "query", "g", "MATCH (n) RETURN count(*) AS n", "--format", "jsonl", cwd=tmp_path
    )
    assert json.loads(counts.stdout_text) == {"n": len(nodes_of(graph))}  # the database was rebuilt too


# ---- the embedded database ------------------------------------------------------------------------
def query(graph: Path, cypher: str, *params: str) -> list[dict]:
    result = run_kgc("graph", "query", str(graph), cypher, *params, "--format", "jsonl")
    assert result.returncode == 0, result.stderr_text
    return [json.loads(line) for line in result.stdout_text.splitlines()]


def test_the_database_answers_cypher_with_chinese_labels_and_odd_names(graph):
    assert query(graph, "MATCH (n) RETURN count(*) AS n") == [{"n": len(nodes_of(graph))}]
    assert query(graph, "MATCH ()-[r]->() RETURN count(*) AS n") == [{"n": len(edges_of(graph))}]
    born = query(graph, "MATCH (p:人物)-[r:出生地]->(c:地点) RETURN p.name AS p, c.name AS c, r.count AS n")
    assert born == [{"p": "张三", "c": "北京", "n": 1}]
    odd = query(
        graph, "MATCH (p:人物 {name: $name})-[:工作于]->(c) RETURN c.name AS c", f"--param=name={ODD_NAME}"
    )
    assert odd == [{"c": "上海"}]
    tables = {row["name"] for row in query(graph, "CALL show_tables() RETURN name")}
    assert {"人物", "地点", "出生地", "地点_rel"} <= tables  # the role 地点 beside the node type 地点
    roles = query(graph, "MATCH (e:地震)-[r:地点_rel]->(a:地点) RETURN a.name AS a")
    assert roles == [{"a": "四川汶川"}]
    number = query(
        graph, "MATCH (n:人物) WHERE n.count >= $least RETURN count(*) AS n", "--param", "least:=1"
    )
    assert number == [{"n": 3}]


def test_query_prints_a_table_and_csv(graph):
    table = run_kgc("graph", "query", str(graph), "MATCH (p:人物 {name: '张三'}) RETURN p.name, p.count")
    assert table.returncode == 0 and "p.name" in table.stdout_text and "张三" in table.stdout_text
    assert table.stderr_text == "1 row(s)\n"
    rows = run_kgc(
        "graph", "query", str(graph), "MATCH (p:地点) RETURN p.name ORDER BY p.name", "--format", "csv"
    )
    assert list(csv.reader(rows.stdout_text.splitlines())) == [["p.name"], ["上海"], ["北京"], ["四川汶川"]]


# ---- exports, loaded back -------------------------------------------------------------------------
def test_graphml_into_networkx(graph, tmp_path):
    import networkx

    loaded = networkx.read_graphml(export(graph, "graphml", tmp_path / "g.graphml"))
    assert loaded.number_of_nodes() == len(nodes_of(graph))
    assert loaded.number_of_edges() == len(edges_of(graph))
    assert {d["name"] for _, d in loaded.nodes(data=True)} == names(graph)
    assert {d["type"] for _, d in loaded.nodes(data=True)} >= set(LABELS)
    assert RELATION in {d["relation"] for *_, d in loaded.edges(data=True)}


SPARQL_COUNTS = """
PREFIX rdf: <http://www.w3.org/1999/02/22-rdf-syntax-ns#>
PREFIX kgc: <{vocab}>
SELECT (COUNT(DISTINCT ?n) AS ?nodes) (COUNT(DISTINCT ?s) AS ?edges) WHERE {{
  {{ ?n kgc:kind ?k . FILTER NOT EXISTS {{ ?n a rdf:Statement }} }} UNION {{ ?s a rdf:Statement }}
}}"""
SPARQL_NAMES = """
PREFIX rdfs: <http://www.w3.org/2000/01/rdf-schema#>
PREFIX kgc: <{vocab}>
SELECT ?name WHERE {{ ?n kgc:kind ?k ; rdfs:label ?name }}"""
SPARQL_CLASSES = """
PREFIX rdfs: <http://www.w3.org/2000/01/rdf-schema#>
SELECT ?label WHERE {{ ?c a rdfs:Class ; rdfs:label ?label }}"""
SPARQL_BORN = """
PREFIX rdfs: <http://www.w3.org/2000/01/rdf-schema#>
SELECT ?p ?c WHERE {{
  ?a <{base}relation/%E5%87%BA%E7%94%9F%E5%9C%B0> ?b . ?a rdfs:label ?p . ?b rdfs:label ?c
}}"""


@pytest.mark.parametrize("fmt", ["turtle", "jsonld"])
def test_rdf_into_a_triple_store_and_sparql(graph, tmp_path, fmt):
    base = "https://kg.example.org/book/"
    out = export(graph, fmt, tmp_path / f"g.{fmt}", "--base-iri", base)
    vocab = base + "vocab#"
    ask = sparql_reader(out, fmt)

    ((nodes, edges),) = ask(SPARQL_COUNTS.format(vocab=vocab))
    assert (int(nodes), int(edges)) == (len(nodes_of(graph)), len(edges_of(graph)))
    assert {row[0] for row in ask(SPARQL_NAMES.format(vocab=vocab))} == names(graph)
    assert {row[0] for row in ask(SPARQL_CLASSES.format())} >= set(LABELS)
    assert ask(SPARQL_BORN.format(base=base)) == [["张三", "北京"]]
    iris = re.findall(rb"https://kg\.example\.org/[^\s>\"]*", out.read_bytes())
    assert iris and all(re.fullmatch(rb"[\x21-\x7e]+", iri) for iri in iris)  # percent-encoded, never raw


def test_csv_and_triples(graph, tmp_path):
    folder = export(graph, "csv", tmp_path / "csv")
    with open(folder / "nodes.csv", encoding="utf-8", newline="") as handle:
        rows = list(csv.DictReader(handle))
    assert {r["name"] for r in rows} == names(graph) and {r["type"] for r in rows} >= set(LABELS)
    with open(folder / "edges.csv", encoding="utf-8", newline="") as handle:
        assert len(list(csv.DictReader(handle))) == len(edges_of(graph))
    triples = read_jsonl(export(graph, "triples", tmp_path / "triples.json"))
    assert {
        "head": "张三",
        "head_type": "人物",
        "relation": "出生地",
        "tail": "北京",
        "tail_type": "地点",
    } in triples
    assert {
        "head": "张三",
        "head_type": "人物",
        "relation": "职业",
        "tail": "医生",
        "tail_type": None,
    } in triples
    assert len(triples) == len(edges_of(graph)) + 1
    piped = run_kgc("graph", "export", str(graph), "--format", "triples", "--out", "-")
    assert [json.loads(line) for line in piped.stdout_text.splitlines()] == triples


# Neo4j's documented CSV header format (neo4j-admin database import): name:type fields, the :ID / :LABEL /
# :START_ID / :END_ID / :TYPE / :IGNORE keywords (an ID may have a group in parentheses), and these types.
NEO4J_TYPES = {
    "int",
    "long",
    "float",
    "double",
    "boolean",
    "byte",
    "short",
    "char",
    "string",
    "point",
    "date",
    "localtime",
    "time",
    "localdatetime",
    "datetime",
    "duration",
}
HEADER_FIELD = re.compile(
    r"^(?P<name>[^:]*)(?::(?P<kind>ID|LABEL|START_ID|END_ID|TYPE|IGNORE|[a-z]+(?:\[\])?)"
    r"(?:\((?P<group>[^)]*)\))?)?$"
)


def neo4j_header(fields: list[str]) -> list[tuple[str, str | None]]:
    parsed = []
    for field in fields:
        match = HEADER_FIELD.match(field)
        assert match, f"not a Neo4j header field: {field!r}"
        kind = match["kind"]
        if kind and kind.upper() != kind:
            assert kind.removesuffix("[]") in NEO4J_TYPES, field
        parsed.append((match["name"], kind))
    return parsed


def fake_neo4j_home(tmp_path: Path) -> Path:
    """A NEO4J_HOME whose bin/neo4j-admin writes the arguments it was given, one per line."""
    home = tmp_path / "neo4j-home"
    (home / "bin").mkdir(parents=True)
    admin = home / "bin" / "neo4j-admin"
    admin.write_text('#!/bin/sh\nfor a in "$@"; do printf "%s\\n" "$a"; done > "$NEO4J_HOME/args"\n')
    admin.chmod(0o755)
    return home


def run_import(folder: Path, home: Path, *args: str) -> list[str]:
    """``import.sh ARGS`` as a user runs it (from another folder), and the neo4j-admin arguments it gave."""
    elsewhere = home.parent / "elsewhere"
    elsewhere.mkdir(exist_ok=True)
    done = subprocess.run([str(folder / "import.sh"), *args], cwd=elsewhere, capture_output=True, text=True,
                          env={**os.environ, "NEO4J_HOME": str(home)})
    assert done.returncode == 0, done.stderr
    return (home / "args").read_text().splitlines()


def read_neo4j_csv(path: Path) -> tuple[list[tuple[str, str | None]], list[list[str]]]:
    with open(path, encoding="utf-8", newline="") as handle:
        rows = list(csv.reader(handle))
    return neo4j_header(rows[0]), rows[1:]


def test_neo4j_csv_and_import_command_follow_the_documented_format(graph, tmp_path):
    folder = export(graph, "neo4j", tmp_path / "neo4j")
    home = fake_neo4j_home(tmp_path)
    args = run_import(folder, home)
    assert args[:3] == ["database", "import", "full"] and args[-1] == "neo4j"
    assert all(arg.startswith("--") and "=" in arg for arg in args[3:-1])
    options: dict[str, list[str]] = {}
    for arg in args[3:-1]:
        key, value = arg[2:].split("=", 1)
        options.setdefault(key, []).append(value)
    assert options["overwrite-destination"] == ["false"]  # never replaces a database unless asked
    assert options["multiline-fields"] == ["true"]  # a name holds a newline
    assert "read-buffer-size" not in options  # rows are small: the default buffer holds them
    files = options["nodes"] + options["relationships"]
    assert all(Path(f).is_absolute() and Path(f).parent == folder.resolve() and Path(f).exists()
               for f in files)
    assert {Path(f).name for f in files} == {p.name for p in folder.glob("*.csv")}
    asked = run_import(folder, home, "--overwrite", "kg")
    assert asked[-1] == "kg" and "--overwrite-destination=true" in asked
    delimiter = options["array-delimiter"][0]

    header, node_rows = read_neo4j_csv(folder / "nodes.csv")
    kinds = [kind for _, kind in header]
    assert kinds.count("ID") == 1 and kinds.count("LABEL") == 1
    column = {name: at for at, (name, _) in enumerate(header)}
    id_at, label_at = kinds.index("ID"), kinds.index("LABEL")
    ids = {row[id_at] for row in node_rows}
    assert len(ids) == len(node_rows) == len(nodes_of(graph))
    labels = {label for row in node_rows for label in row[label_at].split(delimiter)}
    assert labels >= set(LABELS) and labels == {n["type"] for n in nodes_of(graph)}
    assert all(int(row[column["count"]]) >= 1 for row in node_rows)
    assert ODD_NAME in {row[column["name"]] for row in node_rows}
    header, edge_rows = read_neo4j_csv(folder / "relationships.csv")
    kinds = [kind for _, kind in header]
    start, end, kind = kinds.index("START_ID"), kinds.index("END_ID"), kinds.index("TYPE")
    assert len(edge_rows) == len(edges_of(graph))
    assert all(row[start] in ids and row[end] in ids for row in edge_rows)
    assert {row[kind] for row in edge_rows} >= {RELATION, "地点"}

    # every mention is a Mention node (its own ID group) naming its node or edge; a node links to its own
    header, mention_rows = read_neo4j_csv(folder / "mentions.csv")
    column = {name: at for at, (name, _) in enumerate(header)}
    assert header[0] == ("id", "ID") and {row[column[""]] for row in mention_rows} == {"Mention"}
    expected = sorted((n["id"], "", m["text"]) for n in nodes_of(graph) for m in n["mentions"])
    expected += sorted(("", e["id"], m["text"]) for e in edges_of(graph) for m in e["mentions"])
    assert sorted((r[column["node"]], r[column["edge"]], r[column["text"]]) for r in mention_rows) == sorted(
        expected)
    _, link_rows = read_neo4j_csv(folder / "mention_links.csv")
    of_node = {row[0]: row[column["node"]] for row in mention_rows if row[column["node"]]}
    assert sorted((start, of_node[mention]) for start, mention, _ in link_rows) == sorted(
        (n, n) for n in of_node.values())


class CypherReader:
    """Cypher literals as the Cypher manual defines them: strings in double or single quotes with the
    escapes \\t \\b \\n \\r \\f \\' \\" \\\\ \\uXXXX \\UXXXXXXXX, maps with plain or back-quoted keys, lists,
    integers, true, false and null."""

    ESCAPES = {"t": "\t", "b": "\b", "n": "\n", "r": "\r", "f": "\f", "'": "'", '"': '"', "\\": "\\"}

    def __init__(self, text: str):
        self.text, self.at = text, 0

    def skip(self) -> None:
        while self.at < len(self.text) and self.text[self.at] in " \t":
            self.at += 1

    def value(self):
        self.skip()
        char = self.text[self.at]
        if char in "\"'":
            return self.string(char)
        if char == "{":
            return self.sequence("}", self.pair, dict)
        if char == "[":
            return self.sequence("]", self.value, list)
        word = re.match(r"-?\d+|true|false|null", self.text[self.at :])
        assert word, self.text[self.at : self.at + 20]
        self.at += len(word[0])
        return {"true": True, "false": False, "null": None}.get(
            word[0], int(word[0]) if word[0][-1].isdigit() else None
        )

    def string(self, quote: str) -> str:
        self.at += 1
        out = []
        while self.text[self.at] != quote:
            char = self.text[self.at]
            assert char != "\n", "a raw newline inside a string literal"
            if char == "\\":
                code = self.text[self.at + 1]
                if code in "uU":
                    width = 4 if code == "u" else 8
                    out.append(chr(int(self.text[self.at + 2 : self.at + 2 + width], 16)))
                    self.at += 2 + width
                    continue
                out.append(self.ESCAPES[code])
                self.at += 2
                continue
            out.append(char)
            self.at += 1
        self.at += 1
        return "".join(out)

    def pair(self):
        self.skip()
        if self.text[self.at] == "`":
            end = self.at + 1
            while True:
                end = self.text.index("`", end)
                if self.text[end : end + 2] != "``":
                    break
                end += 2
            key = self.text[self.at + 1 : end].replace("``", "`")
            self.at = end + 1
        else:
            key = re.match(r"[A-Za-z_]\w*", self.text[self.at :])[0]
            self.at += len(key)
        self.skip()
        assert self.text[self.at] == ":"
        self.at += 1
        return key, self.value()

    def sequence(self, close: str, item, kind):
        self.at += 1
        items = []
        while True:
            self.skip()
            if self.text[self.at] == close:
                self.at += 1
                return kind(items)
            items.append(item())
            self.skip()
            if self.text[self.at] == ",":
                self.at += 1


def test_the_cypher_script_is_parameterised_and_replays_to_the_same_graph(graph, tmp_path):
    script = export(graph, "cypher", tmp_path / "g.cypher").read_text(encoding="utf-8")
    created: dict[str, dict] = {}
    related: set[tuple[str, str, str]] = set()
    rows = None
    statements = [line for line in script.splitlines() if line and not line.startswith("//")]
    for line in statements:
        if line.startswith(":param rows => "):
            reader = CypherReader(line[len(":param rows => ") :])
            rows = reader.value()
            assert reader.at == len(reader.text)
            continue
        assert line.endswith(";")
        plain = re.sub(r"`(?:[^`]|``)*`", "`L`", line)  # labels and types back-quoted…
        assert '"' not in plain and "'" not in plain  # …and no value written into a statement
        labels = [m.replace("``", "`") for m in re.findall(r"`((?:[^`]|``)*)`", line)]
        if line.startswith("CREATE CONSTRAINT"):
            continue
        assert line.startswith("UNWIND $rows AS row ") and rows is not None
        if "MERGE (n:" in line:
            for row in rows:
                created[row["id"]] = {**row, "label": labels[0]}
        else:
            head, tail, relation = labels
            for row in rows:
                assert created[row["start"]]["label"] == head and created[row["end"]]["label"] == tail
                related.add((row["start"], relation, row["end"]))
        rows = None
    assert {row["name"] for row in created.values()} == names(graph)  # quote, backslash, newline survive
    assert {row["label"] for row in created.values()} >= set(LABELS)
    assert related == {(e["head"], e["relation"], e["tail"]) for e in edges_of(graph)}


def test_chinese_labels_stay_distinct_in_every_export(graph, tmp_path):
    """人物, 地点 and 出生地 are three names everywhere (a `[^a-zA-Z0-9_]` → `_` rewrite makes them one)."""
    wanted = {"人物", "地点", "出生地"}
    found = {
        "neo4j": (export(graph, "neo4j", tmp_path / "n4j") / "nodes.csv").read_text()
        + (tmp_path / "n4j" / "relationships.csv").read_text(),
        "cypher": export(graph, "cypher", tmp_path / "g.cypher").read_text(),
        "graphml": export(graph, "graphml", tmp_path / "g.graphml").read_text(),
        "turtle": export(graph, "turtle", tmp_path / "g.ttl").read_text(),
        "jsonld": export(graph, "jsonld", tmp_path / "g.jsonld").read_text(),
        "csv": (export(graph, "csv", tmp_path / "csv") / "nodes.csv").read_text()
        + (tmp_path / "csv" / "edges.csv").read_text(),
        "triples": export(graph, "triples", tmp_path / "t.json").read_text(),
    }
    assert "`人物`" in found["cypher"] and "`出生地`" in found["cypher"] and "`__`" not in found["cypher"]
    for fmt, text in found.items():
        for name in wanted:
            assert name in text or quote_iri(name) in text, (fmt, name)
    meta = json.loads((graph / "graph.json").read_text())
    assert {
        meta["tables"]["nodes"]["人物"],
        meta["tables"]["nodes"]["地点"],
        meta["tables"]["relations"]["出生地"],
    } == wanted


def quote_iri(name: str) -> str:
    from urllib.parse import quote

    return quote(name, safe="")


# ---- the document path ----------------------------------------------------------------------------
def test_merged_documents_and_their_predictions_give_the_same_graph(tmp_path):
    from kgcli.documents.merge import merge_records
    from tests.test_doc_merge import book, chunk_records, gold_of, stub_predictions

    written: dict[str, list[tuple[int, int]]] = {}
    text = "".join(book(chapters=3, sentences=20, spans=written))
    predictions = stub_predictions(chunk_records("book", text), tmp_path)
    (tmp_path / "pred.json").write_text(
        "".join(json.dumps(r, ensure_ascii=False) + "\n" for _, r in predictions)
    )
    documents, _ = merge_records(predictions, "pred.json")
    (tmp_path / "docs.json").write_text("".join(json.dumps(d, ensure_ascii=False) + "\n" for d in documents))
    run_kgc("graph", "build", "docs.json", "--out", "from-docs", cwd=tmp_path, check=True)
    run_kgc("graph", "build", "pred.json", "--out", "from-predictions", cwd=tmp_path, check=True)
    for name in ("nodes.jsonl", "edges.jsonl"):
        assert (tmp_path / "from-docs" / name).read_bytes() == (
            tmp_path / "from-predictions" / name
        ).read_bytes()
    entities, relations = gold_of(text)
    nodes = nodes_of(tmp_path / "from-docs")
    assert {(n["name"], n["type"]) for n in nodes} == entities
    for node in nodes:  # every occurrence in the book, once, with its sentence
        assert [(m["start"], m["end"]) for m in node["mentions"]] == written[node["name"]]
        assert all(node["name"] in m["context"] and m["context"] in text for m in node["mentions"])
    assert {
        (e["head_name"], e["relation"], e["tail_name"]) for e in edges_of(tmp_path / "from-docs")
    } == relations


# ---- the view -------------------------------------------------------------------------------------
def test_the_request_check_sees_a_page_that_fetches_and_nothing_leaves_the_machine(tmp_path):
    from tests.browser import RefusingProxy

    page = tmp_path / "leaky.html"
    page.write_text(
        '<img src="http://leak.example.org/a.png"><script>fetch("https://leak.example.org/b")'
        ".catch(function () {});</script>"
    )
    proxy = RefusingProxy()
    try:
        _, asked = chromium("--dump-dom", page.as_uri(), profile=tmp_path / "profile", proxy=proxy)
    finally:
        proxy.close()
    assert sorted(asked) == ["http://leak.example.org/a.png", "https://leak.example.org/b"]
    # both went to the local proxy, which refused them: the plain request by URL, the https one as a tunnel
    assert {"http://leak.example.org/a.png", "leak.example.org:443"} <= set(proxy.asked)


@pytest.mark.slow
def test_the_html_view_renders_offline_in_headless_chromium(graph, tmp_path):
    from PIL import Image

    result = run_kgc(
        "graph",
        "show",
        str(graph),
        "--out",
        str(tmp_path / "graph.html"),
        "--png",
        str(tmp_path / "graph.png"),
    )
    assert result.returncode == 0, result.stderr_text
    html, colours = view_renders(tmp_path / "graph.html", len(nodes_of(graph)), len(edges_of(graph)),
                                 tmp_path / "profile")
    assert "张三" in html and "出生地" in html
    assert html.count('<li class="node ungrounded"') == 1  # 不存在的人, kept and marked: drawn dashed
    from kgcli.graph.view import colour

    drawn = {tuple(int(colour(t)[i:i + 2], 16) for i in (1, 3, 5)) for t in ("人物", "地点")}
    assert drawn <= colours  # each type in its own colour (the same in every graph)
    picture = Image.open(tmp_path / "graph.png")
    assert picture.size[0] >= 800 and len(picture.convert("RGB").getcolors(maxcolors=1 << 20)) > 20


def test_gold_builds_the_graph_of_a_test_sets_labels(tmp_path):
    raw = [
        {
            "text": "张三出生于北京。",
            "entity": [{"entity": "张三", "entity_type": "人物"}, {"entity": "北京", "entity_type": "地点"}],
            "relation": [{"head": "张三", "relation": "出生地", "tail": "北京"}],
        },
        {
            "text": "李四出生于上海。",
            "entity": [{"entity": "李四", "entity_type": "人物"}, {"entity": "上海", "entity_type": "地点"}],
            "relation": [{"head": "李四", "relation": "出生地", "tail": "上海"}],
        },
    ]
    (tmp_path / "raw.json").write_text("".join(json.dumps(r, ensure_ascii=False) + "\n" for r in raw))
    (tmp_path / "ner.schema").write_text('["人物", "地点"]\n[]\n{}\n')
    (tmp_path / "re.schema").write_text('[]\n["出生地"]\n{}\n')
    for task in ("NER", "RE"):
        run_kgc(
            "convert",
            "raw.json",
            f"{task}.json",
            "--task",
            task,
            "--split",
            "test",
            "--schema",
            f"{task.lower()}.schema",
            cwd=tmp_path,
            check=True,
        )
    result = run_kgc("graph", "build", "NER.json", "RE.json", "--gold", "--out", "gold", cwd=tmp_path)
    assert result.returncode == 0, result.stderr_text
    assert {(n["name"], n["type"]) for n in nodes_of(tmp_path / "gold")} == {
        (e["entity"], e["entity_type"]) for r in raw for e in r["entity"]
    }
    assert {
        (e["head_name"], e["head_type"], e["relation"], e["tail_name"], e["tail_type"])
        for e in edges_of(tmp_path / "gold")
    } == {("张三", "人物", "出生地", "北京", "地点"), ("李四", "人物", "出生地", "上海", "地点")}
    plain = run_kgc("graph", "build", "NER.json", "--out", "no-answers", cwd=tmp_path)
    assert plain.returncode == 2 and "pass --gold" in plain.stderr_text  # no output and no --gold


def test_the_page_keeps_the_best_linked_nodes_and_each_type_keeps_its_colour(tmp_path):
    """--max-nodes keeps the nodes with the most links, then the most mentions, and says what it left out;
    a type has the same colour in every graph, and no two types of one graph share one."""
    from kgcli.graph.view import colour, colours, view_data
    from tests.test_resolution import A, B, write

    write(tmp_path / "all.json", A + B)
    run_kgc("graph", "build", "all.json", "--out", "g", cwd=tmp_path, check=True)
    built = nodes_of(tmp_path / "g")
    degree = {n["id"]: 0 for n in built}
    for edge in edges_of(tmp_path / "g"):
        degree[edge["head"]] += 1
        degree[edge["tail"]] += 1
    data = view_data(str(tmp_path / "g"), 2)
    kept = {n["id"] for n in data["nodes"]}
    best = sorted(built, key=lambda n: (-degree[n["id"]], -n["count"], n["id"]))[:2]
    assert kept == {n["id"] for n in best} and degree[best[0]["id"]] == 1  # the two ends of the one edge
    assert data["left_out"] == f"the {len(built) - 2} with the fewest links and mentions left out"
    assert colours(["person", "city"])["person"] == colours(["person", "organization", "country"])["person"]
    many = colours([f"type {i}" for i in range(20)])
    assert len(set(many.values())) == 20 and colour("person") == colours(["person"])["person"]


def test_the_vendored_page_library_is_the_one_its_readme_names():
    import hashlib

    vendor = ROOT / "kgcli" / "data" / "vendor"
    digest = hashlib.sha256((vendor / "cytoscape.min.js").read_bytes()).hexdigest()
    readme = (vendor / "README.md").read_text()
    assert f"| `{digest}` |" in readme and "| 3.35.0 |" in readme
    assert "Permission is hereby granted" in (vendor / "cytoscape.LICENSE").read_text()
