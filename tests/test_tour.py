"""The rest of a new user's tour, each step typed as the user types it: dry runs that print what a run would
do, an eval that says why everything scored 0, errors named by their text, the EE table on an 80-column
terminal, format names as case-blind as task names, `-q` after the subcommand, `--show-prompt` when the
call fails, and `kgc eval` on extract's output. (`--adapter out/typo` and `convert --task RE` with an NER
schema are cases of tests/test_bad_input.py: one line, nothing heavy imported.)"""

from __future__ import annotations

import json
import os
import re
import subprocess
from pathlib import Path

import pytest

from tests.conftest import ROOT, iepile_record, run_kgc, write_jsonl
from tests.fake_openai import FakeOpenAI
from tests.graph_samples import built_graph

SCHEMA = '["人物", "地点"]\n[]\n{}\n'


@pytest.fixture()
def folder(tmp_path) -> Path:
    (tmp_path / "ner.json").write_text(SCHEMA, encoding="utf-8")
    records = [iepile_record("NER", ["人物", "地点"], text, label=[{"entity": name, "entity_type": "人物"}],
                             output={"person": [name]})
               for text, name in (("张三在北京工作。", "张三"), ("李四去上海出差。", "李四"))]
    write_jsonl(tmp_path / "pred.json", records)
    write_jsonl(tmp_path / "test.json", [{k: v for k, v in r.items() if k != "output"} for r in records])
    return tmp_path


def test_predict_dry_run_checks_and_prints_the_resolved_settings(folder):
    result = run_kgc("predict", "test.json", "out.json", "--preset", "tiny-random-llama-lora", "--dry-run",
                     cwd=folder, check=True)
    said = result.stdout_text
    for line in ("IN: test.json (2 record(s))", "OUT: out.json (new)", "adapters: none",
                 "backend: hf (batch size 8, cutoff_len 256)",
                 "sampling: max_new_tokens 64, temperature 0.0"):
        assert line in said, said
    assert not (folder / "out.json").exists()
    (folder / "bad.json").write_text('{"id": 1}\n')
    bad = run_kgc("predict", "bad.json", "out.json", "--preset", "tiny-random-llama-lora", "--dry-run",
                  cwd=folder)
    assert bad.returncode == 2 and bad.stderr_text.startswith("kgc: error: bad.json:1:")


def test_extract_dry_run_reads_the_documents_and_prints_the_plan(folder):
    (folder / "docs").mkdir()
    (folder / "docs" / "a.txt").write_text("张三在北京工作。", encoding="utf-8")
    (folder / "docs" / "b.txt").write_text("Alice works in Paris.", encoding="utf-8")
    result = run_kgc("extract", "docs", "out.json", "--task", "NER", "--schema", "ner.json", "--preset",
                     "tiny-random-llama-lora", "--language", "auto", "--dry-run", cwd=folder, check=True)
    said = result.stdout_text
    assert "DOCS: docs (2 document(s): 1 English, 1 Chinese)" in said
    assert "tasks: NER (ner.json); instructions in auto" in said
    assert "model: preset tiny-random-llama-lora" in said and not (folder / "out.json").exists()


def test_eval_says_why_every_score_is_zero_when_every_answer_is_off_schema(folder):
    result = run_kgc("eval", "pred.json", cwd=folder, check=True)
    assert "every answer (2) names only keys its schema does not ask for" in result.stderr_text
    assert "'person' where the schema asks 人物" in result.stderr_text


def test_error_rows_name_the_text_not_a_hex_id(folder):
    result = run_kgc("eval", "pred.json", "--errors", "5", cwd=folder, check=True)
    assert "NER demo 张三在北京工作。" in result.stdout_text
    assert not re.search(r"[0-9a-f]{64}", result.stdout_text)


