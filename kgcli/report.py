"""Showing an eval report: tables for people (rich on a terminal, at full width anywhere else; Markdown;
CSV), JSON for machines, and two reports side by side.

A report is ``{block: {P, R, F1, tp, pred, gold, [headline], [event_* / argument_*], samples, …,
per_type}}``. The tables are built once, as rows of strings, and rendered in the chosen format, so a file
or a pipe gets every column a terminal shows (rich falls back to 80 columns when stdout is not a
terminal, which cut names and numbers).
"""

from __future__ import annotations

import csv
import io
import json
import sys
from dataclasses import dataclass
from typing import Any

from kgcli.io import spreadsheet_row
from kgcli.outputs import write_text_atomic

FORMATS = ("table", "json", "markdown", "csv")
_COUNTS = ("samples", "parse_errors", "repaired", "off_schema")
_SCORES = ("P", "R", "F1")


@dataclass
class Grid:
    """One table: a title, a header, rows of strings; the first column is text, the others numbers."""

    title: str
    header: list[str]
    rows: list[list[str]]
    text_columns: int = 1  # the first columns that are text (left-aligned); the rest are numbers


def write_json(path: str | None, report: dict[str, Any]) -> str:
    text = json.dumps(report, ensure_ascii=False, indent=2) + "\n"
    if path:
        write_text_atomic(path, text)
    return text


def _has_headline(report: dict[str, Any]) -> bool:
    """Whether the blocks carry the headline P/R/F1 (kgc eval's reports do; document reports have only
    named metrics: entity_, entity_offsets_, triple_, event_)."""
    return any("F1" in block for block in report.values())


def _metric_prefixes(report: dict[str, Any], headline: bool) -> list[str]:
    """The metric prefixes beyond the headline present in any block or type: "event_", "argument_" for a
    prediction report; for a document report every ``<name>_F1`` in the order the report gives them."""
    found: list[str] = []
    for block in report.values():
        for entry in [block, *(block.get("per_type") or {}).values()]:
            names = ("event_", "argument_") if headline else [k[:-2] for k in entry if k.endswith("_F1")]
            for prefix in names:
                if f"{prefix}F1" in entry and prefix not in found:
                    found.append(prefix)
    return found


def _headline_note(report: dict[str, Any]) -> str:
    names = {block.get("headline", "main") for block in report.values()}
    names.discard("main")
    return f" — P/R/F1: {', '.join(sorted(names))}" if names else ""


def _number(value: Any) -> str:
    return f"{value:.2f}" if isinstance(value, float) else str(value)


def _score_cells(entry: dict[str, Any], prefixes: list[str], headline: bool = True) -> list[str]:
    cells: list[str] = []
    if headline:
        cells += [_number(entry.get(s, 0.0)) for s in _SCORES]
        cells += [str(entry.get("gold", 0)), str(entry.get("pred", 0))]
    for prefix in prefixes:
        cells += [_number(entry.get(f"{prefix}{s}", 0.0)) for s in _SCORES]
    return cells


def _score_header(prefixes: list[str], headline: bool = True) -> list[str]:
    first = (*_SCORES, "gold", "pred") if headline else ()
    return [*first, *(f"{p}{s}" for p in prefixes for s in _SCORES)]


def _named_scores(entry: dict[str, Any]) -> list[str]:
    """P, R, F1 of a document report's type entry, whose one metric its name carries ("triple:works for")."""
    prefix = next((k[:-2] for k in entry if k.endswith("_F1")), "")
    return [_number(entry.get(f"{prefix}{s}", 0.0)) for s in _SCORES]


