"""What a training run needs, resolved before anything heavy starts: preset (+ overrides, + the seed's
YAML), data files, output folder, and the accelerate / DeepSpeed configuration of a distributed launch."""

from __future__ import annotations

from dataclasses import asdict, dataclass, field
from importlib import resources
from pathlib import Path
from typing import Any

from kgcli.errors import KgcError
from kgcli.model.presets import Preset

WRITER = "kgc train"  # the folder rule's name for what train writes (kgcli.outputs)


@dataclass
class TrainRequest:
    preset: Preset
    train_file: str
    output_dir: str
    valid_file: str | None = None
    adapters: list[str] = field(default_factory=list)  # all but the last are merged; the last keeps training
    resume: bool = False
    overwrite: bool = False  # --overwrite on the command line only: replace a folder kgc train wrote
    overwrite_output_dir: bool = False  # Hugging Face's meaning: write into a non-empty folder, delete none
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
        """The run as a run file (``--dry-run``): ``overwrite`` stays out, since only the command-line flag
        may delete a folder."""
        data = asdict(self)
        data.pop("overwrite")
        data["preset"] = self.preset.model_dump()
        return data


def check_data(request: TrainRequest, from_preset: str | None = None) -> None:
    """Everything a run needs from its files, before any heavy import: the data files exist and every line
    is a training record (``from_preset`` names the preset whose default files these are, so the error says
    where the path came from and which flag overrides it), and the output folder can take the run."""
    from kgcli.outputs import check_output_folder
    from kgcli.train.data import read_examples

    for name, flag in (("train_file", "--train-file"), ("valid_file", "--valid-file")):
        path = getattr(request, name)
        if path and not Path(path).is_file():
            where = f" (the {name} of preset {from_preset}; give {flag} PATH)" if from_preset else ""
            raise KgcError(f"is a folder, not a file{where}" if Path(path).is_dir() else
                           f"no such file{where}", path)
        if path and not sum(1 for _ in read_examples(path)):  # every line read: a bad one stops here
            raise KgcError("no training records: expected converted records (kgc convert --split train)",
                           path)
    check_output_folder(request.output_dir, writer=WRITER, overwrite=request.overwrite, resume=request.resume,
                        into=request.overwrite_output_dir, flag="--output-dir")
    out = Path(request.output_dir)
    if request.resume and not (out.is_dir() and any(p.name.startswith("checkpoint-") for p in out.iterdir())):
        raise KgcError("--resume: no checkpoint-* folder to continue from", str(out))


def deepspeed_config(value: str) -> str:
    """``zero2`` / ``zero3`` name the shipped bf16 ZeRO configs; anything else is a JSON file path."""
    if value in ("zero2", "zero3"):
        return str(resources.files("kgcli.data").joinpath("deepspeed", f"{value}.json"))
    if not Path(value).is_file():
        raise KgcError("DeepSpeed config file not found (or use zero2 / zero3)", value)
    return value


def accelerate_flags(request: TrainRequest) -> list[str]:
    """The ``accelerate launch`` options of a distributed run, written out on the command line (no config
    file to create, keep or clean up)."""
    if request.deepspeed:
        flags = ["--use_deepspeed", "--deepspeed_config_file", deepspeed_config(request.deepspeed)]
    else:
        flags = ["--multi_gpu"]
    flags += ["--mixed_precision", {"bf16": "bf16", "fp16": "fp16"}.get(request.preset.dtype, "no"),
              "--num_processes", str(request.num_processes * request.num_machines),
              "--num_machines", str(request.num_machines), "--machine_rank", str(request.machine_rank)]
    if request.num_machines > 1:
        flags += ["--main_process_ip", request.main_process_ip or "", "--main_process_port",
                  str(request.main_process_port), "--rdzv_backend", "static", "--same_network"]
    return flags
