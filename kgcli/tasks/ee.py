"""EE: events with trigger and arguments.

Schema element ``{"event_type": t, "trigger": true, "arguments": [roles]}``; output
``{"<type>": [{"trigger": "<trigger or NAN>", "arguments": {"<role>": value | [values] | "NAN"}}]}``.
Scored as two micro scores: events (type, trigger) and arguments (type, argument, role).
Deviation from the seed (documented): without --random-sort roles are code-point sorted like the types, and
multi-valued arguments are ordered by position in the text (the seed's set order changed per process).
"""

from __future__ import annotations

import random
from typing import Any, ClassVar

from kgcli.schema import Schema, unique
from kgcli.tasks.base import (
    NAN,
    STRING,
    Options,
    Task,
    array_of,
    easy_count,
    keys_no_positive,
    sample_negatives,
)
from kgcli.tasks.events import (
    by_type,
    check_event,
    collect_arguments,
    gold_events,
    positive_roles,
    render_ee_events,
)


class EE(Task):
    name = "EE"
    annotation_key = "event"
    metrics: ClassVar[tuple[str, ...]] = ("event", "argument")

    def check_item(self, item: dict, where: str) -> None:
        check_event(item, where)

    def all_keys(self, schema: Schema) -> list[str]:
        return schema.types or list(schema.type_roles)

    def positive_keys(self, items: list[dict]) -> list[str]:
        return unique(item["event_type"] for item in items)

    def roles_of(self, schema: Schema, event_type: str) -> list[str]:
        return list(schema.type_roles.get(event_type, []))

    def test_elements(self, items: list[dict] | None, schema: Schema) -> list[Any]:
        types = list(schema.type_roles) or schema.types
        return [self._element(t, self.roles_of(schema, t)) for t in types]

    def _element(self, event_type: str, roles: list[str]) -> dict:
        return {"event_type": event_type, "trigger": True, "arguments": roles}

    def sort_key(self, element: dict) -> str:
        return element["event_type"]

    def train_elements(self, items: list[dict], schema: Schema, rng: random.Random,
                       opts: Options) -> list[Any] | None:
        grouped = by_type(items)
        positives = list(grouped)
        all_types = self.all_keys(schema)
        p = opts.neg_schema
        if opts.hard_negatives is not None:
            if not positives:
                negative_types = keys_no_positive(rng, all_types, opts)
            else:
                chosen = unique([k for t in positives for k in opts.hard_negatives.get(t, [])] + positives)
                easy = [t for t in all_types if t not in set(chosen)]
                negative_types = [t for t in chosen if t not in set(positives)]
                negative_types += rng.sample(easy, easy_count(easy, opts))
        elif p == 0:
            negative_types = []
        elif p < 0:
            negative_types = [t for t in all_types if t not in set(positives)]
        else:
            negatives = [t for t in all_types if t not in set(positives)]
            negative_types = sample_negatives(rng, negatives, len(schema.type_roles) or len(all_types), p,
                                              not positives)
        elements = []
        for event_type in positives:
            known = self.roles_of(schema, event_type)
            filled = positive_roles(grouped[event_type])
            if p == 0:  # the seed: every role the schema gives the type, and only those
                roles = list(known)
                self.note_unasked(event_type, filled, known)
            else:
                spare = [r for r in known if r not in set(filled)]
                roles = self._draw_roles(rng, spare, len(known), p, not filled) + filled
            elements.append((event_type, roles))
        for event_type in negative_types:
            known = self.roles_of(schema, event_type)
            elements.append((event_type, self._draw_roles(rng, known, len(known), p, True)))
        if opts.random_sort:
            rng.shuffle(elements)
            for _, roles in elements:
                rng.shuffle(roles)
        else:
            elements.sort(key=lambda e: e[0])
            elements = [(t, sorted(roles)) for t, roles in elements]
        return [self._element(t, roles) for t, roles in elements]

    def note_unasked(self, event_type: str, filled: list[str], asked: list[str]) -> None:
        for role in filled:
            if role not in asked:
                self.notes[f"{event_type}/{role}"] += 1

    @staticmethod
    def _draw_roles(rng: random.Random, roles: list[str], trials: int, p: float,
                    at_least_one: bool) -> list[str]:
        if p < 0 or p >= 1:
            return list(roles)
        return sample_negatives(rng, roles, trials, p, at_least_one)

    def render(self, elements: list[Any], items: list[dict], text: str, opts: Options) -> dict:
        grouped = by_type(items)
        return {
            el["event_type"]: render_ee_events(grouped.get(el["event_type"], []), el["arguments"], text)
            for el in elements
        }

    def output_key(self, element: Any) -> str:
        return element["event_type"]

    def value_schema(self, element: Any) -> dict:
        value = {"anyOf": [STRING, array_of(STRING)]}
        roles = {role: value for role in element.get("arguments", [])}
        arguments = {"type": "object", "properties": roles, "additionalProperties": False}
        event = {"type": "object", "properties": {"trigger": STRING, "arguments": arguments},
                 "required": ["trigger", "arguments"], "additionalProperties": False}
        return array_of(event)

    def gold(self, items: list[dict]) -> dict[str, list[tuple]]:
        return gold_events(items, with_trigger=True, keep_empty=self.legacy)

    def collect(self, key: str, value: Any, into: dict[str, list[tuple]]) -> None:
        if not isinstance(value, list):
            return
        for event in value:
            if not isinstance(event, dict):
                continue
            trigger = event.get("trigger", "")
            if not isinstance(trigger, str):
                continue
            into["event"].append((key, "" if trigger == NAN else trigger))
            arguments = event.get("arguments", {})
            if isinstance(arguments, dict):
                collect_arguments(key, arguments, into["argument"], legacy=self.legacy)

    def details(self, answer: dict, elements: Any) -> dict[tuple[str, tuple], dict[str, Any]]:
        """Each event's own arguments (the argument tuples alone do not say which event they belong to)."""
        found: dict[tuple[str, tuple], dict[str, Any]] = {}
        for key, value in answer.items():
            for event, arguments in self.events_of(key, value):
                linked = found.setdefault(("event", event), {"arguments": []})["arguments"]
                linked.extend({"role": role, "argument": text} for _, text, role in arguments)
        return found

    def events_of(self, key: str, value: Any) -> list[tuple[tuple, list[tuple]]]:
        """(event tuple, its argument tuples) for each event of one answer key, read as ``collect`` reads."""
        events: list[tuple[tuple, list[tuple]]] = []
        for event in value if isinstance(value, list) else []:
            into: dict[str, list[tuple]] = {"event": [], "argument": []}
            if isinstance(event, dict):
                self.collect(key, [event], into)
            if into["event"]:
                events.append((into["event"][0], into["argument"]))
        return events

    type_index: ClassVar[dict[str, int]] = {"event": 0, "argument": 0}
    span_index: ClassVar[dict[str, tuple[int, ...]]] = {"event": (1,), "argument": (1,)}
    result_kind: ClassVar[dict[str, str]] = {"event": "events", "argument": "arguments"}
    result_fields: ClassVar[dict[str, tuple[str, ...]]] = {"event": ("type", "trigger"),
                                                           "argument": ("event_type", "argument", "role")}


