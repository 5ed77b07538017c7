"""Task registry: one module per task, each the single home of that task's format."""

from __future__ import annotations

from kgcli.errors import KgcError
from kgcli.tasks.base import AnnotationError, Options, Task
from kgcli.tasks.ee import EE
from kgcli.tasks.eea import EEA
from kgcli.tasks.eet import EET
from kgcli.tasks.kg import KG
from kgcli.tasks.ner import NER
from kgcli.tasks.re import RE
from kgcli.tasks.spo import SPO

TASKS: dict[str, type[Task]] = {cls.name: cls for cls in (NER, RE, SPO, EE, EET, EEA, KG)}
TASK_NAMES = list(TASKS)


def get_task(name: str) -> Task:
    """A fresh task object (SPO keeps per-run state)."""
    try:
        return TASKS[name.upper()]()
    except KeyError:
        raise KgcError(f"unknown task {name!r}; choose one of {', '.join(TASK_NAMES)}") from None


__all__ = ["AnnotationError", "Options", "Task", "TASKS", "TASK_NAMES", "get_task"]
