"""``kgc eval``: P/R/F1 per task, per source or task, and per type."""

from __future__ import annotations

import typer

from kgcli.errors import KgcError, warn


def evaluate(
    pred_path: str = typer.Argument("-", metavar="PRED",
                                    help="Predictions: converted test records + 'output' ('-' = stdin)."),
    task: str = typer.Option(None, "--task",
                             help="NER, RE, SPO, EE, EET, EEA or KG (default: each record's 'task')."),
    sort_by: str = typer.Option(None, "--sort-by", help="Also score each 'source' (or 'task') separately."),
    match_mode: str = typer.Option("normal", "--match-mode", help="normal (duplicates count) or set."),
    legacy: bool = typer.Option(False, "--legacy",
                                help="The seed's protocol: strict json.loads, F1 from rounded P/R."),
    output_format: str = typer.Option("table", "--format", help="table or json (on stdout)."),
    out: str = typer.Option(None, "--out", help="Also write the JSON report to this file."),
    skip_bad: bool = typer.Option(False, "--skip-bad",
                                  help="Count and skip malformed lines instead of stopping."),
    documents: str = typer.Option(None, "--documents",
                                  help="Score kgc extract's merged documents against this raw gold file "
                                       "(entities, triples, events; offsets where the gold has them)."),
) -> None:
    """Score predictions against the gold labels of converted test records."""
    from kgcli.evaluate import evaluate_file
    from kgcli.report import print_table, write_json

    if output_format not in ("table", "json"):
        raise KgcError(f"--format must be table or json, got {output_format!r}")
    if out:  # checked before scoring: a bad --out must not cost the whole run
        from kgcli.io import check_input
        from kgcli.outputs import check_output

        check_input(pred_path)
        check_output(out, inputs=[pred_path, *([documents] if documents else [])])
    if documents:
        from kgcli.doc_eval import evaluate_documents

        report = evaluate_documents(pred_path, documents)
    else:
        report = evaluate_file(pred_path, task=task, sort_by=sort_by, match_mode=match_mode, legacy=legacy,
                               skip_bad=skip_bad)
    for note, count in report["total"].get("notes", {}).items():
        warn(f"{count} {note}")
    if out:
        write_json(out, report)
    if output_format == "json":
        typer.echo(write_json(None, report), nl=False)
    else:
        print_table(report)
