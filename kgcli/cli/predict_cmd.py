"""``kgc predict``: run a model over converted records; each gets an ``output`` field."""

from __future__ import annotations

from typing import Annotated

import typer

from kgcli.cli.options import (
    AdapterOpt,
    ApiBaseOpt,
    ConcurrencyOpt,
    DryRunOpt,
    DtypeOpt,
    InLauncherOpt,
    ModelOpt,
    OverwriteOpt,
    PresetOpt,
    ResumeOpt,
    SetOpt,
    TemperatureOpt,
    choice,
)
from kgcli.errors import KgcError, say

BACKENDS = ("hf", "vllm", "openai")


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
        help="hf (transformers), vllm, or openai (any compatible server).",
    ),
    batch_size: int = typer.Option(8, "--batch-size", min=1),
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
    tp: int = typer.Option(1, "--tp", rich_help_panel="vLLM backend", help="vllm: tensor_parallel_size."),
    gpu_memory_utilization: float = typer.Option(
        None, "--gpu-memory-utilization", rich_help_panel="vLLM backend", help="vllm: share of GPU memory."
    ),
    guided_json: bool = typer.Option(
        False,
        "--guided-json",
        rich_help_panel="vLLM backend",
        help="vllm: constrain answers to each record's schema.",
    ),
    api_base: ApiBaseOpt = None,
    served_model: str = typer.Option(
        None,
        "--served-model",
        rich_help_panel="OpenAI-compatible server",
        help="openai: the model name the server serves.",
    ),
    api_key_env: str = typer.Option(
        "OPENAI_API_KEY",
        "--api-key-env",
        rich_help_panel="OpenAI-compatible server",
        help="openai: variable holding the key.",
    ),
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
) -> None:
    """Generate an answer for every record (greedy by default), in input order."""
    from kgcli import launch
    from kgcli.io import check_input
    from kgcli.outputs import check_output
    from kgcli.predict.base import Sampling
    from kgcli.predict.run import run_predict
    from kgcli.resolve import resolve
    from kgcli.validate import check_adapters

    if backend not in BACKENDS:
        raise KgcError(f"unknown backend {backend!r}; available: {', '.join(BACKENDS)}")
    if guided_json and backend != "vllm":
        raise KgcError("--guided-json needs --backend vllm")
    if backend == "openai" and not (api_base and served_model):
        raise KgcError("--backend openai needs --api-base URL and --served-model NAME")
    resolved = resolve(
        "predict",
        preset,
        config=config,
        model=model,
        dtype=dtype,
        settings=settings,
        adapter=adapter,
        dry_run=dry_run,
    )
    check_adapters(resolved.preset, resolved.adapters, backend)
    options = resolved.options
    in_path = options.get("input_file") or in_path if in_path == "-" else in_path
    out_path = options.get("output_file") or out_path if out_path == "-" else out_path
    if num_processes > 1 and not in_launcher:
        if backend != "hf" or "-" in (in_path, out_path):
            raise KgcError("--num-processes shards the hf backend over IN and OUT files (vllm: use --tp)")
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
    sampling = Sampling(
        max_new_tokens=max_new_tokens or resolved.preset.max_new_tokens,
        temperature=temperature or float(options.get("temperature") or 0.0),
        top_p=top_p if top_p != 1.0 else float(options.get("top_p") or 1.0),
    )
    backend_options = {
        "vllm": {"tensor_parallel_size": tp, "gpu_memory_utilization": gpu_memory_utilization},
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
    )
    say(
        f"predicted {stats.records} record(s)"
        + (f", {stats.skipped_done} already done" if stats.skipped_done else "")
    )
