"""What every task module implements, plus the sampling helpers they share.

A task module owns one task's format: reading gold annotations from a raw record, building schema
elements for the instruction (train: with negative / hard-negative sampling; test: the whole schema in file
order), rendering the target output JSON, and, for evaluation, turning a model's output and the gold label
into comparable tuples. ``convert`` and ``evaluate`` both go through these modules only.
"""

from __future__ import annotations

import functools
import itertools
import operator
import random
from collections import Counter
from collections.abc import Iterable
from dataclasses import dataclass
from typing import Any, ClassVar

import orjson

from kgcli.schema import Schema, unique

NAN = "NAN"
_NONE: list = []  # shared, never appended to: "no unknown types" without a new list per record
_chain = itertools.chain.from_iterable

# JSON-schema pieces for constrained decoding (--guided-json), bounded so an answer can always close within
# the generation budget: at most 10 items per list, 64 characters per string.
STRING = {"type": "string", "maxLength": 64}


def array_of(items: dict) -> dict:
    return {"type": "array", "items": items, "maxItems": 10}


class AnnotationError(ValueError):
    """A record's annotation has the wrong shape (reported with file:line by the caller)."""


@dataclass
class Options:
    """Conversion settings a task's sampling needs."""

    neg_schema: float = 1.0
    random_sort: bool = False
    split_num: int = 4
    hard_negatives: dict[str, list[str]] | None = None
    re_keys: tuple[str, str] = ("subject", "object")
    eea_format: str = "iepile"


def binomial(rng: random.Random, trials: int, p: float) -> int:
    """Σ Bernoulli(p) over ``trials`` draws, from the run's one seeded generator."""
    if p >= 1:
        return trials
    if p <= 0:
        return 0
    return sum(1 for _ in range(trials) if rng.random() < p)


def sample_negatives(rng: random.Random, negatives: list, trials: int, p: float, at_least_one: bool) -> list:
    """The seed's draw: c = binomial(trials, p), at least 1 when asked, at most |negatives|."""
    count = binomial(rng, trials, p)
    if at_least_one:
        count = max(count, 1)
    count = min(count, len(negatives))
    if count == len(negatives):
        return list(negatives) if p >= 1 else rng.sample(negatives, count)
    return rng.sample(negatives, count)


def order(rng: random.Random, items: list, random_sort: bool, key=None) -> list:
    """Code-point sort, or a seeded shuffle with --random-sort."""
    if random_sort:
        items = list(items)
        rng.shuffle(items)
        return items
    return sorted(items, key=key)


def require_str(item: dict, key: str, where: str) -> str:
    value = item.get(key)
    if not isinstance(value, str):
        raise AnnotationError(f"{where}: {key!r} must be a string")
    return value


def string_rows(rows_of: Any, items: Iterable[Any]) -> list[tuple] | None:
    """The annotation rows (``rows_of`` applied to each item) when every item has every field and every
    field is a string (the usual record, checked in a few C-level calls); None otherwise."""
    try:
        rows = list(map(rows_of, items))
        "".join(_chain(rows))  # a TypeError unless every field is a string, as ``require_str`` checks
    except (KeyError, TypeError):
        return None
    return rows


