"""EEA: arguments of given events. Only the record's gold event types are asked, with their triggers.

Schema element ``{"event_type": t, "trigger": ["<trigger>", ...], "arguments": [roles]}`` in train and test
alike (the seed dropped ``trigger`` at test time, which the model never saw). Output, ``--eea-format``:
``iepile`` (default, the IEPile corpus) ``{"<type>": [{"<role>": value | "NAN"}]}`` with events that fill
none of the asked roles omitted; ``deepke`` the EE shape. Evaluation reads both shapes.
"""

from __future__ import annotations

import random
from typing import Any, ClassVar

from kgcli.schema import Schema
from kgcli.tasks.base import STRING, Options, array_of, binomial, order, sample_negatives
from kgcli.tasks.ee import EE
from kgcli.tasks.events import (
    arguments_object,
    by_type,
    collect_arguments,
    gold_events,
    positive_roles,
    render_ee_events,
    sorted_by_trigger,
    trigger_of,
)


class EEA(EE):
    name = "EEA"
    supports_cluster = False
    span_index: ClassVar[dict[str, tuple[int, ...]]] = {"event": (), "argument": (1,)}  # no trigger asked

    drops_empty = True
    schema_from_record = True

    def _element_with(self, event_type: str, triggers: list[str], roles: list[str]) -> dict:
        return {"event_type": event_type, "trigger": triggers, "arguments": roles}

    def test_elements(self, items: list[dict] | None, schema: Schema) -> list[Any]:
        grouped = by_type(items or [])
        return [
            self._element_with(t, [trigger_of(e) for e in events if trigger_of(e)],
                               self._roles(schema, t, events))
            for t, events in grouped.items()
        ]

    def _roles(self, schema: Schema, event_type: str, events: list[dict]) -> list[str]:
        known = self.roles_of(schema, event_type)
        return known + [r for r in positive_roles(events) if r not in set(known)]

    def train_elements(self, items: list[dict], schema: Schema, rng: random.Random,
                       opts: Options) -> list[Any] | None:
        p = opts.neg_schema
        elements = []
        for event_type, events in by_type(items).items():
            roles = self._roles(schema, event_type, events)
            triggers = [trigger_of(e) for e in events if trigger_of(e)]
            if p == 0:
                # The seed: every role the schema gives the type, and one of its triggers (drawn); the
                # answer still lists every event of the type.
                roles = self.roles_of(schema, event_type)
                self.note_unasked(event_type, positive_roles(events), roles)
                triggers = rng.sample(triggers, 1) if triggers else []
            elif 0 < p < 1:
                roles = sample_negatives(rng, roles, len(roles), p, True)
            if 0 < p < 1 and triggers:
                keep = set(rng.sample(range(len(triggers)),
                                      max(1, min(len(triggers), binomial(rng, len(triggers), p)))))
                triggers = [t for i, t in enumerate(triggers) if i in keep]
            roles = order(rng, roles, opts.random_sort)
            if opts.random_sort:
                rng.shuffle(triggers)
            elements.append(self._element_with(event_type, triggers, roles))
        return order(rng, elements, opts.random_sort, key=self.sort_key)

    def render(self, elements: list[Any], items: list[dict], text: str, opts: Options) -> dict:
        grouped = by_type(items)
        output = {}
        for element in elements:
            events = grouped.get(element["event_type"], [])
            roles = element["arguments"]
            if opts.eea_format == "deepke":
                output[element["event_type"]] = render_ee_events(events, roles, text)
            else:
                flat = [arguments_object(e, roles, text) for e in sorted_by_trigger(events, text)]
                output[element["event_type"]] = [f for f in flat if f]
        return output

    def value_schema(self, element: Any) -> dict:
        value = {"anyOf": [STRING, array_of(STRING)]}
        roles = {role: value for role in element.get("arguments", [])}
        return array_of({"type": "object", "properties": roles, "additionalProperties": False})

    def gold(self, items: list[dict]) -> dict[str, list[tuple]]:
        return gold_events(items, with_trigger=False, keep_empty=self.legacy)

    def collect(self, key: str, value: Any, into: dict[str, list[tuple]]) -> None:
        if not isinstance(value, list):
            return
        for event in value:
            if not isinstance(event, dict):
                continue
            into["event"].append((key, ""))
            if isinstance(event.get("arguments"), dict):  # DeepKE shape
                collect_arguments(key, event["arguments"], into["argument"], legacy=self.legacy)
            else:  # IEPile flat shape
                collect_arguments(key, event, into["argument"], skip=("trigger",), legacy=self.legacy)

