"""`make bench`: every benchmark in turn (each prints its own table), then one summary table in Markdown,
with the machine it ran on — the table bench/README.md keeps.

Usage: python bench/run_all.py [--quick]   (--quick: smaller sizes, for a smoke run)
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import subprocess
import sys
import tempfile
from pathlib import Path

HERE = Path(__file__).resolve().parent
BENCHES = [
    ("convert_bench.py", [], ["--records", "5000"]),
    ("eval_bench.py", [], ["--records", "5000"]),
    ("train_bench.py", [], ["--steps", "10"]),
    ("predict_bench.py", [], ["--records", "8", "--max-new-tokens", "16", "--no-vllm"]),
    ("extract_bench.py", [], []),
    ("graph_bench.py", [], ["--triples", "50000", "--naive", "500"]),
]


def machine() -> str:
    cpu = platform.processor() or platform.machine()
    try:
        for line in open("/proc/cpuinfo", encoding="utf-8"):
            if line.startswith("model name"):
                cpu = line.split(":", 1)[1].strip()
                break
    except OSError:
        pass
    import torch

    gpu = torch.cuda.get_device_name(0) if torch.cuda.is_available() else "no GPU"
    return (f"{cpu}, {os.cpu_count()} cores, {gpu}; Python {platform.python_version()}, torch "
            f"{torch.__version__}")


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--quick", action="store_true")
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as tmp:
        summary = Path(tmp) / "summary.jsonl"
        env = {**os.environ, "KGC_BENCH_SUMMARY": str(summary)}
        for script, full, quick in BENCHES:
            command = [sys.executable, str(HERE / script), *(quick if args.quick else full)]
            print(f"\n$ python bench/{script} {' '.join(quick if args.quick else full)}".rstrip(), flush=True)
            subprocess.run(command, env=env, check=True)
        rows = [json.loads(line) for line in summary.read_text().splitlines()]
    print(f"\n## Summary ({machine()})\n")
    print("| benchmark | kgc | baseline (same process run) | ratio | note |")
    print("|---|---|---|---|---|")
    for row in rows:
        print(f"| {row['benchmark']} | {row['figure']} | {row['baseline']} | {row['ratio']} | {row['note']} "
              "|")


if __name__ == "__main__":
    main()
