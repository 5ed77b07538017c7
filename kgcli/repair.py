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

# An answer keeps at most this many characters per new token (a token is rarely over 16), and never more
# than the ceiling: a server that ignores max_tokens cannot hand later stages an answer of any size.
CHARS_PER_TOKEN = 32
ANSWER_CEILING = 4 << 20


def answer_cap(max_new_tokens: int) -> int:
    """The most characters an answer to ``max_new_tokens`` new tokens keeps (longer ones are cut)."""
    return min(max_new_tokens * CHARS_PER_TOKEN, ANSWER_CEILING)


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
        except (json.JSONDecodeError, TypeError, RecursionError):  # nested past the decoder: not an answer
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
    end, stack, in_string, _ = _scan(text)
    if end is not None:
        try:
            return orjson.loads(text[:end])
        except orjson.JSONDecodeError:
            return None
    # Truncated: close what is open; if that is not valid, cut back to the last comma before which the
    # text is valid JSON (found in one pass) and close there: two parses at most, whatever the length.
    closed = _close(text + ('"' if in_string else ""))
    if closed is not None:
        return closed
    cut = _last_cut(text)
    if cut is None:
        return None
    position, closers = cut
    try:
        return orjson.loads(text[:position].rstrip() + closers)
    except orjson.JSONDecodeError:
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


_WHITESPACE = " \t\n\r"
_NUMBER = re.compile(r"-?(?:0|[1-9][0-9]*)(?:\.[0-9]+)?(?:[eE][+-]?[0-9]+)?")
_STRING_END = re.compile(r'(?:[^"\\\x00-\x1f]|\\(?:["\\/bfnrt]|u[0-9a-fA-F]{4}))*"')
_MAX_DEPTH = 1024  # orjson's own limit: a deeper prefix would not parse anyway


def _last_cut(text: str) -> tuple[int, str] | None:
    """(offset of the last comma before which ``text`` is valid JSON, the closers that end it there), read
    in one pass that stops at the first thing JSON does not allow; None when no comma qualifies. The open
    containers are a linked stack (closer, parent), so remembering them at each comma costs nothing."""
    frame: tuple[str, tuple | None] | None = None
    depth, index, length = 0, 0, len(text)
    state = "value"  # value | first_value | key | first_key | colon | after
    cut: tuple[int, tuple | None] | None = None
    while index < length:
        char = text[index]
        if char in _WHITESPACE:
            index += 1
            continue
        if state in ("value", "first_value") and char in "{[":
            depth += 1
            if depth > _MAX_DEPTH:
                break
            frame = ("}" if char == "{" else "]", frame)
            state, index = ("first_key" if char == "{" else "first_value"), index + 1
        elif (state == "first_value" and char == "]") or (state == "first_key" and char == "}") or (
                state == "after" and frame is not None and char == frame[0]):
            frame, depth, state, index = frame[1], depth - 1, "after", index + 1
            if frame is None:
                break  # a complete value: nothing after it is part of the answer
        elif char == "," and state in ("first_value", "first_key"):
            cut = (index, frame)  # right after an opener: the container closes empty there
            break
        elif state in ("value", "first_value", "key", "first_key") and char == '"':
            found = _STRING_END.match(text, index + 1)
            if found is None:
                break
            state, index = ("colon" if state in ("key", "first_key") else "after"), found.end()
        elif state in ("value", "first_value"):
            token = _NUMBER.match(text, index) if char in "-0123456789" else None
            if token is not None and (token.end() == length or text[token.end()] in _WHITESPACE + ",]}"):
                state, index = "after", token.end()
            elif text.startswith(("true", "false", "null"), index):
                state, index = "after", index + (5 if char == "f" else 4)
            else:
                break
        elif state == "colon" and char == ":":
            state, index = "value", index + 1
        elif state == "after" and char == "," and frame is not None:
            cut = (index, frame)
            state, index = ("key" if frame[0] == "}" else "value"), index + 1
        else:
            break
    if cut is None:
        return None
    closers, link = [], cut[1]
    while link is not None:
        closers.append(link[0])
        link = link[1]
    return cut[0], "".join(closers)
