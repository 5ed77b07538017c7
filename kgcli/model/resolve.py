"""Preset resolution for the heavy commands (train, predict, merge): kgc's one load-and-validate step.

preset (by name or file) → the seed's YAML (``--config``) → ``--set`` / ``--model`` / ``--dtype`` and the
command's own overrides → adapters (folders, configs, tensor shapes) → every cross-field rule that needs no
torch (``validate``); ``Resolved.check_hardware`` adds the machine's rules when the command is ready to load.
"""

from __future__ import annotations

import dataclasses
import os
from dataclasses import dataclass, field
from typing import Any, Literal

from kgcli.errors import KgcError
from kgcli.model.adapters import adapter_rank, check_adapter, hub_like
from kgcli.model.presets import (
    Preset,
    apply_overrides,
    build_preset,
    builtin_preset,
    load_preset,
    parse_set_options,
)

Kind = Literal["train", "predict", "merge"]

# A merge without a preset: the model folder brings its own weights; family and template come from --set.
MERGE_DEFAULTS = {"name": "merge", "family": "llama", "template": "alpaca"}


@dataclass
class Resolved:
    preset: Preset
    adapters: list[str]
    # run options from the seed's YAML (files, sampling)
    options: dict[str, Any] = field(default_factory=dict)
    adapter_rank: int | None = None

    def with_thinking(self, thinking: str) -> Resolved:
        """``--thinking on``: the preset's template swapped for its reasoning variant (Qwen3's template with
        the think block left to the model); ``off`` (the default for extraction) keeps the preset's own."""
        from kgcli.model.templates import get_template

        if thinking != "on":
            return self
        variant = get_template(self.preset.template).thinking_variant
        if variant is None:
            raise KgcError(f"--thinking on: template {self.preset.template} has no reasoning variant (only "
                           "families with a thinking switch, such as qwen3)")
        preset = apply_overrides(self.preset, {"template": variant}, source="--thinking on")
        return dataclasses.replace(self, preset=preset)

    def check_hardware(self) -> None:
        """The rules that need the machine (bf16, bitsandbytes, a GPU): they import torch, so commands run
        them after their own file checks, just before loading anything."""
        from kgcli.model.validate import Hardware, validate

        validate(self.preset, Hardware.detect(), adapter_rank=self.adapter_rank)


def consent_to_remote_code(resolved: Preset, preset: str | dict[str, Any] | None) -> None:
    """A model's own Python code runs only with consent: a built-in preset that sets ``trust_remote_code``
    gives it for the hub model it names; anything else that brings it (``--model``, ``--set``, ``--config``,
    a run file, a preset file) needs ``--trust-remote-code``."""
    if not resolved.trust_remote_code:
        return
    shipped = builtin_preset(preset) if isinstance(preset, str) else None
    if shipped is not None and shipped.trust_remote_code and shipped.base_model == resolved.base_model:
        return
    raise KgcError(f"loading {resolved.base_model} would run the model's own Python code "
                   "(trust_remote_code); pass --trust-remote-code if you trust the code in it")


def remote_code_notice(base_model: str) -> None:
    """Name the folder and the ``.py`` files that are about to run, before anything loads them."""
    from kgcli.errors import warn

    folder = base_model if os.path.isdir(base_model) else None
    if folder is None:
        try:
            from huggingface_hub import snapshot_download

            folder = snapshot_download(base_model, local_files_only=True)
        except Exception:  # not in the local cache (or not a hub id): nothing to list yet
            warn(f"trust_remote_code: the Python files of {base_model} will run when it is loaded")
            return
    files = sorted(os.path.relpath(os.path.join(root, name), folder) for root, _, names in os.walk(folder)
                   for name in names if name.endswith(".py"))
    warn(f"trust_remote_code: running the model's own code from {folder}: "
         + (", ".join(files) if files else "no .py file there"))


