"""The vLLM engine arguments of a preset, written once: the local vLLM backend and Ray's vLLM processor
start their engines from the same dtype, context length, parallelism, prefix caching, remote-code setting
and LoRA rank."""

from __future__ import annotations

from typing import Any

from kgcli.model.adapters import adapter_rank
from kgcli.model.families import VLLM_LORA_RANKS
from kgcli.model.loading import DTYPES
from kgcli.predict.base import Setup


def lora_rank(setup: Setup) -> int | None:
    """``max_lora_rank`` for the run's adapter: the smallest rank vLLM accepts that covers it (None: no
    adapter)."""
    if not setup.adapters:
        return None
    rank = adapter_rank(setup.adapters[0]) or setup.preset.lora_r
    return min(r for r in VLLM_LORA_RANKS if r >= rank)


def vllm_engine_args(setup: Setup, *, tensor_parallel_size: int = 1, prefix_caching: bool = True,
                     max_model_len: int | None = None) -> dict[str, Any]:
    preset, sampling = setup.preset, setup.sampling
    args: dict[str, Any] = {
        "dtype": DTYPES[preset.dtype],
        "max_model_len": max_model_len or preset.cutoff_len + sampling.max_new_tokens,
        "tensor_parallel_size": tensor_parallel_size,
        "enable_prefix_caching": prefix_caching,
        "trust_remote_code": preset.trust_remote_code,
    }
    rank = lora_rank(setup)
    if rank is not None:
        args["max_lora_rank"] = rank
    return args
