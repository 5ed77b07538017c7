"""``kgc train``: fine-tune from a preset (LoRA, QLoRA 4/8-bit, full, P-tuning), validated before launch."""

from __future__ import annotations

import typer

from kgcli.cli.options import (
    AdapterOpt,
    DryRunOpt,
    DtypeOpt,
    InLauncherOpt,
    PresetOpt,
    SetOpt,
    TrustRemoteCodeOpt,
)
from kgcli.errors import KgcError


def train(
    words: list[str] = typer.Argument(
        None,
        metavar="[RUN.yaml] [KEY=VALUE]...",
        help="A run file (what --dry-run prints) and key=value overrides.",
    ),
    preset: PresetOpt = None,
    train_file: str = typer.Option(None, "--train-file", help="Converted train records (JSON lines)."),
    valid_file: str = typer.Option(None, "--valid-file", help="Validation records (else --val-size)."),
    val_size: int = typer.Option(None, "--val-size", help="Carve N validation examples from train (seeded)."),
    output_dir: str = typer.Option(
        None, "--output-dir", "--out", help="Where the adapter / model and logs go."
    ),
    model: str = typer.Option(
        None, "--model", help="Base model path (overrides the preset; a merged or full model)."
    ),
    adapter: AdapterOpt = None,
    settings: SetOpt = None,
    config: str = typer.Option(None, "--config", help="The seed's fine-tuning YAML (fine_llama.yaml, ...)."),
    dtype: DtypeOpt = None,
    max_steps: int = typer.Option(None, "--max-steps", help="Stop after N optimizer steps."),
    resume: bool = typer.Option(False, "--resume", help="Continue from the last checkpoint in --output-dir."),
    overwrite: bool = typer.Option(
        False, "--overwrite", help="Replace an --output-dir that an earlier kgc train wrote (no other)."
    ),
    num_processes: int = typer.Option(1, "--num-processes", help="GPUs per machine (accelerate launch)."),
    num_machines: int = typer.Option(1, "--num-machines", help="Machines (accelerate launch)."),
    machine_rank: int = typer.Option(0, "--machine-rank"),
    main_process_ip: str = typer.Option(None, "--main-process-ip"),
    main_process_port: int = typer.Option(29500, "--main-process-port"),
    deepspeed: str = typer.Option(None, "--deepspeed", help="zero2, zero3 or a DeepSpeed JSON file."),
    dry_run: DryRunOpt = False,
    trust_remote_code: TrustRemoteCodeOpt = False,
    in_launcher: InLauncherOpt = False,
) -> None:
    """Fine-tune a model on converted train records (with --adapter: continue that LoRA; earlier ones
    merged)."""
    from kgcli.model.resolve import resolve
    from kgcli.model.validate import check_launch
    from kgcli.train.config import TrainRequest, check_data
    from kgcli.train.run_file import read_run_file, split_words

    run_path, assignments = split_words(words)
    run = read_run_file(run_path, assignments)
    extra = {
        **run.overrides,
        **{
            key: value
            for key, value in (("max_steps", max_steps), ("val_size", val_size))
            if value is not None
        },
    }
    adapters = run.run.get("adapters")
    resolved = resolve(
        "train",
        preset or run.preset,
        config=config,
        model=model,
        dtype=dtype,
        settings=settings,
        adapter=adapter or (",".join(adapters) if adapters else None),
        extra=extra,
        dry_run=dry_run,
        trust_remote_code=trust_remote_code,
    )
    options, base = {**run.run, **resolved.options}, resolved.preset
    data = train_file or options.get("train_file")
    defaults = not data and bool(base.train_file)  # the preset's data files, used as a pair
    request = TrainRequest(
        preset=base,
        train_file=data or base.train_file or "",
        valid_file=valid_file or options.get("valid_file") or (base.valid_file if defaults else None),
        output_dir=output_dir or options.get("output_dir") or base.output_dir or "",
        adapters=resolved.adapters,
        resume=resume or options.get("resume", False),
        overwrite=overwrite,
        overwrite_output_dir=bool(options.get("overwrite_output_dir", False)),
        num_processes=options.get("num_processes", num_processes) if num_processes == 1 else num_processes,
        num_machines=options.get("num_machines", num_machines) if num_machines == 1 else num_machines,
        machine_rank=machine_rank or options.get("machine_rank", 0),
        main_process_ip=main_process_ip or options.get("main_process_ip"),
        main_process_port=options.get("main_process_port", main_process_port)
        if main_process_port == 29500
        else main_process_port,
        deepspeed=deepspeed or options.get("deepspeed"),
    )
    if not request.train_file:
        raise KgcError("--train-file is required")
    if "-" in (request.train_file, request.valid_file):
        raise KgcError(
            "training reads its data files more than once (and in every process): give a file, not - (stdin)"
        )
    if not request.output_dir:
        raise KgcError("--output-dir is required")
    if num_machines > 1 and not main_process_ip:
        raise KgcError("--num-machines > 1 needs --main-process-ip")
    check_launch(request.preset, deepspeed=request.deepspeed, adapters=request.adapters)
    if not dry_run:  # a dry run shows the plan before the data exists
        check_data(request, from_preset=base.name if defaults else None)
        resolved.check_hardware()
    from kgcli.train.launch import start

    start(request, dry_run=dry_run, in_launcher=in_launcher)
