"""``kgc extract --backend ray`` on a local Ray instance: the document route's prediction stream on Ray
replicas gives the local route's bytes, with the gold engine (each record answered from its own label:
annotated documents, a perfect model), also when killed with -9 once answers arrive and resumed."""

from __future__ import annotations

import sys
from pathlib import Path

import pytest

from tests.conftest import kill_when_written, read_jsonl, run_kgc

pytestmark = [pytest.mark.slow, pytest.mark.xdist_group("ray")]
pytest.importorskip("ray")

THREADS = {"KGC_TORCH_THREADS": "1", "OMP_NUM_THREADS": "1"}
TASKS = ["--task", "NER,RE", "--schema", "ner.json,re.json", "--language", "en"]
PRESET = ["--preset", "tiny-random-llama-lora"]
AGENTS = ("ray::DashboardAgent", "ray::RuntimeEnvAgent")  # outlive a driver killed with -9 (test_ray.py)
SPLIT = {"KGC_RAY_ROWS_PER_FILE": "3"}  # the rows Ray reads in files of 3: many files, read in order


@pytest.fixture(scope="module")
def folder(tmp_path_factory) -> Path:
    """The demo's annotated documents (JSON lines: text, entity, relation) and their schemas."""
    folder = tmp_path_factory.mktemp("extract-ray")
    run_kgc("demo", "--data-only", "--out", "demo", cwd=folder, check=True)
    synthetic = folder / "demo" / "data" / "synthetic"
    for name in ("documents.json", "ner_schema.json", "re_schema.json"):
        (folder / name.replace("_schema", "")).write_bytes((synthetic / name).read_bytes())
    return folder


def test_extract_on_ray_gives_the_local_routes_bytes(folder):
    run_kgc("extract", "documents.json", "local.json", *PRESET, "--backend", "gold", *TASKS, cwd=folder,
            check=True)
    result = run_kgc("extract", "documents.json", "ray.json", *PRESET, "--backend", "ray", "--ray-engine",
                     "gold", "--data-parallel", "2", "--batch-size", "2", *TASKS, cwd=folder, check=True,
                     env=SPLIT)
    assert "backend ray, gold engine × 2" in result.stderr_text
    local = (folder / "local.json").read_bytes()
    assert (folder / "ray.json").read_bytes() == local
    documents = read_jsonl(folder / "local.json")
    gold = {(r["head"], r["relation"], r["tail"]) for d in read_jsonl(folder / "documents.json")
            for r in d["relation"]}
    found = {(r["head"], r["relation"], r["tail"]) for d in documents for r in d["relations"]}
    assert len(documents) == 4 and found == gold  # a perfect model's answers, merged per document


def test_extract_on_ray_resumes_after_a_kill_to_the_uninterrupted_bytes(folder):
    small = ["--budget", "40"]  # many chunks: many records
    run_kgc("extract", "documents.json", "whole.json", *PRESET, "--backend", "gold", *TASKS, *small,
            cwd=folder, check=True)
    ray = ["--backend", "ray", "--ray-engine", "gold", "--data-parallel", "2", "--batch-size", "2"]
    argv = [sys.executable, "-m", "kgcli", "extract", "documents.json", "killed.json", *PRESET, *TASKS,
            *small, *ray]
    predictions = folder / ".killed.json.kgc-extract" / "predictions.json"
    # each answer takes 0.3 s and those from line 7 on (the third file of rows) wait for the kill: it lands
    # while answers arrive
    paced = {"KGC_GOLD_PACE": "0.3", "KGC_GOLD_HOLD_FROM": "7", **SPLIT}
    done = kill_when_written(argv, predictions, 1, env=paced, cwd=folder, may_leave=AGENTS)
    total = sum(1 for _ in open(folder / ".killed.json.kgc-extract" / "records.json"))
    assert 1 <= done <= 6 and total > 20 and not (folder / "killed.json").exists()
    result = run_kgc("extract", "documents.json", "killed.json", *PRESET, *TASKS, *small, *ray, "--resume",
                     cwd=folder, check=True, env=SPLIT)
    assert f"({done} already in OUT)" in result.stderr_text
    assert (folder / "killed.json").read_bytes() == (folder / "whole.json").read_bytes()
