"""``kgc predict``: run a model over converted records; each gets an ``output`` field."""

from __future__ import annotations

from typing import Annotated

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
    InLauncherOpt,
    ModelOpt,
    OverwriteOpt,
    PrefixCachingOpt,
    PresetOpt,
    PromptFormatOpt,
    RayAddressOpt,
    RayEngineOpt,
    ResumeOpt,
    ServedModelOpt,
    SetOpt,
    StructuredOpt,
    TemperatureOpt,
    TpOpt,
    TrustRemoteCodeOpt,
    WindowOpt,
    choice,
)
from kgcli.errors import say
from kgcli.predict.base import BACKENDS as REGISTRY
from kgcli.predict.base import DEFAULT_WINDOW

BACKENDS = (*REGISTRY, "litellm")  # litellm: a model behind any provider's API (predict/remote.py)
BATCH_PANEL = "Batch files (openai-batch)"


def predict(
    in_path: str = typer.Argument("-", metavar="IN", help="Converted records (JSON lines; '-' = stdin)."),
    out_path: str = typer.Argument("-", metavar="OUT", help="Records + 'output' ('-' = stdout)."),
    preset: PresetOpt = None,
    model: ModelOpt = None,
    adapter: AdapterOpt = None,
    backend: str = typer.Option(
        "hf",
        "--backend",
        click_type=choice(*BACKENDS),
        help="hf (transformers), vllm, openai (any compatible server), openai-batch (request and "
        "result files for vllm run-batch or a hosted Batch API), ray (a Ray cluster's engines), litellm "
        "(any provider litellm knows), or gold (tests and benchmarks: answers from each record's gold "
        "label); openai without --preset and litellm need no model files.",
    ),
    batch_size: BatchSizeOpt = 8,
    max_new_tokens: int = typer.Option(None, "--max-new-tokens", min=1, help="Default: the preset's."),
    cutoff_len: int = typer.Option(
        None, "--cutoff-len", min=1, help="Prompt budget in tokens (default: the preset's)."
    ),
    temperature: TemperatureOpt = 0.0,
    top_p: float = typer.Option(1.0, "--top-p", min=0.0, max=1.0),
    seed: int = typer.Option(None, "--seed", help="Sampling (--temperature > 0): the same seed repeats the "
                                                  "answers."),
    dtype: DtypeOpt = None,
    settings: SetOpt = None,
    config: str = typer.Option(None, "--config", help="The seed's inference YAML."),
    resume: ResumeOpt = False,
    thinking: str = typer.Option(
        "off", "--thinking", click_type=choice("off", "on"),
        help="Reasoning models (qwen3): off = the empty think block (the default for extraction), on = "
        "the model reasons first (eval drops its <think> block).",
    ),
    window: WindowOpt = DEFAULT_WINDOW,
    tp: TpOpt = 1,
    data_parallel: DataParallelOpt = 1,
    prefix_caching: PrefixCachingOpt = True,
    gpu_memory_utilization: float = typer.Option(
        None, "--gpu-memory-utilization", rich_help_panel="vLLM backend", help="vllm: share of GPU memory."
    ),
    guided_json: bool = typer.Option(
        False,
        "--guided-json",
        rich_help_panel="vLLM backend",
        help="vllm: constrain answers to each record's schema (one cut by the token limit is closed after "
        "its last complete item).",
    ),
    api_base: ApiBaseOpt = None,
    served_model: ServedModelOpt = None,
    api_key_env: ApiKeyEnvOpt = None,
    concurrency: ConcurrencyOpt = 4,
    prompt_format: PromptFormatOpt = None,
    structured: StructuredOpt = False,
    retries: int = typer.Option(
        2,
        "--retries",
        min=0,
        rich_help_panel="OpenAI-compatible server",
        help="openai, litellm: retries of a failed request (429, 5xx, timeouts; Retry-After honoured).",
    ),
    write_requests: str = typer.Option(
        None, "--write-requests", metavar="REQ", rich_help_panel=BATCH_PANEL,
        help="openai-batch: write one OpenAI Batch request per record to REQ (JSON lines; no model loads).",
    ),
    read_results: str = typer.Option(
        None, "--read-results", metavar="RES", rich_help_panel=BATCH_PANEL,
        help="openai-batch: join the batch job's results RES back into IN's records, in input order.",
    ),
    batch_url: str = typer.Option(
        "/v1/completions", "--batch-url", click_type=choice("/v1/completions", "/v1/chat/completions"),
        rich_help_panel=BATCH_PANEL,
        help="openai-batch: the endpoint of each request (vllm run-batch takes /v1/chat/completions).",
    ),
    ray_engine: RayEngineOpt = "vllm",
    ray_address: RayAddressOpt = None,
    num_processes: Annotated[
        int,
        typer.Option(
            "--num-processes",
            min=1,
            rich_help_panel="Data parallel (hf)",
            help="hf: data-parallel GPUs (accelerate launch).",
        ),
    ] = 1,
    dry_run: DryRunOpt = False,
    in_launcher: InLauncherOpt = False,
    overwrite: OverwriteOpt = False,
    trust_remote_code: TrustRemoteCodeOpt = False,
) -> None:
    """Generate an answer for every record (greedy by default), in input order."""
    from kgcli.model.resolve import ModelChoice
    from kgcli.predict.base import backend_options
    from kgcli.predict.remote import remote_model
    from kgcli.predict.run import PredictRequest
    from kgcli.predict.run import predict as run

    remote = remote_model(backend, preset, model, served_model=served_model, api_base=api_base,
                          api_key_env=api_key_env, concurrency=concurrency, prompt_format=prompt_format,
                          structured=structured, retries=retries)
    options = None if remote else backend_options(
        backend, guided_json=guided_json, tensor_parallel_size=tp, data_parallel=data_parallel,
        prefix_caching=prefix_caching, gpu_memory_utilization=gpu_memory_utilization, api_base=api_base,
        served_model=served_model, api_key_env=api_key_env, concurrency=concurrency,
        prompt_format=prompt_format or "text", max_retries=retries, write_requests=write_requests,
        read_results=read_results, batch_url=batch_url, ray_engine=ray_engine, ray_address=ray_address,
        num_processes=num_processes)
    model_choice = ModelChoice(preset, config, model, dtype, settings, adapter, trust_remote_code)
    stats = run(PredictRequest(
        in_path, out_path, model_choice, backend, options, max_new_tokens=max_new_tokens,
        temperature=temperature, top_p=top_p, seed=seed, thinking=thinking, batch_size=batch_size,
        cutoff_len=cutoff_len, window=window, guided_json=guided_json, resume=resume, overwrite=overwrite,
        dry_run=dry_run, in_launcher=in_launcher, remote=remote))
    if stats is not None:
        done = f", {stats.skipped_done} already done" if stats.skipped_done else ""
        say(f"predicted {stats.records} record(s){done}")
