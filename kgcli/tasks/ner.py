"""NER: ``{"entity": [{"entity", "entity_type"}]}`` → ``{"<type>": ["<entity>", ...]}``; tuples (entity, type)."""

from __future__ import annotations

from typing import Any

from kgcli.schema import Schema, unique
from kgcli.tasks.base import Options, Task


class NER(Task):
    name = "NER"
    annotation_key = "entity"
    required_fields = ("entity", "entity_type")
    type_field = "entity_type"
    default_split_num = 6


    def dedup(self, items: list[dict]) -> list[dict]:
        if len(items) < 2:
            return items
        seen: dict[tuple, dict] = {}
        for item in items:
            seen.setdefault((item["entity"], item["entity_type"]), item)
        return list(seen.values())

    def all_keys(self, schema: Schema) -> list[str]:
        return schema.types

    def positive_keys(self, items: list[dict]) -> list[str]:
        return unique(item["entity_type"] for item in items)

    def render(self, elements: list[Any], items: list[dict], text: str, opts: Options) -> dict:
        output: dict[str, list] = {key: [] for key in elements}
        for item in items:
            if item["entity_type"] in output:
                output[item["entity_type"]].append(item["entity"])
        return output

    def gold(self, items: list[dict]) -> dict[str, list[tuple]]:
        return {"main": [(item["entity"], item["entity_type"]) for item in items]}

    def collect(self, key: str, value: Any, into: dict[str, list[tuple]]) -> None:
        if isinstance(value, list):
            into["main"].extend((v, key) for v in value if isinstance(v, str) and v != "NAN")
