"""IE records → IEPile instruction records (the seed's ``ie2instruction/convert_func.py``, made exact).

One pass, record by record: read → task module (gold items, schema elements) → chunking → JSON lines out.
Deterministic: ordered containers everywhere and one ``random.Random(seed)`` per run, so the same input and
seed give the same bytes in any process. The byte format of every string is ``json.dumps(...,
ensure_ascii=False)`` with default separators, which the published checkpoints were trained on.
"""

from __future__ import annotations

import array
import contextlib
import glob
import hashlib
import json
import os
import random
import tempfile
from collections import Counter
from collections.abc import Iterable, Iterator
from dataclasses import dataclass, field
from functools import cache
from importlib import resources
from typing import IO

from kgcli import shards
from kgcli.collector import cycles_paused
from kgcli.errors import KgcError, warn
from kgcli.io import STDIO, display_name, parse_lines, read_json_file, read_jsonl
from kgcli.outputs import check_output
from kgcli.progress import progress
from kgcli.records import RecordLayout, extra_fields
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
    unasked_roles: Counter = field(default_factory=Counter)  # "type/role" of records, not in the schema

    def merge(self, other: ConvertStats) -> None:
        """Add a worker's counts (duplicate texts are counted by the caller, across workers)."""
        self.records_in += other.records_in
        self.skipped += other.skipped
        self.unknown_types.update(other.unknown_types)

    def report(self) -> None:
        if self.unknown_types:
            total = sum(self.unknown_types.values())
            names = ", ".join(f"{k!r}×{v}" for k, v in self.unknown_types.most_common(5))
            warn(f"{total} annotation(s) use types not in the schema (still used, as in the seed): {names}")
        if self.unasked_roles:
            total = sum(self.unasked_roles.values())
            names = ", ".join(f"{k!r}×{v}" for k, v in self.unasked_roles.most_common(5))
            warn(f"{total} argument role(s) of the records are not among their event type's roles in the "
                 f"schema and were not asked (as in the seed): {names}")
        if self.duplicate_texts:
            warn(f"{self.duplicate_texts} record(s) repeat an earlier text: they share its id, and eval "
                 "merges them")


def load_hard_negatives(path: str, key: str | None) -> dict[str, list[str]]:
    """A flat ``{key: [keys]}`` dictionary, or a slice ``TASK/DATASET`` of IEPile's nested
    ``hard_dict.json``."""
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
                "this is a nested {task: {dataset: {...}}} dictionary; pick one with --hard-negatives-key "
                "TASK/DATASET",
                path,
            )
        if not isinstance(value, list) or not all(isinstance(v, str) for v in value):
            raise KgcError(f"hard negatives of {name!r} must be a list of strings", path)
    return data


# Where each task's schema items stand in the three-line schema file (kgcli/schema.py)
SCHEMA_PLACE = {"NER": "entity types (line 1)", "RE": "relations (line 2)", "SPO": "types (line 1)",
                "EE": "event types (line 1, or line 3's keys)",
                "EET": "event types (line 1, or line 3's keys)",
                "KG": "entity types and attributes (line 3)"}


class Converter:
    """Turns raw records into instruction lines for one task / split / schema."""

    def __init__(self, config: ConvertConfig, schema: Schema | None = None):
        config.check()
        self.config = config
        self.task: Task = get_task(config.task)
        self.schema = schema if schema is not None else load_schema(config.schema_path)
        if not self.task.schema_from_record and not self.task.all_keys(self.schema):
            raise KgcError(f"the schema gives {self.task.name} nothing to ask: its "
                           f"{SCHEMA_PLACE.get(self.task.name, 'types')} are empty (a schema file of another "
                           "task?)", config.schema_path)
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
        self.layout = RecordLayout(self.task.name, self._source, self.sentence)
        self._test_heads: list[str] | None = None
        self._known = self.task.known_keys(self.schema)

    # -- one record (train split; tests and the bench) -------------------------------------------------
    def convert_record(self, record: dict, where: tuple[str, int]) -> list[str]:
        """The output lines (without newline) for one input record."""
        if self.config.split == "test":
            return "".join(self._test_records([(where[1], record)], where[0])).splitlines()
        text = record.get("text")
        if not isinstance(text, str):
            raise KgcError("record has no 'text' string", *where)
        try:
            items = self.task.read_items(record)
            if items is None:
                raise KgcError(f"training records need annotations ({self.task.annotation_key!r})", *where)
            return self._train_lines(text, items)
        except AnnotationError as exc:
            raise KgcError(str(exc), *where) from None

    def _train_lines(self, text: str, items: list[dict]) -> list[str]:
        if self.task.drops_empty and not items:
            self.stats.skipped += 1
            return []
        if items:
            self.stats.unknown_types.update(self.task.unknown_keys(items, self._known))
        elements = self.task.train_elements(items, self.schema, self.rng, self.options)
        if self.task.notes:
            self.stats.unasked_roles.update(self.task.notes)
            self.task.notes.clear()
        if elements is None:
            self.stats.skipped += 1
            return []
        render, layout = self.task.render, self.layout
        return [layout.train_line(chunk, text, render(chunk, items, text, self.options))
                for chunk in split_chunks(elements, self.split_num)]

    def _test_heads_for(self, items: list[dict] | None) -> list[str]:
        """Test record heads depend only on the schema file (EEA: on the record's events), so cache them."""
        elements = self.task.test_elements(items, self.schema)
        heads = self.layout.test_heads(split_chunks(elements, self.split_num))
        if not self.task.schema_from_record:
            self._test_heads = heads
        return heads

    def instruction_prefixes(self) -> list[str]:
        """The test instructions up to their input text, one per schema chunk (what a chunk's text is
        embedded in: ``kgc chunk`` sizes chunks so that the longest of these still fits)."""
        elements = self.task.test_elements(None, self.schema)
        return [self.layout.prefix(chunk) for chunk in split_chunks(elements, self.split_num)]

    # -- streams ---------------------------------------------------------------------------------
    def convert_records(self, records: Iterable[tuple[int, dict]], name: str) -> Iterator[str]:
        """Output text, one string per input record (its lines, each ending in a newline)."""
        with cycles_paused():
            if self.config.split == "test":
                yield from self._test_records(records, name)
                return
            for number, record in records:
                self.stats.records_in += 1
                lines = self.convert_record(record, (name, number))
                if lines:
                    yield "\n".join(lines) + "\n"

    def _test_records(self, records: Iterable[tuple[int, dict]], name: str) -> Iterator[str]:
        """The test split, the one path for every task: each record's lines, newline-terminated.

        Everything is bound locally: this loop is where a conversion spends its time.
        """
        task, stats, known, seen = self.task, self.stats, self._known, self._seen_ids
        read_items, drops_empty = task.read_test_items, task.drops_empty
        write, sha256 = self.layout.test_lines, hashlib.sha256
        fixed = self._test_heads or (None if task.schema_from_record else self._test_heads_for(None))
        skip = ("text", task.annotation_key, "id")
        count = 0
        try:
            for number, record in records:
                count += 1
                text = record.get("text")
                if type(text) is not str:
                    raise KgcError("record has no 'text' string", name, number)
                try:
                    items, unknown = read_items(record, known)
                except AnnotationError as exc:
                    raise KgcError(str(exc), name, number) from None
                if unknown:
                    stats.unknown_types.update(unknown)
                elif drops_empty and not items:
                    stats.skipped += 1
                    continue
                digest = sha256(text.encode("utf-8")).hexdigest()  # = records.text_id, inlined
                size = len(seen)
                seen.add(digest)
                if len(seen) == size:
                    stats.duplicate_texts += 1
                extra = extra_fields(record, skip) if "doc_id" in record else ""  # a chunk record
                yield write(digest, fixed or self._test_heads_for(items), text, items, extra)
        finally:
            stats.records_in += count

    def partial(self) -> tuple[ConvertStats, array.array]:
        """What a worker sends back: its counts, and its text ids as hashes (forked workers share the hash
        seed): 8 bytes instead of a 64-character string each, enough to count texts repeated across shards."""
        return self.stats, array.array("q", map(hash, self._seen_ids))


