"""SPO: relations with typed arguments. Schema keys are ``subject_predicate_object`` strings; the element in
the instruction is ``{"subject_type", "predicate", "object_type"}``; the output is keyed by predicate:
``{"<predicate>": [{"subject": s, "object": o}]}``.

Two fixes over the seed: a type containing ``_`` keeps its real split when it comes from an annotation
(only schema-file strings are split, first piece / middle / last piece), and two SPO types sharing a
predicate in one chunk have their pairs merged instead of the later overwriting the earlier.
Tuples (subject, predicate, object).
"""

from __future__ import annotations

from typing import Any, ClassVar

from kgcli.schema import Schema, unique
from kgcli.tasks.base import Options
from kgcli.tasks.re import RE, collect_pairs


def split_key(key: str) -> tuple[str, str, str]:
    parts = key.split("_")
    if len(parts) < 3:
        return ("", key, "")
    return parts[0], "_".join(parts[1:-1]), parts[-1]


def join_key(subject_type: str, predicate: str, object_type: str) -> str:
    return f"{subject_type}_{predicate}_{object_type}"


class SPO(RE):
    name = "SPO"
    required_fields = ("head", "head_type", "relation", "tail", "tail_type")
    type_field = None
    gold_is_rows = False
    span_index: ClassVar[dict[str, tuple[int, ...]]] = {"main": (0, 2)}
    result_kind: ClassVar[dict[str, str]] = {"main": "relations"}
    result_fields: ClassVar[dict[str, tuple[str, ...]]] = {"main": ("head", "relation", "tail")}

    def __init__(self) -> None:
        self._triples: dict[str, tuple[str, str, str]] = {}


    def all_keys(self, schema: Schema) -> list[str]:
        return schema.types

    def positive_keys(self, items: list[dict]) -> list[str]:
        keys = []
        for item in items:
            triple = (item["head_type"], item["relation"], item["tail_type"])
            key = join_key(*triple)
            self._triples[key] = triple
            keys.append(key)
        return unique(keys)

    def element(self, key: str) -> dict:
        subject_type, predicate, object_type = self._triples.get(key) or split_key(key)
        return {"subject_type": subject_type, "predicate": predicate, "object_type": object_type}

    def sort_key(self, element: dict) -> str:
        return join_key(element["subject_type"], element["predicate"], element["object_type"])

    def render(self, elements: list[Any], items: list[dict], text: str, opts: Options) -> dict:
        first, second = opts.re_keys
        output: dict[str, list] = {}
        wanted: dict[tuple, str] = {}
        for element in elements:
            output.setdefault(element["predicate"], [])
            wanted[(element["subject_type"], element["predicate"],
                    element["object_type"])] = element["predicate"]
        for item in items:
            predicate = wanted.get((item["head_type"], item["relation"], item["tail_type"]))
            if predicate is not None:
                output[predicate].append({first: item["head"], second: item["tail"]})
        return output

    def output_key(self, element: Any) -> str:
        return element["predicate"]

    def gold(self, items: list[dict]) -> dict[str, list[tuple]]:
        return {"main": [(item["head"], item["relation"], item["tail"]) for item in items]}

    def collect(self, key: str, value: Any, into: dict[str, list[tuple]]) -> None:
        collect_pairs(key, value, into["main"])

    def details(self, answer: dict, elements: Any) -> dict[tuple[str, tuple], dict[str, Any]]:
        """Subject and object types, where the schema gives a predicate exactly one pair of them."""
        types: dict[str, set[tuple[str, str]]] = {}
        for element in elements if isinstance(elements, list) else []:
            if isinstance(element, dict) and isinstance(element.get("predicate"), str):
                pair = (element.get("subject_type"), element.get("object_type"))
                if all(isinstance(t, str) and t for t in pair):
                    types.setdefault(element["predicate"], set()).add(pair)
        found: dict[tuple[str, tuple], dict[str, Any]] = {}
        for key, value in answer.items():
            if len(types.get(key, ())) != 1:
                continue
            ((subject_type, object_type),) = types[key]
            pairs: list[tuple] = []
            collect_pairs(key, value, pairs)
            for values in pairs:
                found[("main", values)] = {"head_type": subject_type, "tail_type": object_type}
        return found