class Task:
    """Base for key-list tasks (NER, RE, SPO, EET): one schema key per element."""

    name: ClassVar[str]
    annotation_key: ClassVar[str]
    required_fields: ClassVar[tuple[str, ...]] = ()  # string fields every annotation item must have
    type_field: ClassVar[str | None] = None  # the field holding an item's schema key, when it is one field
    gold_is_rows: ClassVar[bool] = False  # gold tuples are exactly the required fields (NER, RE, KG)
    dedup_fields: ClassVar[tuple[str, ...]] = ()  # annotations equal on these are one annotation
    drops_empty: ClassVar[bool] = False  # records without annotations yield no instruction (EEA)
    # the test schema depends on the record (EEA), not only the file
    schema_from_record: ClassVar[bool] = False
    default_split_num: ClassVar[int] = 4
    supports_cluster: ClassVar[bool] = True
    # Set on an evaluator's task objects by --legacy: read answers and gold as the seed's eval_func.py does.
    legacy: bool = False

    @functools.cached_property
    def notes(self) -> Counter:
        """Things this task object saw that deserve a one-line notice after a run (a note → how often)."""
        return Counter()

    # ---- reading ---------------------------------------------------------------------------------
    def read_items(self, record: dict) -> list[dict] | None:
        """The record's annotation list, validated and de-duplicated; None when the key is absent."""
        if self.annotation_key not in record or record[self.annotation_key] is None:
            return None
        items = record[self.annotation_key]
        if type(items) is not list:
            raise AnnotationError(f"{self.annotation_key!r} must be a list")
        if not items:
            return items
        fields = self.required_fields
        if len(fields) < 2:
            self._slow_check(items)
            return self.dedup(items)
        rows = string_rows(self.fields_getter, items)
        if rows is None:
            self._slow_check(items)  # raises, naming the item and field that is wrong
            return self.dedup(items)
        if self.dedup_fields == fields and len(set(rows)) == len(rows):
            return items
        return self.dedup(items)

    @functools.cached_property
    def fields_getter(self) -> Any:
        return operator.itemgetter(*self.required_fields)

    @functools.cached_property
    def _flat(self) -> tuple[Any, Any] | None:
        """(row getter, type getter or None) when annotations are flat string rows that ``read_items`` keeps
        as they are unless repeated; None for nested annotations."""
        if len(self.required_fields) < 2 or self.dedup_fields not in ((), self.required_fields):
            return None
        return self.fields_getter, operator.itemgetter(self.type_field) if self.type_field else None

    def read_test_items(self, record: dict, known: set[str]) -> tuple[list[dict] | None, list[str]]:
        """``read_items`` plus the annotation types the schema does not list, in one call (convert's test
        loop). The usual record of a flat-row task — string fields, no repeated annotation — is checked at C
        speed; anything else goes through the general checks, with the same result."""
        items = record.get(self.annotation_key)
        flat = self._flat
        if flat is not None and type(items) is list and items:
            rows_of, type_of = flat
            rows = string_rows(rows_of, items)
            if rows is not None and (len(rows) == 1 or len(set(rows)) == len(rows)):
                if type_of is not None and known.issuperset(map(type_of, items)):
                    return items, _NONE
                return items, self.unknown_keys(items, known)
        items = self.read_items(record)
        return items, (self.unknown_keys(items, known) if items else _NONE)

    def _slow_check(self, items: list) -> None:
        for index, item in enumerate(items):
            if type(item) is not dict:
                raise AnnotationError(f"{self.annotation_key}[{index}] must be an object")
            self.check_item(item, f"{self.annotation_key}[{index}]")

    def check_item(self, item: dict, where: str) -> None:
        """Shape check of one annotation item (tasks with nested items override this)."""
        for name in self.required_fields:
            require_str(item, name, where)

    def dedup(self, items: list[dict]) -> list[dict]:
        """Drop repeated annotations (same ``dedup_fields``), keeping the first, as the seed's filter does."""
        if not self.dedup_fields or len(items) < 2:
            return items
        key = operator.itemgetter(*self.dedup_fields)
        seen: dict[tuple, dict] = {}
        for item in items:
            seen.setdefault(key(item), item)
        return list(seen.values()) if len(seen) != len(items) else items

    # ---- schema ------------------------------------------------------------------------------------
    def all_keys(self, schema: Schema) -> list[str]:
        raise NotImplementedError

    def positive_keys(self, items: list[dict]) -> list[str]:
        raise NotImplementedError

    def element(self, key: str) -> Any:
        return key

    def sort_key(self, element: Any) -> Any:
        return element

    def known_keys(self, schema: Schema) -> set[str]:
        return set(self.all_keys(schema))

    def unknown_keys(self, items: list[dict], known: set[str]) -> list[str]:
        """Annotation types the schema does not list (warned about, still used)."""
        if self.type_field is not None:
            field = self.type_field
            if known.issuperset(map(operator.itemgetter(field), items)):
                return []
            return [key for item in items if (key := item[field]) not in known]
        return [k for k in self.positive_keys(items) if k not in known]

    def test_elements(self, items: list[dict] | None, schema: Schema) -> list[Any]:
        return [self.element(k) for k in self.all_keys(schema)]

    def train_elements(self, items: list[dict], schema: Schema, rng: random.Random,
                       opts: Options) -> list[Any] | None:
        """Schema elements for one training record; None = the record yields no instruction."""
        positives = self.positive_keys(items)
        all_keys = self.all_keys(schema)
        if opts.hard_negatives is not None:
            keys = self._cluster_keys(positives, all_keys, rng, opts)
            if keys is None:
                return [self.element(k) for k in keys_no_positive(rng, all_keys, opts)]
        else:
            if opts.neg_schema == 0:
                if not positives:
                    return None
                keys = list(positives)
            else:
                negatives = [k for k in all_keys if k not in set(positives)]
                if opts.neg_schema < 0:
                    sampled = negatives
                else:
                    sampled = sample_negatives(rng, negatives, len(all_keys), opts.neg_schema, not positives)
                keys = sampled + positives
        elements = [self.element(k) for k in keys]
        return order(rng, elements, opts.random_sort, key=self.sort_key)

    def _cluster_keys(self, positives: list[str], all_keys: list[str], rng: random.Random,
                      opts: Options) -> list[str] | None:
        if len(all_keys) == 1:
            return list(all_keys)
        if not positives:
            return None
        hard = opts.hard_negatives or {}
        chosen = unique([k for p in positives for k in hard.get(p, [])] + positives)
        easy = [k for k in all_keys if k not in set(chosen)]
        return chosen + rng.sample(easy, easy_count(easy, opts))

    # ---- output -----------------------------------------------------------------------------------
    def render(self, elements: list[Any], items: list[dict], text: str, opts: Options) -> dict:
        raise NotImplementedError

    def gold_answer(self, label: str, elements: list[Any], text: str) -> dict:
        """The answer a perfect model gives to a converted test record: its gold ``label`` (JSON text of the
        task's annotations) rendered for the instruction's schema ``elements`` and input ``text``. Raises
        ``AnnotationError`` (or a JSON, key or type error) when the label is not this task's."""
        items = self.read_items({self.annotation_key: orjson.loads(label)}) or []
        return self.render(elements, items, text, Options())

    def output_key(self, element: Any) -> str:
        """The key a schema element has in the output JSON."""
        return element

    def value_schema(self, element: Any) -> dict:
        """JSON schema of one key's value in the output (for constrained decoding)."""
        return array_of(STRING)

    def output_keys(self, elements: Any) -> set[str] | None:
        """The output keys a schema chunk asks for (None: the elements are not this task's schema)."""
        try:
            return {self.output_key(element) for element in elements}
        except (KeyError, TypeError):
            return None

    def output_schema(self, elements: list[Any]) -> dict:
        """JSON schema of a whole answer to an instruction with these schema elements: exactly its keys."""
        properties = {self.output_key(e): self.value_schema(e) for e in elements}
        return {"type": "object", "properties": properties, "required": list(properties),
                "additionalProperties": False}

    # ---- evaluation --------------------------------------------------------------------------------
    metrics: ClassVar[tuple[str, ...]] = ("main",)

    def gold(self, items: list[dict]) -> dict[str, list[tuple]]:
        raise NotImplementedError

    def gold_counts(self, label: Any) -> dict[str, dict[tuple, int]]:
        """Gold tuples per metric, as tuple → count, from a test record's ``label`` (the JSON text convert
        wrote); a ValueError says what is wrong with it. Flat-row tasks (gold tuples = the annotation rows,
        de-duplicated) read the usual label in a few C-level calls; anything unusual goes through
        ``read_items`` + ``gold``, with the same result."""
        if self.gold_is_rows and type(label) is str and not self.legacy:
            try:  # string_rows, made straight into the count table (once per group: eval's hot path)
                rows = dict.fromkeys(map(self.fields_getter, orjson.loads(label)), 1)
                "".join(_chain(rows))
                return {"main": rows}
            except (orjson.JSONDecodeError, KeyError, TypeError):
                pass
        if not isinstance(label, str):
            raise ValueError("record has no 'label' (convert the test split from annotated data)")
        try:
            items = orjson.loads(label)
        except orjson.JSONDecodeError:
            raise ValueError("'label' is not valid JSON") from None
        if not isinstance(items, list):
            raise ValueError("'label' must be a JSON list of annotations")
        try:
            if self.legacy:  # the seed's multiset: a repeated gold annotation counts twice
                self._slow_check(items)
                checked = items
            else:
                checked = self.read_items({self.annotation_key: items}) or []
        except ValueError as exc:
            raise ValueError(f"label: {exc}") from None
        return {metric: dict(Counter(tuples)) for metric, tuples in self.gold(checked).items()}

    def collect(self, key: str, value: Any, into: dict[str, list[tuple]]) -> None:
        raise NotImplementedError

    def collect_main(self, output: dict, allowed: set[str] | None, found: list[tuple]) -> int:
        """``collect_all`` for single-metric tasks, straight into one list."""
        return self.collect_all(output, allowed, {"main": found})

    def collect_all(self, output: dict, allowed: set[str] | None, into: dict[str, list[tuple]]) -> int:
        """Tuples of a whole output object; keys outside ``allowed`` are skipped. Returns their count."""
        off_schema = 0
        collect = self.collect
        for key, value in output.items():
            if allowed is not None and key not in allowed:
                off_schema += 1
            elif value:
                collect(key, value, into)
        return off_schema

    def in_schema(self, metric: str, values: tuple, detail: dict[str, Any] | None, elements: Any) -> bool:
        """Whether a tuple of an answer names only what the chunk's schema asked for, beyond the output keys
        ``collect_all`` already checks (the merge keeps only such tuples: a graph's labels stay the
        schema's). True for the tasks whose keys are all their names."""
        return True

    def details(self, answer: dict, elements: Any) -> dict[tuple[str, tuple], dict[str, Any]]:
        """What a merged result knows beyond its tuple, read from the whole answer and the chunk's schema
        elements: (metric, tuple) → extra fields. The graph needs them where the tuple drops something:
        the types the schema gives a relation's ends (SPO) or an entity (KG), an event's arguments (EE,
        EEA). Empty for the other tasks."""
        return {}

    # Position, in each metric's tuples, of the label the per-type report breaks scores down by.
    type_index: ClassVar[dict[str, int]] = {"main": 1}
    # metric → the tuple positions that are strings of the text (grounded to offsets when documents are
    # merged); the others are types and relation names from the schema.
    span_index: ClassVar[dict[str, tuple[int, ...]]] = {"main": (0,)}
    # what one tuple of each metric is, in a merged document: entities, relations, events, arguments
    result_kind: ClassVar[dict[str, str]] = {"main": "entities"}
    # and the name of each tuple position in that result
    result_fields: ClassVar[dict[str, tuple[str, ...]]] = {"main": ("text", "type")}

    def type_of(self, metric: str, item: tuple) -> str:
        return item[self.type_index[metric]]

    @functools.cached_property
    def type_getters(self) -> dict[str, Any]:
        """metric → the getter of a tuple's type, in the order of ``metrics``."""
        return {metric: operator.itemgetter(self.type_index[metric]) for metric in self.metrics}


def easy_count(easy: list, opts: Options) -> int:
    """Cluster mode adds split_num random "easy" negatives (all of them when split_num is -1)."""
    return len(easy) if opts.split_num == -1 else min(len(easy), opts.split_num)


def keys_no_positive(rng: random.Random, all_keys: list[str], opts: Options) -> list[str]:
    """Cluster mode, record without positives: max(binomial(L, p/2), 1) keys from the whole label set."""
    count = max(binomial(rng, len(all_keys), opts.neg_schema / 2), 1)
    return rng.sample(all_keys, min(count, len(all_keys)))


def string_values(value: Any) -> list[str]:
    """A value that may be a string or a list of strings → its non-NAN, non-empty strings."""
    if isinstance(value, str):
        values = [value]
    elif isinstance(value, list):
        values = [v for v in value if isinstance(v, str)]
    else:
        return []
    return [v for v in values if v and v != NAN]