def test_the_ee_table_fits_an_80_column_terminal(tmp_path):
    schema = [{"event_type": "地震", "trigger": True, "arguments": ["时间", "地点"]}]
    label = [{"event_type": "地震", "event_trigger": "地震",
              "arguments": [{"argument": "四川", "role": "地点"}]}]
    write_jsonl(tmp_path / "ee.json", [iepile_record(
        "EE", schema, "四川发生地震。", label=label,
        output={"地震": [{"trigger": "地震", "arguments": {"时间": "NAN", "地点": "四川"}}]})])
    kgc = ROOT / ".venv" / "bin" / "kgc"
    shown = subprocess.run(["script", "-qec", f"{kgc} eval ee.json", "/dev/null"], cwd=tmp_path,
                           capture_output=True, text=True,
                           env={**os.environ, "COLUMNS": "80", "LINES": "50"})
    assert shown.returncode == 0, shown.stdout
    lines = re.sub(r"\x1b\[[0-9;?]*[a-zA-Z]", "", shown.stdout).replace("\r", "").splitlines()
    assert max(len(line) for line in lines) <= 80
    text = "\n".join(lines)
    for header in ("P", "F1", "event", "samples", "off schema", "地震"):
        assert header in text  # cut into tables that fit, nothing lost
    assert "…" not in text


def test_format_names_are_case_blind_like_task_names(tmp_path):
    graph = built_graph(tmp_path)
    run_kgc("graph", "export", str(graph), "--format", "Turtle", "--out", str(tmp_path / "g.ttl"), check=True)
    assert (tmp_path / "g.ttl").read_text(encoding="utf-8").count("rdfs:label") > 0
    shown = run_kgc("graph", "query", str(graph), "MATCH (n) RETURN count(*) AS n", "--format", "CSV",
                    check=True)
    assert shown.stdout_text.splitlines()[0] == "n"
    assert run_kgc("presets", "list", "--format", "JSON", check=True).stdout_text.lstrip().startswith("[")


def test_quiet_after_the_subcommand(tmp_path):
    graph = built_graph(tmp_path)
    loud = run_kgc("graph", "export", str(graph), "--format", "triples", "--out", "loud.json", cwd=tmp_path,
                   check=True)
    quiet = run_kgc("graph", "export", str(graph), "--format", "triples", "--out", "quiet.json", "-q",
                    cwd=tmp_path, check=True)
    assert loud.stderr_text.startswith("exported triples:") and quiet.stderr_text == ""
    assert (tmp_path / "loud.json").read_bytes() == (tmp_path / "quiet.json").read_bytes()


def test_verbose_after_the_subcommand(tmp_path):
    plain = run_kgc("eval", "missing.json", cwd=tmp_path)
    verbose = run_kgc("eval", "missing.json", "-v", cwd=tmp_path)
    assert plain.returncode == verbose.returncode == 2
    assert "Traceback" not in plain.stderr_text and plain.stderr_text.startswith("kgc: error: missing.json")
    assert "Traceback" in verbose.stderr_text and "kgc: error: missing.json" in verbose.stderr_text


def test_show_prompt_prints_the_prompt_even_when_the_call_fails(tmp_path):
    def broken(body: dict) -> str:
        raise RuntimeError("the server breaks")

    with FakeOpenAI(broken) as server:
        result = run_kgc("icl", "--model", "openai/m", "--api-base", server.url, "--task", "ner",
                         "--language", "en", "--text", "Alice moved to Paris.", "--labels", "person,city",
                         "--show-prompt", "--retries", "0", env={"KGC_CACHE": str(tmp_path)})
    assert result.returncode != 0
    assert "Alice moved to Paris." in result.stderr_text.split("kgc: error:")[0]


def test_eval_on_extract_output_says_to_pass_documents(tmp_path):
    (tmp_path / "extracted.json").write_text(json.dumps({"doc_id": "d", "entities": []}) + "\n")
    result = run_kgc("eval", "extracted.json", cwd=tmp_path)
    assert result.returncode == 2 and result.stderr_text.count("\n") == 1
    assert "merged document" in result.stderr_text and "--documents DOCS" in result.stderr_text
