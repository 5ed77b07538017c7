"""Documents → chunks → records → answers → merged documents: one 200-chunk book against its 20 chapters.

Usage: python bench/extract_bench.py
Both runs go through the same code in this process (the real SmolLM2 tokenizer for chunking, convert's
test path, the merge); the answers come from a generator that answers each chunk from the gold, so the
figures are kgc's own cost (a model's time per chunk is the same either way). Prints chunks/s of each run,
the time ratio chapters / book (the target is within 1.1x: a book costs its chunks), whether the two give
the same extractions, and the merge's own cost per 10,000 answers.
"""

from __future__ import annotations

import json
import random
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))
from _util import summarize, table  # noqa: E402

PEOPLE = ["张三", "李四", "王五", "赵六", "孙七"]
CITIES = ["北京", "上海", "广州", "深圳"]


def chapters(count: int = 20, sentences: int = 30) -> list[str]:
    rng = random.Random(3)
    return [
        "".join(
            rng.choice(
                [
                    f"{rng.choice(PEOPLE)}在{rng.choice(CITIES)}工作。",
                    "这一句什么也没有说" * rng.randint(1, 3) + "。",
                ]
            )
            for _ in range(sentences)
        )
        + "\n"
        for _ in range(count)
    ]


def answer(record: dict) -> str:
    text = json.loads(record["instruction"])["input"]
    return json.dumps(
        {"人物": [p for p in PEOPLE if p in text], "地点": [c for c in CITIES if c in text]},
        ensure_ascii=False,
    )


def run(documents, tokenizer, schema: str) -> tuple[dict, int, float, float]:
    from kgcli.convert import ConvertConfig, Converter
    from kgcli.documents.chunking import chunk_documents
    from kgcli.documents.merge import merge_records

    started = time.perf_counter()
    chunks = [c.record() for c in chunk_documents(iter(documents), tokenizer, budget=100, overlap=10)]
    converter = Converter(ConvertConfig(task="NER", split="test", schema_path=schema, source="bench"))
    records = [
        json.loads(line)
        for block in converter.convert_records(enumerate(chunks, 1), "chunks")
        for line in block.splitlines()
    ]
    predictions = [(i, {**r, "output": answer(r)}) for i, r in enumerate(records, 1)]
    merge_started = time.perf_counter()
    merged, _ = merge_records(predictions, "bench")
    finished = time.perf_counter()
    found = {(e["text"], e["type"]) for d in merged for e in d["entities"]}
    return {"entities": found}, len(chunks), finished - started, finished - merge_started


def main() -> None:
    from kgcli.documents.read import Document
    from kgcli.model.builders import build_smollm2
    from kgcli.model.loading import load_tokenizer
    from kgcli.model.templates import get_template

    tokenizer = load_tokenizer(str(build_smollm2()), get_template("qwen"))
    parts = chapters()
    with tempfile.TemporaryDirectory() as tmp:
        schema = Path(tmp) / "ner.json"
        schema.write_text('["人物", "地点"]\n[]\n{}\n', encoding="utf-8")
        book_found, book_chunks, book_seconds, book_merge = run(
            [Document("book", "".join(parts))], tokenizer, str(schema)
        )
        part_found, part_chunks, part_seconds, part_merge = run(
            [Document(f"chapter-{i}", text) for i, text in enumerate(parts)], tokenizer, str(schema)
        )
    same = book_found == part_found
    answers = book_chunks  # one NER answer per chunk (one schema chunk)
    merge_per_10k = book_merge / answers * 10_000
    rows = [
        ("one book", book_chunks, f"{book_chunks / book_seconds:,.0f}", f"{book_seconds:.2f}", "1.00x"),
        (
            "20 chapters",
            part_chunks,
            f"{part_chunks / part_seconds:,.0f}",
            f"{part_seconds:.2f}",
            f"{part_seconds / book_seconds:.2f}x",
        ),
    ]
    print("extract benchmark: chunk + convert + stub answers + merge, SmolLM2 tokenizer")
    print(table(rows, ("run", "chunks", "chunks/s", "seconds", "time vs book")))
    print(f"same extractions: {same}; merge: {merge_per_10k:.2f} s per 10,000 answers")
    summarize(
        "extract, a 200-chunk book vs its 20 chapters",
        f"{book_chunks / book_seconds:,.0f} chunks/s (book)",
        f"20 chapters: {part_seconds:.2f} s",
        f"{part_seconds / book_seconds:.2f}x",
        f"same extractions: {same}; merge {merge_per_10k:.2f} s/10k",
    )


if __name__ == "__main__":
    main()
