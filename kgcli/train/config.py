"""What a training run needs, resolved before anything heavy starts: preset (+ overrides, + the seed's
YAML), data files, output folder, and the accelerate / DeepSpeed configuration of a distributed launch."""

from __future__ import annotations

from dataclasses import asdict, dataclass, field
from importlib import resources
from pathlib import Path
from typing import Any

from kgcli.errors import KgcError
from kgcli.presets import Preset


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
