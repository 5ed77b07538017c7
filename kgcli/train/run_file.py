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
from typing import Any

from kgcli.errors import KgcError
from kgcli.io import read_yaml
from kgcli.model.presets import parse_set_options
from kgcli.train.config import TrainRequest

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
