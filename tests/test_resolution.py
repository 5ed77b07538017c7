"""One node per real thing across documents: a name's type voted over the whole graph (two thirds of the
votes take the name), untyped relation ends joining the one typed node of their name, homonyms kept apart
and listed, and a graph grown document by document equal to the graph built at once."""

from __future__ import annotations

import json
from pathlib import Path

from tests.conftest import read_jsonl, run_kgc


def document(doc_id: str, text: str, entities: list[tuple[str, str]],
             relations: list[tuple[str, str, str]] = ()) -> dict:
    """A merged document (kgc extract's result) whose every string is grounded at its first occurrence."""
    def mentions(name: str) -> list[dict]:
        start = text.index(name)
        return [{"chunk": 0, "start": start, "end": start + len(name), "record": f"{doc_id}-r",
                 "context": text, "status": "exact"}]

    return {
        "doc_id": doc_id,
        "entities": [{"task": "NER", "text": n, "type": t, "grounded": True, "mentions": mentions(n),
                      "records": [f"{doc_id}-r"]} for n, t in entities],
        "relations": [{"task": "RE", "head": h, "relation": r, "tail": t, "grounded": True,
                       "head_mentions": mentions(h), "tail_mentions": mentions(t), "records": [f"{doc_id}-r"]}
                      for h, r, t in relations],
        "events": [], "arguments": [], "attributes": [], "chunks": 1, "unparsed_answers": 0,
    }


# Aurora Insurance: an organisation in three documents, a city in one (a minority typing); Gdansk: a city
# in one document, an untyped relation end in another; Jordan: two people and two countries (a homonym).
A = [
    document("a1", "Aurora Insurance hired Jordan in Gdansk.",
             [("Aurora Insurance", "organization"), ("Jordan", "person"), ("Gdansk", "city")]),
    document("a2", "Aurora Insurance opened an office.", [("Aurora Insurance", "organization")]),
    document("a3", "Ember Motors is headquartered in Gdansk.", [("Ember Motors", "organization")],
             [("Ember Motors", "headquartered in", "Gdansk")]),
]
B = [
    document("b1", "Aurora Insurance grew; Jordan exported oil.",
             [("Aurora Insurance", "organization"), ("Jordan", "country")]),
    document("b2", "They moved to Aurora Insurance, said Jordan.",
             [("Aurora Insurance", "city"), ("Jordan", "person")]),
    document("b3", "Jordan borders Israel.", [("Jordan", "country"), ("Israel", "country")]),
]


def write(path: Path, documents: list[dict]) -> str:
    path.write_text("".join(json.dumps(d) + "\n" for d in documents))
    return path.name


def nodes_of(graph: Path) -> dict[tuple[str, str], dict]:
    return {(n["name"], n["type"]): n for n in read_jsonl(graph / "nodes.jsonl")}


def test_a_name_takes_the_type_two_thirds_of_its_votes_give_it(tmp_path):
    write(tmp_path / "all.json", A + B)
    result = run_kgc("graph", "build", "all.json", "--out", "graph", cwd=tmp_path, check=True)
    nodes = nodes_of(tmp_path / "graph")
    aurora = [n for n in nodes.values() if n["name"] == "Aurora Insurance"]
    assert [n["type"] for n in aurora] == ["organization"]  # 3 organisation votes of 4
    assert aurora[0]["merged_from"] == [{"name": "Aurora Insurance", "type": "city", "mentions": 1,
                                         "by": "type"}]
    assert aurora[0]["votes"] == {"ner": {"city": 1, "organization": 3}} and aurora[0]["count"] == 4
    # the untyped end joined the one typed node of its name: no Entity node named Gdansk
    assert [t for (name, t) in nodes if name == "Gdansk"] == ["city"]
    (edge,) = read_jsonl(tmp_path / "graph" / "edges.jsonl")
    assert (edge["head_name"], edge["tail_name"], edge["tail_type"]) == ("Ember Motors", "Gdansk", "city")
    assert edge["tail"] == nodes[("Gdansk", "city")]["id"]
    # Jordan: 2 person votes, 2 country votes: a homonym, one node per type, listed with its votes
    assert sorted(t for (name, t) in nodes if name == "Jordan") == ["country", "person"]
    assert ("1 name(s) typed several ways, no type with two thirds of the votes, kept one node per type: "
            "Jordan (country 2, person 2)") in result.stderr_text
    meta = json.loads((tmp_path / "graph" / "graph.json").read_text())
    assert meta["split_names"] == [{"name": "Jordan", "votes": {"ner": {"country": 2, "person": 2}}}]


