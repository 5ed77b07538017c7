"""Shared benchmark helpers: run a child process and read its wall time and peak RSS (or, under callgrind,
its instruction count), and check out an earlier revision to measure beside this tree in the same run."""

from __future__ import annotations

import contextlib
import json
import os
import re
import subprocess
import sys
import tempfile
import time
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]


@dataclass
class Command:
    """One child process to measure: its argv, and the source tree it runs from (`python -m` and `-c` put
    the working folder first on sys.path, so the tree is both the working folder and PYTHONPATH; the
    benchmarks pass absolute paths)."""

    argv: list[str]
    tree: Path = ROOT
    variables: dict[str, str] | None = None  # set for this command only (KGC_WORKERS=1: one process)

    def env(self, extra: dict[str, str] | None = None) -> dict[str, str]:
        return {**os.environ, "PYTHONPATH": str(self.tree), **(self.variables or {}), **(extra or {})}


def run_measured(command: Command, stdout=subprocess.DEVNULL) -> tuple[float, float]:
    """(wall seconds, peak RSS in MB) of one child process."""
    start = time.perf_counter()
    proc = subprocess.Popen(command.argv, stdout=stdout, stderr=subprocess.PIPE, env=command.env(),
                            cwd=command.tree)
    _, status, usage = os.wait4(proc.pid, 0)
    wall = time.perf_counter() - start
    if os.waitstatus_to_exitcode(status) != 0:
        sys.exit(f"benchmark command failed: "
                 f"{' '.join(command.argv)}\n{proc.stderr.read().decode() if proc.stderr else ''}")
    return wall, usage.ru_maxrss / 1024


def run_sampled(command: Command, interval: float = 0.2) -> tuple[float, float, list[tuple[str, int, float]]]:
    """(wall seconds, peak RSS MB of the child itself, every process it started: (role, pid, peak RSS MB))
    of one child process. A process tree such as a local Ray (raylet, GCS, workers, actors) is sampled every
    ``interval`` seconds with psutil, each process under the title it last showed (Ray names its workers
    ``ray::<actor or task>``); a spike shorter than the interval can be missed."""
    import psutil

    start = time.perf_counter()
    proc = subprocess.Popen(command.argv, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE,
                            env=command.env(), cwd=command.tree)
    root = psutil.Process(proc.pid)
    own = " ".join(command.argv)
    peaks: dict[int, list] = {}  # pid → [role at its peak, peak bytes]
    status = usage = None
    while True:
        try:
            for child in root.children(recursive=True):
                try:
                    rss, title = child.memory_info().rss, " ".join(child.cmdline()) or child.name()
                except (psutil.NoSuchProcess, psutil.AccessDenied, psutil.ZombieProcess):
                    continue
                entry = peaks.setdefault(child.pid, ["", -1])
                if rss > entry[1]:  # a Ray worker is named by what it ran at its peak
                    entry[:] = ["kgc (a fork of the driver)" if title == own else _role(title), rss]
        except psutil.NoSuchProcess:
            pass
        pid, status, usage = os.wait4(proc.pid, os.WNOHANG)
        if pid:
            break
        time.sleep(interval)
    wall = time.perf_counter() - start
    if os.waitstatus_to_exitcode(status) != 0:
        sys.exit(f"benchmark command failed: "
                 f"{' '.join(command.argv)}\n{proc.stderr.read().decode() if proc.stderr else ''}")
    children = sorted(((role, pid, peak / 2**20) for pid, (role, peak) in peaks.items()),
                      key=lambda c: (-c[2], c[1]))
    return wall, usage.ru_maxrss / 1024, children


def _role(title: str) -> str:
    """A process's role from its command line: Ray's own title (``ray::GoldReplica``), else its program."""
    if title.startswith("ray::"):
        return title.split()[0]
    words = title.split()
    for word in words:
        name = os.path.basename(word)
        if name and not name.startswith("-") and "python" not in name:
            return name[:40]
    return os.path.basename(words[0]) if words else "?"


