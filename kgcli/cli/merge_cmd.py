"""``kgc merge``: LoRA adapter(s) + base model → one model folder with the right chat template."""

from __future__ import annotations

import typer

from kgcli.errors import KgcError


def merge(
    out: str = typer.Option(..., "--out", help="Folder for the merged model (appears only when complete)."),
    preset: str = typer.Option(None, "--preset", help="Preset name or YAML file (base, template, dtype)."),
    model: str = typer.Option(None, "--model", help="Base model path (overrides the preset's)."),
    adapter: str = typer.Option(None, "--adapter", help="Adapter folder(s), comma-separated, merged in order."),
    dtype: str = typer.Option(None, "--dtype", help="bf16, fp16 or fp32 for the merged weights."),
    settings: list[str] = typer.Option(None, "--set", help="Override a preset field."),
    max_shard_size: str = typer.Option("5GB", "--max-shard-size"),
    overwrite: bool = typer.Option(False, "--overwrite", help="Replace a non-empty --out."),
) -> None:
    """Merge adapters into their base model and save model + tokenizer (with chat template)."""
    from kgcli.merge import check_mergeable
    from kgcli.merge import merge as run_merge
    from kgcli.models import resolve_model_path
    from kgcli.presets import apply_overrides, build_preset, load_preset, parse_set_options
    from kgcli.validate import validate

    if preset is None and model is None:
        raise KgcError("--preset NAME or --model PATH is required")
    overrides = parse_set_options(settings or [])
    if model:
        overrides.update(base_model=model, builder=None)
    if dtype:
        overrides["dtype"] = dtype
    if preset:
        resolved = apply_overrides(load_preset(preset), overrides)
    else:
        resolved = build_preset({"name": "merge", "family": "llama", "template": "alpaca", **overrides})
    validate(resolved)
    adapters = [a.strip() for a in adapter.split(",")] if adapter else ([resolved.adapter] if resolved.adapter else [])
    check_mergeable(resolved)  # before a local builder makes the base model
    run_merge(resolved, resolve_model_path(resolved.base_model, resolved.builder), adapters, out, max_shard_size,
              overwrite)
    typer.echo(f"merged {len(adapters)} adapter(s) into {out}", err=True)
