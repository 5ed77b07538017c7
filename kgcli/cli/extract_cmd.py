"""``kgc extract``: documents → chunks → predict (one stream) → one merged, grounded result per document."""

from __future__ import annotations

import typer

from kgcli.cli.options import (
    AdapterOpt,
    ApiBaseOpt,
    ConcurrencyOpt,
    DtypeOpt,
    ModelOpt,
    OverwriteOpt,
    PresetOpt,
    ResumeOpt,
    SetOpt,
    comma_list,
)
from kgcli.errors import KgcError, say


def extract(
    docs: str = typer.Argument(
        ..., metavar="DOCS", help="A folder of .txt/.md files, a text file, or JSON lines with 'text'."
    ),
    out_path: str = typer.Argument(..., metavar="OUT", help="One merged result per document (JSON lines)."),
    preset: PresetOpt = None,
    task: str = typer.Option(..., "--task", help="Tasks, comma-separated: NER,RE."),
    schema: str = typer.Option(..., "--schema", help="Their schema files, comma-separated, same order."),
    language: str = typer.Option("zh", "--language", help="zh or en (the instruction sentence)."),
    model: ModelOpt = None,
    adapter: AdapterOpt = None,
    dtype: DtypeOpt = None,
    settings: SetOpt = None,
    backend: str = typer.Option("hf", "--backend", help="hf, vllm or openai."),
    batch_size: int = typer.Option(8, "--batch-size", min=1),
    max_new_tokens: int = typer.Option(None, "--max-new-tokens", min=1, help="Default: the preset's."),
    budget: int = typer.Option(None, "--budget", min=1, help="Tokens per chunk (default: what fits)."),
    overlap: int = typer.Option(None, "--overlap", min=0, help="Tokens shared by neighbouring chunks."),
    drop_ungrounded: bool = typer.Option(
        False, "--drop-ungrounded", help="Drop extractions whose strings are not in the text."
    ),
    api_base: ApiBaseOpt = None,
    served_model: str = typer.Option(
        None,
        "--served-model",
        rich_help_panel="OpenAI-compatible server",
        help="openai: the served model name.",
    ),
    api_key_env: str = typer.Option(
        "OPENAI_API_KEY",
        "--api-key-env",
        rich_help_panel="OpenAI-compatible server",
        help="openai: the key's variable.",
    ),
    concurrency: ConcurrencyOpt = 4,
    resume: ResumeOpt = False,
    overwrite: OverwriteOpt = False,
) -> None:
    """Extract from whole documents: every answer merged per document and grounded to character offsets."""
    from kgcli.extract import ExtractSettings, run_extract
    from kgcli.predict.base import Sampling
    from kgcli.resolve import resolve

    if backend not in ("hf", "vllm", "openai"):
        raise KgcError(f"unknown backend {backend!r}; available: hf, vllm, openai")
    if backend == "openai" and not (api_base and served_model):
        raise KgcError("--backend openai needs --api-base URL and --served-model NAME")
    resolved = resolve("predict", preset, model=model, dtype=dtype, settings=settings, adapter=adapter)
    options = {
        "openai": {
            "api_base": api_base,
            "served_model": served_model,
            "api_key_env": api_key_env,
            "concurrency": concurrency,
        }
    }.get(backend, {})
    summary = run_extract(
        docs,
        out_path,
        resolved,
        Sampling(max_new_tokens=max_new_tokens or resolved.preset.max_new_tokens),
        ExtractSettings(
            tasks=comma_list(task),
            schemas=comma_list(schema),
            language=language,
            budget=budget,
            overlap=overlap,
            drop_ungrounded=drop_ungrounded,
            backend=backend,
            backend_options=options,
            batch_size=batch_size,
            resume=resume,
            overwrite=overwrite,
        ),
    )
    say(f"extracted: {summary.line()}")