def test_a_graph_grown_document_by_document_is_the_graph_built_at_once(tmp_path):
    """A then B (where B turns Jordan into a homonym and adds a minority typing of Aurora) = A and B
    built together, byte for byte in the node and edge files."""
    write(tmp_path / "a.json", A)
    write(tmp_path / "b.json", B)
    run_kgc("graph", "build", "a.json", "b.json", "--out", "together", cwd=tmp_path, check=True)
    run_kgc("graph", "build", "a.json", "--out", "grown", cwd=tmp_path, check=True)
    assert [t for (name, t) in nodes_of(tmp_path / "grown") if name == "Jordan"] == ["person"]
    appended = run_kgc("graph", "build", "b.json", "--out", "grown", "--append", cwd=tmp_path, check=True)
    for name in ("nodes.jsonl", "edges.jsonl"):
        assert (tmp_path / "grown" / name).read_bytes() == (tmp_path / "together" / name).read_bytes()
    assert "Jordan (country 2, person 2)" in appended.stderr_text
    # Jordan the person of A kept its id (person is still one of its types): nothing retired but what moved
    assert "retired" not in appended.stderr_text
    # the reverse order too
    run_kgc("graph", "build", "b.json", "--out", "reverse", cwd=tmp_path, check=True)
    run_kgc("graph", "build", "a.json", "--out", "reverse", "--append", cwd=tmp_path, check=True)
    for name in ("nodes.jsonl", "edges.jsonl"):
        assert (tmp_path / "reverse" / name).read_bytes() == (tmp_path / "together" / name).read_bytes()


def test_append_lists_the_ids_it_retires(tmp_path):
    """A: Aurora Insurance is a city (one vote); B adds three organisation votes: the node's id changes,
    and the append says which id replaced which."""
    moved = document("c1", "They moved to Aurora Insurance.", [("Aurora Insurance", "city")])
    write(tmp_path / "a.json", [moved])
    write(tmp_path / "b.json", [d for d in A + B if d["doc_id"] in ("a1", "a2", "b1")])
    run_kgc("graph", "build", "a.json", "--out", "g", cwd=tmp_path, check=True)
    (old,) = [n["id"] for n in read_jsonl(tmp_path / "g" / "nodes.jsonl")]
    result = run_kgc("graph", "build", "b.json", "--out", "g", "--append", cwd=tmp_path, check=True)
    new = nodes_of(tmp_path / "g")[("Aurora Insurance", "organization")]["id"]
    assert f"1 node id(s) retired (the type or name of their node changed): {old} → {new}" in (
        result.stderr_text)
    assert json.loads((tmp_path / "g" / "graph.json").read_text())["retired"] == {old: [new]}


def test_every_export_carries_what_a_node_absorbed(tmp_path):
    write(tmp_path / "all.json", A + B)
    run_kgc("graph", "build", "all.json", "--out", "graph", cwd=tmp_path, check=True)
    absorbed = json.dumps([{"name": "Aurora Insurance", "type": "city", "mentions": 1, "by": "type"}])
    run_kgc("graph", "export", "graph", "--format", "neo4j", "--out", "neo4j", cwd=tmp_path, check=True)
    run_kgc("graph", "export", "graph", "--format", "csv", "--out", "csv", cwd=tmp_path, check=True)
    for folder in ("neo4j", "csv"):
        import csv

        with open(tmp_path / folder / "nodes.csv", encoding="utf-8") as handle:
            rows = list(csv.DictReader(handle))
        (aurora,) = [r for r in rows if r["name"] == "Aurora Insurance"]
        assert json.loads(aurora["merged_from"]) == json.loads(absorbed)
    run_kgc("graph", "export", "graph", "--format", "graphml", "--out", "g.graphml", cwd=tmp_path, check=True)
    import networkx

    graph = networkx.read_graphml(tmp_path / "g.graphml")
    (aurora,) = [d for _, d in graph.nodes(data=True) if d["name"] == "Aurora Insurance"]
    assert json.loads(aurora["merged_from"]) == json.loads(absorbed)
    run_kgc("graph", "export", "graph", "--format", "turtle", "--out", "g.ttl", cwd=tmp_path, check=True)
    import rdflib

    rdf = rdflib.Graph().parse(tmp_path / "g.ttl")
    found = {str(o) for s, p, o in rdf if str(p).endswith("mergedFrom")}
    # Aurora Insurance was a city once; Gdansk an untyped end
    assert found == {"Aurora Insurance (city)", "Gdansk (Entity)"}