def best_of(commands: list[Command], repeat: int,
            outputs: tuple[Path, ...] = ()) -> list[tuple[float, float]]:
    """(fastest wall seconds, peak RSS in MB) of each command over `repeat` rounds.

    The commands take turns within each round, so a slow spell of a shared machine hits all of them alike;
    the minimum is the least disturbed run, the usual estimator for a program's own cost (timeit's).
    `outputs` are removed before each round, so a command that refuses to replace its output runs again.
    """
    runs = []
    for _ in range(max(1, repeat)):
        for path in outputs:
            path.unlink(missing_ok=True)
        runs.append([run_measured(command) for command in commands])
    return [(min(r[i][0] for r in runs), max(r[i][1] for r in runs)) for i in range(len(commands))]


def instructions(command: Command) -> int:
    """Instructions a child process executes, counted by callgrind: the same count for the same program
    and input whatever else the machine is doing, where wall time on a shared VM swings by tens of
    percent. Hash seed fixed; one process (KGC_WORKERS=1) unless KGC_WORKERS says otherwise, when the
    forked workers' counts are added in (the total work of a parallel run, not its wall time)."""
    done = subprocess.run(["valgrind", "--tool=callgrind", "--callgrind-out-file=/dev/null", *command.argv],
                          stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, text=True, cwd=command.tree,
                          env=command.env({"KGC_WORKERS": _counted_workers(), "PYTHONHASHSEED": "0"}))
    if done.returncode != 0:
        sys.exit(f"benchmark command failed under callgrind: {' '.join(command.argv)}\n{done.stderr[-2000:]}")
    counts = [int(n) for n in re.findall(r"Collected : (\d+)", done.stderr)]
    if not counts:
        sys.exit(f"callgrind printed no instruction count for {' '.join(command.argv)}")
    return sum(counts)


def _counted_workers() -> str:
    return os.environ.get("KGC_WORKERS", "1")


def counted() -> str:
    """What an instruction count covers, for a table's heading."""
    workers = _counted_workers()
    return "one process each" if workers == "1" else f"KGC_WORKERS={workers}: all processes of a run added"


def measure(commands: list[Command], repeat: int, *, count_instructions: bool,
            outputs: tuple[Path, ...] = ()) -> list[tuple[float, float]]:
    """(cost, peak RSS in MB) of each command: fastest wall seconds over `repeat` rounds, or, with
    `count_instructions`, instructions under callgrind (RSS not measured: 0)."""
    if not count_instructions:
        return best_of(commands, repeat, outputs)
    for path in outputs:
        path.unlink(missing_ok=True)
    return [(float(instructions(command)), 0.0) for command in commands]


@contextlib.contextmanager
def trees(against: str | None) -> Iterator[list[tuple[str, Path]]]:
    """(label, source tree) of this tree and, with `against`, of that git revision checked out in a
    temporary worktree (removed afterwards): the same benchmark measures both in one run."""
    here = [("this tree", ROOT)]
    compiled(ROOT)
    if not against:
        yield here
        return
    with tempfile.TemporaryDirectory() as tmp:
        path = Path(tmp) / "tree"
        subprocess.run(["git", "-C", str(ROOT), "worktree", "add", "-q", "--detach", str(path), against],
                       check=True)
        try:
            compiled(path)
            yield [*here, (against, path)]
        finally:
            subprocess.run(["git", "-C", str(ROOT), "worktree", "remove", "--force", str(path)], check=True)


def compiled(tree: Path) -> None:
    """Write the tree's bytecode, as an install does: where PYTHONDONTWRITEBYTECODE is set, every run would
    otherwise compile kgc's modules again, and a tree that loads more of them would pay for it."""
    subprocess.run([sys.executable, "-m", "compileall", "-q", str(tree / "kgcli")], check=True,
                   stdout=subprocess.DEVNULL, env={**os.environ, "PYTHONDONTWRITEBYTECODE": ""})


def ratio(base_cost: float, cost: float, exact: bool = False) -> str:
    """Baseline cost / kgc cost: how many times faster kgc is; three decimals where the costs are exact
    (instruction counts), two for wall times."""
    return f"{base_cost / cost:.{3 if exact else 2}f}x"


def rate(cost: float, records: int, instructions: bool) -> str:
    """records/s from seconds, or instructions per record from an instruction count."""
    return f"{cost / records:,.0f}" if instructions else f"{records / cost:,.0f}"


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
