"""The answer a perfect model gives: a converted test record's gold ``label`` rendered by its task as the
model's JSON answer. ``graph build --gold`` builds a test set's own graph with it, and the ``gold`` backend
(``--backend gold``, ``--ray-engine gold``) answers with it, so the document route's tests and benchmarks
run at corpus scale with answers that are right and cost no model.
"""

from __future__ import annotations

from typing import Any

import orjson

from kgcli.errors import KgcError
from kgcli.records import INPUT, SCHEMA, parse_instruction
from kgcli.tasks import shared_task
from kgcli.tasks.base import AnnotationError, Options


class NoGold(ValueError):
    """The record has no gold to answer from (no converted instruction, no 'label', or not this task's)."""


def gold_output(record: dict[str, Any]) -> str:
    """The record's gold label as its task's answer (JSON text)."""
    inner = parse_instruction(record.get("instruction"))
    label = record.get("label")
    if inner is None or not isinstance(label, str) or not isinstance(inner.get(INPUT), str):
        raise NoGold("needs converted test records (instruction and 'label')")
    task = shared_task(str(record.get("task", "")))  # an unknown task: KgcError, for the caller to place
    try:
        items = task.read_items({task.annotation_key: orjson.loads(label)}) or []
        answer = task.render(inner.get(SCHEMA) or [], items, inner[INPUT], Options())
    except (orjson.JSONDecodeError, AnnotationError, KeyError, TypeError) as exc:
        raise NoGold(f"needs each 'label' to be its task's gold annotations ({exc})") from None
    return orjson.dumps(answer).decode("utf-8")


def gold_output_at(record: dict[str, Any], name: str, number: int, who: str) -> str:
    """``gold_output``, its errors one line at FILE:LINE, said by ``who`` (``--gold``, the gold backend)."""
    try:
        return gold_output(record)
    except NoGold as exc:
        raise KgcError(f"{who} {exc}", name, number) from None
    except KgcError as exc:
        raise KgcError(exc.message, name, number) from None
