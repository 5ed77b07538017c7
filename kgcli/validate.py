"""Cross-field checks on a preset, run by every heavy command before anything heavy starts.

Each rule yields one line; ``validate`` raises a single ``KgcError`` with all of them. The data behind the
rules (families, published checkpoints) lives in ``kgcli/data/*.yaml``.
"""

from __future__ import annotations

import importlib.util
from dataclasses import dataclass
from functools import cache
from importlib import resources
from typing import Any

import yaml

from kgcli.errors import KgcError
from kgcli.presets import Preset
from kgcli.templates import template_names

VLLM_LORA_RANKS = (8, 16, 32, 64, 128, 256, 320, 512)


@dataclass(frozen=True)
class Hardware:
    """What the machine can do; detected lazily so light commands never import torch."""

    device: str  # "cuda" or "cpu"
    bf16: bool
    bitsandbytes: bool

    @classmethod
    def detect(cls) -> Hardware:
        import torch

        if torch.cuda.is_available():
            return cls("cuda", bool(torch.cuda.is_bf16_supported()), _has_bitsandbytes())
        return cls("cpu", _cpu_bf16(), _has_bitsandbytes())


def _has_bitsandbytes() -> bool:
    return importlib.util.find_spec("bitsandbytes") is not None


def _cpu_bf16() -> bool:
    """torch runs bf16 on any x86/Arm CPU (natively with AVX512-BF16/AMX, else emulated but correct)."""
    import torch

    try:
        torch.ones(2, dtype=torch.bfloat16) @ torch.ones(2, dtype=torch.bfloat16)
        return True
    except RuntimeError:
        return False


@cache
def _data(name: str) -> dict[str, Any]:
    return yaml.safe_load(resources.files("kgcli.data").joinpath(name).read_text(encoding="utf-8")) or {}


def families() -> dict[str, dict[str, Any]]:
    return _data("families.yaml")


def canonical_family(name: str) -> str | None:
    lowered = name.lower()
    for family, spec in families().items():
        if lowered == family or lowered in [a.lower() for a in spec.get("aliases", [])]:
            return family
    return None


def family_targets(family: str) -> list[str]:
    canonical = canonical_family(family)
    return list(families()[canonical]["lora_targets"]) if canonical else []


def checkpoints() -> dict[str, dict[str, Any]]:
    return _data("checkpoints.yaml")


def problems(preset: Preset, hardware: Hardware | None = None, adapter_rank: int | None = None) -> list[str]:
    """Every rule the preset breaks, one line each (empty list = valid)."""
    found: list[str] = []
    if preset.template not in template_names():
        found.append(f"unknown template {preset.template!r} (known: {', '.join(sorted(template_names()))})")
    family = canonical_family(preset.family)
    if family is None:
        found.append(f"unknown model family {preset.family!r} (known: {', '.join(families())})")
        spec: dict[str, Any] = {}
    else:
        spec = families()[family]
    bad = spec.get("bad_templates", {})
    if preset.template in bad:
        found.append(f"template {preset.template!r} does not fit family {family!r}: {bad[preset.template]}")
    for checkpoint in (preset.adapter, preset.base_model):
        rule = checkpoints().get(checkpoint or "")
        if rule and (preset.template != rule["template"] or family != rule["family"]):
            found.append(
                f"{checkpoint} needs family {rule['family']!r} and template {rule['template']!r}, "
                f"not {preset.family!r}/{preset.template!r}: {rule['hint']}"
            )
    if preset.bits in (4, 8):
        if preset.finetuning_type != "lora":
            found.append(
                f"bits {preset.bits} (QLoRA) works only with finetuning_type lora, not {preset.finetuning_type!r}"
            )
        if hardware is not None and not hardware.bitsandbytes:
            found.append(f"bits {preset.bits} needs bitsandbytes, which is not installed (pip install bitsandbytes)")
    if preset.dtype == "bf16" and hardware is not None and not hardware.bf16:
        found.append(
            f"bf16 is not supported on this {hardware.device}; pass --dtype fp16 (GPU) or --dtype fp32 to override"
        )
    if spec.get("remote_code") and not preset.trust_remote_code:
        found.append(
            f"family {family!r} runs the model's own code: set trust_remote_code: true explicitly "
            "(--set trust_remote_code=true) if you trust it"
        )
    if preset.vllm_max_lora_rank not in VLLM_LORA_RANKS:
        found.append(
            f"vllm_max_lora_rank {preset.vllm_max_lora_rank} is not one vLLM accepts "
            f"({', '.join(map(str, VLLM_LORA_RANKS))})"
        )
    rank = adapter_rank if adapter_rank is not None else (preset.lora_r if preset.adapter else None)
    if rank is not None and preset.vllm_max_lora_rank < rank:
        found.append(
            f"vllm_max_lora_rank {preset.vllm_max_lora_rank} is below the adapter's rank {rank}; "
            f"set vllm_max_lora_rank to {min(r for r in VLLM_LORA_RANKS if r >= rank)}"
        )
    if preset.finetuning_type == "lora" and preset.lora_target_modules and spec:
        known = set(spec["lora_targets"])
        unknown = [t for t in preset.lora_target_modules if t not in known and t != "all"]
        if unknown:
            found.append(
                f"LoRA target(s) {', '.join(unknown)} are not modules of family {family!r} "
                f"(known: {', '.join(spec['lora_targets'])}, or 'all')"
            )
    return found


def validate(preset: Preset, hardware: Hardware | None = None, adapter_rank: int | None = None) -> None:
    """Raise one ``KgcError`` listing every problem; heavy commands call this before loading anything."""
    found = problems(preset, hardware, adapter_rank)
    if found:
        raise KgcError(f"preset {preset.name or '<custom>'}: " + "; ".join(found))
