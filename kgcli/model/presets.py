"""The preset registry: one YAML file per preset, validated by a pydantic model (unknown keys are errors).

Presets are looked up in the repository's ``presets/`` folder (a wheel ships it as
``kgcli/builtin_presets/``), then in
``--presets-dir`` / ``KGC_PRESETS_DIR`` (a user's preset of the same name wins). Adding a model is adding a
file.
"""

from __future__ import annotations

import os
import re
from functools import cache
from pathlib import Path
from typing import Any, Literal

import yaml
from pydantic import BaseModel, ConfigDict, Field, ValidationError, field_validator

from kgcli.errors import KgcError, warn
from kgcli.io import read_yaml

Dtype = Literal["bf16", "fp16", "fp32"]
FinetuningType = Literal["lora", "full", "ptuning"]


class Preset(BaseModel):
    """A model / template / precision combination plus its training recipe."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    name: str = ""
    description: str = ""
    base_model: str
    adapter: str | None = None
    builder: str | None = Field(default=None, description="local builder that makes base_model on first use")
    family: str
    template: str
    dtype: Dtype = "bf16"
    bits: Literal[4, 8, 16] = 16
    finetuning_type: FinetuningType = "lora"
    lora_r: int = Field(default=8, ge=1)
    lora_alpha: int = Field(default=16, ge=1)
    lora_dropout: float = Field(default=0.05, ge=0.0, lt=1.0)
    lora_target_modules: list[str] | None = None
    pre_seq_len: int = Field(default=16, ge=1, description="prefix length for P-tuning v2")
    cutoff_len: int = Field(default=700, ge=8)
    max_source_length: int = Field(default=400, ge=1)
    max_target_length: int = Field(default=300, ge=1)
    max_new_tokens: int = Field(default=512, ge=1)
    trust_remote_code: bool = False
    vllm_max_lora_rank: int = 64
    learning_rate: float = Field(default=5e-5, gt=0)
    num_train_epochs: float = Field(default=10, gt=0)
    max_steps: int = -1
    per_device_train_batch_size: int = Field(default=2, ge=1)
    per_device_eval_batch_size: int = Field(default=2, ge=1)
    gradient_accumulation_steps: int = Field(default=4, ge=1)
    max_grad_norm: float = 0.5
    optim: str = "adamw_torch"
    lr_scheduler_type: str = "linear"
    warmup_ratio: float = 0.0
    sampler: Literal["random", "group_by_length"] = Field(
        default="group_by_length", description="batch order: similar lengths per batch, batches shuffled; "
        "or a plain shuffle")
    packing: bool = Field(default=False, description="padding-free batches (examples end to end, position "
                          "ids restarting): no compute on padding")
    eval_strategy: Literal["no", "steps", "epoch"] = "epoch"
    save_strategy: Literal["no", "steps", "epoch"] = "epoch"
    save_steps: int = 500
    eval_steps: int = 500
    logging_steps: int = 2
    save_total_limit: int | None = 10
    val_size: int = 0
    seed: int = 42
    # Where a training run reads and writes by default (the seed's fine-tuning YAMLs name them; paths are
    # relative to the folder kgc runs in); --train-file / --valid-file / --output-dir override them.
    train_file: str | None = None
    valid_file: str | None = None
    output_dir: str | None = None

    @field_validator("eval_strategy", "save_strategy", mode="before")
    @classmethod
    def _unquoted_no(cls, value: Any) -> Any:
        """YAML reads an unquoted ``no`` as false: ``eval_strategy: no`` means the strategy "no"."""
        return "no" if value is False else value

    @field_validator("lora_target_modules", mode="before")
    @classmethod
    def _split_targets(cls, value: Any) -> Any:
        """A list, or a comma string (``q_proj,v_proj``); never evaluated as code (the seed eval()s it)."""
        if isinstance(value, str):
            return [part.strip() for part in value.strip("[]").replace("'", "").replace('"', "").split(",")
                    if part.strip()]
        return value

    def resolved_targets(self, family_targets: list[str]) -> list[str]:
        return list(self.lora_target_modules or family_targets)

    def to_yaml(self) -> str:
        return yaml.safe_dump(self.model_dump(), sort_keys=False, allow_unicode=True)


def builtin_dirs() -> list[Path]:
    """The presets shipped inside the package (a wheel install), else the repository's ``presets/`` (a
    checkout or an editable install)."""
    here = Path(__file__).resolve().parent.parent  # the kgcli package
    if (here / "builtin_presets").is_dir():
        return [here / "builtin_presets"]
    checkout = here.parent
    if (checkout / "pyproject.toml").is_file() and (checkout / "presets").is_dir():
        return [checkout / "presets"]
    return []


def user_dir() -> Path:
    """The user's own presets, loaded when the folder exists: ``$XDG_CONFIG_HOME/kgc/presets`` (default
    ``~/.config/kgc/presets``)."""
    return Path(os.environ.get("XDG_CONFIG_HOME") or Path.home() / ".config") / "kgc" / "presets"


def search_dirs(extra: str | None = None) -> list[Path]:
    dirs = builtin_dirs()
    if user_dir().is_dir():
        dirs.append(user_dir())
    for candidate in (os.environ.get("KGC_PRESETS_DIR"), extra):
        if candidate:
            path = Path(candidate)
            if not path.is_dir():
                raise KgcError("presets folder does not exist", candidate)
            dirs.append(path)
    return dirs


def load_preset_file(path: Path) -> Preset:
    data = read_yaml(str(path)) or {}
    if not isinstance(data, dict):
        raise KgcError("a preset file holds one mapping of fields", str(path))
    data.setdefault("name", path.stem)
    return build_preset(data, source=str(path))


def build_preset(data: dict[str, Any], source: str = "<preset>") -> Preset:
    try:
        return Preset.model_validate(data)
    except ValidationError as exc:
        raise KgcError(describe_validation_error(exc), source) from None


def did_you_mean(word: str, choices: Any) -> str:
    """" (did you mean 'x'?)" for the closest choice, or "" when none is close."""
    import difflib

    close = difflib.get_close_matches(word, list(choices), n=1, cutoff=0.75)
    return f" (did you mean {close[0]!r}?)" if close else ""


def describe_validation_error(exc: ValidationError) -> str:
    parts = []
    for err in exc.errors():
        field = ".".join(str(p) for p in err["loc"]) or "preset"
        if err["type"] == "extra_forbidden":
            parts.append(f"unknown key {field!r}{did_you_mean(field, Preset.model_fields)}")
        else:
            parts.append(f"{field}: {err['msg']}")
    return "; ".join(parts)


@cache
def _scan(dirs: tuple[Path, ...]) -> dict[str, Path]:
    found: dict[str, Path] = {}
    builtin = set(builtin_dirs())
    for directory in dirs:
        for path in sorted(directory.glob("*.yaml")) + sorted(directory.glob("*.yml")):
            earlier = found.get(path.stem)
            if earlier is not None and earlier.parent in builtin and directory not in builtin:
                warn(f"preset {path.stem!r} from {directory} replaces the built-in one")
            found[path.stem] = path  # later folders (the user's) win
    return found


def source_of(path: Path) -> str:
    """Where a preset comes from: "built-in", or the user's folder."""
    return "built-in" if path.parent in set(builtin_dirs()) else str(path.parent)


