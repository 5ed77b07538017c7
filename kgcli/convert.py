"""IE records → IEPile instruction records (the seed's ``ie2instruction/convert_func.py``, made exact).

One pass, record by record: read → task module (gold items, schema elements) → chunking → JSON lines out.
Deterministic: ordered containers everywhere and one ``random.Random(seed)`` per run, so the same input and
seed give the same bytes in any process. The byte format of every string is ``json.dumps(...,
ensure_ascii=False)`` with default separators, which the published checkpoints were trained on.
"""

from __future__ import annotations

import hashlib
import json
import os
import random
from collections import Counter
from collections.abc import Iterable, Iterator
from dataclasses import dataclass, field
from functools import cache
from importlib import resources
from typing import Any

from kgcli.errors import KgcError, warn
from kgcli.io import STDIO, atomic_output, compat_dumps, display_name, encode_str, read_json_file, read_jsonl
from kgcli.progress import progress
from kgcli.schema import Schema, load_schema
from kgcli.tasks import AnnotationError, Options, Task, get_task

LANGUAGES = ("zh", "en")
SPLITS = ("train", "test")


@cache
def instruction_sentences() -> dict[str, dict[str, str]]:
    return json.loads(resources.files("kgcli.data").joinpath("instructions.json").read_text(encoding="utf-8"))


def instruction_sentence(task: str, language: str, historical_spo: bool = False) -> str:
    key = "SPO_historical" if historical_spo and task == "SPO" else task
    return instruction_sentences()[key][language]


