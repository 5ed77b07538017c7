"""``kgc predict``: run a model over converted records; each gets an ``output`` field."""

from __future__ import annotations

import os

import typer

from kgcli.errors import KgcError

BACKENDS = ("hf", "vllm", "openai")

# The seed's inference YAML keys (spec §5.2, §5.5) → preset fields / run options.
SEED_KEYS = {
    "model_name_or_path": "base_model", "model_name": "family", "template": "template", "bits": "bits",
    "cutoff_len": "cutoff_len", "max_new_tokens": "max_new_tokens", "checkpoint_dir": None, "input_file": None,
    "output_file": None, "bf16": None, "fp16": None, "temperature": None, "top_p": None, "top_k": None,
    "num_beams": None, "output_dir": None, "predict_with_generate": None, "do_predict": None,
    "max_source_length": "max_source_length", "max_target_length": "max_target_length", "stage": None,
}


def _config_dtype(model_path: str) -> str:
    import json

    config = os.path.join(model_path, "config.json")
    if not os.path.isfile(config):
        return "bf16"
    with open(config, encoding="utf-8") as handle:
        data = json.load(handle)
    name = str(data.get("dtype") or data.get("torch_dtype") or "float32")
    return {"bfloat16": "bf16", "float16": "fp16"}.get(name, "fp32")


def _seed_config(path: str) -> tuple[dict, dict]:
    from kgcli.seed_yaml import adapters_of, read_seed_yaml

    data, fields = read_seed_yaml(path, SEED_KEYS, "inference")
    if fields.get("base_model"):
        fields["builder"] = None
        if "dtype" not in fields:  # the seed infers the dtype from the model's config at inference
            fields["dtype"] = _config_dtype(str(fields["base_model"]))
    options = {k: data.get(k) for k in ("input_file", "output_file", "temperature", "top_p")}
    options["adapters"] = adapters_of(data)
    return fields, options


