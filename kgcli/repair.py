"""Reading a model's answer as a JSON object, with the repairs real models need.

``parse_answer`` tries plain JSON first; otherwise (and only when repairs are allowed) it drops a leading
``<think>…</think>`` reasoning block (an unfinished one is no answer), strips a Markdown code fence, drops
text before the first ``{`` and after its matching ``}``, and closes a truncated answer (an open string,
then open brackets; a dangling key or comma is cut back). The caller counts repaired answers separately
from clean ones.
"""

from __future__ import annotations

import json
import re
from typing import Any

import orjson

_FENCE = re.compile(r"```[a-zA-Z]*[ \t]*\n?(.*?)(?:```|$)", re.S)
THINK_OPEN, THINK_CLOSE = "<think>", "</think>"


def split_thinking(text: str) -> tuple[str, str | None]:
    """(the answer after a leading reasoning block, what was there: None, "closed" or "open").

    Reasoning models (Qwen3, DeepSeek-R1 distils) answer ``<think>…</think>`` before the JSON, an empty
    block when thinking is off; an open block means the answer ran out of tokens while still reasoning.
    """
    stripped = text.lstrip()
    if not stripped.startswith(THINK_OPEN):
        return text, None
    end = stripped.find(THINK_CLOSE)
    if end < 0:
        return "", "open"
    return stripped[end + len(THINK_CLOSE):].strip(), "closed"


def parse_answer(text: str, *, repair: bool = True) -> tuple[dict | None, bool]:
    """(object or None, repaired?)."""
    if not repair:
        try:
            value = json.loads(text)
        except (json.JSONDecodeError, TypeError):
            return None, False
        return (value, False) if isinstance(value, dict) else (None, False)
    value = _plain_object(text)
    if value is not None:
        return value, False
    if not isinstance(text, str):
        return None, False
    text, thinking = split_thinking(text)
    if thinking == "open":
        return None, False
    if thinking == "closed":
        value = _plain_object(text)
        if value is not None:
            return value, False
    fenced = _FENCE.search(text)
    candidate = fenced.group(1) if fenced else text
    start = candidate.find("{")
    if start < 0:
        return None, False
    value = _balanced(candidate[start:])
    return (value, True) if isinstance(value, dict) else (None, False)


def _plain_object(text: Any) -> dict | None:
    """The text as a JSON object when it is exactly one (no repair), else None."""
    try:
        value = orjson.loads(text)
    except orjson.JSONDecodeError:
        return None
    return value if isinstance(value, dict) else None


def _scan(text: str) -> tuple[int | None, list[str], bool, list[int]]:
    """Walk JSON text: end index of the first complete value, open closers, in-string flag, comma offsets."""
    stack: list[str] = []
    in_string = escaped = False
    commas: list[int] = []
    for index, char in enumerate(text):
        if in_string:
            if escaped:
                escaped = False
            elif char == "\\":
                escaped = True
            elif char == '"':
                in_string = False
            continue
        if char == '"':
            in_string = True
        elif char in "{[":
            stack.append("}" if char == "{" else "]")
        elif char in "}]":
            if stack:
                stack.pop()
            if not stack:
                return index + 1, [], False, commas
        elif char == ",":
            commas.append(index)
    return None, stack, in_string, commas


def _balanced(text: str) -> object | None:
    end, stack, in_string, commas = _scan(text)
    if end is not None:
        try:
            return orjson.loads(text[:end])
        except orjson.JSONDecodeError:
            return None
    # Truncated: close what is open; if that is not valid, cut back to the last comma and retry.
    attempt = text + ('"' if in_string else "")
    for _ in range(len(commas) + 1):
        closed = _close(attempt)
        if closed is not None:
            return closed
        if not commas:
            break
        attempt = text[: commas.pop()]
    return None


def _close(text: str) -> object | None:
    end, stack, in_string, _ = _scan(text)
    if end is not None or in_string:
        return None
    body = text.rstrip().rstrip(",").rstrip()
    try:
        return orjson.loads(body + "".join(reversed(stack)))
    except orjson.JSONDecodeError:
        return None
