"""Options shared by several commands, declared once (``Annotated`` types reused in every signature)."""

from __future__ import annotations

from typing import Annotated

import click
import typer

TASKS = ("NER", "RE", "SPO", "EE", "EET", "EEA", "KG")


def choice(*values: str) -> click.Choice:
    """A choice the parser checks, shows in --help ([a|b|c]) and completes; case-blind (ner = NER)."""
    return click.Choice(values, case_sensitive=False)

PresetOpt = Annotated[str | None, typer.Option("--preset",
                                               help="Preset name or YAML file (kgc presets list).")]
ModelOpt = Annotated[str | None, typer.Option("--model", help="Base model path (overrides the preset's).")]
AdapterOpt = Annotated[str | None, typer.Option(
    "--adapter", help="LoRA adapter folder(s), comma-separated (applied in order).")]
DtypeOpt = Annotated[str | None, typer.Option("--dtype", help="bf16, fp16 or fp32 (overrides the preset).")]
SetOpt = Annotated[list[str] | None, typer.Option("--set", help="Override a preset field: --set lora_r=16.")]
ResumeOpt = Annotated[bool, typer.Option("--resume",
                                         help="Skip the records already in OUT and append the rest.")]
OverwriteOpt = Annotated[bool, typer.Option("--overwrite", help="Replace an existing output.")]
DryRunOpt = Annotated[bool, typer.Option("--dry-run",
                                         help="Print the resolved settings and launch command, then exit.")]
InLauncherOpt = Annotated[bool, typer.Option("--in-launcher", hidden=True)]
TemperatureOpt = Annotated[float, typer.Option("--temperature", min=0.0, help="0 = greedy (the default).")]
ApiBaseOpt = Annotated[str | None, typer.Option("--api-base", help="Server URL, e.g. http://127.0.0.1:8000/v1.")]
ConcurrencyOpt = Annotated[int, typer.Option("--concurrency", min=1, help="Requests in flight.")]


def comma_list(value: str | None) -> list[str]:
    """``a, b,c`` → ``["a", "b", "c"]`` (options that take several values in one word)."""
    return [part.strip() for part in value.split(",") if part.strip()] if value else []