def grids(report: dict[str, Any], title: str = "kgc eval") -> list[Grid]:
    """The blocks table, then one per-type table per block (with its gold and predicted counts)."""
    headline = _has_headline(report)
    prefixes = _metric_prefixes(report, headline)
    optional = ("thinking", "unfinished_thinking", "skipped_lines")
    extra = [c for c in optional if any(c in b for b in report.values())]
    named = (("samples", "missing_documents"), ("gold_nodes", "pred_nodes", "gold_edges", "pred_edges"))
    counts = _COUNTS if headline else next((c for c in named if any(c[0] in b for b in report.values())), ())
    blocks = Grid(
        f"{title}{_headline_note(report)}", ["block", *_score_header(prefixes, headline), *counts, *extra], []
    )
    tables = [blocks]
    for name, block in report.items():
        cells = [*_score_cells(block, prefixes, headline), *(str(block.get(c, 0)) for c in (*counts, *extra))]
        blocks.rows.append([name, *cells])
        per_type = block.get("per_type") or {}
        if per_type:
            tables.append(
                Grid(
                    f"per type ({name})",
                    ["type", *_score_header(prefixes)],
                    [[t, *_score_cells(e, prefixes)] for t, e in per_type.items()],
                )
                if headline
                else Grid(f"per type ({name})", ["type", *_SCORES],
                          [[t, *_named_scores(e)] for t, e in per_type.items()])
            )
    return tables


def render(tables: list[Grid], fmt: str) -> str:
    if fmt == "markdown":
        return "\n".join(_markdown(t) for t in tables)
    if fmt == "csv":
        return _csv(tables)
    return _rich(tables)


def _markdown(grid: Grid) -> str:
    def line(cells: list[str]) -> str:
        return "| " + " | ".join(c.replace("|", "\\|") for c in cells) + " |"

    align = ["---" if i < grid.text_columns else "---:" for i in range(len(grid.header))]
    return (
        "\n".join(
            [
                f"**{grid.title}**",
                "",
                line(grid.header),
                "| " + " | ".join(align) + " |",
                *(line(r) for r in grid.rows),
                "",
            ]
        )
        + "\n"
    )


def _csv(tables: list[Grid]) -> str:
    """One CSV: a ``table`` column naming the table each row belongs to; columns united across tables
    (cells that would run as formulas in a spreadsheet start with ``'``)."""
    columns: list[str] = []
    for grid in tables:
        columns += [c for c in grid.header[1:] if c not in columns]
    buffer = io.StringIO()
    writer = csv.writer(buffer, lineterminator="\n")
    writer.writerow(spreadsheet_row(["table", "name", *columns]))
    for grid in tables:
        for row in grid.rows:
            cells = dict(zip(grid.header[1:], row[1:], strict=True))
            writer.writerow(spreadsheet_row([grid.title, row[0], *(cells.get(c, "") for c in columns)]))
    return buffer.getvalue()


def _rich(tables: list[Grid]) -> str:
    from rich.console import Console
    from rich.table import Table

    from kgcli.terminal import cell

    terminal = sys.stdout.isatty()
    # Not a terminal: as wide as the widest table needs (rich would cut to 80 columns).
    console = Console(
        file=io.StringIO(),
        width=None if terminal else 100_000,
        force_terminal=terminal,
        no_color=not terminal,
    )
    fitted = (part for whole in tables for part in _fitted(whole, console.width)) if terminal else tables
    for grid in fitted:
        table = Table(title=cell(grid.title), title_justify="left")
        for index, name in enumerate(grid.header):
            # on a terminal "event F1", not "event_F1": a narrow one breaks a header at its spaces
            shown = name.replace("_", " ") if terminal else name
            table.add_column(cell(shown), justify="left" if index < grid.text_columns else "right")
        for row in grid.rows:
            table.add_row(*map(cell, row))  # type names come from answers: no markup, no escape codes
        console.print(table)
    text = console.file.getvalue()  # type: ignore[attr-defined]
    return "\n".join(line.rstrip() for line in text.splitlines()) + "\n"


