"""``kgc train``: fine-tune from a preset (LoRA, QLoRA 4/8-bit, full, P-tuning), validated before launch."""

from __future__ import annotations

import os
import subprocess
import sys
import tempfile

import typer

from kgcli.errors import KgcError


def train(
    preset: str = typer.Option(None, "--preset", help="Preset name or YAML file (kgc presets list)."),
    train_file: str = typer.Option(None, "--train-file", help="Converted train records (JSON lines)."),
    valid_file: str = typer.Option(None, "--valid-file", help="Validation records (else --val-size)."),
    val_size: int = typer.Option(None, "--val-size", help="Carve N validation examples from train (seeded)."),
    output_dir: str = typer.Option(None, "--output-dir", help="Where the adapter / model and logs go."),
    model: str = typer.Option(None, "--model", help="Base model path (overrides the preset; a merged or full model)."),
    adapter: str = typer.Option(None, "--adapter", help="LoRA to continue (comma list: earlier ones are merged)."),
    settings: list[str] = typer.Option(None, "--set", help="Override any preset field: --set lora_r=16."),
    config: str = typer.Option(None, "--config", help="The seed's fine-tuning YAML (fine_llama.yaml, ...)."),
    dtype: str = typer.Option(None, "--dtype", help="bf16, fp16 or fp32 (overrides the preset)."),
    max_steps: int = typer.Option(None, "--max-steps", help="Stop after N optimizer steps."),
    resume: bool = typer.Option(False, "--resume", help="Continue from the last checkpoint in --output-dir."),
    overwrite: bool = typer.Option(False, "--overwrite", help="Empty a non-empty --output-dir first."),
    num_processes: int = typer.Option(1, "--num-processes", help="GPUs per machine (accelerate launch)."),
    num_machines: int = typer.Option(1, "--num-machines", help="Machines (accelerate launch)."),
    machine_rank: int = typer.Option(0, "--machine-rank"),
    main_process_ip: str = typer.Option(None, "--main-process-ip"),
    main_process_port: int = typer.Option(29500, "--main-process-port"),
    deepspeed: str = typer.Option(None, "--deepspeed", help="zero2, zero3 or a DeepSpeed JSON file."),
    dry_run: bool = typer.Option(False, "--dry-run", help="Print the resolved configuration and launch command."),
    in_launcher: bool = typer.Option(False, "--in-launcher", hidden=True),
) -> None:
    """Fine-tune a model on converted train records."""
    import yaml

    from kgcli.loading import adapter_rank
    from kgcli.presets import apply_overrides, load_preset, parse_set_options
    from kgcli.train.config import TrainRequest, accelerate_config, from_seed_yaml, launch_command, shell
    from kgcli.validate import Hardware, validate

    base = load_preset(preset) if preset else None
    options: dict = {}
    if config:
        base, options = from_seed_yaml(config, base)
    if base is None:
        raise KgcError("--preset NAME (or --config FILE.yaml) is required; see kgc presets list")
    overrides = parse_set_options(settings or [])
    if model:
        overrides.update(base_model=model, builder=None)
    if dtype:
        overrides["dtype"] = dtype
    if max_steps is not None:
        overrides["max_steps"] = max_steps
    if val_size is not None:
        overrides["val_size"] = val_size
    resolved = apply_overrides(base, overrides)
    adapters = [a.strip() for a in adapter.split(",")] if adapter else options.get("adapters", [])
    request = TrainRequest(
        preset=resolved, train_file=train_file or options.get("train_file") or "",
        output_dir=output_dir or options.get("output_dir") or "", valid_file=valid_file or options.get("valid_file"),
        adapters=adapters, resume=resume, overwrite=overwrite or options.get("overwrite", False),
        num_processes=num_processes, num_machines=num_machines, machine_rank=machine_rank,
        main_process_ip=main_process_ip, main_process_port=main_process_port,
        deepspeed=deepspeed or options.get("deepspeed"),
    )
    if not request.train_file:
        raise KgcError("--train-file is required")
    if not request.output_dir:
        raise KgcError("--output-dir is required")
    if not os.path.isfile(request.train_file):
        raise KgcError("no such file", request.train_file)
    if num_machines > 1 and not main_process_ip:
        raise KgcError("--num-machines > 1 needs --main-process-ip")
    rank = adapter_rank(adapters[-1]) if adapters else None
    validate(resolved, Hardware.detect(), adapter_rank=rank)
    if resolved.bits != 16 and resolved.finetuning_type != "lora":
        raise KgcError("quantised (bits 4/8) training is QLoRA: use finetuning_type lora")
    if request.deepspeed and resolved.bits != 16:
        raise KgcError("DeepSpeed ZeRO does not work with a 4/8-bit base; use bits 16 or drop --deepspeed")
    argv = [arg for arg in sys.argv[1:] if arg != "--dry-run"]
    if request.distributed and not in_launcher:
        config_path = os.path.join(tempfile.mkdtemp(prefix="kgc-accelerate-"), "accelerate.yaml")
        with open(config_path, "w", encoding="utf-8") as handle:
            yaml.safe_dump(accelerate_config(request), handle, sort_keys=False)
        command = launch_command(request, argv, config_path)
        if dry_run:
            typer.echo(yaml.safe_dump({"train": request.resolved()}, sort_keys=False, allow_unicode=True), nl=False)
            typer.echo(f"launch: {shell(command)}")
            return
        sys.exit(subprocess.call(command))
    if dry_run:
        typer.echo(yaml.safe_dump({"train": request.resolved()}, sort_keys=False, allow_unicode=True), nl=False)
        typer.echo("launch: in this process")
        return
    from kgcli.train.run import train as run_training

    threads = os.environ.get("KGC_TORCH_THREADS")
    if threads:
        import torch

        torch.set_num_threads(int(threads))
    summary = run_training(request)
    if summary:
        typer.echo(f"trained {summary['steps']} steps, final loss {summary['train_loss']:.4f}, "
                   f"{summary['tokens_per_second']} tokens/s → {request.output_dir}", err=True)
