"""EET (event type + trigger): ``{"event": [{"event_type", "event_trigger"}]}`` →
``{"<event_type>": ["<trigger>", ...]}``. Tuples (trigger, event_type) — the seed's EET evaluation crashes.
"""

from __future__ import annotations

from typing import Any, ClassVar

from kgcli.schema import Schema, unique
from kgcli.tasks.base import NAN, Options, Task
from kgcli.tasks.events import check_event


class EET(Task):
    name = "EET"
    annotation_key = "event"
    result_kind: ClassVar[dict[str, str]] = {"main": "events"}
    result_fields: ClassVar[dict[str, tuple[str, ...]]] = {"main": ("trigger", "type")}

    def check_item(self, item: dict, where: str) -> None:
        check_event(item, where)

    def all_keys(self, schema: Schema) -> list[str]:
        return schema.types or list(schema.type_roles)

    def positive_keys(self, items: list[dict]) -> list[str]:
        return unique(item["event_type"] for item in items)

    def render(self, elements: list[Any], items: list[dict], text: str, opts: Options) -> dict:
        output: dict[str, list] = {key: [] for key in elements}
        for item in items:
            trigger = item.get("event_trigger") or ""
            if item["event_type"] in output and trigger:
                output[item["event_type"]].append(trigger)
        return output

    def gold(self, items: list[dict]) -> dict[str, list[tuple]]:
        return {"main": [(item.get("event_trigger") or "", item["event_type"]) for item in items]}

    def collect(self, key: str, value: Any, into: dict[str, list[tuple]]) -> None:
        if isinstance(value, list):
            into["main"].extend((v, key) for v in value if isinstance(v, str) and v != NAN)
