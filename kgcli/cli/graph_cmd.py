"""``kgc graph build / query / export / show``: the knowledge graph from merged documents or predictions."""

from __future__ import annotations

from typing import Annotated

import typer

from kgcli.cli.options import OverwriteOpt, choice
from kgcli.errors import KgcError, say

app = typer.Typer(
    help="Build the knowledge graph, query it with Cypher, export it, look at it.", no_args_is_help=True
)

QUERY_FORMATS = ("table", "jsonl", "csv")


ResolveRule = Annotated[str | None, typer.Option(
    "--resolve", click_type=choice("names", "aliases"),
    help="names: one node per name and type (aliases only proposed); aliases: also merge names that differ "
    "by a legal form, an article, punctuation or spacing. Default: as GRAPH was built (names).")]
DecisionsOpt = Annotated[str | None, typer.Option(
    "--decisions", metavar="FILE", help="A person's decisions (YAML or JSON: same: [[a, b]], different: "
    "[[a, b]], type: {name: type}); GRAPH keeps them for every later build.")]


@app.command("build")
def build(
    inputs: list[str] = typer.Argument(
        ..., metavar="IN...", help="kgc extract results, or kgc predict output ('-' = stdin)."
    ),
    out: str = typer.Option(..., "--out", help="The GRAPH folder to write."),
    append: bool = typer.Option(False, "--append", help="Add to an existing GRAPH (nothing is duplicated)."),
    overwrite: OverwriteOpt = False,
    skip_unparsed: bool = typer.Option(
        False, "--skip-unparsed", help="Build without answers that do not parse, instead of stopping."
    ),
    gold: bool = typer.Option(
        False, "--gold", help="Converted test records: build the graph of their gold labels (to compare)."
    ),
    max_labels: int = typer.Option(
        1000, "--max-labels", min=1,
        help="At most this many node types and relations together (each is a database table).",
    ),
    keep_ungrounded: bool = typer.Option(
        False, "--keep-ungrounded",
        help="Keep strings that are not in their text (left out by default), marked grounded: false.",
    ),
    resolve: ResolveRule = None,
    decisions: DecisionsOpt = None,
) -> None:
    """Build a GRAPH folder: nodes, edges and mentions, and an embedded graph database (LadybugDB)."""
    from kgcli.graph.build import BuildSettings, build_graph
    from kgcli.io import spool_stdin

    if append and overwrite:
        raise KgcError("--append and --overwrite exclude each other")
    summary = build_graph(
        [spool_stdin(path) for path in inputs],
        out,
        BuildSettings(append=append, overwrite=overwrite, skip_unparsed=skip_unparsed, gold=gold,
                      max_labels=max_labels, keep_ungrounded=keep_ungrounded,
                      resolve=resolve, decisions=decisions),
    )
    say(f"graph: {summary.line()} → {out}")


@app.command("resolve")
def resolve(
    graph: str = typer.Argument(..., metavar="GRAPH", help="A folder written by kgc graph build."),
    rule: ResolveRule = None,
    decisions: DecisionsOpt = None,
    dry_run: bool = typer.Option(
        False, "--dry-run",
        help="Print every merge, split name and proposal with its evidence; change nothing."
    ),
) -> None:
    """Resolve GRAPH's names again: the alias rule and a person's decisions (they hold on later builds)."""
    from kgcli.graph.build import BuildSettings, resolve_graph
    from kgcli.graph.review import review_lines, review_summary

    summary, meta = resolve_graph(graph, BuildSettings(resolve=rule,
                                                       decisions=decisions, dry_run=dry_run))
    if dry_run:
        for line in review_lines(summary.merged, meta):
            print(line)
        say(review_summary(summary.merged, meta) + " (dry run: GRAPH unchanged)")
    else:
        say(f"graph resolved: {summary.line()} → {graph}")


def parse_params(items: list[str] | None) -> dict:
    """``name=value`` (a string) or ``name:=JSON`` (a number, list, …), as HTTPie writes them."""
    import json

    params: dict = {}
    for item in items or []:
        name, sep, raw = item.partition("=")
        as_json = name.endswith(":")
        name = name.removesuffix(":")
        if not sep or not name.isidentifier():
            raise KgcError(f"--param {item!r}: write name=value (a string) or name:=JSON")
        if as_json:
            try:
                params[name] = json.loads(raw)
            except json.JSONDecodeError:
                raise KgcError(f"--param {item!r}: the value after := is not JSON") from None
        else:
            params[name] = raw
    return params


