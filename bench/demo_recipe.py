"""The demo's training recipe, measured: one row per variant (steps, lr, sampler, relations per RE
instruction, share of absent relations listed), with NER F1, RE micro-F1 and F1 per relation on the demo's
held-out test split, and where the training data leaves the model (the share of filled relation lists).

Every variant trains the demo's preset from scratch with the demo's own functions (kgcli.demo.run), so a
row is what ``kgc demo`` with those settings would score. Rows are appended to --results (JSON lines).

Usage: python bench/demo_recipe.py NAME key=value ... [--results FILE]
  e.g. python bench/demo_recipe.py today steps=72
       python bench/demo_recipe.py split1 steps=100 learning_rate=1e-3 sampler=random re_split_num=1
"""

from __future__ import annotations

import argparse
import json
import tempfile
import time
from dataclasses import fields
from pathlib import Path


def filled_share(train_file: Path) -> dict[str, float]:
    """Per relation: the share of RE training instructions listing it whose answer list is not empty."""
    listed: dict[str, int] = {}
    filled: dict[str, int] = {}
    for line in train_file.read_text(encoding="utf-8").splitlines():
        record = json.loads(line)
        if record["task"] != "RE":
            continue
        for relation, triples in json.loads(record["output"]).items():
            listed[relation] = listed.get(relation, 0) + 1
            filled[relation] = filled.get(relation, 0) + bool(triples)
    return {relation: round(filled[relation] / listed[relation], 2) for relation in sorted(listed)}


def run(name: str, overrides: dict[str, str], keep: str | None = None) -> dict:
    from kgcli.demo import run as demo
    from kgcli.train.config import TrainRequest
    from kgcli.train.run import train

    types = {f.name: f.type for f in fields(demo.DemoSettings)}
    values = {}
    for key, text in overrides.items():
        if key not in types:
            raise SystemExit(f"unknown setting {key!r}; known: {', '.join(types)}")
        kind = str(types[key])
        values[key] = (int(text) if "int" in kind and "." not in text else float(text) if "float" in kind or
                       "int" in kind else text)
    demo.quiet_libraries()
    with tempfile.TemporaryDirectory() as folder:
        settings = demo.DemoSettings(out=folder, **values)
        out = Path(folder)
        data = demo.write_data(out, settings)
        preset = demo.demo_preset(settings)
        started = time.perf_counter()
        summary = train(TrainRequest(preset=preset, train_file=str(data["train"]), output_dir=str(out / "a"),
                                     overwrite=True))
        trained = time.perf_counter() - started
        demo.predict(preset, data["test"], out / "pred.json", [str(out / "a")], settings)
        report = demo.evaluate(out / "pred.json", out / "eval.json")
        row = {
            "name": name, "settings": values, "train_seconds": round(trained), "steps": summary["steps"],
            "tokens_per_second": summary["tokens_per_second"], "lr": preset.learning_rate,
            "sampler": preset.sampler, "filled_share": filled_share(data["train"]),
            "NER_F1": report.get("NER", {}).get("F1", 0.0), "RE_F1": report.get("RE", {}).get("F1", 0.0),
            "RE_per_relation": {relation: scores.get("F1", 0.0) for relation, scores in
                                report.get("RE", {}).get("per_type", {}).items()},
        }
        if keep:
            import shutil

            shutil.copytree(out / "data", Path(keep) / "data", dirs_exist_ok=True)
            for name_ in ("pred.json", "eval.json"):
                shutil.copy(out / name_, Path(keep) / name_)
    return row


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("name")
    parser.add_argument("settings", nargs="*", help="DemoSettings fields as key=value")
    parser.add_argument("--results", default="bench/demo_recipe.jsonl")
    parser.add_argument("--keep", help="copy the run's data, predictions and eval report into this folder")
    args = parser.parse_args()
    row = run(args.name, dict(item.split("=", 1) for item in args.settings), args.keep)
    print(json.dumps(row, ensure_ascii=False))
    with open(args.results, "a", encoding="utf-8") as handle:
        handle.write(json.dumps(row, ensure_ascii=False) + "\n")


if __name__ == "__main__":
    main()
