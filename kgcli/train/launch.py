"""Starting a resolved training run: in this process, or under ``accelerate launch`` (data parallel,
DeepSpeed, several machines), with ``--dry-run`` printing the settings and the command instead."""

from __future__ import annotations

import subprocess
import sys

import yaml

from kgcli.model import launch
from kgcli.train.config import TrainRequest, accelerate_flags


def summary_line(summary: dict, output_dir: str) -> str:
    """The end of a run: the last step's loss, the run's mean, the last evaluation's."""
    losses = []
    if summary.get("last_loss") is not None:
        losses.append(f"loss {summary['last_loss']:.4f} (last step)")
    losses.append(f"{summary['train_loss']:.4f} (mean)")
    if summary.get("eval_loss") is not None:
        losses.append(f"eval loss {summary['eval_loss']:.4f}")
    return (f"trained {summary['steps']} steps: {', '.join(losses)}; {summary['tokens_per_second']} tokens/s "
            f"→ {output_dir}")


def start(request: TrainRequest, *, dry_run: bool = False, in_launcher: bool = False) -> dict | None:
    """Run (or, with ``dry_run``, describe) the training; the summary of an in-process run. A dry run
    prints a run file (``kgc train PLAN.yaml`` replays it) with how it would launch as a comment."""
    resolved = yaml.safe_dump({"train": request.resolved()}, sort_keys=False, allow_unicode=True)
    if request.distributed and not in_launcher:
        command = launch.accelerate_command(launch.rerun_argv(), accelerate_flags(request))
        if dry_run:
            print(resolved, end="")
            print(f"# launch: {launch.shell(command)}")
            return None
        sys.exit(subprocess.call(command))
    if dry_run:
        print(resolved, end="")
        print("# launch: in this process")
        return None
    from kgcli.train.run import train

    launch.set_threads()
    summary = train(request)
    if summary:
        from kgcli.errors import say

        say(summary_line(summary, request.output_dir))
    return summary
