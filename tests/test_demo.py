"""The demo's synthetic dataset, and `kgc demo` itself at a tiny size (the full run is `make demo`)."""

from __future__ import annotations

import json

import pytest

from kgcli.demo.synthetic import RELATIONS, make_records
from tests.browser import view_renders
from tests.conftest import read_jsonl, run_kgc


def test_synthetic_data_is_deterministic_consistent_and_test_names_are_unseen():
    train, test = make_records("train", 300), make_records("test", 40)
    assert train == make_records("train", 300) and train != make_records("train", 300, seed=8)
    for record in train + test:
        names = {e["entity"] for e in record["entity"]}
        assert all(name in record["text"] for name in names)
        assert all(r["head"] in names and r["tail"] in names and r["relation"] in RELATIONS
                   for r in record["relation"])
    seen = {e["entity"] for r in train for e in r["entity"]}
    assert not seen & {e["entity"] for r in test for e in r["entity"]}
    assert {r["relation"] for rec in train for r in rec["relation"]} == set(RELATIONS)
    assert any(not rec["relation"] for rec in train)  # sentences with entities but no relation


@pytest.mark.slow
def test_demo_runs_end_to_end_and_leaves_its_report(tmp_path, smollm2_dir):
    out = tmp_path / "demo"
    args = ["--steps", "2", "--train-texts", "12", "--test-texts", "2", "--documents", "2",
            "--max-new-tokens", "8"]
    result = run_kgc("demo", "--out", str(out), *args, env={"KGC_TORCH_THREADS": "1"}, check=True)
    for name in ("report.md", "loss.png", "pred_zero_shot.json", "pred_lora.json", "eval_zero_shot.json",
                 "eval_lora.json", "data/train.json", "data/test.json", "adapter/adapter_config.json",
                 "data/synthetic/documents.json", "extracted.json", "eval_documents.json", "graph.html",
                 "graph.png", "graph-exports/graph.ttl", "graph-exports/graph.graphml",
                 "graph-exports/neo4j/import.sh"):
        assert (out / name).is_file(), name
    assert "F1 after" in result.stdout_text and "NER" in result.stdout_text and "RE" in result.stdout_text
    assert [line.split("]")[0] for line in result.stderr_text.splitlines() if line.startswith("[")] == [
        f"[{i}/9" for i in range(1, 10)]
    summary = json.loads((out / "kgc_demo.json").read_text())
    assert [row["task"] for row in summary["scores"]] == ["NER", "RE", "total", "documents: entities",
                                                          "documents: triples"]
    assert len(summary["stage_seconds"]) == 9 and (out / "graph").is_dir()
    report = (out / "report.md").read_text()
    assert "![graph](graph.png)" in report and "![loss](loss.png)" in report and "kgc graph build" in report
    assert len((out / "extracted.json").read_text().splitlines()) == 2  # one merged result per document
    nodes, edges = (len(read_jsonl(out / "graph" / f"{kind}.jsonl")) for kind in ("nodes", "edges"))
    assert summary["graph"]["nodes"] == nodes and summary["graph"]["edges"] == edges
    view_renders(out / "graph.html", nodes, edges, tmp_path / "profile")  # the graph issue's browser check
    again = tmp_path / "again"  # deterministic: a second run gives the same answers, table and graph
    run_kgc("demo", "--out", str(again), *args, env={"KGC_TORCH_THREADS": "1"}, check=True)
    repeat = json.loads((again / "kgc_demo.json").read_text())
    same = ("scores", "relations", "graph")
    assert [repeat[k] for k in same] == [summary[k] for k in same]
    for name in ("pred_zero_shot.json", "pred_lora.json", "extracted.json"):
        assert (again / name).read_bytes() == (out / name).read_bytes(), name
    assert len((out / "pred_lora.json").read_text().splitlines()) == 8  # 2 texts x (NER + one per relation)
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
