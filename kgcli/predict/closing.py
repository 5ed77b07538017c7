"""Close a ``--guided-json`` answer that the token limit cut off.

Under structured outputs the engine cannot end an answer before the grammar is complete, so an answer
that is not JSON is one that reached ``--max-new-tokens`` (usually a repetition loop). Left as it is, the
whole answer is a parse error and every complete item in it is lost. Closed here, it keeps what the model
finished and drops what it did not:

- an unfinished string, number or literal is dropped (a cut name would be a wrong span);
- an unfinished object or list inside a list is dropped (half a relation is no relation);
- an unfinished object or list that is a key's value (or the whole answer) keeps its complete parts;
- then every key the schema requires and the answer lacks is added with the schema's empty value.

The result follows the schema and every tuple in it is one the model wrote in full.
"""

from __future__ import annotations

import json
import re
from json.decoder import scanstring
from typing import Any

_MISSING = object()
_NUMBER = re.compile(r"-?(?:0|[1-9]\d*)(?:\.\d+)?(?:[eE][-+]?\d+)?")
_LITERALS = (("true", True), ("false", False), ("null", None))
_SPACE = " \t\n\r"
_TYPES = {"array": list, "object": dict, "string": str}


def closed_if_cut(text: str, schema: dict) -> str | None:
    """An answer the token limit cut, closed after its last complete item; None when it parses as written
    or cannot be closed."""
    try:
        json.loads(text)
        return None
    except ValueError:
        return close_answer(text, schema)


def close_answer(text: str, schema: dict) -> str | None:
    """The cut answer ``text`` closed into JSON that follows ``schema``; None when ``text`` is not the start
    of a JSON value (then it is left as the model wrote it)."""
    try:
        value, complete, end = _value(text, 0)
    except ValueError:
        return None
    if complete and text[end:].strip(_SPACE):
        return None  # a whole value with something after it: not a cut answer
    value = _empty(schema) if value is _MISSING else _fill(value, schema)
    return json.dumps(value, ensure_ascii=False)


def _skip(text: str, i: int) -> int:
    while i < len(text) and text[i] in _SPACE:
        i += 1
    return i


def _value(text: str, i: int) -> tuple[Any, bool, int]:
    """(value, complete, end) of the value at ``i``; an unfinished scalar is _MISSING, an unfinished
    container is what it holds so far."""
    i = _skip(text, i)
    if i == len(text):
        return _MISSING, False, i
    char = text[i]
    if char == "{":
        return _object(text, i + 1)
    if char == "[":
        return _array(text, i + 1)
    if char == '"':
        try:
            string, end = scanstring(text, i + 1)
        except ValueError:  # no closing quote yet (or one cut inside an escape)
            return _MISSING, False, len(text)
        return string, True, end
    number = _NUMBER.match(text, i)
    if number:
        if number.end() == len(text):  # more digits may have come
            return _MISSING, False, len(text)
        return json.loads(number.group()), True, number.end()
    for word, literal in _LITERALS:
        if text.startswith(word, i):
            return literal, True, i + len(word)
        if word.startswith(text[i:]):
            return _MISSING, False, len(text)
    raise ValueError(f"not JSON at {i}")


def _array(text: str, i: int) -> tuple[list, bool, int]:
    items: list = []
    while True:
        i = _skip(text, i)
        if i == len(text):
            return items, False, i
        if text[i] == "]":
            return items, True, i + 1
        value, complete, i = _value(text, i)
        if not complete:
            return items, False, i  # an unfinished item is dropped, container or not
        items.append(value)
        i = _separator(text, i, "]")


def _object(text: str, i: int) -> tuple[dict, bool, int]:
    members: dict = {}
    while True:
        i = _skip(text, i)
        if i == len(text):
            return members, False, i
        if text[i] == "}":
            return members, True, i + 1
        key, complete, i = _value(text, i)
        if not complete:
            return members, False, i
        if not isinstance(key, str):
            raise ValueError(f"not JSON at {i}")
        i = _skip(text, i)
        if i == len(text):
            return members, False, i
        if text[i] != ":":
            raise ValueError(f"not JSON at {i}")
        value, complete, i = _value(text, i + 1)
        if not complete:
            if value is not _MISSING:  # an unfinished list or object keeps its complete parts
                members[key] = value
            return members, False, i
        members[key] = value
        i = _separator(text, i, "}")


def _separator(text: str, i: int, closer: str) -> int:
    """Past the ``,`` after a member, or at ``closer`` (or the end of a cut text): where the container's
    loop reads on."""
    i = _skip(text, i)
    if i < len(text) and text[i] != closer:
        if text[i] != ",":
            raise ValueError(f"not JSON at {i}")
        i += 1
    return i


def _branch(value: Any, schema: dict) -> dict:
    """The ``anyOf`` branch ``value`` belongs to (our schemas tell them apart by type)."""
    for option in schema.get("anyOf", ()):
        if isinstance(value, _TYPES.get(option.get("type"), ())):
            return option
    return schema


def _empty(schema: dict) -> Any:
    """The smallest value of ``schema``: [] for a list, "" for a string, an object of its required keys."""
    if "anyOf" in schema:
        return _empty(schema["anyOf"][0])
    kind = schema.get("type")
    if kind == "array":
        return []
    if kind == "object":
        properties = schema.get("properties", {})
        return {key: _empty(properties.get(key, {})) for key in schema.get("required", ())}
    return ""


def _fill(value: Any, schema: dict) -> Any:
    """``value`` with every key the schema requires present (recursively through kept containers)."""
    schema = _branch(value, schema)
    if isinstance(value, dict):
        properties = schema.get("properties", {})
        extra = schema.get("additionalProperties")
        for key, member in value.items():
            inner = properties.get(key, extra if isinstance(extra, dict) else {})
            value[key] = _fill(member, inner)
        for key in schema.get("required", ()):
            if key not in value:
                value[key] = _empty(properties.get(key, {}))
        # in the schema's order, as an uncut answer has them (keys outside it, if any, after)
        return {**{key: value[key] for key in properties if key in value}, **value}
    elif isinstance(value, list):
        items = schema.get("items", {})
        return [_fill(item, items) for item in value]
    return value