def predict(
    in_path: str = typer.Argument("-", metavar="IN", help="Converted records (JSON lines; '-' = stdin)."),
    out_path: str = typer.Argument("-", metavar="OUT", help="Records + 'output' ('-' = stdout)."),
    preset: str = typer.Option(None, "--preset", help="Preset name or YAML file."),
    model: str = typer.Option(None, "--model", help="Model path (overrides the preset's base model)."),
    adapter: str = typer.Option(None, "--adapter", help="LoRA adapter(s), comma-separated."),
    backend: str = typer.Option("hf", "--backend", help="hf (transformers), vllm, or openai (any compatible server)."),
    batch_size: int = typer.Option(8, "--batch-size", min=1),
    max_new_tokens: int = typer.Option(None, "--max-new-tokens", help="Default: the preset's."),
    cutoff_len: int = typer.Option(None, "--cutoff-len", help="Prompt budget in tokens (default: the preset's)."),
    temperature: float = typer.Option(0.0, "--temperature", help="0 = greedy (the default)."),
    top_p: float = typer.Option(1.0, "--top-p"),
    dtype: str = typer.Option(None, "--dtype", help="bf16, fp16 or fp32."),
    settings: list[str] = typer.Option(None, "--set", help="Override a preset field: --set bits=4."),
    config: str = typer.Option(None, "--config", help="The seed's inference YAML."),
    resume: bool = typer.Option(False, "--resume", help="Skip the records already in OUT and append the rest."),
    tp: int = typer.Option(1, "--tp", help="vllm: tensor_parallel_size."),
    gpu_memory_utilization: float = typer.Option(None, "--gpu-memory-utilization", help="vllm: share of GPU memory."),
    guided_json: bool = typer.Option(False, "--guided-json", help="vllm: constrain answers to each record's schema."),
    api_base: str = typer.Option(None, "--api-base", help="openai: server URL, e.g. http://127.0.0.1:8000/v1."),
    served_model: str = typer.Option(None, "--served-model", help="openai: the model name the server serves."),
    api_key_env: str = typer.Option("OPENAI_API_KEY", "--api-key-env", help="openai: variable holding the key."),
    concurrency: int = typer.Option(4, "--concurrency", min=1, help="openai: requests in flight."),
    prompt_format: str = typer.Option("text", "--prompt-format", help="openai: text (rendered) or ids."),
    num_processes: int = typer.Option(1, "--num-processes", min=1, help="hf: data-parallel GPUs (accelerate launch)."),
    dry_run: bool = typer.Option(False, "--dry-run", help="Print the launch command and exit."),
    in_launcher: bool = typer.Option(False, "--in-launcher", hidden=True),
    overwrite: bool = typer.Option(False, "--overwrite", help="Replace an existing OUT."),
) -> None:
    """Generate an answer for every record (greedy by default), in input order."""
    from kgcli.loading import adapter_rank
    from kgcli.models import resolve_model_path
    from kgcli.presets import apply_overrides, load_preset, parse_set_options
    from kgcli.validate import Hardware, validate

    if backend not in BACKENDS:
        raise KgcError(f"unknown backend {backend!r}; available: {', '.join(BACKENDS)}")
    fields, options = _seed_config(config) if config else ({}, {})
    if preset is None and not config:
        raise KgcError("--preset NAME (or --config FILE.yaml) is required; see kgc presets list")
    base = load_preset(preset) if preset else None
    overrides = {**fields, **parse_set_options(settings or [])}
    if model:
        overrides.update(base_model=model, builder=None)
    if dtype:
        overrides["dtype"] = dtype
    if base is None:
        from kgcli.presets import build_preset

        resolved = build_preset({"name": os.path.basename(config), **overrides}, source=config)
    else:
        resolved = apply_overrides(base, overrides)
    adapters = [a.strip() for a in adapter.split(",")] if adapter else options.get("adapters") or (
        [resolved.adapter] if resolved.adapter else [])
    if in_path == "-" and options.get("input_file"):
        in_path = options["input_file"]
    if out_path == "-" and options.get("output_file"):
        out_path = options["output_file"]
    validate(resolved, Hardware.detect(), adapter_rank=adapter_rank(adapters[-1]) if adapters else None)

    threads = os.environ.get("KGC_TORCH_THREADS")
    if threads:
        import torch

        torch.set_num_threads(int(threads))
    from kgcli.predict.hf import HFBackend, Sampling
    from kgcli.predict.run import part_path, predict_file

    if num_processes > 1 and not in_launcher:
        import sys

        from kgcli.train.config import shell

        if backend != "hf" or out_path == "-":
            raise KgcError("--num-processes shards the hf backend and needs an output file (vllm: use --tp)")
        argv = [a for a in sys.argv[1:] if a != "--dry-run"]
        command = [sys.executable, "-m", "accelerate.commands.launch", "--multi_gpu", "--num_processes",
                   str(num_processes), "-m", "kgcli", *argv, "--in-launcher"]
        if dry_run:
            typer.echo(f"launch: {shell(command)}")
            return
        import subprocess

        raise SystemExit(subprocess.call(command))
    if dry_run:
        typer.echo(f"launch: in this process ({backend} backend, {len(adapters)} adapter(s))")
        return
    if guided_json and backend != "vllm":
        raise KgcError("--guided-json needs --backend vllm")
    if backend == "openai" and not (api_base and served_model):
        raise KgcError("--backend openai needs --api-base URL and --served-model NAME")
    sampling = Sampling(max_new_tokens=max_new_tokens or resolved.max_new_tokens,
                        temperature=temperature or float(options.get("temperature") or 0.0),
                        top_p=top_p if top_p != 1.0 else float(options.get("top_p") or 1.0))
    model_path = resolve_model_path(resolved.base_model, resolved.builder)
    if backend == "vllm":
        from kgcli.predict.vllm_backend import VLLMBackend

        engine = VLLMBackend(resolved, model_path, adapters, sampling, tensor_parallel_size=tp,
                             gpu_memory_utilization=gpu_memory_utilization)
    elif backend == "openai":
        from kgcli.predict.openai_backend import OpenAIBackend

        engine = OpenAIBackend(resolved, model_path, sampling, api_base=api_base, served_model=served_model,
                               api_key_env=api_key_env, concurrency=concurrency, prompt_format=prompt_format)
    else:
        engine = HFBackend(resolved, model_path, adapters, sampling)
    rank, world = (int(os.environ.get("RANK", 0)), int(os.environ.get("WORLD_SIZE", 1))) if in_launcher else (0, 1)
    target = part_path(out_path, rank) if world > 1 else out_path
    try:
        stats = predict_file(in_path, target, engine.generate, engine.template, engine.tokenizer,
                             batch_size=batch_size, cutoff_len=cutoff_len or resolved.cutoff_len, resume=resume,
                             overwrite=overwrite, guided_json=guided_json, shard=(rank, world))
        if world > 1:
            _finish_shard(out_path, rank, world)
    finally:
        close = getattr(engine, "close", None)
        if close is not None:
            close()
    typer.echo(f"predicted {stats.records} record(s)" + (f", {stats.skipped_done} already done" if stats.skipped_done else ""),
               err=True)


def _finish_shard(out_path: str, rank: int, world: int) -> None:
    """Every rank marks its part done; rank 0 waits for all of them and merges the parts in input order."""
    import time

    from kgcli.predict.run import merge_parts, part_path

    open(part_path(out_path, rank) + ".done", "w").close()
    if rank != 0:
        return
    while not all(os.path.exists(part_path(out_path, r) + ".done") for r in range(world)):
        time.sleep(0.5)
    merge_parts(out_path, world)
