"""Showing an eval report: a rich table for people, JSON for machines."""

from __future__ import annotations

import json
from typing import Any

from kgcli.outputs import write_text_atomic

_COUNTS = ("samples", "parse_errors", "repaired", "off_schema")


def write_json(path: str | None, report: dict[str, Any]) -> str:
    text = json.dumps(report, ensure_ascii=False, indent=2) + "\n"
    if path:
        write_text_atomic(path, text)
    return text


def _score_columns(report: dict[str, Any]) -> list[str]:
    columns: list[str] = []
    for block in report.values():
        for key in block:
            if key.endswith(("P", "R", "F1")) and key not in columns:
                columns.append(key)
    return columns


def print_table(report: dict[str, Any]) -> None:
    from rich.console import Console
    from rich.table import Table

    console = Console()
    columns = _score_columns(report)
    table = Table(title="kgc eval")
    table.add_column("block")
    for column in (*columns, *_COUNTS):
        table.add_column(column, justify="right")
    for name, block in report.items():
        table.add_row(name, *(f"{block.get(c, 0):.2f}" for c in columns),
                      *(str(block.get(c, 0)) for c in _COUNTS))
    console.print(table)
    per_type = report["total"].get("per_type") or {}
    if per_type:
        types = Table(title="per type (total)")
        types.add_column("type")
        for column in columns:
            types.add_column(column, justify="right")
        for name, entry in per_type.items():
            types.add_row(name, *(f"{entry.get(c, 0):.2f}" for c in columns))
        console.print(types)
