"""Every export of a graph whose names hold what breaks formats — quotes, backslashes, newlines, CRLF, tabs,
emoji, full-width letters, ``NA``, ``Null``, control characters — read back by engines and parsers that
kgc does not write, and compared field by field with kgc's own ``nodes.jsonl`` and ``edges.jsonl``:

- GraphML: networkx and python-igraph;
- Turtle: pyoxigraph with SPARQL; JSON-LD: rdflib with SPARQL;
- the Neo4j import folder: Python's csv under neo4j-admin's documented header rules;
- the Cypher script: FalkorDB (a Cypher database, run for real) replays it; Neo4j's own parser reads every
  statement without a syntax error; FalkorDB, LadybugDB and Neo4j's lexer read every parameter row alike.

Two relations stated over one span (张三 is 李四's 同事 and 朋友) check that each edge cites its own text.
"""

from __future__ import annotations

import csv
import json
import re
from collections import Counter
from pathlib import Path

import pytest

from tests.conftest import iepile_record, read_jsonl, run_kgc
from tests.cypher_shell import split
from tests.engines import cypher_string, falkordb, neo4j_parse, sparql_reader

ODD = ['O"Brien\\Jr\nII', "Carriage\r\nReturn", "Tab\there", "🚀Rocket", "ＡＢＣ公司", "NA", "Esc\x1b[0mape",
       "Form\x0cFeed", "Bell\x07Ring", "Back\\", "It's", "Null"]
NOT_XML = re.compile("[\x00-\x08\x0b\x0c\x0e-\x1f]")
TEXT = "People: " + "; ".join(ODD) + ". They met in 上海."
ZH = "张三和李四是同事，也是朋友。"


def records() -> list[dict]:
    return [
        iepile_record("NER", ["person", "location"], TEXT, output={"person": ODD, "location": ["上海"]}),
        iepile_record("RE", ["met in"], TEXT,
                      output={"met in": [{"subject": n, "object": "上海"} for n in ODD]}),
        iepile_record("NER", ["人物"], ZH, output={"人物": ["张三", "李四"]}),
        iepile_record("RE", ["同事", "朋友"], ZH, output={"同事": [{"subject": "张三", "object": "李四"}],
                                                         "朋友": [{"subject": "张三", "object": "李四"}]}),
    ]


@pytest.fixture(scope="module")
def graph(tmp_path_factory) -> Path:
    folder = tmp_path_factory.mktemp("odd")
    (folder / "predictions.json").write_text(
        "".join(json.dumps(r, ensure_ascii=False) + "\n" for r in records()), encoding="utf-8")
    result = run_kgc("graph", "build", "predictions.json", "--out", "graph", cwd=folder)
    assert result.returncode == 0, result.stderr_text
    names = {n["name"] for n in read_jsonl(folder / "graph" / "nodes.jsonl")}
    assert set(ODD) <= names  # every odd name is in the graph as answered
    return folder / "graph"


def export(graph: Path, fmt: str, out: Path):
    result = run_kgc("graph", "export", str(graph), "--format", fmt, "--out", str(out))
    assert result.returncode == 0, result.stderr_text
    return result


def kgc_nodes(graph: Path) -> dict[str, dict]:
    return {n["id"]: n for n in read_jsonl(graph / "nodes.jsonl")}


def kgc_edges(graph: Path) -> dict[str, dict]:
    return {e["id"]: e for e in read_jsonl(graph / "edges.jsonl")}


def mention_texts(items: dict[str, dict]) -> Counter:
    return Counter((key, m["text"]) for key, item in items.items() for m in item["mentions"])


# ---- GraphML ----------------------------------------------------------------------------------------
def test_graphml_reads_back_exact_in_networkx_and_igraph(graph, tmp_path):
    import igraph
    import networkx

    out = tmp_path / "g.graphml"
    result = export(graph, "graphml", out)
    nodes, edges = kgc_nodes(graph), kgc_edges(graph)
    held = sum(len(NOT_XML.findall(n["name"])) for n in nodes.values())
    assert held == 3 and f"{held} character(s) that XML cannot hold" in result.stderr_text

    def as_written(name: str) -> str:  # what XML cannot hold becomes U+FFFD; everything else exact
        return NOT_XML.sub("\ufffd", name)

    loaded = networkx.read_graphml(out)
    assert {i: d["name"] for i, d in loaded.nodes(data=True)} == {i: as_written(n["name"])
                                                                  for i, n in nodes.items()}
    assert "Carriage\r\nReturn" in {d["name"] for _, d in loaded.nodes(data=True)}  # \r survives
    assert {i: (d["type"], d["count"]) for i, d in loaded.nodes(data=True)} == {
        i: (n["type"], n["count"]) for i, n in nodes.items()}
    assert Counter((i, m["text"]) for i, d in loaded.nodes(data=True) for m in json.loads(d["mentions"])) \
        == mention_texts(nodes)
    assert {k: (h, t, d["relation"]) for h, t, k, d in loaded.edges(keys=True, data=True)} == {
        i: (e["head"], e["tail"], e["relation"]) for i, e in edges.items()}
    assert Counter((k, m["text"]) for *_, k, d in loaded.edges(keys=True, data=True)
                   for m in json.loads(d["mentions"])) == mention_texts(edges)

    other = igraph.Graph.Read_GraphML(str(out))
    assert other.vcount() == len(nodes) and other.ecount() == len(edges)
    assert {v["id"]: v["name"] for v in other.vs} == {i: as_written(n["name"]) for i, n in nodes.items()}
    assert {v["id"]: (v["type"], int(v["count"])) for v in other.vs} == {
        i: (n["type"], n["count"]) for i, n in nodes.items()}
    assert Counter((other.vs[e.source]["id"], e["relation"], other.vs[e.target]["id"]) for e in other.es) \
        == Counter((e["head"], e["relation"], e["tail"]) for e in edges.values())


