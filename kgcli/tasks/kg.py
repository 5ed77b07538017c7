"""KG: entity attributes. Record ``{"text", "relation": [{"head", "relation", "tail"}]}`` (relation = the
attribute). Schema element ``{"entity_type": e, "attributes": [...]}``; output
``{"<entity_type>": {"<entity>": {"<attribute>": value | [values]}}}`` with entities in text order, absent
attributes omitted, multi-values in text order. Tuples (entity, attribute, value), one per value (the seed
compares dicts to triples and always scores 0).

Training asks the first entity type of the schema's type→attributes line (records carry no entity types),
and — unlike the seed — always keeps the record's own attributes among the sampled ones.
"""

from __future__ import annotations

import random
from typing import Any, ClassVar

from kgcli.schema import Schema, unique
from kgcli.tasks.base import (
    STRING,
    AnnotationError,
    Options,
    Task,
    array_of,
    order,
    sample_negatives,
    string_values,
)

_EMPTY_VALUES = {"无", "nan"}


class KG(Task):
    name = "KG"
    annotation_key = "relation"
    gold_is_rows = True
    span_index: ClassVar[dict[str, tuple[int, ...]]] = {"main": (0, 2)}
    result_kind: ClassVar[dict[str, str]] = {"main": "attributes"}
    result_fields: ClassVar[dict[str, tuple[str, ...]]] = {"main": ("entity", "attribute", "value")}
    required_fields = ("head", "relation", "tail")
    # Repeated triples are kept as annotated (the seed's shape rule counts them; see render), and written
    # once in the answer; gold tuples are distinct.
    dedup_fields = ()
    default_split_num = 1
    supports_cluster = False

    def all_keys(self, schema: Schema) -> list[str]:
        return list(schema.type_roles)

    def positive_keys(self, items: list[dict]) -> list[str]:
        return []  # entity types are not annotated

    def known_keys(self, schema: Schema) -> set[str]:
        return {a for attrs in schema.type_roles.values() for a in attrs} | set(schema.roles)

    def unknown_keys(self, items: list[dict], known: set[str]) -> list[str]:
        return [r for r in unique(i["relation"] for i in items) if r not in known]

    def _attributes(self, schema: Schema, entity_type: str) -> list[str]:
        return list(schema.type_roles.get(entity_type) or schema.roles)

    def test_elements(self, items: list[dict] | None, schema: Schema) -> list[Any]:
        return [{"entity_type": e, "attributes": self._attributes(schema, e)} for e in schema.type_roles]

    def sort_key(self, element: dict) -> str:
        return element["entity_type"]

    def train_elements(self, items: list[dict], schema: Schema, rng: random.Random,
                       opts: Options) -> list[Any] | None:
        if not schema.type_roles:
            raise AnnotationError("KG training needs the schema's type→attributes line ({entity_type: "
                                  "[attributes]})")
        entity_type = next(iter(schema.type_roles))
        known = self._attributes(schema, entity_type)
        present = unique(i["relation"] for i in items)
        p = opts.neg_schema
        if p == 0:
            attributes = present
        elif p < 0:
            attributes = unique(known + present)
        else:
            spare = [a for a in known if a not in set(present)]
            attributes = sample_negatives(rng, spare, len(known), p, not present) + present
        return [{"entity_type": entity_type, "attributes": order(rng, attributes, opts.random_sort)}]

    def render(self, elements: list[Any], items: list[dict], text: str, opts: Options) -> dict:
        heads = sorted(unique(i["head"] for i in items), key=lambda h: text.find(h))
        values: dict[tuple[str, str], list[str]] = {}
        for item in items:
            values.setdefault((item["head"], item["relation"]), []).append(item["tail"])
        output = {}
        for element in elements:
            entities = {}
            for head in heads:
                attributes = {}
                for attribute in element["attributes"]:
                    annotated = values.get((head, attribute), [])
                    if annotated:
                        # The seed's shape: one annotated value is a string, several a list, even when they
                        # repeat one value (the seed writes ["v", "v"]; kgc writes each value once: ["v"]).
                        ordered = sorted(unique(annotated), key=lambda v: text.find(v))
                        attributes[attribute] = ordered[0] if len(annotated) == 1 else ordered
                entities[head] = attributes
            output[element["entity_type"]] = entities
        return output

    def output_key(self, element: Any) -> str:
        return element["entity_type"]

    def value_schema(self, element: Any) -> dict:
        value = {"anyOf": [STRING, array_of(STRING)]}
        attributes = {a: value for a in element.get("attributes", [])}
        entity = {"type": "object", "properties": attributes, "additionalProperties": False}
        return {"type": "object", "additionalProperties": entity}

    def gold(self, items: list[dict]) -> dict[str, list[tuple]]:
        return {"main": unique((i["head"], i["relation"], i["tail"]) for i in items)}

    def collect(self, key: str, value: Any, into: dict[str, list[tuple]]) -> None:
        if not isinstance(value, dict):
            return
        for entity, attributes in value.items():
            if not isinstance(attributes, dict):
                continue
            for attribute, raw in attributes.items():
                for text in string_values(raw):
                    if text.lower() not in _EMPTY_VALUES:
                        into["main"].append((entity, attribute, text))

    def in_schema(self, metric: str, values: tuple, detail: dict[str, Any] | None, elements: Any) -> bool:
        """The attribute is one the schema lists for the entity type it was answered under (an answer may
        name any number of attributes; each would become a relationship type of the graph)."""
        if not isinstance(elements, list) or detail is None:
            return False
        wanted = detail.get("entity_type")
        return any(isinstance(e, dict) and e.get("entity_type") == wanted
                   and values[1] in (e.get("attributes") or []) for e in elements)

    def details(self, answer: dict, elements: Any) -> dict[tuple[str, tuple], dict[str, Any]]:
        """The entity type each (entity, attribute, value) was answered under (the answer's key)."""
        found: dict[tuple[str, tuple], dict[str, Any]] = {}
        for key, value in answer.items():
            tuples: dict[str, list[tuple]] = {"main": []}
            self.collect(key, value, tuples)
            for values in tuples["main"]:
                found.setdefault(("main", values), {"entity_type": key})
        return found
