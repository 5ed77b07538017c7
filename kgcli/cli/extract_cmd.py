"""``kgc extract``: documents → chunks → predict (one stream) → one merged, grounded result per document."""

from __future__ import annotations

import typer

from kgcli.cli.options import (
    AdapterOpt,
    ApiBaseOpt,
    ApiKeyEnvOpt,
    BatchSizeOpt,
    ConcurrencyOpt,
    DataParallelOpt,
    DtypeOpt,
    FollowLinksOpt,
    ModelOpt,
    OverwriteOpt,
    PrefixCachingOpt,
    PresetOpt,
    ResumeOpt,
    ServedModelOpt,
    SetOpt,
    TpOpt,
    TrustRemoteCodeOpt,
    WindowOpt,
    check_backend_options,
    choice,
    comma_list,
    vllm_options,
)
from kgcli.errors import KgcError, say
from kgcli.predict.base import DEFAULT_WINDOW


def extract(
    docs: str = typer.Argument(
        ..., metavar="DOCS", help="A folder of .txt/.md files, a text file, or JSON lines with 'text'."
    ),
    out_path: str = typer.Argument(..., metavar="OUT", help="One merged result per document (JSON lines)."),
    preset: PresetOpt = None,
    task: str = typer.Option(..., "--task", help="Tasks, comma-separated: NER,RE."),
    schema: str = typer.Option(..., "--schema", help="Their schema files, comma-separated, same order."),
    language: str = typer.Option("zh", "--language", help="zh or en (the instruction sentence)."),
    split_num: str = typer.Option(None, "--split-num",
                                  help="Schema items per instruction, per task in --task order (e.g. 6,1); "
                                  "default: each task's, as convert."),
    model: ModelOpt = None,
    adapter: AdapterOpt = None,
    dtype: DtypeOpt = None,
    settings: SetOpt = None,
    backend: str = typer.Option("hf", "--backend", click_type=choice("hf", "vllm", "openai"),
                                help="hf (transformers), vllm, or openai (any compatible server)."),
    batch_size: BatchSizeOpt = 8,
    max_new_tokens: int = typer.Option(None, "--max-new-tokens", min=1, help="Default: the preset's."),
    budget: int = typer.Option(None, "--budget", min=1, help="Tokens per chunk (default: what fits)."),
    overlap: int = typer.Option(None, "--overlap", min=0, help="Tokens shared by neighbouring chunks."),
    drop_ungrounded: bool = typer.Option(
        False, "--drop-ungrounded", help="Drop extractions whose strings are not in the text."
    ),
    window: WindowOpt = DEFAULT_WINDOW,
    tp: TpOpt = 1,
    data_parallel: DataParallelOpt = 1,
    prefix_caching: PrefixCachingOpt = True,
    api_base: ApiBaseOpt = None,
    served_model: ServedModelOpt = None,
    api_key_env: ApiKeyEnvOpt = None,
    concurrency: ConcurrencyOpt = 4,
    resume: ResumeOpt = False,
    overwrite: OverwriteOpt = False,
    trust_remote_code: TrustRemoteCodeOpt = False,
    follow_links: FollowLinksOpt = False,
) -> None:
    """Extract from whole documents: every answer merged per document and grounded to character offsets."""
    from kgcli.documents.extract import ExtractSettings, run_extract
    from kgcli.model.resolve import resolve
    from kgcli.predict.base import Sampling

    check_backend_options(backend, data_parallel=data_parallel, api_base=api_base, served_model=served_model)
    split_nums = parse_split_nums(split_num, comma_list(task))
    resolved = resolve("predict", preset, model=model, dtype=dtype, settings=settings, adapter=adapter,
                       trust_remote_code=trust_remote_code)
    options = {
        "vllm": vllm_options(tp=tp, data_parallel=data_parallel, prefix_caching=prefix_caching),
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
            split_nums=split_nums,
            budget=budget,
            overlap=overlap,
            drop_ungrounded=drop_ungrounded,
            backend=backend,
            backend_options=options,
            batch_size=batch_size,
            window=window,
            resume=resume,
            overwrite=overwrite,
            follow_links=follow_links,
        ),
    )
    say(f"extracted: {summary.line()}")


def parse_split_nums(text: str | None, tasks: list[str]) -> dict[str, int]:
    """--split-num 6,1 → {task: n} in --task order (checked before any model loads)."""
    if not text:
        return {}
    values = comma_list(text)
    if len(values) != len(tasks) or not all(v.lstrip("-").isdigit() for v in values):
        raise KgcError(f"--split-num takes one number per task ({len(tasks)}: {','.join(tasks)}), "
                       f"got {text!r}")
    return {task.upper(): int(value) for task, value in zip(tasks, values, strict=True)}

