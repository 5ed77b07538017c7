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
    DryRunOpt,
    DtypeOpt,
    EncodingOpt,
    FollowLinksOpt,
    ModelOpt,
    OnBadFileOpt,
    OverwriteOpt,
    PrefixCachingOpt,
    PresetOpt,
    PromptFormatOpt,
    RayAddressOpt,
    RayEngineOpt,
    ResumeOpt,
    RetriesOpt,
    ServedModelOpt,
    SetOpt,
    StructuredOpt,
    TpOpt,
    TrustRemoteCodeOpt,
    WindowOpt,
    choice,
    comma_list,
)
from kgcli.errors import say
from kgcli.predict.base import DEFAULT_WINDOW


def extract(
    docs: str = typer.Argument(
        ..., metavar="DOCS", help="A folder of .txt/.md files, a text file, or JSON lines with 'text'."
    ),
    out_path: str = typer.Argument(..., metavar="OUT", help="One merged result per document (JSON lines)."),
    preset: PresetOpt = None,
    task: str = typer.Option(..., "--task", help="Tasks, comma-separated: NER,RE."),
    schema: str = typer.Option(..., "--schema", help="One schema file for every task (as kgc schema suggest "
                          "writes), or one per task, comma-separated, same order."),
    language: str = typer.Option("zh", "--language", click_type=choice("zh", "en", "auto"),
                                 help="zh, en, or auto: the instruction sentence's language, for auto chosen "
                                 "per document by its script."),
    split_num: str = typer.Option(None, "--split-num",
                                  help="Schema items per instruction, per task in --task order (e.g. 6,1); "
                                  "default: each task's, as convert."),
    model: ModelOpt = None,
    adapter: AdapterOpt = None,
    dtype: DtypeOpt = None,
    settings: SetOpt = None,
    backend: str = typer.Option("hf", "--backend",
                                click_type=choice("hf", "vllm", "openai", "litellm", "ray", "gold"),
                                help="hf (transformers), vllm, openai (any compatible server), litellm (any "
                                "provider litellm knows), ray (the prediction stream on a Ray cluster's "
                                "replicas), or gold (tests and benchmarks: annotated documents answered "
                                "from their own labels); openai without --preset and litellm need no "
                                "model files."),
    batch_size: BatchSizeOpt = 8,
    max_new_tokens: int = typer.Option(None, "--max-new-tokens", min=1, help="Default: the preset's."),
    budget: int = typer.Option(None, "--budget", min=1, help="Tokens per chunk (default: what fits the "
                               "preset; without one, 512)."),
    tokenizer: str = typer.Option(None, "--tokenizer", help="Without --preset: a tokenizer.json (or a "
                                  "folder holding one) that counts the chunks' tokens (default: the server's "
                                  "/tokenize, else kgc's own with a safety margin)."),
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
    prompt_format: PromptFormatOpt = None,
    structured: StructuredOpt = False,
    retries: RetriesOpt = 4,
    resume: ResumeOpt = False,
    overwrite: OverwriteOpt = False,
    trust_remote_code: TrustRemoteCodeOpt = False,
    follow_links: FollowLinksOpt = False,
    encoding: EncodingOpt = "utf-8",
    on_bad_file: OnBadFileOpt = "stop",
    ray_engine: RayEngineOpt = "vllm",
    ray_address: RayAddressOpt = None,
    dry_run: DryRunOpt = False,
) -> None:
    """Extract from whole documents: every answer merged per document and grounded to character offsets."""
    from kgcli.documents.extract import ExtractSettings, parse_split_nums, run_extract, show_plan
    from kgcli.model.resolve import ModelChoice
    from kgcli.predict.base import Sampling, backend_options, backend_spec
    from kgcli.predict.remote import DEFAULT_NEW_TOKENS, remote_model

    remote = remote_model(backend, preset, model, served_model=served_model, api_base=api_base,
                          api_key_env=api_key_env, concurrency=concurrency, prompt_format=prompt_format,
                          structured=structured, retries=retries)
    options = None if remote else backend_options(
        backend, tensor_parallel_size=tp, data_parallel=data_parallel, prefix_caching=prefix_caching,
        api_base=api_base, served_model=served_model, api_key_env=api_key_env, concurrency=concurrency,
        prompt_format=prompt_format or "text", max_retries=retries, ray_engine=ray_engine,
        ray_address=ray_address)
    tasks = comma_list(task)
    split_nums = parse_split_nums(split_num, tasks)
    choice_ = ModelChoice(preset, None, model, dtype, settings, adapter, trust_remote_code)
    resolved = None if remote else choice_.resolve("predict", backend=backend_spec(backend))
    new_tokens = max_new_tokens or (resolved.preset.max_new_tokens if resolved else DEFAULT_NEW_TOKENS)
    extract_settings = ExtractSettings(
        tasks=tasks, schemas=comma_list(schema), language=language.lower(), split_nums=split_nums,
        budget=budget, overlap=overlap, drop_ungrounded=drop_ungrounded, backend=backend, options=options,
        batch_size=batch_size, window=window, resume=resume, overwrite=overwrite, follow_links=follow_links,
        encodings=tuple(comma_list(encoding)), on_bad_file=on_bad_file.lower(), remote=remote,
        tokenizer=tokenizer)
    sampling = Sampling(max_new_tokens=new_tokens)
    if dry_run:
        show_plan(docs, out_path, resolved, sampling, extract_settings)
        return
    summary = run_extract(docs, out_path, resolved, sampling, extract_settings)
    say(f"extracted: {summary.line()}")