def split_chunks(items: list, split_num: int) -> list[list]:
    """The seed's chunking rule: chunks of k; a remainder ≥ max(1, k//2) stands alone, else joins the last.

    k = -1 → one chunk. n = 0 → one empty chunk. n < k → one chunk of n.
    """
    if split_num == -1:
        return [list(items)]
    n = len(items)
    m = max(n // split_num, 1) * split_num
    chunks = [list(items[i : i + split_num]) for i in range(0, m, split_num)]
    rest = n - m
    if rest >= max(1, split_num // 2):
        chunks.append(list(items[m:]))
    elif rest > 0:
        chunks[-1].extend(items[m:])
    return chunks


def text_id(text: str) -> str:
    return hashlib.sha256(text.encode("utf-8")).hexdigest()


def default_source(in_path: str) -> str:
    """The seed's rule: the name of the folder that holds the input file."""
    return os.path.basename(os.path.dirname(os.path.abspath(in_path)))


@dataclass
class ConvertConfig:
    task: str
    language: str = "zh"
    split: str = "train"
    schema_path: str = ""
    source: str | None = None
    split_num: int | None = None
    neg_schema: float = 1.0
    random_sort: bool = False
    seed: int = 42
    hard_negatives: str | None = None
    hard_negatives_key: str | None = None
    re_keys: str = "subject-object"
    eea_format: str = "iepile"
    historical_spo: bool = False

    def check(self) -> None:
        get_task(self.task)
        if self.language not in LANGUAGES:
            raise KgcError(f"unknown language {self.language!r}; choose zh or en")
        if self.split not in SPLITS:
            raise KgcError(f"unknown split {self.split!r}; choose train or test")
        if self.split_num is not None and (self.split_num == 0 or self.split_num < -1):
            raise KgcError(f"--split-num must be a positive number or -1 (no split), got {self.split_num}")
        if self.re_keys not in ("subject-object", "head-tail"):
            raise KgcError("--re-keys must be subject-object or head-tail")
        if self.eea_format not in ("iepile", "deepke"):
            raise KgcError("--eea-format must be iepile or deepke")
        if not self.schema_path:
            raise KgcError("--schema FILE is required")
        if self.hard_negatives and self.split != "train":
            raise KgcError("--hard-negatives applies to --split train only")


@dataclass
class ConvertStats:
    records_in: int = 0
    records_out: int = 0
    skipped: int = 0
    unknown_types: Counter = field(default_factory=Counter)
    duplicate_texts: int = 0

    def report(self) -> None:
        if self.unknown_types:
            total = sum(self.unknown_types.values())
            names = ", ".join(f"{k!r}×{v}" for k, v in self.unknown_types.most_common(5))
            warn(f"{total} annotation(s) use types not in the schema (still used, as in the seed): {names}")
        if self.duplicate_texts:
            warn(f"{self.duplicate_texts} record(s) repeat an earlier text: they share its id, and eval merges them")


def load_hard_negatives(path: str, key: str | None) -> dict[str, list[str]]:
    """A flat ``{key: [keys]}`` dictionary, or a slice ``TASK/DATASET`` of IEPile's nested ``hard_dict.json``."""
    data = read_json_file(path)
    if key:
        for part in key.split("/"):
            if not isinstance(data, dict) or part not in data:
                raise KgcError(f"--hard-negatives-key {key!r}: no entry {part!r}", path)
            data = data[part]
    if not isinstance(data, dict):
        raise KgcError("hard negatives must be a JSON object {key: [keys]}", path)
    for name, value in data.items():
        if isinstance(value, dict):
            raise KgcError(
                "this is a nested {task: {dataset: {...}}} dictionary; pick one with --hard-negatives-key TASK/DATASET",
                path,
            )
        if not isinstance(value, list) or not all(isinstance(v, str) for v in value):
            raise KgcError(f"hard negatives of {name!r} must be a list of strings", path)
    return data


class Converter:
    """Turns raw records into instruction lines for one task / split / schema."""

    def __init__(self, config: ConvertConfig, schema: Schema | None = None):
        config.check()
        self.config = config
        self.task: Task = get_task(config.task)
        self.schema = schema if schema is not None else load_schema(config.schema_path)
        self.split_num = config.split_num if config.split_num is not None else self.task.default_split_num
        hard = None
        if config.hard_negatives:
            if not self.task.supports_cluster:
                raise KgcError(f"hard-negative (cluster) mode is not defined for {self.task.name}")
            hard = load_hard_negatives(config.hard_negatives, config.hard_negatives_key)
        self.options = Options(
            neg_schema=config.neg_schema,
            random_sort=config.random_sort,
            split_num=self.split_num,
            hard_negatives=hard,
            re_keys=("subject", "object") if config.re_keys == "subject-object" else ("head", "tail"),
            eea_format=config.eea_format,
        )
        self.rng = random.Random(config.seed)
        self.sentence = instruction_sentence(self.task.name, config.language, config.historical_spo)
        self.stats = ConvertStats()
        self._seen_ids: set[bytes] = set()
        self._source = config.source or ""
        self._head = ", " + '"task": ' + encode_str(self.task.name) + ', "source": ' + encode_str(self._source)
        self._instruction_head = '{"instruction": ' + encode_str(self.sentence) + ', "schema": '
        self._test_prefixes: list[str] | None = None

    # -- one record -------------------------------------------------------------------------------
    def convert_record(self, record: dict, where: tuple[str, int]) -> list[str]:
        """The output lines (without newline) for one input record."""
        text = record.get("text")
        if not isinstance(text, str):
            raise KgcError("record has no 'text' string", *where)
        try:
            items = self.task.read_items(record)
            if self.config.split == "train":
                return self._train_lines(text, items, where)
            return self._test_lines(text, items)
        except AnnotationError as exc:
            raise KgcError(str(exc), *where) from None

    def _count_unknown(self, items: list[dict] | None) -> None:
        if items:
            for key in self.task.unknown_keys(items, self.schema):
                self.stats.unknown_types[key] += 1

    def _instruction(self, elements: list[Any], text: str) -> str:
        return self._instruction_head + compat_dumps(elements) + ', "input": ' + encode_str(text) + "}"

    def _train_lines(self, text: str, items: list[dict] | None, where: tuple[str, int]) -> list[str]:
        if items is None:
            raise KgcError(f"training records need annotations ({self.task.annotation_key!r})", *where)
        if not self.task.keep_record(items):
            self.stats.skipped += 1
            return []
        self._count_unknown(items)
        elements = self.task.train_elements(items, self.schema, self.rng, self.options)
        if elements is None:
            self.stats.skipped += 1
            return []
        lines = []
        for chunk in split_chunks(elements, self.split_num):
            output = self.task.render(chunk, items, text, self.options)
            lines.append(
                '{"task": ' + encode_str(self.task.name) + ', "source": ' + encode_str(self._source)
                + ', "instruction": ' + encode_str(self._instruction(chunk, text))
                + ', "output": ' + encode_str(compat_dumps(output)) + "}"
            )
        return lines

    def _test_lines(self, text: str, items: list[dict] | None) -> list[str]:
        if not self.task.keep_record(items):
            self.stats.skipped += 1
            return []
        self._count_unknown(items)
        digest = hashlib.sha256(text.encode("utf-8"))
        raw = digest.digest()
        if raw in self._seen_ids:
            self.stats.duplicate_texts += 1
        else:
            self._seen_ids.add(raw)
        head = '{"id": "' + digest.hexdigest() + '"' + self._head + ', "instruction": '
        tail = "}" if items is None else ', "label": ' + encode_str(compat_dumps(items)) + "}"
        encoded_text = encode_str(text)
        lines = []
        for prefix in self._test_instruction_prefixes(items):
            instruction = prefix + encoded_text + "}"
            lines.append(head + encode_str(instruction) + tail)
        return lines

    def _test_instruction_prefixes(self, items: list[dict] | None) -> list[str]:
        """Test schemas depend only on the schema file (EEA: on the record's events), so cache them."""
        if self._test_prefixes is not None:
            return self._test_prefixes
        elements = self.task.test_elements(items, self.schema)
        prefixes = [self._instruction_head + compat_dumps(c) + ', "input": ' for c in split_chunks(elements, self.split_num)]
        if self.task.name != "EEA":
            self._test_prefixes = prefixes
        return prefixes

    # -- streams ---------------------------------------------------------------------------------
    def convert_records(self, records: Iterable[tuple[int, dict]], name: str) -> Iterator[str]:
        for number, record in records:
            self.stats.records_in += 1
            for line in self.convert_record(record, (name, number)):
                self.stats.records_out += 1
                yield line


def resolve_source(config: ConvertConfig, in_path: str) -> None:
    if config.source is None:
        if in_path == STDIO:
            raise KgcError("--source NAME is required when reading stdin (the seed takes the input's folder name)")
        config.source = default_source(in_path)


def convert_file(in_path: str, out_path: str, config: ConvertConfig) -> ConvertStats:
    """Convert IN to OUT (``-`` for stdin/stdout); OUT appears only when the whole input converted."""
    resolve_source(config, in_path)
    converter = Converter(config)
    name = display_name(in_path)
    with atomic_output(out_path) as out, progress(f"convert {config.task} {config.split}") as advance:
        write = out.write
        pending = 0
        for line in converter.convert_records(read_jsonl(in_path), name):
            write(line)
            write("\n")
            pending += 1
            if pending == 1024:
                advance(pending)
                pending = 0
        advance(pending)
    converter.stats.report()
    return converter.stats


def config_from_seed_yaml(path: str) -> tuple[ConvertConfig, str | None, str | None]:
    """The seed's convert YAML: ``mode`` names a section (train / test / hard_train) holding the options."""
    import yaml

    try:
        data = yaml.safe_load(open(path, encoding="utf-8")) or {}
    except FileNotFoundError:
        raise KgcError("no such file", path) from None
    except yaml.YAMLError as exc:
        mark = getattr(exc, "problem_mark", None)
        raise KgcError(f"not valid YAML: {getattr(exc, 'problem', exc)}", path, mark.line + 1 if mark else None) from None
    if not isinstance(data, dict):
        raise KgcError("expected a mapping with 'mode' and its section", path)
    mode = data.get("mode")
    section = data.get(mode) if isinstance(mode, str) else None
    if not isinstance(section, dict):
        raise KgcError(f"'mode: {mode}' names no section of the file (sections: {', '.join(k for k in data if k != 'mode')})", path)
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
