"""What a training run needs, resolved before anything heavy starts: preset (+ overrides, + the seed's
YAML), data files, output folder, and how to launch (in-process, or under ``accelerate launch``)."""

from __future__ import annotations

import shlex
import sys
from dataclasses import asdict, dataclass, field
from importlib import resources
from pathlib import Path
from typing import Any

from kgcli.errors import KgcError
from kgcli.presets import Preset, apply_overrides, build_preset
from kgcli.seed_yaml import adapters_of, read_seed_yaml

# The seed's fine-tuning YAML keys (spec §5.2) → preset fields (None: a run option, handled below).
SEED_KEYS: dict[str, str | None] = {
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


@dataclass
class TrainRequest:
    preset: Preset
    train_file: str
    output_dir: str
    valid_file: str | None = None
    adapters: list[str] = field(default_factory=list)  # all but the last are merged; the last keeps training
    resume: bool = False
    overwrite: bool = False
    num_processes: int = 1
    num_machines: int = 1
    machine_rank: int = 0
    main_process_ip: str | None = None
    main_process_port: int = 29500
    deepspeed: str | None = None
    notes: list[str] = field(default_factory=list)

    @property
    def distributed(self) -> bool:
        return self.num_processes > 1 or self.num_machines > 1 or self.deepspeed is not None

    def resolved(self) -> dict[str, Any]:
        data = asdict(self)
        data["preset"] = self.preset.model_dump()
        return data


def deepspeed_config(value: str) -> str:
    """``zero2`` / ``zero3`` name the shipped bf16 ZeRO configs; anything else is a JSON file path."""
    if value in ("zero2", "zero3"):
        return str(resources.files("kgcli.data").joinpath("deepspeed", f"{value}.json"))
    if not Path(value).is_file():
        raise KgcError("DeepSpeed config file not found (or use zero2 / zero3)", value)
    return value


def from_seed_yaml(path: str, base: Preset | None) -> tuple[Preset, dict[str, Any]]:
    """A preset and run options from the seed's fine-tuning YAML (``fine_llama.yaml`` and friends)."""
    data, fields = read_seed_yaml(path, SEED_KEYS, "fine-tuning")
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
        "overwrite": bool(data.get("overwrite_output_dir")),
    }
    if adapters_of(data):
        options["adapters"] = adapters_of(data)
    return preset, options


def launch_command(request: TrainRequest, argv: list[str], config_file: str) -> list[str]:
    """``accelerate launch`` re-running this same command in every process."""
    command = [sys.executable, "-m", "accelerate.commands.launch", "--config_file", config_file, "--num_processes",
               str(request.num_processes * request.num_machines), "--num_machines", str(request.num_machines),
               "--machine_rank", str(request.machine_rank)]
    if request.num_machines > 1:
        command += ["--main_process_ip", request.main_process_ip or "", "--main_process_port",
                    str(request.main_process_port)]
    return command + ["-m", "kgcli", *argv, "--in-launcher"]


def accelerate_config(request: TrainRequest) -> dict[str, Any]:
    config: dict[str, Any] = {
        "compute_environment": "LOCAL_MACHINE",
        "distributed_type": "DEEPSPEED" if request.deepspeed else "MULTI_GPU",
        "num_machines": request.num_machines, "machine_rank": request.machine_rank,
        "num_processes": request.num_processes * request.num_machines,
        "mixed_precision": {"bf16": "bf16", "fp16": "fp16"}.get(request.preset.dtype, "no"),
        "main_training_function": "main", "rdzv_backend": "static", "same_network": True,
    }
    if request.num_machines > 1:
        config["main_process_ip"] = request.main_process_ip
        config["main_process_port"] = request.main_process_port
    if request.deepspeed:
        config["deepspeed_config"] = {"deepspeed_config_file": deepspeed_config(request.deepspeed)}
    return config


def shell(command: list[str]) -> str:
    return " ".join(shlex.quote(part) for part in command)


