"""The registry data behind presets: model families (LoRA targets, aliases, templates that do not fit,
remote code) and the published checkpoints' required family and template (``kgcli/data/*.yaml``)."""

from __future__ import annotations

from functools import cache
from importlib import resources
from typing import Any

import yaml

VLLM_LORA_RANKS = (8, 16, 32, 64, 128, 256, 320, 512)


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
