"""Task registry: one module per task, each the single home of that task's format.

Modules are imported when a task is first asked for, so a command that handles one task loads one module.
"""

from __future__ import annotations

import functools
import importlib

from kgcli.errors import KgcError
from kgcli.tasks.base import AnnotationError, Options, Task

# task name → "module:class" inside kgcli.tasks
TASKS: dict[str, str] = {"NER": "ner:NER", "RE": "re:RE", "SPO": "spo:SPO", "EE": "ee:EE", "EET": "eet:EET",
                         "EEA": "eea:EEA", "KG": "kg:KG"}
TASK_NAMES = list(TASKS)


def get_task(name: str) -> Task:
    """A fresh task object (SPO keeps per-run state)."""
    where = TASKS.get(name.upper())
    if where is None:
        raise KgcError(f"unknown task {name!r}; choose one of {', '.join(TASK_NAMES)}")
    module, cls = where.split(":")
    return getattr(importlib.import_module(f"kgcli.tasks.{module}"), cls)()


def shared_task(name: str) -> Task:
    """One task object per name, for the readers that keep no state in it (the merge, the graph, the error
    listing); convert takes a fresh one from ``get_task`` (SPO keeps per-run state)."""
    return _shared(name.upper())


@functools.cache
def _shared(name: str) -> Task:
    return get_task(name)


__all__ = ["AnnotationError", "Options", "Task", "TASKS", "TASK_NAMES", "get_task", "shared_task"]
