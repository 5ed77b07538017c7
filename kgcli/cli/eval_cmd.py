"""``kgc eval``: P/R/F1 per task, per source or task, and per type; two runs side by side."""

from __future__ import annotations

import typer

from kgcli.cli.options import TASKS, choice
from kgcli.errors import KgcError, warn
from kgcli.report import FORMATS


def evaluate(
    pred_paths: list[str] = typer.Argument(
        None,
        metavar="PRED [B]",
        help="Predictions: converted test records + 'output' ('-' = stdin, the "
        "default); a second file is scored beside the first.",
    ),
    task: str = typer.Option(
        None,
        "--task",
        click_type=choice(*TASKS),
        help="Score only this task's records: NER, RE, SPO, EE, EET, EEA or KG (records "
        "that name no task are read as it).",
    ),
    sort_by: str = typer.Option(None, "--sort-by", click_type=choice("source", "task"),
                                help="Also score each 'source' (or 'task') separately."),
    match_mode: str = typer.Option("normal", "--match-mode", click_type=choice("normal", "set"),
                                   help="normal (duplicates count) or set."),
    legacy: bool = typer.Option(
        False, "--legacy", help="The seed's protocol: strict json.loads, F1 from rounded P/R."
    ),
    output_format: str = typer.Option("table", "--format", click_type=choice(*FORMATS), help="On stdout."),
    out: str = typer.Option(None, "--out", help="Also write the JSON report to this file."),
    overwrite: bool = typer.Option(False, "--overwrite", help="Replace an existing --out file."),
    skip_bad: bool = typer.Option(
        False, "--skip-bad", help="Count and skip malformed lines instead of stopping."
    ),
    errors: int = typer.Option(
        0,
        "--errors",
        min=0,
        metavar="N",
        help="Also list the false positives and negatives of the first N records.",
    ),
    documents: str = typer.Option(
        None,
        "--documents",
        help="Score kgc extract's merged documents against this raw gold file "
        "(entities, triples, events; offsets where the gold has them).",
    ),
) -> None:
    """Score predictions against the gold labels of converted test records.

    The headline P/R/F1 is each task's main score: its tuples, or for EE and EEA the arguments (the table
    says so); EE's event scores have their own columns.
    """
    from kgcli.evaluate import evaluate_file, list_errors
    from kgcli.io import check_input, display_name
    from kgcli.report import FORMATS, compare, comparison_grids, error_grid, grids, render, write_json

    paths = pred_paths or ["-"]
    if len(paths) > 2:
        raise KgcError(f"give one prediction file, or two to compare (got {len(paths)})")
    if output_format not in FORMATS:
        raise KgcError(f"--format must be one of {', '.join(FORMATS)}, got {output_format!r}")
    if documents and len(paths) > 1:
        raise KgcError("--documents scores one file of merged documents")
    for path in paths:
        check_input(path)
    if out:  # checked before scoring: a bad --out must not cost the whole run
        from kgcli.outputs import check_output

        check_output(out, inputs=[*paths, *([documents] if documents else [])], overwrite=overwrite)
    if documents:
        from kgcli.documents.scores import evaluate_documents

        reports = [evaluate_documents(paths[0], documents)]
    else:
        if errors and "-" in paths:
            raise KgcError("--errors reads the predictions twice: give a file, not stdin")
        reports = [
            evaluate_file(
                path, task=task, sort_by=sort_by, match_mode=match_mode, legacy=legacy, skip_bad=skip_bad
            )
            for path in paths
        ]
    for report in reports:
        for note, count in report["total"].get("notes", {}).items():
            warn(f"{count} {note}")
        if report["total"].get("skipped_lines"):
            warn(f"{report['total']['skipped_lines']} malformed line(s) skipped (--skip-bad)")
    listed = list_errors(paths[0], errors, task) if errors else []
    if len(reports) == 2:
        delta = compare(*reports)
        result = {
            "a": display_name(paths[0]),
            "b": display_name(paths[1]),
            "reports": reports,
            "delta": delta,
        }
        tables = comparison_grids(delta, display_name(paths[0]), display_name(paths[1]))
    else:
        result = reports[0]
        tables = grids(result, f"kgc eval: {display_name(paths[0])}")
    if listed:
        result = {**result, "errors": listed}
        tables.append(error_grid(listed))
    if out:
        write_json(out, result)
    typer.echo(
        write_json(None, result) if output_format == "json" else render(tables, output_format), nl=False
    )
