"""kgc predict (HF backend) and kgc merge on the tiny random Llama: batching does not change greedy
answers, a killed run resumes to the same file, a merged model answers as base + adapter."""

from __future__ import annotations

import json
import os
import re
import subprocess
import sys

import pytest

from tests.conftest import ROOT, kill_when_written, random_lora, run_kgc, write_jsonl

THREADS = {"KGC_TORCH_THREADS": "1", "OMP_NUM_THREADS": "1"}
WORDS = ["Alice", "Bob", "Paris", "Rome", "Acme", "Oslo", "Carol", "Initech", "Lima", "Dave"]


@pytest.fixture(scope="session")
def adapter(tmp_path_factory, tiny_model):
    return random_lora(tiny_model, tmp_path_factory.mktemp("adapter"), seed=1,
                       targets=["q_proj", "v_proj", "down_proj"])


@pytest.fixture(scope="session")
def test_records(tmp_path_factory):
    from kgcli.convert import ConvertConfig, convert_file

    folder = tmp_path_factory.mktemp("data") / "demo"
    folder.mkdir()
    records = [{"text": f"{WORDS[i % 10]} met {WORDS[(i * 3) % 10]} " + "again " * (i % 7),
                "entity": [{"entity": WORDS[i % 10], "entity_type": "person"}]} for i in range(24)]
    write_jsonl(folder / "raw.json", records)
    (folder / "schema.json").write_text('["person", "city", "organization"]\n[]\n{}\n')
    out = folder / "test.json"
    convert_file(str(folder / "raw.json"), str(out), ConvertConfig(task="NER", language="en", split="test",
                                                                    schema_path=str(folder / "schema.json"),
                                                                    split_num=2))
    return out


@pytest.fixture(scope="session")
def adapter_answers(tmp_path_factory, test_records, adapter) -> bytes:
    """OUT of one uninterrupted run with the adapter, one record at a time: what every other way of
    running it (batched, killed and resumed, sharded, from the seed's YAML) must write, byte for byte."""
    out = tmp_path_factory.mktemp("answers") / "b1.json"
    predict(str(test_records), str(out), "--adapter", str(adapter), "--batch-size", "1")
    return out.read_bytes()


def predict(*args, check=True):
    return run_kgc("predict", "--preset", "tiny-random-llama-lora", "--max-new-tokens", "12", *args,
                   env=THREADS,
                   check=check)


def outputs(path):
    return [json.loads(line)["output"] for line in path.read_text().splitlines()]


def test_batch_size_does_not_change_greedy_outputs_and_adapter_does(tmp_path, test_records, adapter,
                                                                    adapter_answers):
    predict(str(test_records), str(tmp_path / "b8.json"), "--adapter", str(adapter), "--batch-size", "8")
    predict(str(test_records), str(tmp_path / "base.json"), "--batch-size", "8")
    assert (tmp_path / "b8.json").read_bytes() == adapter_answers  # batch 8 = batch 1
    with_adapter, base = outputs(tmp_path / "b8.json"), outputs(tmp_path / "base.json")
    assert len(with_adapter) == 48 and all(isinstance(o, str) and o for o in with_adapter)
    assert with_adapter != base
    inputs = [json.loads(line) for line in test_records.read_text().splitlines()]
    written = [json.loads(line) for line in (tmp_path / "b8.json").read_text().splitlines()]
    assert [{k: v for k,
             v in w.items() if k != "output"} for w in written] == inputs  # input order, fields kept


def test_killed_run_resumes_to_the_same_file(tmp_path, test_records, adapter, adapter_answers):
    (tmp_path / "full.json").write_bytes(adapter_answers)
    out = tmp_path / "killed.json"
    args = [sys.executable, "-m", "kgcli", "predict", str(test_records), str(out), "--preset",
            "tiny-random-llama-lora",
            "--max-new-tokens", "12", "--adapter", str(adapter), "--batch-size", "1"]
    lines = kill_when_written(args, out, 10, env=THREADS)
    assert 10 <= lines < 48
    with open(out, "ab") as handle:  # a write cut in the middle of a line
        handle.write(b'{"id": "half')
    refused = run_kgc(*args[3:], env=THREADS)
    assert refused.returncode == 2 and "--resume" in refused.stderr_text
    run_kgc(*args[3:], "--resume", env=THREADS, check=True)
    assert out.read_bytes() == (tmp_path / "full.json").read_bytes()