# ---- RDF --------------------------------------------------------------------------------------------
NAMES = """PREFIX rdfs: <http://www.w3.org/2000/01/rdf-schema#> PREFIX kgc: <{vocab}>
SELECT ?id ?name WHERE {{ ?n kgc:kind ?k ; kgc:id ?id ; rdfs:label ?name . FILTER NOT EXISTS {{ ?n a ?s .
  FILTER(?s = <http://www.w3.org/1999/02/22-rdf-syntax-ns#Statement>) }} }}"""
CITED = """PREFIX prov: <http://www.w3.org/ns/prov#> PREFIX kgc: <{vocab}>
SELECT ?id ?text (lang(?text) AS ?lang) ?doc WHERE {{
  ?s kgc:id ?id ; prov:wasDerivedFrom ?m . ?m kgc:text ?text ; kgc:document ?doc }}"""
EDGES = """PREFIX rdf: <http://www.w3.org/1999/02/22-rdf-syntax-ns#> PREFIX kgc: <{vocab}>
SELECT ?id ?head ?tail WHERE {{ ?s a rdf:Statement ; kgc:id ?id ; rdf:subject ?h ; rdf:object ?t .
  ?h kgc:id ?head . ?t kgc:id ?tail }}"""


@pytest.mark.parametrize("fmt", ["turtle", "jsonld"])
def test_rdf_reads_back_exact_and_each_mention_cites_its_own_text(graph, tmp_path, fmt):
    out = tmp_path / f"g.{fmt}"
    result = export(graph, fmt, out)
    assert "percent-encode" in result.stderr_text and "rdfs:label" in result.stderr_text
    vocab = "http://example.org/kgc/vocab#"
    ask = sparql_reader(out, fmt)

    nodes, edges = kgc_nodes(graph), kgc_edges(graph)
    assert dict(ask(NAMES.format(vocab=vocab))) == {i: n["name"] for i, n in nodes.items()}
    assert {row[0]: (row[1], row[2]) for row in ask(EDGES.format(vocab=vocab))} == {
        i: (e["head"], e["tail"]) for i, e in edges.items()}
    cited = ask(CITED.format(vocab=vocab))
    assert Counter((i, text) for i, text, *_ in cited) == mention_texts(nodes) + mention_texts(edges)
    relations = {(e["head_name"], e["relation"], e["tail_name"]): i for i, e in edges.items()}
    for relation in ("同事", "朋友"):  # one span, two edges: each cites its own relation
        assert {text for i, text, *_ in cited if i == relations[("张三", relation, "李四")]} == {relation}
    languages = {doc: lang for _, _, lang, doc in cited}
    assert set(languages.values()) == {"zh", "en"}
    zh_doc = next(m["doc"] for m in edges[relations[("张三", "同事", "李四")]]["mentions"])
    assert languages[zh_doc] == "zh"


# ---- Neo4j import folder ----------------------------------------------------------------------------
def read_csv(path: Path) -> list[dict[str, str]]:
    with open(path, encoding="utf-8", newline="") as handle:
        rows = list(csv.reader(handle))
    names = [field.split(":")[0] or field for field in rows[0]]  # "name:type" → name; ":LABEL" kept
    return [dict(zip(names, row, strict=True)) for row in rows[1:]]


def test_neo4j_folder_reads_back_exact(graph, tmp_path):
    out = tmp_path / "neo4j"
    export(graph, "neo4j", out)
    nodes, edges = kgc_nodes(graph), kgc_edges(graph)
    rows = read_csv(out / "nodes.csv")
    assert {r["id"]: (r["name"], r[":LABEL"], int(r["count"]), int(r["mentions"])) for r in rows} == {
        i: (n["name"], n["type"], n["count"], len(n["mentions"])) for i, n in nodes.items()}
    rows = read_csv(out / "relationships.csv")
    assert {r["id"]: (r[":START_ID"], r[":TYPE"], r[":END_ID"]) for r in rows} == {
        i: (e["head"], e["relation"], e["tail"]) for i, e in edges.items()}
    mentions = read_csv(out / "mentions.csv")
    assert Counter((r["node"] or r["edge"], r["text"]) for r in mentions) == (
        mention_texts(nodes) + mention_texts(edges))


