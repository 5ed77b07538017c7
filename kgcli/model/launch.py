"""How a heavy command runs: torch's thread count, and the one ``accelerate launch`` command line that
re-runs the same ``kgc`` command in every process (train: data parallel / DeepSpeed, predict: hf shards)."""

from __future__ import annotations

import os
import shlex
import sys


def set_threads() -> None:
    """``KGC_TORCH_THREADS`` caps torch's CPU threads (tests and small machines run with 1)."""
    threads = os.environ.get("KGC_TORCH_THREADS")
    if threads:
        import torch

        torch.set_num_threads(int(threads))


def rerun_argv() -> list[str]:
    """This command's own arguments, to run again in each launched process (a dry run is not repeated)."""
    return [arg for arg in sys.argv[1:] if arg != "--dry-run"]


def accelerate_command(argv: list[str], flags: list[str]) -> list[str]:
    """``accelerate launch FLAGS`` running ``kgc ARGV --in-launcher`` in every process."""
    return [sys.executable, "-m", "accelerate.commands.launch", *flags, "-m", "kgcli", *argv, "--in-launcher"]


def shell(command: list[str]) -> str:
    return " ".join(shlex.quote(part) for part in command)
