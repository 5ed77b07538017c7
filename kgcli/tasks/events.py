"""Shared event helpers (EE, EET, EEA): validating event annotations and rendering the EE output shape."""

from __future__ import annotations

import json
from typing import Any

from kgcli.schema import unique
from kgcli.tasks.base import NAN, AnnotationError, string_values


def check_event(item: dict, where: str) -> None:
    if not isinstance(item.get("event_type"), str):
        raise AnnotationError(f"{where}: 'event_type' must be a string")
    trigger = item.get("event_trigger")
    if trigger is not None and not isinstance(trigger, str):
        raise AnnotationError(f"{where}: 'event_trigger' must be a string")
    arguments = item.get("arguments")
    if arguments is None:
        return
    if not isinstance(arguments, list):
        raise AnnotationError(f"{where}: 'arguments' must be a list")
    for index, argument in enumerate(arguments):
        if not isinstance(argument, dict) or not isinstance(argument.get("role"), str) or not isinstance(
            argument.get("argument"), str
        ):
            raise AnnotationError(f"{where}.arguments[{index}]: expected {{'argument': str, 'role': str}}")


def trigger_of(event: dict) -> str:
    return event.get("event_trigger") or ""


def role_values(event: dict) -> dict[str, list[str]]:
    """role → distinct non-empty argument strings, in annotation order."""
    values: dict[str, list[str]] = {}
    for argument in event.get("arguments") or []:
        if argument["argument"]:
            bucket = values.setdefault(argument["role"], [])
            if argument["argument"] not in bucket:
                bucket.append(argument["argument"])
    return values


def positive_roles(events: list[dict]) -> list[str]:
    return unique(role for event in events for role in role_values(event))


def by_type(items: list[dict]) -> dict[str, list[dict]]:
    grouped: dict[str, list[dict]] = {}
    for item in items:
        grouped.setdefault(item["event_type"], []).append(item)
    return grouped


def sorted_by_trigger(events: list[dict], text: str) -> list[dict]:
    """Events in order of their trigger's first position in the text (stable; not found = -1 first)."""
    return sorted(events, key=lambda e: text.find(trigger_of(e)))


def role_value(values: list[str], text: str) -> str | list[str]:
    """One value stays a string; several become a list in order of appearance in the text."""
    if len(values) == 1:
        return values[0]
    return sorted(values, key=lambda v: text.find(v))


def arguments_object(event: dict, roles: list[str], text: str) -> dict[str, Any]:
    """Every asked role with its value or NAN; ``{}`` when none of the asked roles is filled."""
    values = role_values(event)
    if not any(role in values for role in roles):
        return {}
    return {role: role_value(values[role], text) if role in values else NAN for role in roles}


def render_ee_events(events: list[dict], roles: list[str], text: str) -> list[dict]:
    """The EE output list for one event type (also DeepKE's EEA shape)."""
    rendered = []
    for event in sorted_by_trigger(events, text):
        trigger = trigger_of(event)
        if not trigger and not role_values(event):
            continue
        rendered.append({"trigger": trigger or NAN, "arguments": arguments_object(event, roles, text)})
    return rendered


def gold_events(items: list[dict], with_trigger: bool, keep_empty: bool = False) -> dict[str, list[tuple]]:
    """Event tuples (type, trigger) and argument tuples (type, argument, role); an empty argument string is
    dropped unless ``keep_empty`` (the seed's eval keeps it, and a predicted "" then matches it)."""
    events, arguments = [], []
    for item in items:
        events.append((item["event_type"], trigger_of(item) if with_trigger else ""))
        for argument in item.get("arguments") or []:
            if argument["argument"] or keep_empty:
                arguments.append((item["event_type"], argument["argument"], argument["role"]))
    return {"event": events, "argument": arguments}


def collect_arguments(key: str, arguments: dict, into: list[tuple], skip: tuple[str, ...] = (),
                      legacy: bool = False) -> None:
    """Argument tuples of one predicted event: non-empty strings other than NAN, one per value of a list.
    ``legacy`` reads as the seed's eval does: every value that is not exactly "NAN" counts, "" and
    non-strings included (a list or object as its JSON text, so it can be counted but never matches)."""
    for role, value in arguments.items():
        if role in skip:
            continue
        if legacy:
            for item in value if isinstance(value, list) else [value]:
                if item != NAN:
                    into.append((key, _countable(item), role))
            continue
        for text in string_values(value):
            into.append((key, text, role))


def _countable(value: Any) -> Any:
    if isinstance(value, (dict, list)):
        return ("\x00json", json.dumps(value, ensure_ascii=False, sort_keys=True))
    return value
