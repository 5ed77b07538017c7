"""What a user reads and gets: a heavy command's stderr (not a terminal) holds kgc's own lines only — no
library progress bars, deprecation notices or install advice — `-q` leaves nothing, and every file and
folder kgc writes has the permissions the umask gives (not the 0600 / 0700 of a temporary file)."""

from __future__ import annotations

import json
import os
import re
import stat
import subprocess
import sys

import pytest

from tests.conftest import write_jsonl

THREADS = {"KGC_TORCH_THREADS": "1", "OMP_NUM_THREADS": "1"}
RECORDS = [
    {
        "text": "Alice lives in Paris.",
        "entity": [{"entity": "Alice", "entity_type": "person"}, {"entity": "Paris", "entity_type": "city"}],
    },
    {
        "text": "Bob works at Acme in Rome.",
        "entity": [{"entity": "Bob", "entity_type": "person"}, {"entity": "Rome", "entity_type": "city"}],
    },
]
# kgc's own stderr lines: what ran, what it wrote, warnings, plain progress
KGC_LINE = re.compile(r"^(train: |trained |predict: |predicted |merged |building |kgc: warning: |      \S)")


def kgc(folder, *args: str, umask: int | None = None) -> subprocess.CompletedProcess:
    """``kgc ARGS`` in ``folder`` with stdout and stderr pipes (not terminals), under ``umask``."""

    def set_umask() -> None:
        if umask is not None:
            os.umask(umask)

    return subprocess.run(
        [sys.executable, "-m", "kgcli", *args],
        cwd=folder,
        capture_output=True,
        text=True,
        env={**os.environ, **THREADS},
        preexec_fn=set_umask,
    )


@pytest.fixture(scope="module")
def run(tmp_path_factory, tiny_model):
    """convert → train → predict → merge → eval, as a user types them, under umask 027."""
    folder = tmp_path_factory.mktemp("user")
    write_jsonl(folder / "raw.json", RECORDS)
    (folder / "schema.json").write_text('["person", "city"]\n[]\n{}\n')
    steps = {
        "convert-train": [
            "convert",
            "raw.json",
            "data/train.json",
            "--task",
            "NER",
            "--language",
            "en",
            "--schema",
            "schema.json",
        ],
        "convert-test": [
            "convert",
            "raw.json",
            "data/test.json",
            "--task",
            "NER",
            "--language",
            "en",
            "--split",
            "test",
            "--schema",
            "schema.json",
        ],
        "train": [
            "train",
            "--preset",
            "tiny-random-llama-lora",
            "--train-file",
            "data/train.json",
            "--output-dir",
            "adapter",
            "--set",
            "max_steps=2",
        ],
        "predict": [
            "predict",
            "data/test.json",
            "pred.json",
            "--preset",
            "tiny-random-llama-lora",
            "--adapter",
            "adapter",
            "--max-new-tokens",
            "8",
        ],
        "merge": ["merge", "--preset", "tiny-random-llama-lora", "--adapter", "adapter", "--out", "merged"],
        "eval": ["eval", "answers.json", "--out", "report.json", "--format", "json"],
    }
    results = {}
    for name, args in steps.items():
        if name == "eval":  # answers that parse (the tiny model's after two steps need not)
            records = [json.loads(line) for line in (folder / "data/test.json").read_text().splitlines()]
            write_jsonl(
                folder / "answers.json",
                [{**r, "output": '{"person": ["Alice"], "city": []}'} for r in records],
            )
        results[name] = kgc(folder, *args, umask=0o027)
        assert results[name].returncode == 0, (name, results[name].stderr)
    return folder, results


@pytest.mark.slow
def test_heavy_commands_print_only_kgc_lines_on_a_non_terminal_stderr(run):
    _, results = run
    for name in ("train", "predict", "merge"):
        result = results[name]
        assert result.returncode == 0, result.stderr
        lines = result.stderr.splitlines()
        assert lines and all(KGC_LINE.match(line) for line in lines), (name, result.stderr)
        assert "\r" not in result.stderr and "Warning" not in result.stderr and "%|" not in result.stderr
    assert results["train"].stderr.startswith("train: tiny-random-llama-lora, 2 example(s)")
    assert re.search(
        r"trained 2 steps: loss \d+\.\d+ \(last step\), \d+\.\d+ \(mean\)", results["train"].stderr
    )
    assert results["predict"].stderr.startswith("predict: 2 record(s) with tiny-random-llama-lora")


@pytest.mark.slow
def test_quiet_leaves_stderr_empty(run):
    folder, _ = run
    result = kgc(
        folder,
        "-q",
        "predict",
        "data/test.json",
        "quiet.json",
        "--preset",
        "tiny-random-llama-lora",
        "--adapter",
        "adapter",
        "--max-new-tokens",
        "4",
    )
    assert result.returncode == 0 and result.stderr == ""
    assert (folder / "quiet.json").read_text().count("\n") == 2


def mode(path) -> int:
    return stat.S_IMODE(os.stat(path).st_mode)


@pytest.mark.slow
def test_files_written_by_convert_eval_train_merge_have_the_umask_permissions(run):
    folder, _ = run
    files = [
        "data/train.json",
        "data/test.json",
        "pred.json",
        "report.json",
        "adapter/adapter_model.safetensors",
        "adapter/kgc_train.json",
        "adapter/adapter_config.json",
        "merged/model.safetensors",
        "merged/config.json",
    ]
    for name in files:
        assert mode(folder / name) == 0o640, (name, oct(mode(folder / name)))
    for name in ("data", "adapter", "merged"):
        assert mode(folder / name) == 0o750, (name, oct(mode(folder / name)))