@app.command("query")
def query(
    graph: str = typer.Argument(..., metavar="GRAPH", help="A folder written by kgc graph build."),
    cypher: str = typer.Argument(..., metavar="CYPHER", help='e.g. "MATCH (p:人物) RETURN p.name LIMIT 5"'),
    param: list[str] = typer.Option(None, "--param", help="Query parameter: name=value or name:=JSON."),
    output_format: str = typer.Option("table", "--format", help="table, jsonl or csv (on stdout)."),
) -> None:
    """Run a Cypher query on GRAPH's database."""
    output_format = output_format.lower()  # format names are case-blind, as task names are
    if output_format not in QUERY_FORMATS:
        raise KgcError(f"--format must be one of {', '.join(QUERY_FORMATS)}, got {output_format!r}")
    params = parse_params(param)
    from kgcli.graph.store import query as run_query

    columns, rows = run_query(graph, cypher, params)
    print_rows(columns, rows, output_format)


def print_rows(columns: list[str], rows: list[list], output_format: str) -> None:
    import sys

    import orjson

    if output_format == "jsonl":
        for row in rows:
            sys.stdout.buffer.write(orjson.dumps(dict(zip(columns, row, strict=True)), default=str) + b"\n")
    elif output_format == "csv":
        import csv

        from kgcli.io import spreadsheet_row

        writer = csv.writer(sys.stdout, lineterminator="\n")
        writer.writerow(spreadsheet_row(columns))
        writer.writerows(spreadsheet_row(row) for row in rows)
    else:
        from rich.console import Console
        from rich.table import Table

        from kgcli.terminal import cell

        table = Table()
        for column in columns:
            table.add_column(cell(column))
        for row in rows:
            table.add_row(*map(cell, row))  # names from answers: no markup, no escape codes
        Console().print(table)
        say(f"{len(rows)} row(s)")


@app.command("export")
def export(
    graph: str = typer.Argument(..., metavar="GRAPH", help="A folder written by kgc graph build."),
    output_format: str = typer.Option(
        ..., "--format", help="neo4j, cypher, graphml, turtle, jsonld, csv or triples."
    ),
    out: str = typer.Option(..., "--out", help="The file (or folder, for neo4j and csv); '-' = stdout."),
    base_iri: str = typer.Option(
        "http://example.org/kgc/", "--base-iri", help="turtle, jsonld: where the graph's IRIs are minted."
    ),
    overwrite: OverwriteOpt = False,
) -> None:
    """Export GRAPH for Neo4j, RDF stores, GraphML tools or a flat triple list."""
    from kgcli.graph.export import check_base_iri, check_format, check_target, export_graph

    output_format = check_format(output_format)
    if output_format in ("turtle", "jsonld"):
        check_base_iri(base_iri)
    check_target(output_format, out, overwrite)
    summary = export_graph(graph, output_format, out, base_iri=base_iri, overwrite=overwrite)
    if out != "-":
        say(f"exported {summary.line()}")
    if summary.command:
        say(f"load it into Neo4j 5 (the database stopped; neo4j-admin from $NEO4J_HOME or the current "
            f"folder; an existing database is replaced only with --overwrite):\n  {summary.command}")
    if output_format in ("turtle", "jsonld") and out != "-":
        say("IRIs percent-encode names (人物 → %E4%BA%BA%E7%89%A9): match nodes by rdfs:label, whose text "
            "carries its documents' language tag (@zh, @en) where known")


@app.command("show")
def show(
    graph: str = typer.Argument(..., metavar="GRAPH", help="A folder written by kgc graph build."),
    out: str = typer.Option(..., "--out", help="The HTML file to write (one self-contained page)."),
    png: str = typer.Option(None, "--png", help="Also draw a static picture of the graph to this PNG file."),
    max_nodes: int = typer.Option(
        300, "--max-nodes", min=1, help="Draw at most this many nodes (the most linked, then mentioned)."
    ),
    documents: str = typer.Option(
        None, "--documents", metavar="DOCS",
        help="The documents extracted (as given to kgc extract): shown beside the graph, every mention "
        "highlighted; a text that changed since is refused.",
    ),
    overwrite: OverwriteOpt = False,
) -> None:
    """Write a page to look at GRAPH in a browser (works offline), and optionally a PNG picture."""
    from kgcli.graph.store import read_meta
    from kgcli.graph.view import write_html, write_png
    from kgcli.outputs import check_output

    read_meta(graph)
    check_output(out, overwrite=overwrite)
    if png:
        check_output(png, overwrite=overwrite)
    data = write_html(graph, out, max_nodes, documents)
    shown = f", {len(data['documents'])} document(s)" if documents else ""
    say(f"graph page: {len(data['nodes'])} of {data['total_nodes']} node(s){shown} → {out}")
    if png:
        picture = write_png(graph, png, min(max_nodes, 60))
        say(f"graph picture: {len(picture['nodes'])} node(s) → {png}")
