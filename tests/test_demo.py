"""The demo's synthetic dataset, and `kgc demo` itself at a tiny size (the full run is `make demo`)."""

from __future__ import annotations

import json

import pytest

from kgcli.demo.synthetic import RELATIONS, make_documents, make_records, recipe
from tests.browser import view_renders
from tests.conftest import read_jsonl, run_kgc


@pytest.mark.parametrize("language", ["en", "zh"])
def test_synthetic_data_is_deterministic_consistent_and_test_names_are_unseen(language):
    types, relations, _, _ = recipe(language)
    train, test = make_records("train", 300, language=language), make_records("test", 40, language=language)
    assert train == make_records("train", 300, language=language)
    assert train != make_records("train", 300, seed=8, language=language)
    for record in train + test:
        names = {e["entity"] for e in record["entity"]}
        assert all(name in record["text"] for name in names)
        assert {e["entity_type"] for e in record["entity"]} <= set(types)
        assert all(r["head"] in names and r["tail"] in names and r["relation"] in relations
                   for r in record["relation"])
    seen = {e["entity"] for r in train for e in r["entity"]}
    assert not seen & {e["entity"] for r in test for e in r["entity"]}
    assert {r["relation"] for rec in train for r in rec["relation"]} == set(relations)
    assert any(not rec["relation"] for rec in train)  # sentences with entities but no relation
    assert any("\u4e00" <= ch <= "\u9fff" for ch in train[0]["text"]) == (language == "zh")
    for document in make_documents(2, language=language):  # every mention at its offsets, names unseen
        assert all(document["text"][e["start"]:e["end"]] == e["entity"] for e in document["entity"])
        assert not seen & {e["entity"] for e in document["entity"]}
        assert {r["relation"] for r in document["relation"]} <= set(relations)


@pytest.mark.slow
def test_demo_runs_end_to_end_and_builds_the_documents_gold_graph(tmp_path, tiny_model):
    """Every stage of `kgc demo` as typed, with output in it: in --memorize mode the tiny model learns the
    test document's own chunk answers, so extract, merge and graph must give exactly the document's gold
    graph, listed here as the generator wrote it (how well SmolLM2 learns the task is `make demo`'s)."""
    out = tmp_path / "demo"
    args = ["--memorize", "--preset", "tiny-random-llama-lora", "--steps", "150", "--train-texts", "12",
            "--test-texts", "2", "--documents", "1", "--max-new-tokens", "48"]
    result = run_kgc("demo", "--out", str(out), *args, env={"KGC_TORCH_THREADS": "1"}, check=True)
    for name in ("report.md", "loss.png", "data/train.json", "data/test.json", "data/memorize.json",
                 "adapter/adapter_config.json", "data/synthetic/documents.json", "extracted.json",
                 "eval_documents.json", "graph.html", "graph.png", "graph-exports/graph.ttl",
                 "graph-exports/graph.graphml", "graph-exports/neo4j/import.sh"):
        assert (out / name).is_file(), name
    assert [line.split("]")[0] for line in result.stderr_text.splitlines() if line.startswith("[")] == [
        f"[{i}/9" for i in range(1, 10)]
    nodes = sorted((n["name"], n["type"], n["count"]) for n in read_jsonl(out / "graph" / "nodes.jsonl"))
    assert nodes == [("Anvil Logistics", "organization", 3), ("Kenji Petrov", "person", 4),
                     ("Lisbon", "city", 5), ("Ljubljana", "city", 4), ("Quinn Esposito", "person", 3),
                     ("Umbra Foods", "organization", 5), ("Walter Ramos", "person", 2)]
    edges = sorted((e["head_name"], e["relation"], e["tail_name"])
                   for e in read_jsonl(out / "graph" / "edges.jsonl"))
    assert edges == [("Kenji Petrov", "works for", "Anvil Logistics"),
                     ("Kenji Petrov", "works for", "Umbra Foods"),
                     ("Quinn Esposito", "lives in", "Ljubljana"),
                     ("Quinn Esposito", "works for", "Umbra Foods"),
                     ("Umbra Foods", "headquartered in", "Lisbon"),
                     ("Walter Ramos", "lives in", "Ljubljana"),
                     ("Walter Ramos", "works for", "Umbra Foods")]
    (document,) = read_jsonl(out / "data" / "synthetic" / "documents.json")  # the generator's own gold
    gold_nodes = sorted({(e["entity"], e["entity_type"]) for e in document["entity"]})
    assert gold_nodes == sorted(n[:2] for n in nodes)
    assert sorted((r["head"], r["relation"], r["tail"]) for r in document["relation"]) == edges
    summary = json.loads((out / "kgc_demo.json").read_text())
    assert summary["graph"] == {"nodes": 7, "edges": 7, "documents": 1}
    assert len(summary["stage_seconds"]) == 9
    documents = {row["task"]: row["after"] for row in summary["scores"]
                 if row["task"].startswith(("documents", "graph"))}
    perfect = {"P": 100.0, "R": 100.0, "F1": 100.0}
    assert documents == {"documents: entities": perfect, "documents: triples": perfect,
                         "graph: nodes (name + type)": perfect, "graph: edges": perfect,
                         "graph: resolution (B³)": perfect}
    # one node per name: no untyped Entity node beside a typed one, no name left split
    built = list(read_jsonl(out / "graph" / "nodes.jsonl"))
    typed = {n["key"] for n in built if n["type"] != "Entity"}
    assert not [n for n in built if n["type"] == "Entity" and n["key"] in typed]
    assert json.loads((out / "graph" / "graph.json").read_text())["split_names"] == []
    report = (out / "report.md").read_text()
    assert "![graph](graph.png)" in report and "![loss](loss.png)" in report and "kgc graph build" in report
    assert "| graph: nodes (name + type) | – | – | – | 100.00 | 100.00 | 100.00 | – |" in report
    view_renders(out / "graph.html", 7, 7, tmp_path / "profile")  # the graph issue's browser check
    (tmp_path / "mine").mkdir()
    (tmp_path / "mine" / "notes.txt").write_text("keep me")
    refused = run_kgc("demo", "--out", str(tmp_path / "mine"))
    assert refused.returncode == 2 and (tmp_path / "mine" / "notes.txt").read_text() == "keep me"


