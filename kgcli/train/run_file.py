"""``kgc train RUN.yaml key=value …``: one file that holds a whole run (LLaMA-Factory's form, with kgc's
keys), and that ``kgc train … --dry-run`` prints, so a plan can be saved, edited and replayed.

A run file is a mapping, optionally under a top-level ``train:`` (the ``--dry-run`` output): ``preset``
(a name, a YAML path, or the preset's fields inline), the run's own keys (``train_file``, ``output_dir``,
``valid_file``, ``adapters``, ``deepspeed``, ``num_processes``, …) and any preset key at the top level as
an override (``lora_r: 16``). ``key=value`` words on the command line override either kind; flags
override the file.
"""

from __future__ import annotations

import dataclasses
from typing import TYPE_CHECKING, Any

from kgcli.errors import KgcError
from kgcli.io import read_yaml
from kgcli.model.presets import parse_set_options
from kgcli.train.config import TrainRequest, check_data

if TYPE_CHECKING:
    from kgcli.model.resolve import ModelChoice

RUN_KEYS = {f.name for f in dataclasses.fields(TrainRequest)} - {"preset", "notes", "overwrite"}


@dataclasses.dataclass
class RunFile:
    preset: str | dict[str, Any] | None = None
    run: dict[str, Any] = dataclasses.field(default_factory=dict)  # TrainRequest fields
    overrides: dict[str, Any] = dataclasses.field(default_factory=dict)  # preset fields


def split_words(words: list[str] | None) -> tuple[str | None, list[str]]:
    """(RUN.yaml or None, the key=value words) from ``kgc train``'s positional words."""
    files = [w for w in words or [] if "=" not in w]
    if len(files) > 1 or (files and not files[0].endswith((".yaml", ".yml"))):
        raise KgcError(f"kgc train takes one RUN.yaml and key=value words, got {' '.join(files)!r}")
    return (files[0] if files else None), [w for w in words or [] if "=" in w]


def read_run_file(path: str | None, assignments: list[str]) -> RunFile:
    found = RunFile()
    data: dict[str, Any] = {}
    if path:
        loaded = read_yaml(path)
        if isinstance(loaded, dict) and set(loaded) == {"train"}:
            loaded = loaded["train"]
        if not isinstance(loaded, dict):
            raise KgcError("a run file holds one mapping (preset, train_file, output_dir, …)", path)
        data.update(loaded)
    if "overwrite" in data:
        raise KgcError("'overwrite' cannot come from a run file: pass --overwrite on the command line (it "
                       "deletes the output folder)", path)
    data.update(parse_set_options(assignments))
    if "overwrite" in data:
        raise KgcError("overwrite=… is not a run setting: pass --overwrite (it deletes the output folder)")
    found.preset = data.pop("preset", None)
    if found.preset is not None and not isinstance(found.preset, (str, dict)):
        raise KgcError("'preset' must be a preset name, a YAML path or the preset's fields", path)
    data.pop("notes", None)
    for key, value in data.items():
        (found.run if key in RUN_KEYS else found.overrides)[key] = value
    return found


@dataclasses.dataclass(frozen=True)
class TrainFlags:
    """What the command line said about the run (None: not given, so the run file or the preset decides)."""

    train_file: str | None = None
    valid_file: str | None = None
    output_dir: str | None = None
    resume: bool = False
    overwrite: bool = False
    num_processes: int | None = None
    num_machines: int | None = None
    machine_rank: int | None = None
    main_process_ip: str | None = None
    main_process_port: int | None = None
    deepspeed: str | None = None
    max_steps: int | None = None
    val_size: int | None = None


LAUNCH_DEFAULTS = {"num_processes": 1, "num_machines": 1, "machine_rank": 0, "main_process_port": 29500}


def training_request(words: list[str] | None, choice: ModelChoice, flags: TrainFlags, *,
                     dry_run: bool = False) -> TrainRequest:
    """The one training run from its three sources — command-line flags over the run file (``RUN.yaml``,
    ``key=value`` words, the seed's YAML) over the preset — with every rule checked once (the data files
    and the output folder too, unless ``dry_run``: a plan is shown before the data exists)."""
    run_path, assignments = split_words(words)
    run = read_run_file(run_path, assignments)
    extra = {**run.overrides, **{key: value for key, value in (("max_steps", flags.max_steps),
                                                               ("val_size", flags.val_size))
                                 if value is not None}}
    adapters = run.run.get("adapters")
    choice = dataclasses.replace(choice, preset=choice.preset or run.preset,
                                 adapter=choice.adapter or (",".join(adapters) if adapters else None))
    resolved = choice.resolve("train", dry_run=dry_run, extra=extra)
    options, base = {**run.run, **resolved.options}, resolved.preset

    def pick(name: str) -> Any:  # the flag, else the run file, else the default
        value = getattr(flags, name)
        return value if value is not None else options.get(name, LAUNCH_DEFAULTS.get(name))

    data = flags.train_file or options.get("train_file")
    defaults = not data and bool(base.train_file)  # the preset's data files, used as a pair
    request = TrainRequest(
        preset=base, train_file=data or base.train_file or "",
        valid_file=flags.valid_file or options.get("valid_file") or (base.valid_file if defaults else None),
        output_dir=flags.output_dir or options.get("output_dir") or base.output_dir or "",
        adapters=resolved.adapters, resume=flags.resume or options.get("resume", False),
        overwrite=flags.overwrite, overwrite_output_dir=bool(options.get("overwrite_output_dir", False)),
        num_processes=pick("num_processes"), num_machines=pick("num_machines"),
        machine_rank=pick("machine_rank"), main_process_ip=pick("main_process_ip"),
        main_process_port=pick("main_process_port"), deepspeed=pick("deepspeed"))
    if not request.train_file:
        raise KgcError("--train-file is required")
    if "-" in (request.train_file, request.valid_file):
        raise KgcError("training reads its data files more than once (and in every process): give a file, "
                       "not - (stdin)")
    if not request.output_dir:
        raise KgcError("--output-dir is required")
    if request.num_machines > 1 and not request.main_process_ip:
        raise KgcError("--num-machines > 1 needs --main-process-ip")
    from kgcli.model.validate import check_launch

    check_launch(request.preset, deepspeed=request.deepspeed, adapters=request.adapters)
    if not dry_run:
        check_data(request, from_preset=base.name if defaults else None)
        resolved.check_hardware()
    return request
