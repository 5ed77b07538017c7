"""``kgc eval --graph PRED_GRAPH GOLD_GRAPH``: the nodes and edges a user keeps, scored against a gold graph.
Every figure below is derived from what was changed between the two graphs (a node left out, a type
changed, a thing split into two nodes), never copied from a run."""

from __future__ import annotations

import json
import shutil
from pathlib import Path

import pytest

from tests.conftest import read_jsonl, run_kgc
from tests.graph_samples import write_predictions


@pytest.fixture(scope="module")
def graphs(tmp_path_factory) -> Path:
    folder = tmp_path_factory.mktemp("scores")
    write_predictions(folder / "predictions.json")
    run_kgc("graph", "build", "predictions.json", "--out", "gold", "--keep-ungrounded", cwd=folder,
            check=True)
    run_kgc("graph", "build", "predictions.json", "--out", "plain", cwd=folder, check=True)
    return folder


def scored(folder: Path, pred: str, gold: str) -> dict:
    result = run_kgc("eval", "--graph", pred, gold, "--format", "json", cwd=folder, check=True)
    return json.loads(result.stdout_text)["total"]


def edited(folder: Path, name: str, change) -> str:
    """A copy of the gold graph with its nodes file changed by ``change(nodes) -> nodes``."""
    shutil.rmtree(folder / name, ignore_errors=True)
    shutil.copytree(folder / "gold", folder / name)
    nodes = change(read_jsonl(folder / name / "nodes.jsonl"))
    lines = "".join(json.dumps(n, ensure_ascii=False) + "\n" for n in nodes)
    (folder / name / "nodes.jsonl").write_text(lines)
    return name


def test_a_graph_against_itself_scores_100_everywhere(graphs):
    total = scored(graphs, "gold", "gold")
    assert {k: v for k, v in total.items() if k.endswith(("_P", "_R", "_F1"))} == {
        f"{m}_{s}": 100.0 for m in ("node", "node_name", "edge", "edge_untyped") for s in ("P", "R", "F1")}
    assert (total["gold_nodes"], total["gold_edges"]) == (len(read_jsonl(graphs / "gold" / "nodes.jsonl")),
                                                          len(read_jsonl(graphs / "gold" / "edges.jsonl")))


def test_a_node_left_out_costs_recall_only(graphs):
    gold = len(read_jsonl(graphs / "gold" / "nodes.jsonl"))
    plain = len(read_jsonl(graphs / "plain" / "nodes.jsonl"))
    assert gold - plain == 1  # the one string not in its text
    total = scored(graphs, "plain", "gold")
    assert total["node_P"] == 100.0 and total["node_R"] == round(100 * plain / gold, 2)
    assert total["edge_F1"] == 100.0


def test_a_changed_type_costs_the_typed_scores_and_a_split_costs_precision(graphs):
    nodes = read_jsonl(graphs / "gold" / "nodes.jsonl")
    edges = read_jsonl(graphs / "gold" / "edges.jsonl")
    zhang = next(n for n in nodes if n["name"] == "张三")
    touching = sum(zhang["id"] in (e["head"], e["tail"]) for e in edges)
    assert touching >= 1
    retyped = edited(graphs, "retyped", lambda ns: [{**n, "type": "地点"} if n["id"] == zhang["id"] else n
                                                    for n in ns])
    total = scored(graphs, retyped, "gold")
    assert total["node_P"] == total["node_R"] == round(100 * (len(nodes) - 1) / len(nodes), 2)
    assert total["node_name_F1"] == 100.0 and total["edge_untyped_F1"] == 100.0
    assert total["edge_R"] == round(100 * (len(edges) - touching) / len(edges), 2)
    split = edited(graphs, "split", lambda ns: [*ns, {**zhang, "id": "f" * 16}])  # 张三 twice
    total = scored(graphs, split, "gold")
    assert total["node_R"] == 100.0 and total["node_P"] == round(100 * len(nodes) / (len(nodes) + 1), 2)


def test_graph_scores_need_two_graph_folders(graphs):
    one = run_kgc("eval", "--graph", "gold", cwd=graphs)
    assert one.returncode == 2 and one.stderr_text == (
        "kgc: error: --graph scores one graph against another: give PRED_GRAPH GOLD_GRAPH\n")
    missing = run_kgc("eval", "--graph", "gold", "nowhere", cwd=graphs)
    assert missing.returncode == 2 and "nowhere" in missing.stderr_text
    assert "Traceback" not in missing.stderr_text
