"""RE: ``{"relation": [{"head", "relation", "tail"}]}`` → ``{"<relation>": [{"subject": h, "object": t}]}``.

The IEPile corpus (and so the checkpoints) use ``subject``/``object``; the seed's converters wrote
``head``/``tail`` (``--re-keys head-tail``). Evaluation accepts either. Tuples (head, relation, tail).
"""

from __future__ import annotations

from typing import Any, ClassVar

from kgcli.schema import Schema, unique
from kgcli.tasks.base import NAN, STRING, Options, Task, array_of


def pair_fields(value: dict) -> tuple[Any, Any]:
    head = value.get("subject", value.get("head", ""))
    tail = value.get("object", value.get("tail", ""))
    return head, tail


def collect_pairs(key: str, value: Any, into: list[tuple]) -> None:
    if not isinstance(value, list):
        return
    for item in value:
        if isinstance(item, dict):
            head, tail = pair_fields(item)
            if isinstance(head, str) and isinstance(tail, str) and NAN not in (head, tail):
                into.append((head, key, tail))


SUBJECT_OBJECT_NOTE = ("answers keyed subject/object were scored; the seed's eval_func.py reads head/tail "
                       "only and would have scored them 0")


class RE(Task):
    name = "RE"
    annotation_key = "relation"
    gold_is_rows = True
    span_index: ClassVar[dict[str, tuple[int, ...]]] = {"main": (0, 2)}
    result_kind: ClassVar[dict[str, str]] = {"main": "relations"}
    result_fields: ClassVar[dict[str, tuple[str, ...]]] = {"main": ("head", "relation", "tail")}
    required_fields = ("head", "relation", "tail")
    dedup_fields = ("head", "relation", "tail")
    type_field = "relation"

    def all_keys(self, schema: Schema) -> list[str]:
        return schema.roles

    def positive_keys(self, items: list[dict]) -> list[str]:
        return unique(item["relation"] for item in items)

    def render(self, elements: list[Any], items: list[dict], text: str, opts: Options) -> dict:
        first, second = opts.re_keys
        output: dict[str, list] = {key: [] for key in elements}
        for item in items:
            if item["relation"] in output:
                output[item["relation"]].append({first: item["head"], second: item["tail"]})
        return output

    def value_schema(self, element: Any) -> dict:
        pair = {"type": "object", "properties": {"subject": STRING, "object": STRING},
                "required": ["subject", "object"], "additionalProperties": False}
        return array_of(pair)

    def gold(self, items: list[dict]) -> dict[str, list[tuple]]:
        return {"main": [(item["head"], item["relation"], item["tail"]) for item in items]}

    def collect(self, key: str, value: Any, into: dict[str, list[tuple]]) -> None:
        found = into["main"]
        before = len(found)
        collect_pairs(key, value, found)
        if self.legacy and len(found) > before and any(
                isinstance(item, dict) and ("subject" in item or "object" in item) for item in value):
            self.notes[SUBJECT_OBJECT_NOTE] += len(found) - before
