"""kgc train on the tiny random Llama (real tokenizer): LoRA learns, the methods save loadable artifacts,
a killed run resumes, and bad configurations stop before any model is loaded."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time

import pytest

from kgcli.convert import ConvertConfig, convert_file
from tests.conftest import ROOT, run_kgc, write_jsonl

THREADS = {"KGC_TORCH_THREADS": "1", "OMP_NUM_THREADS": "1"}
RECORDS = [
    {"text": "Alice lives in Paris.",
     "entity": [{"entity": "Alice", "entity_type": "person"}, {"entity": "Paris", "entity_type": "city"}]},
    {"text": "Bob works at Acme in Rome.",
     "entity": [{"entity": "Bob", "entity_type": "person"}, {"entity": "Acme", "entity_type": "organization"},
                {"entity": "Rome", "entity_type": "city"}]},
    {"text": "Carol visited Berlin.",
     "entity": [{"entity": "Carol", "entity_type": "person"}, {"entity": "Berlin", "entity_type": "city"}]},
    {"text": "Dave founded Initech.",
     "entity": [{"entity": "Dave", "entity_type": "person"},
                {"entity": "Initech", "entity_type": "organization"}]},
]


@pytest.fixture(scope="session")
def train_file(tmp_path_factory, tiny_model):
    folder = tmp_path_factory.mktemp("data") / "demo"
    folder.mkdir()
    write_jsonl(folder / "raw.json", RECORDS)
    (folder / "schema.json").write_text('["person", "city", "organization"]\n[]\n{}\n')
    out = folder / "train.json"
    convert_file(str(folder / "raw.json"), str(out),
                 ConvertConfig(task="NER", language="en", schema_path=str(folder / "schema.json")))
    return out


def train(*args, check=True):
    return run_kgc("train", "--preset", "tiny-random-llama-lora", *args, env=THREADS, check=check)


def log_rows(out):
    return [json.loads(line) for line in (out / "trainer_log.jsonl").read_text().splitlines()]


def generate(base, adapter_dir, instruction, template="qwen"):
    import torch
    from peft import PeftModel
    from transformers import AutoModelForCausalLM, AutoTokenizer

    from kgcli.model.templates import get_template

    torch.set_num_threads(1)
    tokenizer = AutoTokenizer.from_pretrained(adapter_dir)
    model = PeftModel.from_pretrained(AutoModelForCausalLM.from_pretrained(base), adapter_dir).eval()
    chosen = get_template(template)
    ids = torch.tensor([chosen.encode_prompt(tokenizer, instruction)])
    out = model.generate(input_ids=ids, max_new_tokens=48, do_sample=False,
                         eos_token_id=chosen.stop_token_ids(tokenizer))
    return tokenizer.decode(out[0, ids.shape[1]:], skip_special_tokens=True)


def test_lora_loss_falls_adapter_reloads_and_reproduces_training_output(tmp_path, train_file, tiny_model):
    out = tmp_path / "lora"
    train("--train-file", str(train_file), "--output-dir", str(out), "--max-steps", "60")
    rows = [r for r in log_rows(out) if "loss" in r]
    assert rows[-1]["loss"] < rows[0]["loss"] / 2
    assert all(r["tokens_per_second"] > 0 for r in rows)
    for name in ("adapter_config.json", "adapter_model.safetensors", "tokenizer.json", "kgc_train.json",
                 "loss.png"):
        assert (out / name).exists(), name
    summary = json.loads((out / "kgc_train.json").read_text())
    assert summary["steps"] == 60 and summary["data"]["train"]["sha256"]
    assert summary["request"]["preset"]["lora_r"] == 8 and summary["versions"]["peft"]
    clock = summary["time"]  # where the seconds went: the first step, the other 59, and between steps
    assert clock["first_step_seconds"] > 0 and clock["step_seconds"] > 0
    assert clock["outside_steps_seconds"] >= 0
    assert clock["first_step_seconds"] + clock["step_seconds"] <= summary["seconds"]
    assert clock["steady_tokens_per_second"] > 0 and clock["step_tokens"] > 0
    records = [json.loads(line) for line in train_file.read_text().splitlines()]
    outputs = [generate(tiny_model, out, r["instruction"]) for r in records]
    assert any(o == r["output"] for o, r in zip(outputs, records, strict=True)), outputs


@pytest.mark.parametrize("method", ["full", "bits4", "bits8", "ptuning"])
def test_other_methods_run_two_steps_and_save_loadable_artifacts(tmp_path, train_file, tiny_model, method):
    settings = {"full": ["finetuning_type=full", "learning_rate=1e-4"], "bits4": ["bits=4"],
                "bits8": ["bits=8"],
                "ptuning": ["finetuning_type=ptuning"]}[method]
    out = tmp_path / method
    train("--train-file", str(train_file), "--output-dir", str(out), "--max-steps", "2",
          *[a for s in settings for a in ("--set", s)])
    assert len([r for r in log_rows(out) if "loss" in r]) == 2
    # the tiny Llama has 2 layers of 7 linear modules: bits 4 and 8 trained all 14 on quantised weights
    quantised = {"bits4": {"Linear4bit": 14}, "bits8": {"Linear8bitLt": 14}}.get(method, {})
    assert json.loads((out / "kgc_train.json").read_text())["quantised_layers"] == quantised
    import torch
    from transformers import AutoModelForCausalLM

    if method == "full":
        model = AutoModelForCausalLM.from_pretrained(out)
        assert not torch.equal(model.model.layers[0].mlp.down_proj.weight,
                               AutoModelForCausalLM.from_pretrained(tiny_model).model.layers[0].mlp.down_proj.weight)
    else:
        from peft import PeftConfig, PeftModel

        config = PeftConfig.from_pretrained(out)
        assert config.peft_type == ("PREFIX_TUNING" if method == "ptuning" else "LORA")
        PeftModel.from_pretrained(AutoModelForCausalLM.from_pretrained(tiny_model), out)


def test_killed_run_resumes_from_its_checkpoint(tmp_path, train_file):
    out = tmp_path / "resume"
    args = [sys.executable, "-m", "kgcli", "train", "--preset", "tiny-random-llama-lora", "--train-file",
            str(train_file),
            "--output-dir", str(out), "--max-steps", "40", "--set", "save_strategy=steps", "--set",
            "save_steps=8"]
    process = subprocess.Popen(args, env={**os.environ, **THREADS}, cwd=ROOT, stdout=subprocess.DEVNULL,
                               stderr=subprocess.DEVNULL)
    deadline = time.time() + 300

    def past_the_checkpoint() -> bool:  # the run wrote a step after its first checkpoint: it is going on
        log = out / "trainer_log.jsonl"
        saved = (out / "checkpoint-8" / "trainer_state.json").exists()
        return saved and log.exists() and any(r.get("step", 0) > 8 for r in log_rows(out))

    while not past_the_checkpoint():
        assert time.time() < deadline and process.poll() is None, "no checkpoint before the run ended"
        time.sleep(0.05)
    process.send_signal(signal.SIGKILL)
    process.wait()
    assert not (out / "kgc_train.json").exists()
    checkpoint = max(int(p.name.split("-")[1]) for p in out.glob("checkpoint-*")
                     if (p / "trainer_state.json").exists())
    refused = run_kgc(*args[3:], env=THREADS)
    assert refused.returncode == 2 and "--resume" in refused.stderr_text
    run_kgc(*args[3:], "--resume", env=THREADS, check=True)
    steps = [r["step"] for r in log_rows(out) if "loss" in r]
    after = steps[steps.index(checkpoint) + 1 :] if checkpoint in steps else []
    assert after and after[0] == checkpoint + 1 and steps[-1] == 40
    assert json.loads((out / "kgc_train.json").read_text())["steps"] == 40


def test_dry_run_multi_gpu_launch_without_loading_a_model():
    result = run_kgc("train", "--preset", "oneke-continue", "--dry-run", "--num-processes", "4",
                     "--train-file", "README.md", "--output-dir", "/nonexistent/out", cwd=ROOT, check=True)
    text = result.stdout_text
    assert "accelerate.commands.launch" in text and "--num_processes 4" in text and "-m kgcli train" in text
    preset = json.loads(json.dumps(__import__("yaml").safe_load(text.split("launch:")[0])))["train"]["preset"]
    assert (preset["lora_r"], preset["lora_alpha"], preset["bits"], preset["template"]) == (64, 64, 4,
                                                                                            "llama2_zh")


SEED_YAML = """\
output_dir: lora/llama2-13b-chat-v1-continue
do_train: true
do_eval: true
model_name_or_path: models/llama2-13b-chat-v1
checkpoint_dir: lora/llama2-13b-iepile-lora
stage: sft
model_name: llama
template: llama2
train_file: data/train.json
valid_file: data/dev.json
val_set_size: 1000
per_device_train_batch_size: 2
per_device_eval_batch_size: 2
gradient_accumulation_steps: 4
num_train_epochs: 10
learning_rate: 5.0e-5
max_grad_norm: 0.5
optim: adamw_torch
max_source_length: 400
cutoff_len: 700
max_target_length: 300
evaluation_strategy: epoch
save_strategy: epoch
save_total_limit: 10
lora_r: 64
lora_alpha: 64
lora_dropout: 0.05
lora_target_modules: "['q_proj', 'k_proj', 'v_proj', 'o_proj', 'gate_proj', 'up_proj', 'down_proj']"
bf16: true
bits: 4
preprocessing_num_workers: 16
"""


def test_seed_yaml_resolves_to_the_same_settings(tmp_path):
    import yaml

    (tmp_path / "data").mkdir()
    (tmp_path / "data" / "train.json").write_text("{}\n")
    (tmp_path / "fine_llama.yaml").write_text(SEED_YAML)
    result = run_kgc("train", "--config", "fine_llama.yaml", "--dry-run", cwd=tmp_path, check=True)
    resolved = yaml.safe_load(result.stdout_text.split("launch:")[0])["train"]
    preset = resolved["preset"]
    assert (preset["base_model"], preset["family"], preset["template"], preset["dtype"], preset["bits"]) == (
        "models/llama2-13b-chat-v1", "llama", "llama2", "bf16", 4)
    assert (preset["lora_r"], preset["lora_alpha"], preset["lora_dropout"]) == (64, 64, 0.05)
    assert preset["lora_target_modules"] == ["q_proj", "k_proj", "v_proj", "o_proj", "gate_proj", "up_proj",
                                             "down_proj"]
    assert (preset["learning_rate"], preset["num_train_epochs"], preset["cutoff_len"],
            preset["max_source_length"],
            preset["max_target_length"], preset["gradient_accumulation_steps"], preset["val_size"]) == (
        5e-5, 10, 700, 400, 300, 4, 1000)
    assert (resolved["train_file"], resolved["valid_file"], resolved["output_dir"], resolved["adapters"]) == (
        "data/train.json", "data/dev.json", "lora/llama2-13b-chat-v1-continue",
        ["lora/llama2-13b-iepile-lora"])
    (tmp_path / "bad.yaml").write_text(SEED_YAML + "lora_rank: 8\nuse_fast: true\n")
    bad = run_kgc("train", "--config", "bad.yaml", "--dry-run", cwd=tmp_path)
    assert bad.returncode == 2 and bad.stderr_text == "kgc: error: bad.yaml: unknown key(s): lora_rank, use_fast\n"  # noqa: E501


@pytest.mark.parametrize("settings,message", [
    (["finetuning_type=full", "bits=4"], "bits 4 (QLoRA) works only with finetuning_type lora, not 'full'"),
    (["template=llama3_instruct"], "unknown template 'llama3_instruct'"),
])
def test_invalid_combinations_stop_before_loading(tmp_path, train_file, settings, message):
    result = run_kgc("train", "--preset", "tiny-random-llama-lora", "--train-file", str(train_file),
                     "--output-dir",
                     str(tmp_path / "out"), *[a for s in settings for a in ("--set", s)])
    assert result.returncode == 2 and message in result.stderr_text
    assert result.stderr_text.count("\n") == 1 and not (tmp_path / "out").exists()


def test_non_empty_output_dir_is_refused(tmp_path, train_file):
    (tmp_path / "out").mkdir()
    (tmp_path / "out" / "keep.txt").write_text("mine")
    result = train("--train-file", str(train_file), "--output-dir", str(tmp_path / "out"), check=False)
    assert result.returncode == 2 and "--overwrite" in result.stderr_text
    assert (tmp_path / "out" / "keep.txt").read_text() == "mine"


def test_a_busy_machine_gets_the_one_thread_hint(monkeypatch):
    import torch

    from kgcli.train import run

    before = torch.get_num_threads()
    torch.set_num_threads(2)
    try:
        monkeypatch.setattr(os, "cpu_count", lambda: 2)
        monkeypatch.setattr(run, "other_processes_cores", lambda: 1.6)
        note = run.busy_cpu_note()
        assert "keep 1.6 of its 2 cores busy" in note and "KGC_TORCH_THREADS=1" in note
        monkeypatch.setattr(run, "other_processes_cores", lambda: 0.1)
        assert run.busy_cpu_note() is None
        torch.set_num_threads(1)
        monkeypatch.setattr(run, "other_processes_cores", lambda: 1.6)
        assert run.busy_cpu_note() is None  # one thread does not wait on the others
    finally:
        torch.set_num_threads(before)


def test_other_processes_cores_is_the_machines_busy_time_less_this_processes_over_the_interval():
    """With the machine's clock, /proc/stat and this process's CPU time faked: busy 2.0 core-seconds over
    1.0 s, 0.4 of them this process's own, is 1.6 cores kept busy by others."""
    from kgcli.train import run

    readings = {"busy": iter([100.0, 102.0]), "own": iter([5.0, 5.4]), "clock": iter([10.0, 11.0])}
    waited = []
    cores = run.other_processes_cores(
        1.0, busy=lambda: next(readings["busy"]), own=lambda: next(readings["own"]),
        clock=lambda: next(readings["clock"]), sleep=waited.append)
    assert cores == pytest.approx(1.6) and waited == [1.0]
    real = run.other_processes_cores(0.01)  # the real readers, on this Linux machine
    assert isinstance(real, float) and real >= 0.0



def test_packed_batches_give_the_padded_batches_loss(tiny_model):
    """FlatCollator (packing: true): the examples end to end in one row with restarting position ids give
    the loss of the padded batch, so packing changes the compute, not what is learnt."""
    import torch
    from transformers import AutoModelForCausalLM

    from kgcli.train.data import Collator, FlatCollator

    torch.manual_seed(0)
    model = AutoModelForCausalLM.from_pretrained(tiny_model).eval()
    model.config.use_cache = False
    batch = []
    for length, prompt in ((23, 15), (9, 4), (16, 10)):
        ids = torch.randint(5, 2000, (length,)).tolist()
        batch.append({"input_ids": ids, "labels": [-100] * prompt + ids[prompt:]})
    with torch.no_grad():
        padded = model(**Collator(0)(batch)).loss
        packed_inputs = FlatCollator(0)(batch)
        packed = model(**packed_inputs).loss
    assert packed_inputs["input_ids"].shape == (1, 48) and "attention_mask" not in packed_inputs
    assert torch.allclose(padded, packed, atol=1e-5), (padded, packed)
