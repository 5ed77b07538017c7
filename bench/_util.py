"""Shared benchmark helpers: run a child process and read its wall time and peak RSS."""

from __future__ import annotations

import json
import os
import subprocess
import sys
import time
from pathlib import Path


def run_measured(argv: list[str], stdout=subprocess.DEVNULL) -> tuple[float, float]:
    """(wall seconds, peak RSS in MB) of one child process."""
    start = time.perf_counter()
    proc = subprocess.Popen(argv, stdout=stdout, stderr=subprocess.PIPE)
    _, status, usage = os.wait4(proc.pid, 0)
    wall = time.perf_counter() - start
    if os.waitstatus_to_exitcode(status) != 0:
        sys.exit(f"benchmark command failed: "
                 f"{' '.join(argv)}\n{proc.stderr.read().decode() if proc.stderr else ''}")
    return wall, usage.ru_maxrss / 1024


def best_of(argvs: list[list[str]], repeat: int, outputs: tuple[Path, ...] = ()) -> list[tuple[float, float]]:
    """(fastest wall seconds, peak RSS in MB) of each command over `repeat` rounds.

    The commands take turns within each round, so a slow spell of a shared machine hits all of them alike;
    the minimum is the least disturbed run, the usual estimator for a program's own cost (timeit's).
    `outputs` are removed before each round, so a command that refuses to replace its output runs again.
    """
    runs = []
    for _ in range(max(1, repeat)):
        for path in outputs:
            path.unlink(missing_ok=True)
        runs.append([run_measured(argv) for argv in argvs])
    return [(min(r[i][0] for r in runs), max(r[i][1] for r in runs)) for i in range(len(argvs))]


def table(rows: list[tuple], header: tuple) -> str:
    widths = [max(len(str(x)) for x in col) for col in zip(header, *rows, strict=True)]
    lines = ["  ".join(str(v).ljust(w) for v, w in zip(header, widths, strict=True))]
    lines += ["  ".join(str(v).ljust(w) for v, w in zip(row, widths, strict=True)) for row in rows]
    return "\n".join(lines)


def summarize(benchmark: str, figure: str, baseline: str, ratio: str, note: str = "") -> None:
    """One row for `make bench`'s summary table (bench/run_all.py), when it is collecting."""
    path = os.environ.get("KGC_BENCH_SUMMARY")
    if path:
        with open(path, "a", encoding="utf-8") as handle:
            handle.write(json.dumps({"benchmark": benchmark, "figure": figure, "baseline": baseline,
                                     "ratio": ratio,
                                     "note": note}) + "\n")
