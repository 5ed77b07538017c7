"""convert throughput: 100k NER records, test and train splits, against a naive load-everything baseline.

Usage: python bench/convert_bench.py [--records N] [--repeat K] [--against REV] [--instructions]
Prints records/s and peak RSS per run, and the ratio of kgc to the baseline (same process, same data); with
--repeat K, kgc and the baseline take turns K times and the fastest run of each counts. --against REV measures
that git revision's kgc and baseline (the baseline calls its tree's converter) in the same rounds;
--instructions counts instructions under callgrind instead of timing (one process each: the same count on a
quiet or a busy machine; ratios are baseline instructions / kgc instructions).
"""

from __future__ import annotations

import argparse
import filecmp
import json
import random
import sys
import tempfile
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))
from _util import Command, counted, measure, rate, ratio, summarize, table, trees  # noqa: E402

TYPES = ["人物", "地点", "组织机构", "时间", "作品", "产品", "事件"]

BASELINE = r"""
import json, sys
from kgcli.convert import ConvertConfig, Converter
src, dst, split = sys.argv[1:4]
records = [json.loads(line) for line in open(src, encoding="utf-8")]  # everything in memory first
conv = Converter(ConvertConfig(task="NER", split=split, schema_path=sys.argv[4], source="bench"))
lines = [line for i, r in enumerate(records, 1) for line in conv.convert_record(r, (src, i))]
open(dst, "w", encoding="utf-8").write("\n".join(lines) + "\n")
"""


def make_data(folder: Path, n: int) -> tuple[Path, Path]:
    rng = random.Random(0)
    src = folder / "bench" / "train.json"
    src.parent.mkdir(parents=True)
    with open(src, "w", encoding="utf-8") as out:
        for i in range(n):
            entities = [{"entity": f"名称{i}_{k}",
                         "entity_type": rng.choice(TYPES)} for k in range(rng.randint(0, 3))]
            text = ("，".join(e["entity"] for e in entities)
                    + f"在第{i}条新闻中被提及，相关报道引起了广泛关注。")
            out.write(json.dumps({"text": text, "entity": entities}, ensure_ascii=False) + "\n")
    schema = folder / "bench" / "schema.json"
    schema.write_text(json.dumps(TYPES, ensure_ascii=False) + "\n[]\n{}\n", encoding="utf-8")
    return src, schema


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--records", type=int, default=100_000)
    parser.add_argument("--repeat", type=int, default=1, help="rounds; the fastest run of each counts")
    parser.add_argument("--against", metavar="REV", help="also measure this git revision, in the same rounds")
    parser.add_argument("--instructions", action="store_true", help="count instructions (callgrind)")
    args = parser.parse_args()
    unit = "instructions/record" if args.instructions else "records/s"
    with tempfile.TemporaryDirectory() as tmp, trees(args.against) as checkouts:
        folder = Path(tmp)
        src, schema = make_data(folder, args.records)
        rows = []
        for split in ("test", "train"):
            commands, outputs = [], []
            # timed runs: kgc with every worker and with one (the baseline is one process), against the same
            # baseline; counted runs count one process (KGC_WORKERS adds the workers)
            variants: list[tuple[str, dict | None]] = [("", None)]
            if not args.instructions:
                variants.append((", one worker", {"KGC_WORKERS": "1"}))
            for tag, (_, tree) in enumerate(checkouts):
                outs = [folder / f"{split}-{tag}-{v}.json" for v in range(len(variants))]
                base_out = folder / f"b-{split}-{tag}.json"
                commands += [Command([sys.executable, "-m", "kgcli", "convert", str(src), str(out), "--task",
                                      "NER", "--split", split, "--schema", str(schema)], tree, variables)
                             for out, (_, variables) in zip(outs, variants, strict=True)]
                commands.append(Command([sys.executable, "-c", BASELINE, str(src), str(base_out), split,
                                         str(schema)], tree))
                outputs.append((outs, base_out))
            costs = measure(commands, args.repeat, count_instructions=args.instructions,
                            outputs=tuple(out for outs, _ in outputs for out in outs))
            step = len(variants) + 1
            for tag, (label, _) in enumerate(checkouts):
                base_cost, base_rss = costs[step * tag + len(variants)]
                outs, base_out = outputs[tag]
                base_figure = rate(base_cost, args.records, args.instructions)
                where = f" ({label})" if args.against else ""
                for (cost, rss), out, (name, _) in zip(costs[step * tag:], outs, variants, strict=False):
                    same = filecmp.cmp(out, base_out, shallow=False)
                    figure = rate(cost, args.records, args.instructions)
                    times = ratio(base_cost, cost, exact=args.instructions)
                    summarize(f"convert, {args.records:,} NER records, {split} split{name}{where}",
                              f"{figure} {unit}, {rss:.0f} MB",
                              f"json all in memory (one process): {base_figure} {unit}, {base_rss:.0f} MB",
                              times, "same bytes" if same else "BYTES DIFFER")
                    rows.append((f"kgc convert --split {split}{name}{where}", figure, f"{rss:.0f}", times,
                                 same))
                rows.append((f"  baseline (json, all in memory) {split}{where}", base_figure,
                             f"{base_rss:.0f}", "1.00x", ""))
        print(f"convert benchmark: {args.records:,} NER records"
              + (f", instructions under callgrind, {counted()}" if args.instructions else ""))
        print(table(rows, ("run", unit, "peak RSS MB", "speed vs baseline", "same bytes")))


if __name__ == "__main__":
    main()