def _fitted(grid: Grid, width: int) -> list[Grid]:
    """The grid as it is, or, when its columns are wider than the terminal (EE's scores and counts on 80
    columns), cut into grids that each fit, every one repeating the text columns."""
    from rich.cells import cell_len

    def needs(index: int) -> int:  # a column's width: its widest cell or header word, plus the rules
        header = max((cell_len(w) for w in grid.header[index].replace("_", " ").split()), default=0)
        return max([header, *(cell_len(str(row[index])) for row in grid.rows)]) + 3

    keep = list(range(grid.text_columns))
    base = sum(needs(i) for i in keep) + 1
    groups: list[list[int]] = [[]]
    used = base
    for index in range(grid.text_columns, len(grid.header)):
        if groups[-1] and used + needs(index) > width:
            groups.append([])
            used = base
        groups[-1].append(index)
        used += needs(index)
    if len(groups) == 1:
        return [grid]
    return [Grid(grid.title if n == 0 else f"{grid.title} (continued)", [grid.header[i] for i in keep + g],
                 [[row[i] for i in keep + g] for row in grid.rows], grid.text_columns)
            for n, g in enumerate(groups)]


# ---- two reports side by side -------------------------------------------------------------------
def compare(a: dict[str, Any], b: dict[str, Any]) -> dict[str, Any]:
    """Per block and per type: F1 of each report and the difference (B − A)."""
    rows: dict[str, Any] = {}
    for name in [*a, *(n for n in b if n not in a)]:
        block_a, block_b = a.get(name, {}), b.get(name, {})
        entry = _delta(block_a, block_b)
        types = [
            *(block_a.get("per_type") or {}),
            *(t for t in block_b.get("per_type") or {} if t not in (block_a.get("per_type") or {})),
        ]
        entry["per_type"] = {
            t: _delta((block_a.get("per_type") or {}).get(t, {}), (block_b.get("per_type") or {}).get(t, {}))
            for t in types
        }
        rows[name] = entry
    return rows


def _delta(a: dict[str, Any], b: dict[str, Any]) -> dict[str, Any]:
    f1_a, f1_b = a.get("F1", 0.0), b.get("F1", 0.0)
    return {
        "F1_a": f1_a,
        "F1_b": f1_b,
        "delta_F1": round(f1_b - f1_a, 2),
        "P_a": a.get("P", 0.0),
        "P_b": b.get("P", 0.0),
        "R_a": a.get("R", 0.0),
        "R_b": b.get("R", 0.0),
    }


def comparison_grids(delta: dict[str, Any], a: str, b: str) -> list[Grid]:
    header = ["F1 A", "F1 B", "ΔF1", "P A", "P B", "R A", "R B"]

    def cells(entry: dict[str, Any]) -> list[str]:
        sign = "+" if entry["delta_F1"] > 0 else ""
        return [
            _number(entry["F1_a"]),
            _number(entry["F1_b"]),
            f"{sign}{entry['delta_F1']:.2f}",
            *(_number(entry[k]) for k in ("P_a", "P_b", "R_a", "R_b")),
        ]

    tables = [
        Grid(
            f"kgc eval: A = {a}, B = {b}",
            ["block", *header],
            [[name, *cells(entry)] for name, entry in delta.items()],
        )
    ]
    for name, entry in delta.items():
        if entry["per_type"]:
            tables.append(
                Grid(
                    f"per type ({name})",
                    ["type", *header],
                    [[t, *cells(e)] for t, e in entry["per_type"].items()],
                )
            )
    return tables


def error_grid(errors: list[dict[str, Any]]) -> Grid:
    rows = []
    for error in errors:
        rows.append(
            [
                f"{error['task']} {error['source']} {_shown(error.get('text') or '', error['id'])}",
                "; ".join(map(_tuple, error["false_positives"])) or "–",
                "; ".join(map(_tuple, error["false_negatives"])) or "–",
            ]
        )
    return Grid(
        f"errors (first {len(errors)} record(s) with any)",
        ["record", "false positives", "false negatives"],
        rows,
        text_columns=3,
    )


def _shown(text: str, record_id: Any, width: int = 32) -> str:
    """A record named by its text (shortened, on one line), not by a 64-hex id; the id when it has none."""
    text = " ".join(text.split())
    if not text:
        return str(record_id)
    return text if len(text) <= width else text[: width - 1] + "…"


