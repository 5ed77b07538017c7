"""Shared benchmark helpers: run a child process and read its wall time and peak RSS."""

from __future__ import annotations

import json
import os
import subprocess
import sys
import time


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
