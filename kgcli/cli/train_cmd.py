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
    num_processes: int = typer.Option(None, "--num-processes", show_default="1",
                                      help="GPUs per machine (accelerate launch)."),
    num_machines: int = typer.Option(None, "--num-machines", show_default="1",
                                     help="Machines (accelerate launch)."),
    machine_rank: int = typer.Option(None, "--machine-rank", show_default="0"),
    main_process_ip: str = typer.Option(None, "--main-process-ip"),
    main_process_port: int = typer.Option(None, "--main-process-port", show_default="29500"),
    deepspeed: str = typer.Option(None, "--deepspeed", help="zero2, zero3 or a DeepSpeed JSON file."),
    dry_run: DryRunOpt = False,
    trust_remote_code: TrustRemoteCodeOpt = False,
    in_launcher: InLauncherOpt = False,
) -> None:
    """Fine-tune a model on converted train records (with --adapter: continue that LoRA; earlier ones
    merged)."""
    from kgcli.model.resolve import ModelChoice
    from kgcli.train.launch import start
    from kgcli.train.run_file import TrainFlags, training_request

    flags = TrainFlags(train_file, valid_file, output_dir, resume, overwrite, num_processes, num_machines,
                       machine_rank, main_process_ip, main_process_port, deepspeed, max_steps, val_size)
    choice = ModelChoice(preset, config, model, dtype, settings, adapter, trust_remote_code)
    start(training_request(words, choice, flags, dry_run=dry_run), dry_run=dry_run, in_launcher=in_launcher)