def test_merged_model_answers_as_base_plus_adapter(tmp_path, test_records, adapter, adapter_answers):
    merged = tmp_path / "merged"
    run_kgc("merge", "--preset", "tiny-random-llama-lora", "--adapter", str(adapter), "--out", str(merged),
            "--ollama", env=THREADS, check=True)
    assert (merged / "kgc_merge.json").exists() and (merged / "model.safetensors").exists()
    modelfile = (merged / "Modelfile").read_text()
    go = re.search(r'^TEMPLATE """(.*?)"""$', modelfile, re.S | re.M).group(1)
    system = re.search(r'^SYSTEM """(.*?)"""$', modelfile, re.S | re.M).group(1)
    with_system = re.fullmatch(r"\{\{ if \.System \}\}(.*)\{\{ else \}\}(.*)\{\{ end \}\}", go, re.S).group(1)
    ollama_prompt = with_system.replace("{{ .System }}", system).replace("{{ .Prompt }}", "hi")
    assert "FROM ." in modelfile and 'PARAMETER stop "<|im_end|>"' in modelfile
    assert "PARAMETER temperature 0" in modelfile
    (tmp_path / "adapter.json").write_bytes(adapter_answers)
    predict(str(test_records), str(tmp_path / "merged.json"), "--model", str(merged))
    assert outputs(tmp_path / "adapter.json") == outputs(tmp_path / "merged.json")
    from transformers import AutoTokenizer

    tokenizer = AutoTokenizer.from_pretrained(merged)
    rendered = tokenizer.apply_chat_template([{"role": "user", "content": "hi"}], tokenize=False,
                                             add_generation_prompt=True)
    chatml = ("<|im_start|>system\nYou are a helpful assistant.<|im_end|>\n<|im_start|>user\nhi<|im_end|>\n"
              "<|im_start|>assistant\n")  # the qwen template, written out by hand
    assert rendered == chatml == ollama_prompt


def test_merging_into_a_quantised_base_is_refused(tmp_path, adapter):
    result = run_kgc("merge", "--preset", "tiny-random-llama-lora", "--set", "bits=4", "--adapter",
                     str(adapter),
                     "--out", str(tmp_path / "merged"))
    assert result.returncode == 2
    assert result.stderr_text.startswith("kgc: error: cannot merge into a 4-bit quantised base")
    assert not (tmp_path / "merged").exists()


def test_convert_predict_eval_pipeline(tmp_path, test_records):
    raw = test_records.parent / "raw.json"
    schema = test_records.parent / "schema.json"
    kgc = f"{sys.executable} -m kgcli"
    command = (f"{kgc} convert {raw} --task NER --language en --split test --schema {schema} "
               f"| {kgc} predict --preset tiny-random-llama-lora --max-new-tokens 8 - - "
               f"| {kgc} eval --task NER --format json -")
    result = subprocess.run(["bash", "-o", "pipefail", "-c", command], capture_output=True, text=True,
                            cwd=ROOT,
                            env={**os.environ, **THREADS})
    # all 24 records went through the three stages; the random model's answers are never JSON, and eval
    # says so and fails the pipeline instead of printing a table of zeros
    assert result.returncode == 2 and result.stdout == "", result.stderr
    assert result.stderr.endswith("kgc: error: <stdin>: none of the 24 answer(s) parses as JSON: is the "
                                  "preset's template the one the model was trained with, or is this a base "
                                  "model?\n")


def test_seed_inference_yaml(tmp_path, test_records, tiny_model, adapter, adapter_answers):
    (tmp_path / "infer.yaml").write_text(
        f"model_name_or_path: {tiny_model}\ncheckpoint_dir: {adapter}\nmodel_name: llama\ntemplate: qwen\n"
        f"input_file: {test_records}\noutput_file: {tmp_path / 'out.json'}\nmax_new_tokens: 12\ncutoff_len: "
        "256\n"
        "predict_with_generate: true\noutput_dir: lora/anything\nbits: 16\n")
    run_kgc("predict", "--config", str(tmp_path / "infer.yaml"), env=THREADS, check=True)
    (tmp_path / "cli.json").write_bytes(adapter_answers)  # the same run typed with flags
    assert outputs(tmp_path / "out.json") == outputs(tmp_path / "cli.json")
    (tmp_path / "bad.yaml").write_text("model_name_or_path: x\nlora_rank: 8\n")
    bad = run_kgc("predict", "--config", str(tmp_path / "bad.yaml"))
    assert bad.returncode == 2 and bad.stderr_text == f"kgc: error: {tmp_path / 'bad.yaml'}: unknown key(s): lora_rank\n"  # noqa: E501