def available(presets_dir: str | None = None) -> dict[str, Path]:
    return _scan(tuple(search_dirs(presets_dir)))


def load_preset(name: str, presets_dir: str | None = None) -> Preset:
    """A preset by name, or by path to a YAML file."""
    if name.endswith((".yaml", ".yml")) or os.sep in name:
        if not Path(name).is_file():
            raise KgcError("no such preset file", name)
        return load_preset_file(Path(name))
    found = available(presets_dir)
    if name not in found:
        raise KgcError(f"unknown preset {name!r}{did_you_mean(name, found)}; `kgc presets list` shows all "
                       f"{len(found)}")
    return load_preset_file(found[name])


def builtin_preset(name: str) -> Preset | None:
    """The preset shipped with kgc under ``name`` (None for a file, a user's preset or an unknown name)."""
    path = available().get(name)
    if path is None or name.endswith((".yaml", ".yml")) or os.sep in name or source_of(path) != "built-in":
        return None
    return load_preset_file(path)


def listing(presets_dir: str | None = None) -> list[dict[str, Any]]:
    """One row per preset for ``kgc presets list``: name, model, template, method, where it comes from."""
    rows = []
    for name, path in sorted(available(presets_dir).items()):
        preset = load_preset_file(path)
        method = {"lora": "LoRA", "ptuning": "P-tuning", "full": "full"}.get(preset.finetuning_type,
                                                                          preset.finetuning_type)
        if preset.bits in (4, 8):
            method = f"QLoRA {preset.bits}-bit"
        rows.append({"name": name, "model": preset.adapter or preset.base_model, "template": preset.template,
                     "method": f"{method} {preset.dtype}", "source": source_of(path),
                     "description": preset.description, "trust_remote_code": preset.trust_remote_code})
    return rows


def all_presets(presets_dir: str | None = None) -> list[Preset]:
    return [load_preset_file(path) for _, path in sorted(available(presets_dir).items())]


def apply_overrides(preset: Preset, overrides: dict[str, Any], source: str = "--set") -> Preset:
    """A new preset with fields replaced; unknown keys and bad values are one-line errors."""
    if not overrides:
        return preset
    data = preset.model_dump()
    data.update(overrides)
    return build_preset(data, source=source)


def parse_set_options(items: list[str]) -> dict[str, Any]:
    """``--set key=value`` pairs; values are parsed as YAML scalars/lists (so 4 is an int, true a bool)."""
    result: dict[str, Any] = {}
    items = [part for item in items for part in re.split(r",(?=\s*[A-Za-z_][\w.]*=)", item)]  # a=1,b=2
    for item in items:
        if "=" not in item:
            raise KgcError(f"--set expects key=value, got {item!r}")
        key, value = item.split("=", 1)
        try:
            parsed = yaml.safe_load(value) if value.strip() else ""
        except yaml.YAMLError:
            parsed = value
        if isinstance(parsed, bool) and value.strip().lower() not in ("true", "false"):
            parsed = value.strip()  # YAML 1.1's no/yes/on/off: kept as typed (pydantic still reads a bool)
        result[key.strip()] = parsed
    return result