@dataclass(frozen=True)
class ModelChoice:
    """The model flags the heavy commands share (``--preset``, ``--config``, ``--model``, ``--dtype``,
    ``--set``, ``--adapter``, ``--trust-remote-code``), resolved by ``resolve``."""

    preset: str | dict[str, Any] | None = None
    config: str | None = None
    model: str | None = None
    dtype: str | None = None
    settings: list[str] | None = None
    adapter: str | None = None
    trust_remote_code: bool = False

    def resolve(self, kind: Kind, *, dry_run: bool = False, extra: dict[str, Any] | None = None,
                backend: Any = None) -> Resolved:
        return resolve(kind, self.preset, config=self.config, model=self.model, dtype=self.dtype,
                       settings=self.settings, adapter=self.adapter, extra=extra, dry_run=dry_run,
                       trust_remote_code=self.trust_remote_code, backend=backend)


def split_adapters(value: str | None) -> list[str]:
    return [part.strip() for part in value.split(",") if part.strip()] if value else []


def resolve(kind: Kind, preset: str | dict[str, Any] | None = None, *, config: str | None = None,
            model: str | None = None,
            dtype: str | None = None, settings: list[str] | None = None, adapter: str | None = None,
            extra: dict[str, Any] | None = None, dry_run: bool = False,
            trust_remote_code: bool = False, backend: Any = None) -> Resolved:
    """The validated preset, its adapters (``--adapter``, else the seed YAML's ``checkpoint_dir``, else the
    preset's own adapter for predict and merge) and the seed YAML's run options. ``dry_run``: the plan is
    shown before the files exist, so adapter folders are read only where they are there.
    ``trust_remote_code``: the user's ``--trust-remote-code`` (``consent_to_remote_code``). ``backend``: the
    prediction backend's ``BackendSpec``, whose adapter rules are checked here (once)."""
    from kgcli.model.seed_yaml import inference_config, training_config
    from kgcli.model.validate import validate

    if preset is None and config is None and (kind != "merge" or model is None):
        raise KgcError("--preset NAME or --model PATH is required" if kind == "merge"
                       else "--preset NAME (or --config FILE.yaml) is required; see kgc presets list")
    overrides = parse_set_options(settings or [])
    if model:
        overrides.update(base_model=model, builder=None)
    if dtype:
        overrides["dtype"] = dtype
    overrides.update(extra or {})
    if isinstance(preset, dict):  # a run file's preset, written out in full
        base = build_preset(preset, source="the run file's preset")
    else:
        base = load_preset(preset) if preset else None
    options: dict[str, Any] = {}
    defaults = MERGE_DEFAULTS if kind == "merge" else None
    if config and kind == "train":
        base, options = training_config(config, base)
    elif config:
        fields, options = inference_config(config)
        overrides = {**fields, **overrides}
        defaults = {"name": os.path.basename(config)}
    if base is None:
        resolved = build_preset({**(defaults or {}), **overrides}, source=config or "<preset>")
    else:
        resolved = apply_overrides(base, overrides)
    if trust_remote_code:
        resolved = apply_overrides(resolved, {"trust_remote_code": True}, source="--trust-remote-code")
    else:
        consent_to_remote_code(resolved, preset)
    if resolved.trust_remote_code and not dry_run:
        remote_code_notice(resolved.base_model)
    adapters = split_adapters(adapter) or list(options.get("adapters") or [])
    if not adapters and kind != "train" and resolved.adapter:
        adapters = [resolved.adapter]
    local_base = resolved.base_model if not resolved.builder and os.path.isdir(resolved.base_model) else None
    if dry_run:
        rank = adapter_rank(adapters[-1]) if adapters else None
    else:
        from kgcli.model.hub import local_model

        # a hub adapter is fetched now (its size said first; one line when the hub cannot be reached), so
        # its folder is checked like any other and every loader gets a folder
        adapters = [local_model(path, "adapter") if hub_like(path) else path for path in adapters]
        rank = [check_adapter(path, local_base) for path in adapters][-1].get("r") if adapters else None
    validate(resolved, adapter_rank=None if kind == "merge" else rank)
    if backend is not None:
        backend.check_adapters(resolved, adapters)
    return Resolved(resolved, adapters, options, rank)
