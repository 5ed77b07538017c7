"""Training throughput: ``kgc train`` (length-grouped batches, template encoder; and with ``packing: true``,
padding-free batches) against a plain transformers ``Trainer`` + peft LoRA on the same tiny model, examples,
LoRA settings and batch size, in the same process. The baseline gets the Trainer's own best comparable
setting, length-grouped batches (``train_sampling_strategy="group_by_length"``, ``DataCollatorForSeq2Seq``;
its random-batch run is kept as the earlier baseline), and everything runs warm: an untimed short run comes
first. Prints tokens/s (real tokens, padding not counted) and the ratios.

Usage: python bench/train_bench.py [--steps N] [--threads N]
"""

from __future__ import annotations

import argparse
import json
import random
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))
from _util import summarize, table  # noqa: E402


def make_records(folder: Path, n: int = 96) -> Path:
    from kgcli.convert import ConvertConfig, convert_file

    rng = random.Random(0)
    names, cities = ["Alice", "Bob", "Carol", "Dave", "Erin"], ["Paris", "Rome", "Oslo", "Lima", "Kyoto"]
    with open(folder / "raw.json", "w") as out:
        for _ in range(n):
            person, city = rng.choice(names), rng.choice(cities)
            filler = " ".join(rng.choice(["the", "report", "said", "that", "later", "many", "people",
                                          "agreed"])
                              for _ in range(rng.choice([4, 12, 40, 90])))
            text = f"{person} moved to {city}; {filler}."
            out.write(json.dumps({"text": text, "entity": [{"entity": person, "entity_type": "person"},
                                                           {"entity": city, "entity_type": "city"}]}) + "\n")
    (folder / "schema.json").write_text('["person", "city", "organization"]\n[]\n{}\n')
    convert_file(str(folder / "raw.json"), str(folder / "train.json"),
                 ConvertConfig(task="NER", language="en", schema_path=str(folder / "schema.json"),
                               source="bench"))
    return folder / "train.json"


def baseline(train_file: Path, preset, steps: int, out: Path, sampling: str = "group_by_length") -> float:
    """Plain Trainer + peft: same encoded examples and LoRA, the seq2seq collator, ``sampling`` batches."""
    from peft import LoraConfig, get_peft_model
    from transformers import (
        AutoModelForCausalLM,
        AutoTokenizer,
        DataCollatorForSeq2Seq,
        PrinterCallback,
        Trainer,
        TrainingArguments,
    )

    from kgcli.model.builders import build_tiny_llama
    from kgcli.model.templates import get_template
    from kgcli.train.data import EncodeStats, Limits, encode_file

    path = str(build_tiny_llama())
    tokenizer = AutoTokenizer.from_pretrained(path)
    examples = encode_file(str(train_file), get_template(preset.template), tokenizer,
                           Limits(preset.cutoff_len, preset.max_source_length,
                                  preset.max_target_length), EncodeStats())
    model = get_peft_model(AutoModelForCausalLM.from_pretrained(path), LoraConfig(
        task_type="CAUSAL_LM", r=preset.lora_r, lora_alpha=preset.lora_alpha,
        lora_dropout=preset.lora_dropout,
        target_modules=preset.lora_target_modules))
    counted = {"tokens": 0}
    seq2seq = DataCollatorForSeq2Seq(tokenizer, padding=True, label_pad_token_id=-100)

    def collate(batch):
        counted["tokens"] += sum(len(item["input_ids"]) for item in batch)
        return seq2seq(batch)

    args = TrainingArguments(output_dir=str(out),
                             per_device_train_batch_size=preset.per_device_train_batch_size,
                             max_steps=steps, learning_rate=preset.learning_rate, use_cpu=True, report_to=[],
                             remove_unused_columns=False, save_strategy="no", disable_tqdm=True, seed=42,
                             train_sampling_strategy=sampling)
    trainer = Trainer(model=model, args=args, train_dataset=examples, data_collator=collate)
    trainer.remove_callback(PrinterCallback)
    start = time.perf_counter()
    trainer.train()
    return counted["tokens"] / (time.perf_counter() - start)


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--steps", type=int, default=40)
    parser.add_argument("--threads", type=int, default=1)
    args = parser.parse_args()
    import torch

    torch.set_num_threads(args.threads)
    from kgcli.model.presets import apply_overrides, load_preset
    from kgcli.train.config import TrainRequest
    from kgcli.train.run import train

    preset = apply_overrides(load_preset("tiny-random-llama-lora"),
                             {"max_steps": args.steps, "logging_steps": 10})
    with tempfile.TemporaryDirectory() as tmp:
        folder = Path(tmp)
        train_file = make_records(folder)
        baseline(train_file, preset, 2, folder / "warm-up")  # untimed: kernels and allocator warm
        base = baseline(train_file, preset, args.steps, folder / "baseline")
        random_base = baseline(train_file, preset, args.steps, folder / "baseline-random", "random")
        summary = train(TrainRequest(preset=preset, train_file=str(train_file),
                                     output_dir=str(folder / "kgc")))
        ours = summary["tokens_per_second"]
        packed = train(TrainRequest(preset=apply_overrides(preset, {"packing": True}),
                                    train_file=str(train_file), output_dir=str(folder / "packed")))
        flat = packed["tokens_per_second"]
    summarize(f"train, tiny random Llama, LoRA r {preset.lora_r}, {args.steps} steps, {args.threads} "
              "thread(s)",
              f"{ours:,.0f} tokens/s", f"Trainer + peft, length-grouped: {base:,.0f} tokens/s",
              f"{ours / base:.2f}x",
              f"against random batches (the earlier baseline): {ours / random_base:.2f}x")
    summarize(f"train packed (packing: true), same run, {args.threads} thread(s)", f"{flat:,.0f} tokens/s",
              f"kgc train padded: {ours:,.0f} tokens/s", f"{flat / ours:.2f}x")
    print(f"train benchmark: tiny random Llama, LoRA r {preset.lora_r}, batch "
          f"{preset.per_device_train_batch_size}, "
          f"{args.steps} steps, {args.threads} thread(s)")
    print(table([("kgc train (length-grouped)", f"{ours:,.0f}", f"{ours / base:.2f}x"),
                 ("kgc train (packed: padding-free)", f"{flat:,.0f}", f"{flat / base:.2f}x"),
                 ("  Trainer + peft baseline (group_by_length)", f"{base:,.0f}", "1.00x"),
                 ("  Trainer + peft, random batches (the earlier baseline)", f"{random_base:,.0f}",
                  f"{random_base / base:.2f}x")],
                ("run", "tokens/s", "ratio")))


if __name__ == "__main__":
    main()
