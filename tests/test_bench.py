"""Every benchmark at a tiny size, as `make test` runs it, so none can rot: each runs its kgc side and its
baseline and prints its table (the peer, vLLM and callgrind rows stay in `make bench`). Figures are never
checked here — only that the comparison still runs and still compares like with like."""

from __future__ import annotations

import subprocess
import sys

import pytest

from tests.conftest import ROOT

pytestmark = pytest.mark.slow


def bench(script: str, *args: str) -> str:
    result = subprocess.run([sys.executable, str(ROOT / "bench" / script), *args], capture_output=True,
                            text=True, cwd=ROOT, env={**__import__("os").environ, "KGC_TORCH_THREADS": "1"})
    assert result.returncode == 0, result.stdout[-2000:] + result.stderr[-2000:]
    return result.stdout


def test_convert_and_eval_benches_compare_one_worker_and_all_workers_with_one_baseline():
    convert = bench("convert_bench.py", "--records", "300")
    for split in ("test", "train"):
        row = next(line for line in convert.splitlines() if line.startswith(f"kgc convert --split {split} "))
        assert row.rstrip().endswith("True")  # the same bytes as the baseline's
        one_worker = f"kgc convert --split {split}, one worker"
        assert any(line.startswith(one_worker) for line in convert.splitlines())
    evaluated = bench("eval_bench.py", "--records", "300")
    assert "kgc eval --task NER (whole process)" in evaluated
    assert "kgc eval --task NER (whole process), one worker" in evaluated
    assert "baseline (json, all in memory)" in evaluated


def test_train_bench_runs_the_length_grouped_baseline_warm():
    out = bench("train_bench.py", "--steps", "2")
    assert "Trainer + peft baseline (group_by_length)" in out
    assert "random batches (the earlier baseline)" in out


def test_predict_bench_compares_with_hf_batched_generate(smollm2_dir):
    out = bench("predict_bench.py", "--records", "4", "--batch-size", "2", "--max-new-tokens", "4",
                "--no-vllm")
    assert "(a2) HF batched generate, batches of 2 in input order" in out
    assert "vs HF batched (a2)" in out and "(b) kgc predict hf, --batch-size 2" in out


def test_extract_and_graph_benches_run():
    extract = bench("extract_bench.py", "--no-langextract")
    assert "chapters" in extract and "kgc extract --backend openai (no preset, chat)  4 " in extract
    graph = bench("graph_bench.py", "--triples", "600", "--naive", "60")
    assert "LadybugDB's own bulk load (COPY FROM) of the same tables" in graph
    assert "one MERGE per triple (first 60)" in graph
