"""The seed's argument YAML files (fine-tuning, inference): their keys mapped onto preset fields.

Both kinds are flat ``key: value`` files of HfArgumentParser arguments; unknown keys are an error naming
them, ``bf16`` / ``fp16`` become the preset's dtype, ``checkpoint_dir`` (a comma list) the adapters.
"""

from __future__ import annotations

from typing import Any

from kgcli.errors import KgcError
from kgcli.io import read_yaml


def read_seed_yaml(path: str, keys: dict[str, str | None], what: str) -> tuple[dict[str, Any], dict[str, Any]]:
    """(the file's arguments, preset fields from them); ``keys`` maps seed keys to preset fields (None: not
    a preset field)."""
    data = read_yaml(path) or {}
    if not isinstance(data, dict):
        raise KgcError(f"expected a mapping of the seed's {what} arguments", path)
    unknown = sorted(k for k in data if k not in keys)
    if unknown:
        raise KgcError(f"unknown key(s): {', '.join(unknown)}", path)
    fields = {keys[k]: v for k, v in data.items() if keys.get(k)}
    if data.get("bf16"):
        fields["dtype"] = "bf16"
    elif data.get("fp16"):
        fields["dtype"] = "fp16"
    return data, fields


def adapters_of(data: dict[str, Any]) -> list[str]:
    return [c.strip() for c in str(data.get("checkpoint_dir") or "").split(",") if c.strip()]