def test_an_earlier_demo_folder_is_replaced_and_any_other_folder_refused(tmp_path):
    from kgcli.demo.run import MARKER, prepare_folder
    from kgcli.errors import KgcError

    out = tmp_path / "demo"
    prepare_folder(out)
    (out / "old.json").write_text("{}")
    prepare_folder(out)
    assert sorted(p.name for p in out.iterdir()) == [MARKER]
    (out / MARKER).unlink()
    (out / "notes.txt").write_text("keep me")
    with pytest.raises(KgcError, match="not written by kgc demo"):
        prepare_folder(out)
    assert (out / "notes.txt").read_text() == "keep me"


def test_balancing_keeps_every_filled_relation_and_thins_the_empty_ones_per_relation(tmp_path):
    from kgcli.demo.run import DemoSettings, balance_relations, write_data
    from kgcli.errors import KgcError

    plain = write_data(tmp_path / "plain", DemoSettings(out=str(tmp_path / "plain"), re_filled_share=None))
    lines = (tmp_path / "plain" / "data" / "train_RE.json").read_text().splitlines(keepends=True)
    kept = balance_relations(lines, 0.6, seed=7)
    assert set(kept) <= set(lines) and kept == [line for line in lines if line in kept]  # order kept

    def tally(records: list[str]) -> dict[tuple[str, bool], int]:
        counts: dict[tuple[str, bool], int] = {}
        for line in records:
            ((relation, triples),) = json.loads(json.loads(line)["output"]).items()
            counts[relation, bool(triples)] = counts.get((relation, bool(triples)), 0) + 1
        return counts

    before, after = tally(lines), tally(kept)
    for relation in RELATIONS:
        assert after[relation, True] == before[relation, True]  # every filled instruction stays
        assert after[relation, False] < before[relation, False]
        assert abs(after[relation, True] / (after[relation, True] + after[relation, False]) - 0.6) < 0.01
    assert kept == balance_relations(lines, 0.6, seed=7) and plain["train"].is_file()
    three = write_data(tmp_path / "three", DemoSettings(out=str(tmp_path / "three"), re_split_num=None,
                                                        re_filled_share=None))
    assert three["train"].is_file()
    with pytest.raises(KgcError, match="one relation per RE instruction"):
        balance_relations((tmp_path / "three" / "data" / "train_RE.json").read_text().splitlines(), 0.6, 7)


def test_the_chinese_demo_data_is_chinese_through_and_through(tmp_path):
    out = tmp_path / "zh"
    result = run_kgc("demo", "--data-only", "--language", "zh", "--out", str(out), check=True)
    assert "synthetic Chinese NER + RE" in result.stderr_text
    raw = out / "data" / "synthetic"
    assert json.loads((raw / "ner_schema.json").read_text().splitlines()[0]) == ["人物", "地点", "机构"]
    relations = json.loads((raw / "re_schema.json").read_text().splitlines()[1])
    assert relations == ["任职于", "居住在", "总部位于"]
    records = list(read_jsonl(out / "data" / "test.json"))
    sentences = {json.loads(r["instruction"])["instruction"] for r in records}
    assert all("抽取" in sentence for sentence in sentences) and {r["task"] for r in records} == {"NER", "RE"}
    documents = list(read_jsonl(raw / "documents.json"))
    assert [d["id"] for d in documents] == [f"doc-zh-{n}" for n in range(1, 5)]
    assert all("\n\n" in d["text"] and " " not in d["text"] for d in documents)
