"""``kgc presets list | show NAME | validate NAME``."""

from __future__ import annotations

import typer

from kgcli.errors import KgcError

app = typer.Typer(help="The preset registry: model / template / precision combinations.",
                  no_args_is_help=True)


@app.command("list")
def list_presets(
    output_format: str = typer.Option("table", "--format", help="table or json."),
) -> None:
    """Every preset: name, model (the adapter, or the base), template, method, where it comes from."""
    import json

    from kgcli.model.presets import listing

    output_format = output_format.lower()  # format names are case-blind, as task names are
    if output_format not in ("table", "json"):
        raise KgcError(f"--format must be table or json, got {output_format!r}")
    rows = listing()
    if output_format == "json":
        typer.echo(json.dumps(rows, ensure_ascii=False, indent=2))
        return
    _print_table(rows)


def _print_table(rows: list[dict]) -> None:
    import sys

    from rich.console import Console
    from rich.markup import escape as markup_escape
    from rich.table import Table

    from kgcli.terminal import cell

    table = Table(title="kgc presets", title_justify="left")
    columns = ["name", "model", "template", "method"]
    if any(row["source"] != "built-in" for row in rows):  # say where the user's own come from
        columns.append("source")
    for column in columns:
        table.add_column(column, overflow="fold", no_wrap=column in ("name", "method"))
    for row in rows:
        # a preset that runs the model's own Python code (trust_remote_code) is marked by its name
        name = f"{row['name']} [remote code]" if row["trust_remote_code"] else row["name"]
        table.add_row(*(cell(name if column == "name" else row[column]) for column in columns))
    if any(row["trust_remote_code"] for row in rows):
        table.caption = markup_escape(
            "[remote code]: loading the model runs its own Python code (trust_remote_code); --model, --set "
            "or a file that brings it needs --trust-remote-code")
        table.caption_justify = "left"
    # a terminal's own width (80 columns fit); anything else gets the table at its natural width
    Console(width=None if sys.stdout.isatty() else 400).print(table)


@app.command("cp")
def copy(
    name: str = typer.Argument(..., help="A preset name."),
    file: str = typer.Argument(..., metavar="FILE", help="The YAML file to write (then --preset FILE)."),
    overwrite: bool = typer.Option(False, "--overwrite", help="Replace an existing FILE."),
) -> None:
    """Copy a preset to a YAML file to edit (comments kept), named after the file."""
    import os
    import re

    from kgcli.model.presets import available, did_you_mean
    from kgcli.outputs import check_output

    found = available()
    if name not in found:
        raise KgcError(f"unknown preset {name!r}{did_you_mean(name, found)}; `kgc presets list` shows all")
    if not file.endswith((".yaml", ".yml")):
        raise KgcError("FILE must end in .yaml or .yml (that is how --preset tells a file from a name)", file)
    output = check_output(file, overwrite=overwrite)
    stem = os.path.splitext(os.path.basename(file))[0]
    text = found[name].read_text(encoding="utf-8")
    renamed, count = re.subn(r"(?m)^name:.*$", f"name: {stem}", text, count=1)
    if not count:
        renamed = f"name: {stem}\n{text}"
    with output.open() as handle:
        handle.write(f"# copied from the preset {name} (kgc presets cp); use it with --preset {file}\n")
        handle.write(renamed)
    from kgcli.errors import say

    say(f"{name} → {file} (kgc presets validate {file} checks it)")


@app.command("show")
def show(name: str = typer.Argument(..., help="Preset name or YAML path.")) -> None:
    """Print the resolved preset as YAML."""
    from kgcli.model.presets import load_preset

    typer.echo(load_preset(name).to_yaml(), nl=False)


@app.command("validate")
def validate_cmd(
    name: str = typer.Argument(..., help="Preset name or YAML path."),
    dtype: str = typer.Option(None, "--dtype", help="Override the preset's dtype (bf16, fp16, fp32)."),
) -> None:
    """Check the combination (template, family, bits, dtype, remote code, vLLM rank, LoRA targets)."""
    from kgcli.model.presets import apply_overrides, load_preset
    from kgcli.model.validate import Hardware, checked, problems

    preset = load_preset(name)
    if dtype:
        preset = apply_overrides(preset, {"dtype": dtype}, source="--dtype")
    hardware = Hardware.detect()
    found = problems(preset, hardware)
    if found:
        raise KgcError(f"preset {preset.name}: " + "; ".join(found))
    typer.echo(f"preset {preset.name}: ok")
    for line in checked(preset, hardware):
        typer.echo(f"  {line}")
