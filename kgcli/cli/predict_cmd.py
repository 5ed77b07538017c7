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
    ResumeOpt,
    ServedModelOpt,
    SetOpt,
    TemperatureOpt,
    TpOpt,
    TrustRemoteCodeOpt,
    WindowOpt,
    check_backend_options,
    choice,
    vllm_options,
)
from kgcli.errors import KgcError, say
from kgcli.predict.base import DEFAULT_WINDOW

BACKENDS = ("hf", "vllm", "openai", "openai-batch", "ray")
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
        "result files for vllm run-batch or a hosted Batch API), or ray (a Ray cluster's engines).",
    ),
    batch_size: BatchSizeOpt = 8,
    max_new_tokens: int = typer.Option(None, "--max-new-tokens", min=1, help="Default: the preset's."),
    cutoff_len: int = typer.Option(
        None, "--cutoff-len", min=1, help="Prompt budget in tokens (default: the preset's)."
    ),
    temperature: TemperatureOpt = 0.0,
    top_p: float = typer.Option(1.0, "--top-p", min=0.0, max=1.0),
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
    prompt_format: str = typer.Option(
        "text",
        "--prompt-format",
        click_type=choice("text", "ids"),
        rich_help_panel="OpenAI-compatible server",
        help="openai: text (rendered) or ids.",
    ),
    retries: int = typer.Option(
        2,
        "--retries",
        min=0,
        rich_help_panel="OpenAI-compatible server",
        help="openai: retries of a failed request (429, 5xx, timeouts).",
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
    ray_engine: str = typer.Option(
        "vllm", "--ray-engine", click_type=choice("vllm", "hf"), rich_help_panel="Ray cluster (ray)",
        help="ray: the replicas' engine: vllm (ray.data.llm, GPUs) or hf (any machine).",
    ),
    ray_address: str = typer.Option(
        None, "--ray-address", rich_help_panel="Ray cluster (ray)",
        help="ray: the cluster to join (default: $RAY_ADDRESS, else a local instance).",
    ),
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
    from kgcli.io import check_input
    from kgcli.model import launch
    from kgcli.model.resolve import resolve
    from kgcli.model.validate import check_adapters
    from kgcli.outputs import check_output
    from kgcli.predict.base import Sampling
    from kgcli.predict.run import run_predict

    if backend not in BACKENDS:
        raise KgcError(f"unknown backend {backend!r}; available: {', '.join(BACKENDS)}")
    check_backend_options(backend, data_parallel=data_parallel, api_base=api_base, served_model=served_model,
                          guided_json=guided_json)
    _check_batch_files(backend, write_requests, read_results, in_path, out_path)
    if read_results:  # needs no preset: IN and the results are all there is
        from kgcli.predict.batch_files import read_results as join

        check_input(in_path)
        count = join(in_path, read_results, out_path, overwrite=overwrite)
        say(f"joined {count} answer(s) from {read_results} → {'stdout' if out_path == '-' else out_path}")
        return
    resolved = resolve(
        "predict",
        preset,
        config=config,
        model=model,
        dtype=dtype,
        settings=settings,
        adapter=adapter,
        dry_run=dry_run,
        trust_remote_code=trust_remote_code,
    ).with_thinking(thinking)
    check_adapters(resolved.preset, resolved.adapters, backend)
    options = resolved.options
    in_path = options.get("input_file") or in_path if in_path == "-" else in_path
    out_path = options.get("output_file") or out_path if out_path == "-" else out_path
    if num_processes > 1 and not in_launcher:
        if backend != "hf" or "-" in (in_path, out_path):
            raise KgcError(
                "--num-processes shards the hf backend over IN and OUT files (vllm: --data-parallel)"
            )
        command = launch.accelerate_command(
            launch.rerun_argv(), ["--multi_gpu", "--num_processes", str(num_processes)]
        )
        if dry_run:
            typer.echo(f"launch: {launch.shell(command)}")
            return
        check_input(in_path)
        check_output(out_path, inputs=[in_path], resume=resume, overwrite=overwrite, resumable=True)
        import subprocess

        raise SystemExit(subprocess.call(command))
    if dry_run:
        typer.echo(f"launch: in this process ({backend} backend, {len(resolved.adapters)} adapter(s))")
        return
    check_input(in_path)
    if write_requests:
        _write_requests(in_path, write_requests, resolved, served_model=served_model, url=batch_url,
                        cutoff_len=cutoff_len, max_new_tokens=max_new_tokens, overwrite=overwrite)
        return
    sampling = Sampling(
        max_new_tokens=max_new_tokens or resolved.preset.max_new_tokens,
        temperature=temperature or float(options.get("temperature") or 0.0),
        top_p=top_p if top_p != 1.0 else float(options.get("top_p") or 1.0),
    )
    backend_options = {
        "vllm": vllm_options(tp=tp, data_parallel=data_parallel, prefix_caching=prefix_caching,
                             gpu_memory_utilization=gpu_memory_utilization),
        "ray": {"engine": ray_engine, "replicas": data_parallel, "address": ray_address,
                "tensor_parallel_size": tp, "prefix_caching": prefix_caching},
        "openai": {
            "api_base": api_base,
            "served_model": served_model,
            "api_key_env": api_key_env,
            "concurrency": concurrency,
            "prompt_format": prompt_format,
            "max_retries": retries,
        },
    }.get(backend, {})
    stats = run_predict(
        in_path,
        out_path,
        resolved,
        backend,
        sampling,
        backend_options,
        batch_size=batch_size,
        cutoff_len=cutoff_len,
        resume=resume,
        overwrite=overwrite,
        guided_json=guided_json,
        in_launcher=in_launcher,
        window=window,
    )
    say(
        f"predicted {stats.records} record(s)"
        + (f", {stats.skipped_done} already done" if stats.skipped_done else "")
    )



def _check_batch_files(backend: str, requests: str | None, results: str | None, in_path: str,
                       out_path: str) -> None:
    if backend != "openai-batch":
        if requests or results:
            raise KgcError("--write-requests and --read-results are for --backend openai-batch")
        return
    if bool(requests) == bool(results):
        raise KgcError("--backend openai-batch needs --write-requests REQ or --read-results RES (one)")
    if in_path == "-" and results:
        raise KgcError("--read-results joins answers into IN: give IN as a file")
    if requests and out_path != "-":
        raise KgcError(f"--write-requests writes REQ, not OUT ({out_path}): leave OUT out")


def _write_requests(in_path: str, requests: str, resolved, *, served_model: str | None, url: str,
                    cutoff_len: int | None, max_new_tokens: int | None, overwrite: bool) -> None:
    from kgcli.predict import batch_files
    from kgcli.predict.base import Sampling

    sampling = Sampling(max_new_tokens=max_new_tokens or resolved.preset.max_new_tokens)
    written, command = batch_files.write_requests_for(in_path, requests, resolved, sampling,
                                                      served_model=served_model, url=url,
                                                      cutoff_len=cutoff_len, overwrite=overwrite)
    say(f"wrote {written.requests} request(s) to {requests}; answer them with, e.g.:\n  {command}\n"
        f"then: kgc predict {in_path} OUT --backend openai-batch --read-results RESULTS")
