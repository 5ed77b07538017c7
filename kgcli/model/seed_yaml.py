"""The seed's YAML files — convert, fine-tuning, inference — read into kgc's own settings, all here.

Fine-tuning and inference files are flat ``key: value`` files of HfArgumentParser arguments; unknown keys
are an error naming them, ``bf16`` / ``fp16`` become the preset's dtype, ``checkpoint_dir`` (a comma list)
the adapters. The convert file names a section (``mode``) holding the converter's options.
"""

from __future__ import annotations

import json
import os
from pathlib import Path
from typing import TYPE_CHECKING, Any

from kgcli.errors import KgcError
from kgcli.io import read_yaml

if TYPE_CHECKING:  # presets import pydantic: only the commands that read presets pay for it
    from kgcli.convert import ConvertConfig
    from kgcli.model.presets import Preset



def read_seed_yaml(path: str, keys: dict[str, str | None],
                   what: str) -> tuple[dict[str, Any], dict[str, Any]]:
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


# The seed's fine-tuning YAML keys (spec §5.2) → preset fields (None: a run option, handled below).
TRAINING_KEYS: dict[str, str | None] = {
    "output_dir": None, "do_train": None, "do_eval": None, "model_name_or_path": "base_model",
    "model_name": "family", "template": "template", "train_file": None, "valid_file": None,
    "val_set_size": "val_size", "per_device_train_batch_size": "per_device_train_batch_size",
    "per_device_eval_batch_size": "per_device_eval_batch_size",
    "gradient_accumulation_steps": "gradient_accumulation_steps", "num_train_epochs": "num_train_epochs",
    "learning_rate": "learning_rate", "max_grad_norm": "max_grad_norm", "optim": "optim",
    "max_source_length": "max_source_length", "cutoff_len": "cutoff_len",
    "max_target_length": "max_target_length", "evaluation_strategy": "eval_strategy",
    "save_strategy": "save_strategy", "save_total_limit": "save_total_limit", "lora_r": "lora_r",
    "lora_alpha": "lora_alpha", "lora_dropout": "lora_dropout", "lora_target_modules": "lora_target_modules",
    "bf16": None, "fp16": None, "bits": "bits", "checkpoint_dir": None, "finetuning_type": "finetuning_type",
    "deepspeed": None, "stage": None, "preprocessing_num_workers": None, "overwrite_output_dir": None,
}


def training_config(path: str, base: Preset | None) -> tuple[Preset, dict[str, Any]]:
    """A preset and run options from the seed's fine-tuning YAML (``fine_llama.yaml`` and friends)."""
    from kgcli.model.presets import apply_overrides, build_preset

    data, fields = read_seed_yaml(path, TRAINING_KEYS, "fine-tuning")
    if data.get("stage", "sft") not in ("sft", "sft-custom"):
        raise KgcError(f"stage {data['stage']!r} is not supported; kgc trains supervised (sft)", path)
    if "lora_alpha" not in fields and "lora_r" in fields:
        fields["lora_alpha"] = 2 * int(fields["lora_r"])  # the seed's default alpha
    if base is not None:
        preset = apply_overrides(base, fields, source=path)
    else:
        preset = build_preset({"name": Path(path).stem, **fields}, source=path)
    options: dict[str, Any] = {
        "output_dir": data.get("output_dir"), "train_file": data.get("train_file"),
        "valid_file": data.get("valid_file"), "deepspeed": data.get("deepspeed"),
        # Hugging Face's meaning: the run may write into a non-empty folder (nothing is deleted)
        "overwrite_output_dir": bool(data.get("overwrite_output_dir")),
    }
    if adapters_of(data):
        options["adapters"] = adapters_of(data)
    return preset, options


# The seed's inference YAML keys (spec §5.2, §5.5) → preset fields / run options.
INFERENCE_KEYS = {
    "model_name_or_path": "base_model", "model_name": "family", "template": "template", "bits": "bits",
    "cutoff_len": "cutoff_len", "max_new_tokens": "max_new_tokens", "checkpoint_dir": None,
    "input_file": None,
    "output_file": None, "bf16": None, "fp16": None, "temperature": None, "top_p": None, "top_k": None,
    "num_beams": None, "output_dir": None, "predict_with_generate": None, "do_predict": None,
    "max_source_length": "max_source_length", "max_target_length": "max_target_length", "stage": None,
}


def config_dtype(model_path: str) -> str:
    config = os.path.join(model_path, "config.json")
    if not os.path.isfile(config):
        return "bf16"
    with open(config, encoding="utf-8") as handle:
        data = json.load(handle)
    name = str(data.get("dtype") or data.get("torch_dtype") or "float32")
    return {"bfloat16": "bf16", "float16": "fp16"}.get(name, "fp32")


def inference_config(path: str) -> tuple[dict, dict]:
    """(preset fields, run options: input/output files, sampling, adapters) from the seed's inference YAML."""
    data, fields = read_seed_yaml(path, INFERENCE_KEYS, "inference")
    if fields.get("base_model"):
        fields["builder"] = None
        if "dtype" not in fields:  # the seed infers the dtype from the model's config at inference
            fields["dtype"] = config_dtype(str(fields["base_model"]))
    options = {k: data.get(k) for k in ("input_file", "output_file", "temperature", "top_p")}
    options["adapters"] = adapters_of(data)
    return fields, options


def convert_config(path: str) -> tuple[ConvertConfig, str | None, str | None]:
    """The seed's convert YAML: ``mode`` names a section (train / test / hard_train) holding the options."""
    from kgcli.convert import ConvertConfig

    data = read_yaml(path) or {}
    if not isinstance(data, dict):
        raise KgcError("expected a mapping with 'mode' and its section", path)
    mode = data.get("mode")
    section = data.get(mode) if isinstance(mode, str) else None
    if not isinstance(section, dict):
        raise KgcError(f"'mode: {mode}' names no section of the file (sections: "
                       f"{', '.join(k for k in data if k != 'mode')})", path)
    known = {"src_path", "tgt_path", "schema_path", "language", "task", "split_num", "random_sort", "split",
             "cluster_mode", "hard_negative_path", "neg_schema", "seed", "source"}
    unknown = sorted(set(section) - known)
    if unknown:
        raise KgcError(f"unknown key(s) in section {mode!r}: {', '.join(unknown)}", path)
    if "task" not in section:
        raise KgcError(f"section {mode!r} needs 'task'", path)
    base = os.path.dirname(os.path.abspath(path))

    def rel(value: str | None) -> str | None:
        return None if value is None else os.path.join(base, value) if not os.path.isabs(value) else value

    config = ConvertConfig(
        task=str(section["task"]),
        language=str(section.get("language", "zh")),
        split=str(section.get("split", "test" if mode == "test" else "train")),
        schema_path=rel(section.get("schema_path")) or "",
        source=section.get("source"),
        split_num=section.get("split_num"),
        neg_schema=float(section.get("neg_schema", 1.0)),
        random_sort=bool(section.get("random_sort", False)),
        seed=int(section.get("seed", 42)),
        hard_negatives=rel(section.get("hard_negative_path")) if section.get("cluster_mode") else None,
    )
    return config, rel(section.get("src_path")), rel(section.get("tgt_path"))
