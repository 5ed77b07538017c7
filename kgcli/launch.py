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


def accelerate_command(argv: list[str], num_processes: int, *, config_file: str | None = None,
                       num_machines: int = 1, machine_rank: int = 0, main_process_ip: str | None = None,
                       main_process_port: int = 29500) -> list[str]:
    """``accelerate launch`` running ``kgc ARGV --in-launcher`` in ``num_processes`` processes in all.

    With a config file (train) the file says how; without one (predict) it is plain multi-GPU.
    """
    command = [sys.executable, "-m", "accelerate.commands.launch"]
    if config_file is None:
        command += ["--multi_gpu", "--num_processes", str(num_processes)]
    else:
        command += ["--config_file", config_file, "--num_processes", str(num_processes), "--num_machines",
                    str(num_machines), "--machine_rank", str(machine_rank)]
        if num_machines > 1:
            command += ["--main_process_ip", main_process_ip or "", "--main_process_port",
                        str(main_process_port)]
    return command + ["-m", "kgcli", *argv, "--in-launcher"]


def shell(command: list[str]) -> str:
    return " ".join(shlex.quote(part) for part in command)
