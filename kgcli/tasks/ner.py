"""NER: ``{"entity": [{"entity", "entity_type"}]}`` → ``{"<type>": ["<entity>", ...]}``; tuples
(entity, type)."""

from __future__ import annotations

from typing import Any

from kgcli.schema import Schema, unique
from kgcli.tasks.base import NAN, Options, Task


class NER(Task):
    name = "NER"
    annotation_key = "entity"
    gold_is_rows = True
    required_fields = ("entity", "entity_type")
    dedup_fields = ("entity", "entity_type")
    type_field = "entity_type"
    default_split_num = 6

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

    def collect_all(self, output: dict, allowed: set[str] | None, into: dict[str, list[tuple]]) -> int:
        return self.collect_main(output, allowed, into["main"])

    def collect_main(self, output: dict, allowed: set[str] | None, found: list[tuple]) -> int:
        off_schema = 0  # collect() inlined: this runs once per predicted chunk
        # usually the answer has exactly the schema keys
        check = allowed is not None and output.keys() != allowed
        for key, value in output.items():
            if check and key not in allowed:
                off_schema += 1
            elif value and type(value) is list:
                for v in value:
                    if type(v) is str and v != NAN:
                        found.append((v, key))
        return off_schema

    def collect(self, key: str, value: Any, into: dict[str, list[tuple]]) -> None:
        if type(value) is list:
            found = into["main"]
            for v in value:
                if type(v) is str and v != NAN:
                    found.append((v, key))