def _convert_shard(lines: list[bytes], first_line: int, index: int,
                   job: tuple[ConvertConfig, str, str]) -> tuple[ConvertStats, array.array]:
    """Worker: convert one shard of the test split into its own part file."""
    config, name, prefix = job
    converter = Converter(config)
    with open(f"{prefix}{index}.tmp", "w", encoding="utf-8", newline="\n") as out:
        for text in converter.convert_records(parse_lines(lines, name, first_line), name):
            out.write(text)
    return converter.partial()


def convert_parallel(in_path: str, name: str, config: ConvertConfig, out: IO[str],
                     out_dir: str) -> ConvertStats:
    """The test split of a large file by several processes (it needs no random generator): each shard is
    converted into a part file beside OUT and the parts are appended in order to the open OUT. Output bytes,
    warnings and error messages are those of the one-process path."""
    prefix = os.path.join(out_dir, f".kgc-part-{os.getpid()}-")
    stats, seen = ConvertStats(), set()
    out.flush()
    try:
        with contextlib.closing(shards.map_shards(in_path, _convert_shard,
                                                  (config, name, prefix))) as results:
            for index, (part_stats, ids) in results:
                stats.merge(part_stats)
                seen.update(ids)
                shards.append_file(f"{prefix}{index}.tmp", out)
                os.unlink(f"{prefix}{index}.tmp")
    finally:
        for part in glob.glob(glob.escape(prefix) + "*.tmp"):
            os.unlink(part)
    stats.duplicate_texts = stats.records_in - stats.skipped - len(seen)
    return stats


def resolve_source(config: ConvertConfig, in_path: str) -> None:
    if config.source is None:
        if in_path == STDIO:
            raise KgcError("--source NAME is required when reading stdin (the seed takes the input's folder "
                           "name)")
        config.source = default_source(in_path)


def convert_file(in_path: str, out_path: str, config: ConvertConfig) -> ConvertStats:
    """Convert IN to OUT (``-`` for stdin/stdout). OUT is checked first and appears (or reaches stdout) only
    when the whole input converted: a bad line leaves nothing written."""
    inputs = [p for p in (in_path, config.schema_path, config.hard_negatives) if p]
    output = check_output(out_path, inputs=inputs, spool=True)
    resolve_source(config, in_path)
    converter = Converter(config)
    name = display_name(in_path)
    if config.split == "test" and shards.worth_it(in_path):
        out_dir = (os.path.dirname(os.path.abspath(out_path)) if output.mode == "replace"
                   else tempfile.gettempdir())
        with output.open() as out, progress(f"convert {config.task} test (parallel)") as advance:
            stats = convert_parallel(in_path, name, config, out, out_dir)
            _require_records(stats, name)
            advance(stats.records_in)
        stats.report()
        return stats
    with output.open() as out, progress(f"convert {config.task} {config.split}") as advance:
        write = out.write
        pending = 0
        for block in converter.convert_records(read_jsonl(in_path), name):
            write(block)
            pending += 1
            if pending == 1024:
                advance(pending)
                pending = 0
        advance(pending)
        _require_records(converter.stats, name)
    converter.stats.report()
    return converter.stats


def _require_records(stats: ConvertStats, name: str) -> None:
    if not stats.records_in:
        raise KgcError("no records: expected JSON lines, one IE record (with 'text') per line", name)