def test_a_popular_node_keeps_every_row_of_the_neo4j_folder_small(tmp_path):
    """25,000 mentions of one name (one per document): the rows stay under 1 MiB, where a node row holding
    its mentions would pass neo4j-admin's 4 MiB read buffer."""
    count = 25_000
    with open(tmp_path / "predictions.json", "w", encoding="utf-8") as handle:
        for number in range(count):
            text = f"Report {number}: Acme Corporation opened an office in Springfield."
            record = iepile_record("NER", ["organization"], text,
                                   output={"organization": ["Acme Corporation"]})
            handle.write(json.dumps(record, ensure_ascii=False) + "\n")
    assert run_kgc("graph", "build", "predictions.json", "--out", "graph", cwd=tmp_path).returncode == 0
    (acme,) = read_jsonl(tmp_path / "graph" / "nodes.jsonl")
    assert len(acme["mentions"]) == count
    export(tmp_path / "graph", "neo4j", tmp_path / "neo4j")
    largest = 0
    for path in (tmp_path / "neo4j").glob("*.csv"):
        with open(path, encoding="utf-8", newline="") as handle:
            for row in csv.reader(handle):
                largest = max(largest, len(",".join(row).encode("utf-8")))
    assert 0 < largest < 1024 * 1024
    assert len(read_csv(tmp_path / "neo4j" / "mentions.csv")) == count


def test_the_import_script_raises_the_read_buffer_only_when_a_row_needs_it():
    from kgcli.graph.export import import_script, read_buffer

    assert read_buffer(100_000) is None and "--read-buffer-size" not in import_script(";", None)
    assert read_buffer(3 * 1024 * 1024) == 8 * 1024 * 1024
    assert "--read-buffer-size=8m" in import_script(";", read_buffer(3 * 1024 * 1024))


# ---- Cypher -----------------------------------------------------------------------------------------
PARAM = ":param rows => "
ROWS = "UNWIND range(0, size($rows) - 1) AS i UNWIND keys($rows[i]) AS k RETURN i, k, $rows[i][k]"


def plain(value):
    """A value as FalkorDB's reply gives it (booleans as text)."""
    return ("true" if value else "false") if isinstance(value, bool) else value


def test_the_cypher_script_replays_exact_in_falkordb_and_neo4j_and_ladybug_read_it_alike(graph, tmp_path):
    import ladybug

    out = tmp_path / "g.cypher"
    export(graph, "cypher", out)
    statements = split(out.read_text(encoding="utf-8"))
    assert statements and all(s.complete for s in statements)

    # Neo4j's own parser: no syntax error anywhere
    parsed = neo4j_parse([s.text for s in statements])
    assert [(s.text[:60], p["errors"]) for s, p in zip(statements, parsed, strict=True) if p["errors"]] == []

    nodes, edges = kgc_nodes(graph), kgc_edges(graph)
    lady = ladybug.Connection(ladybug.Database(str(tmp_path / "check.lbdb")))
    with falkordb(tmp_path) as db:
        rows = None
        for statement, neo4j in zip(statements, parsed, strict=True):
            if statement.command:
                rows = statement.text[len(PARAM):]
                # the same parameter rows, read by FalkorDB, LadybugDB and Neo4j's lexer
                falkor: dict[int, dict] = {}
                for i, key, value in db.query(f"CYPHER rows={rows} {ROWS}"):
                    falkor.setdefault(i, {})[key] = value
                result = lady.execute(f"RETURN {rows} AS rows")
                ladybug_rows = [{k: plain(v) for k, v in row.items()} for row in result.get_next()[0]]
                assert ladybug_rows == [falkor[i] for i in range(len(falkor))]
                strings = Counter(v for row in falkor.values() for v in row.values()
                                  if isinstance(v, str) and v not in ("true", "false"))
                assert Counter(cypher_string(t) for t in neo4j["strings"]) == strings
                continue
            if statement.text.startswith("CREATE CONSTRAINT"):  # Neo4j-only: FalkorDB indexes instead
                continue
            db.query(f"CYPHER rows={rows} {statement.text}")
        back = {row[0]: row[1:] for row in db.query(
            "MATCH (n) RETURN n.id, n.name, labels(n)[0], n.count, n.mentions")}
        assert {i: (name, label, count) for i, (name, label, count, _) in back.items()} == {
            i: (n["name"], n["type"], n["count"]) for i, n in nodes.items()}
        assert Counter((i, m["text"]) for i, row in back.items() for m in json.loads(row[3])) == (
            mention_texts(nodes))
        related = {row[0]: row[1:] for row in db.query(
            "MATCH (a)-[r]->(b) RETURN r.id, a.id, type(r), b.id, r.mentions")}
        assert {i: tuple(row[:3]) for i, row in related.items()} == {
            i: (e["head"], e["relation"], e["tail"]) for i, e in edges.items()}
        assert Counter((i, m["text"]) for i, row in related.items() for m in json.loads(row[3])) == (
            mention_texts(edges))
