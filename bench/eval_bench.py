"""eval throughput: 100k NER predictions (converted test records + output), against a naive baseline that
loads everything with json and scores in memory (the seed's way).

Usage: python bench/eval_bench.py [--records N] [--repeat K] [--against REV] [--instructions]
K rounds, taking turns, the fastest run counts; --against REV measures that git revision's kgc eval in the
same rounds (the baseline is plain json either way); --instructions counts instructions under callgrind
instead of timing (one process each: the same count on a quiet or a busy machine).
"""

from __future__ import annotations

import argparse
import json
import random
import subprocess
import sys
import tempfile
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))
from _util import Command, counted, measure, ratio, summarize, table, trees
from _util import rate as rate_of  # noqa: E402

TYPES = ["人物", "地点", "组织机构", "时间", "作品", "产品", "事件"]

BASELINE = r"""
import json, sys
from collections import Counter
records = [json.loads(line) for line in open(sys.argv[1], encoding="utf-8")]   # everything in memory
groups = {}
for r in records:
    g = groups.setdefault(r["source"] + r["id"],
                          {"gold": [(e["entity"], e["entity_type"]) for e in json.loads(r["label"])],
                           "pred": []})
    try:
        out = json.loads(r["output"])
    except json.JSONDecodeError:
        continue
    g["pred"] += [(v, k) for k, vs in out.items() for v in vs]
tp = pred = gold = 0
for g in groups.values():
    left = Counter(g["gold"]); gold += len(g["gold"]); pred += len(g["pred"])
    for t in g["pred"]:
        if left[t] > 0:
            left[t] -= 1; tp += 1
print(json.dumps({"tp": tp, "pred": pred, "gold": gold}))
"""


INNER = r"""
import sys, time
from kgcli.evaluate import evaluate_file
start = time.perf_counter()
evaluate_file(sys.argv[1], task="NER")
print(time.perf_counter() - start)
"""


def make_predictions(path: Path, n: int) -> None:
    """n converted NER test records (split 6 → one chunk) with plausible model outputs."""
    from kgcli.convert import ConvertConfig, Converter

    rng = random.Random(0)
    schema = path.parent / "schema.json"
    schema.write_text(json.dumps(TYPES, ensure_ascii=False) + "\n[]\n{}\n", encoding="utf-8")
    converter = Converter(ConvertConfig(task="NER", split="test", schema_path=str(schema), source="bench",
                                        split_num=-1))
    with open(path, "w", encoding="utf-8") as out:
        for i in range(n):
            entities = [{"entity": f"名称{i}_{k}",
                         "entity_type": rng.choice(TYPES)} for k in range(rng.randint(0, 3))]
            text = "，".join(e["entity"] for e in entities) + f"在第{i}条新闻中被提及。"
            for line in converter.convert_record({"text": text, "entity": entities}, ("gen", i)):
                record = json.loads(line)
                answer = {t: [e["entity"] for e in entities if e["entity_type"] == t and rng.random() < 0.8]
                          for t in TYPES}
                record["output"] = json.dumps(answer, ensure_ascii=False)
                out.write(json.dumps(record, ensure_ascii=False) + "\n")


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--records", type=int, default=100_000)
    parser.add_argument("--repeat", type=int, default=1, help="rounds; the fastest run of each counts")
    parser.add_argument("--against", metavar="REV", help="also measure this git revision, in the same rounds")
    parser.add_argument("--instructions", action="store_true", help="count instructions (callgrind)")
    args = parser.parse_args()
    unit = "instructions/record" if args.instructions else "records/s"

    def rate(cost: float) -> str:
        return rate_of(cost, args.records, args.instructions)

    with tempfile.TemporaryDirectory() as tmp, trees(args.against) as checkouts:
        path = Path(tmp) / "pred.json"
        make_predictions(path, args.records)
        # timed runs: kgc with every worker and with one (the baseline is one process); counted runs count
        # one process (KGC_WORKERS adds the workers)
        variants: list[tuple[str, dict | None]] = [("", None)]
        if not args.instructions:
            variants.append((", one worker", {"KGC_WORKERS": "1"}))
        runs = [(label, tree, name, variables, Path(tmp) / f"report-{tag}-{v}.json")
                for tag, (label, tree) in enumerate(checkouts)
                for v, (name, variables) in enumerate(variants)]
        commands = [Command([sys.executable, "-m", "kgcli", "eval", str(path), "--task", "NER", "--format",
                             "json", "--out", str(report)], tree, variables)
                    for _, tree, _, variables, report in runs]
        commands.append(Command([sys.executable, "-c", BASELINE, str(path)]))
        costs = measure(commands, args.repeat, count_instructions=args.instructions,
                        outputs=tuple(run[-1] for run in runs))
        base_cost, base_rss = costs[-1]
        rows = []
        for (label, tree, name, _, report), (cost, rss) in zip(runs, costs[:-1], strict=True):
            where = f"{name} ({label})" if args.against else name
            total = json.loads(report.read_text())["total"]
            alone = Command([sys.executable, "-c", INNER, str(path)], tree)
            inner = subprocess.run(alone.argv, capture_output=True, text=True, check=True, cwd=alone.tree,
                                   env=alone.env())
            inner_seconds = float(inner.stdout)
            times = ratio(base_cost, cost, exact=args.instructions)
            rows += [(f"kgc eval --task NER (whole process){where}", rate(cost), f"{rss:.0f}", times,
                      total["F1"]),
                     (f"  evaluate_file() alone (after imports, records/s){where}",
                      f"{args.records / inner_seconds:,.0f}", "", "", "")]
            summarize(f"eval, {args.records:,} NER predictions{where}", f"{rate(cost)} {unit}, {rss:.0f} MB",
                      f"json all in memory (one process): {rate(base_cost)} {unit}, {base_rss:.0f} MB",
                      times, f"whole process incl. start-up; evaluate_file alone "
                             f"{args.records / inner_seconds:,.0f} records/s")
        rows.append(("  baseline (json, all in memory)", rate(base_cost), f"{base_rss:.0f}", "1.00x", ""))
        print(f"eval benchmark: {args.records:,} NER predictions"
              + (f", instructions under callgrind, {counted()}" if args.instructions else ""))
        print(table(rows, ("run", unit, "peak RSS MB", "speed vs baseline", "F1")))


if __name__ == "__main__":
    main()
