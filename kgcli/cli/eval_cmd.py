"""``kgc eval``: P/R/F1 per task, per source or task, and per type; two runs side by side."""

from __future__ import annotations

import typer

from kgcli.cli.options import TASKS, choice
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
    graph: bool = typer.Option(
        False, "--graph",
        help="Score a graph against a gold graph: PRED_GRAPH GOLD_GRAPH (nodes and edges, typed and by "
        "name).",
    ),
) -> None:
    """Score predictions against the gold labels of converted test records.

    The headline P/R/F1 is each task's main score: its tuples, or for EE and EEA the arguments (the table
    says so); EE's event scores have their own columns.
    """
    from kgcli.report import EvalRequest, run_eval

    score_documents = None
    if documents:  # the document wing scores merged documents; the record stage only reports them
        from kgcli.documents.scores import evaluate_documents as score_documents
    if graph:  # and the graph wing scores graphs
        from kgcli.graph.scores import evaluate_graphs as score_documents
    typer.echo(run_eval(EvalRequest(
        pred_paths or ["-"], task=task, sort_by=sort_by, match_mode=match_mode, legacy=legacy,
        output_format=output_format, out=out, overwrite=overwrite, skip_bad=skip_bad, errors=errors,
        documents=documents, graph=graph), score_documents), nl=False)
