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


def stopped_on_its_answers(result, answers: int) -> None:
    """The untrained tiny model answers no JSON: extract says so in one line, exit 2, and writes no OUT
    (what merged results hold is test_extract_route's subject, with a perfect model)."""
    assert result.returncode == 2 and "Traceback" not in result.stderr_text
    assert result.stderr_text.splitlines()[-1].startswith(
        f"kgc: error: none of the {answers} answer(s) fit their schema ({answers} did not parse, 0 named "
        "none of its keys); the model answered e.g. ")


def tiny_extract(out: str, *extra: str) -> list[str]:
    """``kgc extract`` of the test folder with the tiny model, as typed after ``kgc``."""
    return ["extract", "docs", out, "--preset", "tiny-random-llama-lora", "--task", "NER,RE", "--schema",
            "ner.json,re.json", "--language", "en", "--max-new-tokens", "12", *extra]


def test_extract_with_the_tiny_model_streams_every_chunk_and_resumes_after_a_kill(folder):
    """A real model through the whole route: its answers (all unparsed) are kept for --resume; a run killed
    with -9 in the middle of the prediction stream and resumed has the uninterrupted run's answers, byte for
    byte; nothing is written to OUT."""
    result = run_kgc(*tiny_extract("out.json"), cwd=folder, env=THREADS)
    kept = sorted(p.name for p in folder.iterdir())
    assert kept == [".out.json.kgc-extract", "docs", "ner.json", "re.json"]
    whole = (folder / ".out.json.kgc-extract" / "predictions.json").read_bytes()
    records = read_jsonl(folder / ".out.json.kgc-extract" / "predictions.json")
    stopped_on_its_answers(result, len(records))
    assert f"predict: {len(records)} record(s)" in result.stderr_text and len(records) >= 6
    assert [(r["doc_id"], r["task"]) for r in records[:2]] == [("a.txt", "NER"), ("a.txt", "RE")]
    assert [r["doc_id"] for r in records][-2:] == ["b.md", "b.md"]  # (document, chunk, task) order
    args = tiny_extract("killed.json", "--batch-size", "1")
    predictions = folder / ".killed.json.kgc-extract" / "predictions.json"
    kill_when_written([sys.executable, "-m", "kgcli", *args], predictions, 3,
                      env={**THREADS, "PYTHONPATH": str(ROOT)}, cwd=folder)
    assert not (folder / "killed.json").exists()
    resumed = run_kgc(*args, "--resume", cwd=folder, env=THREADS)
    stopped_on_its_answers(resumed, len(records))
    assert predictions.read_bytes() == whole
    assert not (folder / "killed.json").exists()
