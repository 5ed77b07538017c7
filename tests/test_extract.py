"""kgc extract end to end with a real model (the tiny random Llama): documents → chunks → one prediction
stream → merged results, resumable after a kill, leaving no work folder behind. What the merged results
hold is tested with a perfect model in test_extract_route.py."""

from __future__ import annotations

import sys

import pytest

from tests.conftest import ROOT, kill_when_written, read_jsonl, run_kgc

THREADS = {"KGC_TORCH_THREADS": "1", "OMP_NUM_THREADS": "1"}
DOC = " ".join(f"Alice worked in Paris for {i} years. Bob visited Rome in {1990 + i}." for i in range(25))


@pytest.fixture
def folder(tmp_path):
    (tmp_path / "docs").mkdir()
    (tmp_path / "docs" / "a.txt").write_text(DOC, encoding="utf-8")
    (tmp_path / "docs" / "b.md").write_text("Carol was born in Oslo.\n", encoding="utf-8")
    (tmp_path / "ner.json").write_text('["person", "city"]\n[]\n{}\n')
    (tmp_path / "re.json").write_text('[]\n["worked in", "born in"]\n{}\n')
    return tmp_path


def check_documents(path):
    """One result per document, in the folder's order, each counting its chunks and the answers that did
    not parse (the untrained tiny model's answers: what is in them is test_extract_route's subject)."""
    results = read_jsonl(path)
    assert [r["doc_id"] for r in results] == ["a.txt", "b.md"]
    assert all(r["unparsed_answers"] >= 1 and r["chunks"] >= 1 for r in results)
    return results


def tiny_extract(out: str, *extra: str) -> list[str]:
    """``kgc extract`` of the test folder with the tiny model, as typed after ``kgc``."""
    return ["extract", "docs", out, "--preset", "tiny-random-llama-lora", "--task", "NER,RE", "--schema",
            "ner.json,re.json", "--language", "en", "--max-new-tokens", "12", *extra]


def test_extract_with_the_tiny_model_writes_one_result_per_document(folder):
    result = run_kgc(*tiny_extract("out.json"), cwd=folder, env=THREADS, check=True)
    line = result.stderr_text.strip().splitlines()[-1]
    assert line.startswith("extracted: 2 document(s), ") and "record(s) predicted" in line
    results = check_documents(folder / "out.json")
    assert results[0]["chunks"] >= 2 and results[1]["chunks"] == 1
    assert sorted(p.name for p in folder.iterdir()) == ["docs", "ner.json", "out.json", "re.json"]
    again = run_kgc(*tiny_extract("out.json"), cwd=folder, env=THREADS)
    assert again.returncode == 2 and "--overwrite" in again.stderr_text
    # kill -9 in the middle of the prediction stream, then --resume: the uninterrupted run's bytes
    args = tiny_extract("killed.json", "--batch-size", "1")
    predictions = folder / ".killed.json.kgc-extract" / "predictions.json"
    kill_when_written([sys.executable, "-m", "kgcli", *args], predictions, 3,
                      env={**THREADS, "PYTHONPATH": str(ROOT)}, cwd=folder)
    assert not (folder / "killed.json").exists()
    resumed = run_kgc(*args, "--resume", cwd=folder, env=THREADS, check=True)
    assert (folder / "killed.json").read_bytes() == (folder / "out.json").read_bytes()
    assert "extracted: 2 document(s)" in resumed.stderr_text
    assert not predictions.parent.exists()
