"""Cross-field checks on a preset, run by every heavy command before anything heavy starts.

Each rule yields one line; ``validate`` raises a single ``KgcError`` with all of them. The data behind the
rules (families, published checkpoints) lives in ``kgcli/data/*.yaml``.
"""

from __future__ import annotations

import importlib.util
from dataclasses import dataclass
from typing import Any

from kgcli.errors import KgcError
from kgcli.model.families import VLLM_LORA_RANKS, canonical_family, checkpoints, families
from kgcli.model.presets import Preset
from kgcli.model.templates import template_names


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
                f"bits {preset.bits} (QLoRA) works only with finetuning_type lora, not "
                f"{preset.finetuning_type!r}"
            )
        if hardware is not None and not hardware.bitsandbytes:
            found.append(f"bits {preset.bits} needs bitsandbytes, which is not installed (pip install "
                         "bitsandbytes)")
    if preset.dtype == "bf16" and hardware is not None and not hardware.bf16:
        found.append(
            f"bf16 is not supported on this {hardware.device}; pass --dtype fp16 (GPU) or --dtype fp32 to "
            "override"
        )
    if spec.get("remote_code") and not preset.trust_remote_code:
        found.append(
            f"family {family!r} runs the model's own code: pass --trust-remote-code if you trust it"
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


def checked(preset: Preset, hardware: Hardware | None = None) -> list[str]:
    """What ``problems`` looked at, one line per rule, for a preset it found nothing wrong with (``kgc
    presets validate`` shows them: "ok" alone does not say what was checked)."""
    family = canonical_family(preset.family) or preset.family
    spec = families().get(family, {})
    rule = next((checkpoints()[c] for c in (preset.adapter, preset.base_model) if c in checkpoints()), None)
    targets = ", ".join(preset.lora_target_modules or spec.get("lora_targets", []))
    checkpoint = preset.adapter or preset.base_model
    lines = [f"family {family}: known; LoRA targets {targets}",
             f"template {preset.template}: registered, and not one family {family} is known to refuse",
             (f"checkpoint {checkpoint}: needs {rule['family']}/{rule['template']}, as set" if rule
              else f"checkpoint {checkpoint}: no published-checkpoint rule applies")]
    if hardware is not None:
        lines.append(f"dtype {preset.dtype}: supported on this machine ({hardware.device})")
    lines.append(f"bits {preset.bits}: " + ("bitsandbytes installed, finetuning_type lora"
                                             if preset.bits in (4, 8) else "no quantisation"))
    lines.append("remote code: " + ("trust_remote_code set, as the family needs" if spec.get("remote_code")
                                    else "not needed"))
    lines.append(f"vLLM: max_lora_rank {preset.vllm_max_lora_rank} is one vLLM accepts"
                 + (f", at least the LoRA rank {preset.lora_r}" if preset.adapter else ""))
    return lines


def validate(preset: Preset, hardware: Hardware | None = None, adapter_rank: int | None = None) -> None:
    """Raise one ``KgcError`` listing every problem; heavy commands call this before loading anything."""
    found = problems(preset, hardware, adapter_rank)
    if found:
        raise KgcError(f"preset {preset.name or '<custom>'}: " + "; ".join(found))


def check_launch(preset: Preset, *, deepspeed: str | None = None, adapters: list[str] | None = None) -> None:
    """Rules on how a valid preset is trained (checked with the command's own options)."""
    if adapters and len(adapters) > 1 and preset.bits != 16:
        raise KgcError("several adapters can be merged only into a 16-bit base (bits 16)")
    if deepspeed and preset.bits != 16:
        raise KgcError("DeepSpeed ZeRO does not work with a 4/8-bit base; use bits 16 or drop --deepspeed")


def check_mergeable(preset: Preset) -> None:
    """A 4/8-bit base cannot absorb an adapter: refuse before anything is built or loaded."""
    if preset.bits != 16:
        raise KgcError(f"cannot merge into a {preset.bits}-bit quantised base: its weights cannot absorb the "
                       "adapter; "
                       "load the base in 16 bits (--set bits=16), merge, then quantise the merged model")
