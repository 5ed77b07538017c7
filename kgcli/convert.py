"""IE records → IEPile instruction records (the seed's ``ie2instruction/convert_func.py``, made exact).

One pass, record by record: read → task module (gold items, schema elements) → chunking → JSON lines out.
Deterministic: ordered containers everywhere and one ``random.Random(seed)`` per run, so the same input and
seed give the same bytes in any process. The byte format of every string is ``json.dumps(...,
ensure_ascii=False)`` with default separators, which the published checkpoints were trained on.
"""

from __future__ import annotations

import gc
import hashlib
import itertools
import json
import operator
import os
import random
import tempfile
from collections import Counter
from collections.abc import Iterable, Iterator
from dataclasses import dataclass, field
from functools import cache
from importlib import resources
from typing import Any

from kgcli import blocks, parallel_convert
from kgcli.errors import KgcError, warn
from kgcli.io import (
    STDIO,
    atomic_output,
    compat_dumps,
    display_name,
    encode_str,
    read_json_file,
    read_jsonl,
    read_yaml,
)
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
        self._seen_ids: set[str] = set()
        self._source = config.source or ""
        self._test_head = '", "task": ' + encode_str(self.task.name) + ', "source": ' + encode_str(self._source) + ', "instruction": '
        self._instruction_head = '{"instruction": ' + encode_str(self.sentence) + ', "schema": '
        self._test_prefixes: list[str] | None = None
        self._known = self.task.known_keys(self.schema)

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
            for key in self.task.unknown_keys(items, self._known):
                self.stats.unknown_types[key] += 1

    def _instruction(self, elements: list[Any], text: str) -> str:
        return self._instruction_head + compat_dumps(elements) + ', "input": ' + encode_str(text) + "}"

    def _train_lines(self, text: str, items: list[dict] | None, where: tuple[str, int]) -> list[str]:
        if items is None:
            raise KgcError(f"training records need annotations ({self.task.annotation_key!r})", *where)
        if self.task.drops_empty and not items:
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
        return self._test_block(text, items).splitlines()

    def _test_block(self, text: str, items: list[dict] | None) -> str:
        """All lines of one test record, newline-terminated. Hot path: keep it flat."""
        if self.task.drops_empty and not items:
            self.stats.skipped += 1
            return ""
        if items is None:
            tail = "}\n"
        else:
            if items:
                unknown = self.task.unknown_keys(items, self._known)
                if unknown:
                    self.stats.unknown_types.update(unknown)
            tail = ', "label": ' + encode_str(compat_dumps(items)) + "}\n"
        digest = hashlib.sha256(text.encode("utf-8")).hexdigest()
        seen = self._seen_ids
        size = len(seen)
        seen.add(digest)
        if len(seen) == size:
            self.stats.duplicate_texts += 1
        head = '{"id": "' + digest + self._test_head
        encoded_text = encode_str(text) + "}"
        prefixes = self._test_prefixes or self._test_instruction_prefixes(items)
        if len(prefixes) == 1:
            return head + encode_str(prefixes[0] + encoded_text) + tail
        return "".join([head + encode_str(prefix + encoded_text) + tail for prefix in prefixes])

    def _test_instruction_prefixes(self, items: list[dict] | None) -> list[str]:
        """Test schemas depend only on the schema file (EEA: on the record's events), so cache them."""
        elements = self.task.test_elements(items, self.schema)
        prefixes = [self._instruction_head + compat_dumps(c) + ', "input": ' for c in split_chunks(elements, self.split_num)]
        if not self.task.schema_from_record:
            self._test_prefixes = prefixes
        return prefixes

    # -- streams ---------------------------------------------------------------------------------
    def convert_records(self, records: Iterable[tuple[int, dict]], name: str) -> Iterator[str]:
        """Output text, one string per input record (its lines, each ending in a newline)."""
        gc_was_enabled = gc.isenabled()
        gc.disable()  # records form no reference cycles; the cycle collector only costs time here
        try:
            yield from self._convert_records(records, name)
        finally:
            if gc_was_enabled:
                gc.enable()

    def _convert_records(self, records: Iterable[tuple[int, dict]], name: str) -> Iterator[str]:
        stats = self.stats
        if self.config.split == "test" and len(self.task.required_fields) > 1 and not self.task.schema_from_record:
            yield from self._flat_test_records(records, name)
            return
        if self.config.split == "test":
            read_items, block = self.task.read_items, self._test_block
            for number, record in records:
                stats.records_in += 1
                text = record.get("text")
                if type(text) is not str:
                    raise KgcError("record has no 'text' string", name, number)
                try:
                    out = block(text, read_items(record))
                except AnnotationError as exc:
                    raise KgcError(str(exc), name, number) from None
                if out:
                    yield out
            return
        for number, record in records:
            stats.records_in += 1
            lines = self.convert_record(record, (name, number))
            if lines:
                yield "\n".join(lines) + "\n"

    def _flat_test_records(self, records: Iterable[tuple[int, dict]], name: str) -> Iterator[str]:
        """The test split for tasks whose annotations are flat string records (NER, RE, SPO, KG).

        The same output as ``_test_block``, written as one flat loop with everything bound locally: this is
        where a conversion spends its time. Anything unusual in a record (a missing text, a malformed or
        duplicated annotation, an unknown type) goes through the general code for that record.
        """
        task, stats, known = self.task, self.stats, self._known
        key = task.annotation_key
        get_fields = task.fields_getter
        get_type = operator.itemgetter(task.type_field) if task.type_field else None
        dedup_on_fields = task.dedup_fields == task.required_fields
        chain, strings = itertools.chain.from_iterable, {str}
        sha256, enc, join, dumps = hashlib.sha256, encode_str, "".join, compat_dumps
        seen = self._seen_ids
        head_rest = self._test_head
        prefixes = self._test_prefixes or self._test_instruction_prefixes(None)
        single = prefixes[0] if len(prefixes) == 1 else None
        for number, record in records:
            stats.records_in += 1
            text = record.get("text")
            items = record.get(key)
            if type(text) is not str or (items is not None and type(items) is not list):
                yield self._general_test_record(record, name, number)
                continue
            if items:
                try:
                    rows = list(map(get_fields, items))
                    regular = set(map(type, chain(rows))) == strings
                except (KeyError, TypeError):
                    regular = False
                if not regular or len(rows) > 1 and (not dedup_on_fields or len(set(rows)) != len(rows)):
                    yield self._general_test_record(record, name, number)
                    continue
                if get_type is None or not known.issuperset(map(get_type, items)):
                    unknown = task.unknown_keys(items, known)
                    if unknown:
                        stats.unknown_types.update(unknown)
                tail = ', "label": ' + enc(dumps(items)) + "}\n"
            else:
                tail = "}\n" if items is None else ', "label": "[]"}\n'
            digest = sha256(text.encode("utf-8")).hexdigest()
            size = len(seen)
            seen.add(digest)
            if len(seen) == size:
                stats.duplicate_texts += 1
            head = '{"id": "' + digest + head_rest
            encoded = enc(text)
            if single is not None:
                yield join([head, enc(join([single, encoded, "}"])), tail])
            else:
                yield join([join([head, enc(join([prefix, encoded, "}"])), tail]) for prefix in prefixes])

    def _general_test_record(self, record: dict, name: str, number: int) -> str:
        text = record.get("text")
        if type(text) is not str:
            raise KgcError("record has no 'text' string", name, number)
        try:
            return self._test_block(text, self.task.read_items(record))
        except AnnotationError as exc:
            raise KgcError(str(exc), name, number) from None


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
    if config.split == "test" and blocks.worth_it(in_path):
        out_dir = os.path.dirname(os.path.abspath(out_path)) if out_path != STDIO else tempfile.gettempdir()
        with atomic_output(out_path) as out, progress(f"convert {config.task} test (parallel)") as advance:
            stats = parallel_convert.convert_parallel(in_path, name, config, out, out_dir)
            advance(stats.records_in)
        stats.report()
        return stats
    with atomic_output(out_path) as out, progress(f"convert {config.task} {config.split}") as advance:
        write = out.write
        pending = 0
        for block in converter.convert_records(read_jsonl(in_path), name):
            write(block)
            pending += 1
            if pending == 1024:
                advance(pending)
                pending = 0
        advance(pending)
    converter.stats.report()
    return converter.stats


def config_from_seed_yaml(path: str) -> tuple[ConvertConfig, str | None, str | None]:
    """The seed's convert YAML: ``mode`` names a section (train / test / hard_train) holding the options."""
    data = read_yaml(path) or {}
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
