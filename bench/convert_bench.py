"""convert throughput: 100k NER records, test and train splits, against a naive load-everything baseline.

Usage: python bench/convert_bench.py [--records N] [--repeat K]
Prints records/s and peak RSS per run, and the ratio of kgc to the baseline (same process, same data); with
--repeat K, kgc and the baseline take turns K times and the fastest run of each counts.
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
from _util import best_of, summarize, table  # noqa: E402

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
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as tmp:
        folder = Path(tmp)
        src, schema = make_data(folder, args.records)
        rows = []
        for split in ("test", "train"):
            out = folder / f"{split}.json"
            kgc = [sys.executable, "-m", "kgcli", "convert", str(src), str(out), "--task", "NER", "--split",
                   split,
                   "--schema", str(schema)]
            baseline = [sys.executable, "-c", BASELINE, str(src), str(folder / "b.json"), split, str(schema)]
            (wall, rss), (base_wall, base_rss) = best_of([kgc, baseline], args.repeat, outputs=(out,))
            same = filecmp.cmp(out, folder / "b.json", shallow=False)
            summarize(f"convert, {args.records:,} NER records, {split} split",
                      f"{args.records / wall:,.0f} records/s, "
                      f"{rss:.0f} MB", f"json all in memory: {args.records / base_wall:,.0f} records/s, "
                                       f"{base_rss:.0f} MB",
                      f"{base_wall / wall:.2f}x", "same bytes" if same else "BYTES DIFFER")
            rows.append((f"kgc convert --split {split}", f"{args.records / wall:,.0f}", f"{rss:.0f}",
                         f"{base_wall / wall:.2f}x", same))
            rows.append((f"  baseline (json, all in memory) {split}", f"{args.records / base_wall:,.0f}",
                         f"{base_rss:.0f}", "1.00x", ""))
        print(f"convert benchmark: {args.records:,} NER records")
        print(table(rows, ("run", "records/s", "peak RSS MB", "speed vs baseline", "same bytes")))


if __name__ == "__main__":
    main()