def test_data_parallel_shards_merge_back_in_input_order(tmp_path, test_records, adapter, adapter_answers):
    """Two ranks (as accelerate launch would start them, here one after the other on the CPU)."""
    (tmp_path / "one.json").write_bytes(adapter_answers)
    out = tmp_path / "sharded.json"
    for rank in (1, 0):  # rank 0 merges once every rank is done
        run_kgc("predict", str(test_records), str(out), "--preset", "tiny-random-llama-lora",
                "--max-new-tokens", "12",
                "--adapter", str(adapter), "--num-processes", "2", "--in-launcher",
                env={**THREADS, "RANK": str(rank), "WORLD_SIZE": "2"}, check=True)
    assert out.read_bytes() == (tmp_path / "one.json").read_bytes()
    assert sorted(p.name for p in tmp_path.iterdir()) == ["one.json", "sharded.json"]
    launch = run_kgc("predict", str(test_records), str(out), "--preset", "tiny-random-llama-lora",
                     "--num-processes", "4", "--dry-run", check=True).stdout_text
    assert "accelerate.commands.launch --multi_gpu --num_processes 4 -m kgcli predict" in launch


def test_cpu_engines_are_bound_to_every_core_they_may_use(monkeypatch):
    """One CPU engine computes on all of kgc's cores (vLLM alone keeps one back for its scheduler); replicas
    and tensor-parallel ranks split them; a binding the user set is kept for one engine."""
    from kgcli.errors import KgcError
    from kgcli.predict.vllm_backend import cpu_max_num_seqs, replica_devices

    monkeypatch.delenv("VLLM_CPU_OMP_THREADS_BIND", raising=False)
    monkeypatch.setattr(os, "sched_getaffinity", lambda _pid: {0, 1, 2, 3})
    assert replica_devices(1, 1, on_gpu=False) == [{"VLLM_CPU_OMP_THREADS_BIND": "0,1,2,3"}]
    assert replica_devices(2, 1, on_gpu=False) == [{"VLLM_CPU_OMP_THREADS_BIND": "0,1"},
                                                   {"VLLM_CPU_OMP_THREADS_BIND": "2,3"}]
    assert replica_devices(1, 2, on_gpu=False) == [{"VLLM_CPU_OMP_THREADS_BIND": "0,1|2,3"}]
    with pytest.raises(KgcError, match="needs a core per engine rank"):
        replica_devices(5, 1, on_gpu=False)
    monkeypatch.setenv("VLLM_CPU_OMP_THREADS_BIND", "1-2")
    assert replica_devices(1, 1, on_gpu=False) == [{}]
    assert replica_devices(1, 1, on_gpu=True) == [{}]
    assert cpu_max_num_seqs("/no/such/model", "fp32", 512, 1) == 32  # config unreadable: a fixed guess


def test_cpu_kv_cache_is_sized_from_available_memory(tmp_path, monkeypatch):
    """A quarter of the available memory per engine, shared by replicas, between 1 and 4 GiB; a value the
    user set wins, and a malformed one is one clear error."""
    from kgcli.errors import KgcError
    from kgcli.predict import vllm_backend

    meminfo = tmp_path / "meminfo"
    for available_gib, replicas, expected in ((20, 1, 4), (20, 2, 2), (6, 1, 1), (13, 1, 3)):
        meminfo.write_text(f"MemTotal: 25000000 kB\nMemAvailable: {available_gib * 2**20} kB\n")
        assert vllm_backend.cpu_kv_cache_gib(replicas, str(meminfo)) == expected
    assert vllm_backend.cpu_kv_cache_gib(1, str(tmp_path / "missing")) == 1
    monkeypatch.setenv("VLLM_CPU_KVCACHE_SPACE", "7")
    assert vllm_backend.user_kv_cache_gib() == 7
    monkeypatch.setenv("VLLM_CPU_KVCACHE_SPACE", "2.5")
    with pytest.raises(KgcError, match="whole number of GiB"):
        vllm_backend.user_kv_cache_gib()