def _tuple(values: list[Any]) -> str:
    return "(" + ", ".join(str(v) for v in values) + ")"


@dataclass(frozen=True)
class EvalRequest:
    """One ``kgc eval`` as typed: the prediction files (two: side by side) and how to score and show them."""

    paths: list[str]
    task: str | None = None
    sort_by: str | None = None
    match_mode: str = "normal"
    legacy: bool = False
    output_format: str = "table"
    out: str | None = None
    overwrite: bool = False
    skip_bad: bool = False
    errors: int = 0
    documents: str | None = None  # the raw gold of merged documents (scored by ``score_documents``)
    graph: bool = False  # the two paths are graph folders, PRED then GOLD (scored by ``score_documents``)


def run_eval(request: EvalRequest, score_documents: Any = None) -> str:
    """``kgc eval``: every check first (files, ``--out``), the reports (a merged-documents file is scored by
    ``score_documents(pred, gold)``, which the document wing provides), their notes as warnings, and the
    text for stdout; the JSON report also goes to ``--out``."""
    from kgcli.errors import KgcError, warn
    from kgcli.evaluate import evaluate_file, list_errors
    from kgcli.io import check_input, display_name

    paths = request.paths
    if len(paths) > 2:
        raise KgcError(f"give one prediction file, or two to compare (got {len(paths)})")
    if request.output_format not in FORMATS:
        raise KgcError(f"--format must be one of {', '.join(FORMATS)}, got {request.output_format!r}")
    if request.documents and len(paths) > 1:
        raise KgcError("--documents scores one file of merged documents")
    if request.graph:
        if len(paths) != 2 or request.documents:
            raise KgcError("--graph scores one graph against another: give PRED_GRAPH GOLD_GRAPH")
        if request.errors or request.task or request.sort_by:
            raise KgcError("--graph takes no --errors, --task or --sort-by (it scores whole graphs)")
    else:
        for path in paths:
            check_input(path)
    if request.out:  # checked before scoring: a bad --out must not cost the whole run
        from kgcli.outputs import check_output

        check_output(request.out, inputs=[*paths, *([request.documents] if request.documents else [])],
                     overwrite=request.overwrite)
    if request.graph:
        report = score_documents(paths[0], paths[1])
        return _emit(request, report, grids(report, f"kgc eval --graph: {paths[0]} against {paths[1]}"))
    if request.documents:
        reports = [score_documents(paths[0], request.documents)]
    else:
        if request.errors and "-" in paths:
            raise KgcError("--errors reads the predictions twice: give a file, not stdin")
        reports = [evaluate_file(path, task=request.task, sort_by=request.sort_by,
                                 match_mode=request.match_mode, legacy=request.legacy,
                                 skip_bad=request.skip_bad) for path in paths]
    for report in reports:
        for note, count in report["total"].get("notes", {}).items():
            warn(f"{count} {note}")
        if report["total"].get("skipped_lines"):
            warn(f"{report['total']['skipped_lines']} malformed line(s) skipped (--skip-bad)")
    listed = list_errors(paths[0], request.errors, request.task) if request.errors else []
    if len(reports) == 2:
        delta = compare(*reports)
        result = {"a": display_name(paths[0]), "b": display_name(paths[1]), "reports": reports,
                  "delta": delta}
        tables = comparison_grids(delta, display_name(paths[0]), display_name(paths[1]))
    else:
        result = reports[0]
        tables = grids(result, f"kgc eval: {display_name(paths[0])}")
    if listed:
        result = {**result, "errors": listed}
        tables.append(error_grid(listed))
    return _emit(request, result, tables)


def _emit(request: EvalRequest, result: dict[str, Any], tables: list[Grid]) -> str:
    """The JSON report to ``--out``; the text for stdout in the asked format."""
    if request.out:
        write_json(request.out, result)
    if request.output_format == "json":
        return write_json(None, result)
    return render(tables, request.output_format)
