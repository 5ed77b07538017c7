"""``kgc presets list | show NAME | validate NAME``."""

from __future__ import annotations

import typer

from kgcli.errors import KgcError

app = typer.Typer(help="The preset registry: model / template / precision combinations.",
                  no_args_is_help=True)


@app.command("list")
def list_presets() -> None:
    """Show every preset as a table."""
    from rich.console import Console
    from rich.table import Table

    from kgcli.presets import all_presets

    table = Table(title="kgc presets")
    for column in ("name", "base", "adapter", "family", "template", "dtype", "bits", "type"):
        table.add_column(column, overflow="fold")
    for preset in all_presets():
        table.add_row(preset.name, preset.base_model, preset.adapter or "-", preset.family, preset.template,
                      preset.dtype, str(preset.bits), preset.finetuning_type)
    Console(width=200).print(table)


@app.command("show")
def show(name: str = typer.Argument(..., help="Preset name or YAML path.")) -> None:
    """Print the resolved preset as YAML."""
    from kgcli.presets import load_preset

    typer.echo(load_preset(name).to_yaml(), nl=False)


@app.command("validate")
def validate_cmd(
    name: str = typer.Argument(..., help="Preset name or YAML path."),
    dtype: str = typer.Option(None, "--dtype", help="Override the preset's dtype (bf16, fp16, fp32)."),
) -> None:
    """Check the combination (template, family, bits, dtype, remote code, vLLM rank, LoRA targets)."""
    from kgcli.presets import apply_overrides, load_preset
    from kgcli.validate import Hardware, problems

    preset = load_preset(name)
    if dtype:
        preset = apply_overrides(preset, {"dtype": dtype}, source="--dtype")
    found = problems(preset, Hardware.detect())
    if found:
        raise KgcError(f"preset {preset.name}: " + "; ".join(found))
    typer.echo(f"preset {preset.name}: ok")
