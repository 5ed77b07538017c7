"""`kgc train RUN.yaml key=value …`: the --dry-run plan is a run file that replays to the same run, and
key=value words override the run's keys and the preset's."""

from __future__ import annotations

import yaml

from tests.conftest import run_kgc


def test_a_dry_run_plan_replays_with_overrides(tmp_path):
    plan = run_kgc(
        "train",
        "--preset",
        "tiny-random-llama-lora",
        "--train-file",
        "train.json",
        "--output-dir",
        "out",
        "--set",
        "lora_r=4,max_steps=3",
        "--dry-run",
        cwd=tmp_path,
    )
    assert plan.returncode == 0, plan.stderr_text
    (tmp_path / "plan.yaml").write_text(plan.stdout_text)
    first = yaml.safe_load(plan.stdout_text)["train"]  # the launch line is a YAML comment
    assert (first["preset"]["lora_r"], first["preset"]["max_steps"], first["output_dir"]) == (4, 3, "out")
    again = run_kgc("train", "plan.yaml", "--dry-run", cwd=tmp_path)
    assert again.returncode == 0 and yaml.safe_load(again.stdout_text) == yaml.safe_load(plan.stdout_text)
    changed = run_kgc(
        "train", "plan.yaml", "lora_alpha=64", "output_dir=elsewhere", "--dry-run", cwd=tmp_path
    )
    train = yaml.safe_load(changed.stdout_text)["train"]
    assert (train["preset"]["lora_alpha"], train["preset"]["lora_r"], train["output_dir"]) == (
        64,
        4,
        "elsewhere",
    )


def test_a_flat_run_file_and_its_mistakes(tmp_path):
    (tmp_path / "run.yaml").write_text(
        "preset: tiny-random-llama-lora\ntrain_file: train.json\noutput_dir: out\nlora_r: 2\n"
    )
    train = yaml.safe_load(run_kgc("train", "run.yaml", "--dry-run", cwd=tmp_path).stdout_text)["train"]
    assert (train["preset"]["name"], train["preset"]["lora_r"], train["train_file"]) == (
        "tiny-random-llama-lora",
        2,
        "train.json",
    )
    typo = run_kgc("train", "run.yaml", "lora_rr=3", "--dry-run", cwd=tmp_path)
    assert typo.returncode == 2 and "unknown key 'lora_rr' (did you mean 'lora_r'?)" in typo.stderr_text
    two = run_kgc("train", "run.yaml", "other.yaml", cwd=tmp_path)
    assert two.returncode == 2 and "one RUN.yaml" in two.stderr_text
