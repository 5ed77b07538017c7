"""The graph build in worker processes (a large file of merged documents read in shards, the partitions
added up in parallel) writes the one-process bytes, reports errors at their file line, and reads a file
that mixes merged documents with prediction records in order."""

from __future__ import annotations

import json
import random

import pytest

from kgcli import shards
from kgcli.errors import KgcError
from kgcli.graph import store
from kgcli.graph.build import BuildSettings, build_graph
from tests.test_resolution import document

FIRMS = ["Aurora Insurance", "Ember Motors", "Gdansk Shipyard", "Harbor Bank", "Iris Labs", "Juniper Foods"]
PEOPLE = ["Jordan Lee", "Mara Voss", "Ilya Brandt", "Sana Oku", "Pavel Dunn", "Rita Hale", "Omar Feld"]
CITIES = ["Gdansk", "Lyon", "Porto", "Kyoto", "Quito"]


def corpus(count: int, seed: int = 5) -> list[dict]:
    """Merged documents over shared names: firms written with and without a legal form, a minority of
    documents typing a firm as a city (types settle over the whole graph), untyped relation ends."""
    rng = random.Random(seed)
    documents = []
    for number in range(count):
        firm, person, city = rng.choice(FIRMS), rng.choice(PEOPLE), rng.choice(CITIES)
        written = firm + (" Inc." if number % 3 == 0 else "")
        text = f"{person} works for {written} in {city}, doc {number}."
        firm_type = "city" if number % 7 == 0 else "organization"
        entities = [(person, "person"), (written, firm_type)] + ([(city, "city")] if number % 2 else [])
        documents.append(document(f"d{number}", text, entities,
                                  [(person, "works for", written), (written, "located in", city)]))
    return documents


def write(path, documents: list[dict]) -> str:
    path.write_text("".join(json.dumps(d, ensure_ascii=False) + "\n" for d in documents))
    return str(path)


def built(path: str, out, resolve: str = "names", settings: BuildSettings | None = None) -> dict[str, bytes]:
    build_graph([path], str(out), settings or BuildSettings(resolve=resolve))
    files = {name: (out / name).read_bytes() for name in (store.NODES, store.EDGES, store.META,
                                                            store.LANGUAGES)}
    columns, rows = store.query(str(out), "MATCH (a)-[e]->(b) RETURN e.id, a.id, b.id, e.count ORDER BY e.id")
    files["database"] = json.dumps(rows).encode()
    return files


@pytest.fixture
def small_shards_graph(monkeypatch):
    """Files of a few KB are read in many shards (a build's shard is 8 blocks: 16 KB here)."""
    monkeypatch.setattr(shards, "MIN_BYTES", 1)
    monkeypatch.setattr(shards, "BLOCK_BYTES", 2_000)
    monkeypatch.setenv("KGC_WORKERS", "2")


@pytest.mark.parametrize("resolve", ["names", "aliases"])
def test_workers_write_the_one_process_bytes(tmp_path, small_shards_graph, monkeypatch, resolve):
    source = write(tmp_path / "docs.json", corpus(400))
    assert len(shards.blocks(source, shards.BLOCK_BYTES * 8)) > 4
    parallel = built(source, tmp_path / "parallel", resolve)
    monkeypatch.setenv("KGC_WORKERS", "1")
    single = built(source, tmp_path / "single", resolve)
    assert parallel == single
    nodes = [json.loads(line) for line in parallel[store.NODES].splitlines()]
    meta = json.loads(parallel[store.META])
    assert meta["nodes"] == len(nodes) > 10 and meta["edges"] > 20 and meta["documents"] == 400
    assert any(n["merged_from"] for n in nodes)  # types settled across shards and partitions
    if resolve == "aliases":  # "Ember Motors Inc." (shard 1) and "Ember Motors" (shard 3) are one node
        assert {"Ember Motors", "Ember Motors Inc."} <= set(
            next(n for n in nodes if n["name"].startswith("Ember Motors") and n["type"] == "organization")
            ["forms"])
    # nothing of the workers is left in the graph folder
    assert sorted(p.name for p in (tmp_path / "parallel").iterdir()) == sorted(
        p.name for p in (tmp_path / "single").iterdir())


def test_a_bad_line_in_a_later_shard_is_reported_at_its_file_line(tmp_path, small_shards_graph):
    documents = corpus(400)
    documents[330]["relations"][0]["head_mentions"][0]["start"] = -4
    source = write(tmp_path / "docs.json", documents)
    with pytest.raises(KgcError) as info:
        build_graph([source], str(tmp_path / "graph"), BuildSettings())
    end = documents[330]["relations"][0]["head_mentions"][0]["end"]
    assert str(info.value) == f"{source}:331: a mention's start and end are not character offsets (-4, {end})"
    assert not (tmp_path / "graph").exists()


def test_a_file_that_mixes_in_prediction_records_is_read_in_order(tmp_path, small_shards_graph, monkeypatch):
    documents = corpus(300)
    lines = [json.dumps(d) for d in documents]
    text = "Mara Voss founded Lyon Works."
    lines.insert(250, json.dumps({"id": "p1", "task": "NER", "doc_id": "p1", "chunk": 0, "start": 0,
                                  "instruction": json.dumps({"instruction": "", "schema": ["person"],
                                                             "input": text}),
                                  "output": json.dumps({"person": ["Mara Voss"]})}))
    (tmp_path / "mixed.json").write_text("\n".join(lines) + "\n")
    parallel = built(str(tmp_path / "mixed.json"), tmp_path / "parallel")
    monkeypatch.setenv("KGC_WORKERS", "1")
    assert parallel == built(str(tmp_path / "mixed.json"), tmp_path / "single")
    assert json.loads(parallel[store.META])["documents"] == 301


def test_appending_to_a_large_graph_reads_it_in_workers_with_the_one_process_bytes(tmp_path,
                                                                                    small_shards_graph,
                                                                                    monkeypatch):
    documents = corpus(400)
    first = write(tmp_path / "first.json", documents[:250])
    second = write(tmp_path / "second.json", documents[250:])

    def appended(out) -> dict[str, bytes]:
        build_graph([first], str(out), BuildSettings())
        assert len(shards.blocks(str(out / store.EDGES), shards.BLOCK_BYTES * 8)) > 1
        return built(second, out, settings=BuildSettings(append=True))

    parallel = appended(tmp_path / "parallel")
    monkeypatch.setenv("KGC_WORKERS", "1")
    assert parallel == appended(tmp_path / "single")
    whole = built(write(tmp_path / "all.json", documents), tmp_path / "whole")
    for name in (store.NODES, store.EDGES, "database"):  # A then B is A+B
        assert parallel[name] == whole[name]
