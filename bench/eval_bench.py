"""eval throughput: 100k NER predictions (converted test records + output), against a naive baseline that
loads everything with json and scores in memory (the seed's way).

Usage: python bench/eval_bench.py [--records N] [--repeat K]   (K rounds, taking turns; the fastest counts)
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
from _util import best_of, summarize, table  # noqa: E402

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
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as tmp:
        path = Path(tmp) / "pred.json"
        make_predictions(path, args.records)
        report = Path(tmp) / "report.json"
        kgc = [sys.executable, "-m", "kgcli", "eval", str(path), "--task", "NER", "--format", "json",
               "--out", str(report)]
        (wall, rss), (base_wall, base_rss) = best_of([kgc, [sys.executable, "-c", BASELINE, str(path)]],
                                                     args.repeat, outputs=(report,))
        inner = subprocess.run([sys.executable, "-c", INNER, str(path)], capture_output=True, text=True,
                               check=True)
        inner_seconds = float(inner.stdout)
        total = json.loads(report.read_text())["total"]
        rows = [("kgc eval --task NER (wall, incl. start-up)", f"{args.records / wall:,.0f}", f"{rss:.0f}",
                 f"{base_wall / wall:.2f}x", total["F1"]),
                ("  evaluate_file() alone (after imports)", f"{args.records / inner_seconds:,.0f}", "", "",
                 ""),
                ("  baseline (json, all in memory)", f"{args.records / base_wall:,.0f}", f"{base_rss:.0f}",
                 "1.00x", "")]
        summarize(f"eval, {args.records:,} NER predictions",
                  f"{args.records / wall:,.0f} records/s, {rss:.0f} MB",
                  f"json all in memory: {args.records / base_wall:,.0f} records/s, {base_rss:.0f} MB",
                  f"{base_wall / wall:.2f}x", f"wall incl. start-up; evaluate_file alone "
                                              f"{args.records / inner_seconds:,.0f}/s")
        print(f"eval benchmark: {args.records:,} NER predictions")
        print(table(rows, ("run", "records/s", "peak RSS MB", "speed vs baseline", "F1")))


if __name__ == "__main__":
    main()
