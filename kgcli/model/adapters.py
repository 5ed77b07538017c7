"""LoRA adapter folders, checked without torch: the config, the weights file, and every tensor's shape
against the adapter's rank and (when the base is a local folder of safetensors) against the base's own
weights. A broken adapter is one line before any model loads, not a traceback minutes later.

Shapes come from the safetensors headers (8 bytes of length, then JSON), so nothing is read but a few KB.
"""

from __future__ import annotations

import json
import os
import re
import struct
from typing import Any

from kgcli.errors import KgcError

CONFIG = "adapter_config.json"
WEIGHTS = ("adapter_model.safetensors", "adapter_model.bin")


_HUB_ID = re.compile(r"^[A-Za-z0-9][\w.-]*/[\w.-]+$")


def hub_offline() -> bool:
    """Whether the hub client is told to stay offline (``HF_HUB_OFFLINE`` or ``TRANSFORMERS_OFFLINE``)."""
    return any(os.environ.get(v, "").lower() in ("1", "true", "yes", "on")
               for v in ("HF_HUB_OFFLINE", "TRANSFORMERS_OFFLINE"))


def hub_like(path: str) -> bool:
    """Written as a hub id (``owner/name``) and not a path here: nothing of that name exists, and its first
    part is not a folder (``out/typo`` beside ``out/`` is a mistyped path)."""
    return bool(_HUB_ID.match(path)) and not os.path.exists(path) and not os.path.isdir(path.split("/")[0])


def hub_id(path: str) -> bool:
    """A Hugging Face repository id (``owner/name``) rather than a folder here: loaded by the hub client,
    nothing to check locally unless the hub is offline and the id is not in its cache. A value whose first
    part is a folder here (``out/typo`` beside ``out/``) is a path, never a hub id."""
    if not hub_like(path):
        return False
    if not hub_offline():
        return True
    home = os.environ.get("HF_HOME") or os.path.join(os.path.expanduser("~"), ".cache", "huggingface")
    cache = os.environ.get("HF_HUB_CACHE") or os.path.join(home, "hub")
    return os.path.isdir(os.path.join(cache, "models--" + path.replace("/", "--")))


def read_config(adapter: str) -> dict[str, Any]:
    """The adapter's ``adapter_config.json`` (one-line errors for a missing folder or a bad file)."""
    if not os.path.isdir(adapter):
        raise KgcError("adapter folder does not exist" if not os.path.exists(adapter)
                       else "--adapter must be a folder (with adapter_config.json)", adapter)
    path = os.path.join(adapter, CONFIG)
    try:
        with open(path, encoding="utf-8") as handle:
            data = json.load(handle)
    except FileNotFoundError:
        raise KgcError(f"not a LoRA adapter folder: no {CONFIG}", adapter) from None
    except (json.JSONDecodeError, UnicodeDecodeError) as exc:
        raise KgcError(f"not valid JSON ({exc.__class__.__name__}: {str(exc).split(':')[0]})", path,
                       getattr(exc, "lineno", None)) from None
    if not isinstance(data, dict):
        raise KgcError("must be a JSON object", path)
    rank = data.get("r")
    if rank is not None and (not isinstance(rank, int) or isinstance(rank, bool) or rank < 1):
        raise KgcError(f"'r' must be a positive integer, got {rank!r}", path)
    return data


def adapter_rank(adapter: str) -> int | None:
    """The adapter's LoRA rank, or None when the folder holds no adapter config."""
    if not os.path.isfile(os.path.join(adapter, CONFIG)):
        return None
    return read_config(adapter).get("r")


def safetensors_shapes(path: str) -> dict[str, list[int]]:
    """Tensor name → shape, from a safetensors file's header."""
    try:
        with open(path, "rb") as handle:
            size_bytes = handle.read(8)
            (size,) = struct.unpack("<Q", size_bytes)
            if size > 100 << 20:
                raise ValueError("header too large")
            header = json.loads(handle.read(size))
        return {name: list(info["shape"]) for name, info in header.items() if name != "__metadata__"}
    except (struct.error, ValueError, KeyError, TypeError, UnicodeDecodeError):
        raise KgcError("not a safetensors file (its header cannot be read)", path) from None


def base_shapes(base: str) -> dict[str, list[int]] | None:
    """Weight shapes of a local base model folder stored as safetensors (None: not known without loading)."""
    if not os.path.isdir(base):
        return None
    files = sorted(name for name in os.listdir(base) if name.endswith(".safetensors"))
    if not files:
        return None
    shapes: dict[str, list[int]] = {}
    for name in files:
        shapes.update(safetensors_shapes(os.path.join(base, name)))
    return shapes


def check_adapter(adapter: str, base: str | None = None) -> dict[str, Any]:
    """Config + weights + shapes of one adapter folder; returns its config (empty for a hub id)."""
    if hub_id(adapter):
        return {}
    config = read_config(adapter)
    weights = next((os.path.join(adapter, w) for w in WEIGHTS if os.path.isfile(os.path.join(adapter, w))),
                   None)
    if weights is None:
        raise KgcError(f"no adapter weights ({' or '.join(WEIGHTS)})", adapter)
    if not weights.endswith(".safetensors"):
        return config
    shapes = safetensors_shapes(weights)
    rank, patterns = config.get("r"), config.get("rank_pattern") or {}
    known = base_shapes(base) if base else None
    for name, shape in shapes.items():
        for part, rank_axis in ((".lora_A.", 0), (".lora_B.", 1)):
            if part not in name or len(shape) != 2:
                continue
            module = name.split(part)[0]
            expected = next((r for key, r in patterns.items() if module.endswith(key)), rank)
            if expected is not None and shape[rank_axis] != expected:
                raise KgcError(f"tensor {name} has rank {shape[rank_axis]} but {CONFIG} says r={expected} "
                               "(the config and the weights are from different adapters)", adapter)
            if known is None:
                continue
            target = _base_weight(module, known)
            if target is None:
                continue
            out_features, in_features = known[target][:2]
            want = in_features if rank_axis == 0 else out_features
            got = shape[1 - rank_axis]
            if got != want:
                raise KgcError(f"tensor {name} does not fit the base model ({target} is {out_features}x"
                               f"{in_features}): the adapter was trained on another base", adapter)
    return config


def _base_weight(module: str, shapes: dict[str, list[int]]) -> str | None:
    """The base weight a LoRA module wraps: peft prefixes ``base_model.model.`` to the base's own name."""
    name = module.removeprefix("base_model.model.")
    for candidate in (f"{name}.weight", f"{name.removeprefix('model.')}.weight",
                      f"{name}.base_layer.weight"):
        if candidate in shapes and len(shapes[candidate]) == 2:
            return candidate
    return None
