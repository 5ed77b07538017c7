"""kgc chunk: chunks sized in the model's tokens, cut at sentence ends, offsets exact, every prompt fitting
cutoff_len without shortening (checked by converting the chunks and fitting them with the real tokenizer)."""

from __future__ import annotations

import itertools
import json
import random

import pytest

from kgcli.documents.chunking import chunk_spans
from tests.conftest import read_jsonl, run_kgc, write_jsonl

PEOPLE_ZH, CITIES_ZH = ["张三", "李四", "王五", "赵六", "孙七"], ["北京", "上海", "广州", "深圳"]
PEOPLE_EN, CITIES_EN = ["Alice", "Bob", "Carol", "Dave", "Erin"], ["Paris", "Rome", "Oslo", "Lima"]


def chinese_book(size: int, ends: list[int] | None = None) -> str:
    """A generated Chinese book; ``ends`` (when given) receives the offset after each sentence written."""
    rng, parts, length = random.Random(1), [], 0
    while length < size:
        person, city = rng.choice(PEOPLE_ZH), rng.choice(CITIES_ZH)
        sentence = rng.choice(
            [
                f"{person}在{city}工作了很多年。",
                f"“{person}去过{city}吗？”他问道。",
                f"{person}出生于{city}；后来搬走了……",
                "没有标点的长句" * rng.randint(1, 40) + "！",
            ]
        )
        if rng.random() < 0.05:
            sentence += "\n\n"
        parts.append(sentence)
        length += len(sentence)
        if ends is not None:
            ends.append(length)
    return "".join(parts)


def english_book(size: int, ends: list[int] | None = None) -> str:
    """A generated English book; ``ends`` (when given) receives the offset after each sentence written."""
    rng, parts, length = random.Random(2), [], 0
    while length < size:
        person, city = rng.choice(PEOPLE_EN), rng.choice(CITIES_EN)
        sentence = rng.choice(
            [
                f"{person} worked in {city} for years. ",
                f'"Did {person} visit {city}?" ',
                f"{person} was born in {city}!\n",
                "a very long clause " * rng.randint(1, 60) + "end. ",
            ]
        )
        parts.append(sentence)
        length += len(sentence)
        if ends is not None:
            ends.append(length)
    return "".join(parts)


def chatml(instruction: str) -> str:
    """The qwen (ChatML) prompt of an instruction, written out by hand: the preset's template."""
    return (f"<|im_start|>system\nYou are a helpful assistant.<|im_end|>\n<|im_start|>user\n{instruction}"
            "<|im_end|>\n<|im_start|>assistant\n")


@pytest.fixture(scope="module")
def schemas(tmp_path_factory):
    folder = tmp_path_factory.mktemp("schemas")
    (folder / "ner.json").write_text('["人物", "地点"]\n[]\n{}\n')
    (folder / "re.json").write_text('[]\n["工作于", "出生于"]\n{}\n')
    return folder


@pytest.mark.parametrize("language", ["zh", "en"])
def test_a_100k_character_book_chunks_to_prompts_that_fit_with_exact_offsets(
    language, tmp_path, schemas, smollm2_dir
):
    from transformers import AutoTokenizer

    written: list[int] = []
    book = chinese_book(100_000, written) if language == "zh" else english_book(100_000, written)
    (tmp_path / "book.txt").write_text(book, encoding="utf-8")
    result = run_kgc(
        "chunk",
        "book.txt",
        "chunks.json",
        "--preset",
        "smollm2-135m-lora",
        "--task",
        "NER,RE",
        "--schema",
        f"{schemas}/ner.json,{schemas}/re.json",
        "--language",
        language,
        cwd=tmp_path,
        check=True,
    )
    assert "chunk(s) of at most" in result.stderr_text
    chunks = read_jsonl(tmp_path / "chunks.json")
    assert len(chunks) > 50
    assert chunks[0]["start"] == 0 and chunks[-1]["end"] == len(book)
    for index, chunk in enumerate(chunks):
        assert chunk["doc_id"] == "book.txt" and chunk["chunk"] == index
        assert book[chunk["start"] : chunk["end"]] == chunk["text"]  # offsets exact
    for before, after in zip(chunks, chunks[1:], strict=False):
        assert (
            before["start"] < after["start"] <= before["end"] < after["end"]
        )  # covered, overlapping, moving
    cuts_at_sentences = sum(c["end"] in set(written) for c in chunks)  # where the generator ended one
    assert cuts_at_sentences > 0.6 * len(chunks)
    tokenizer = AutoTokenizer.from_pretrained(smollm2_dir)
    cutoff_len = 512  # smollm2-135m-lora's
    for task, schema in (("NER", "ner.json"), ("RE", "re.json")):
        run_kgc(
            "convert",
            "chunks.json",
            f"{task}.json",
            "--task",
            task,
            "--split",
            "test",
            "--schema",
            f"{schemas}/{schema}",
            "--language",
            language,
            "--source",
            "book",
            cwd=tmp_path,
            check=True,
        )
        records = read_jsonl(tmp_path / f"{task}.json")
        assert len(records) >= len(chunks)
        for record in records:  # the whole prompt, counted by the tokenizer itself, fits unshortened
            prompt = tokenizer(chatml(record["instruction"]), add_special_tokens=False)["input_ids"]
            assert len(prompt) <= cutoff_len
            assert book[record["start"] : record["end"]] == json.loads(record["instruction"])["input"]


def test_spans_cut_at_sentences_and_a_mention_in_the_overlap_is_in_both_chunks():
    sentences = [f"第{i}句话提到了张三和北京。" for i in range(40)]
    text = "".join(sentences)
    starts = list(range(len(text)))  # one token per character
    spans = chunk_spans(text, starts, budget=40, overlap=14)
    ends = set(itertools.accumulate(map(len, sentences)))  # after each sentence, as written
    assert all(end in ends for _, end in spans)
    for (a, b), (c, d) in zip(spans, spans[1:], strict=False):
        assert a < c < b < d and text[c:b]  # neighbours share text
    shared = [(c, b) for (a, b), (c, d) in zip(spans, spans[1:], strict=False)]
    assert any("张三" in text[c:b] for c, b in shared)


def test_a_sentence_longer_than_the_budget_is_cut_at_token_boundaries():
    text = "甲" * 100 + "。"
    spans = chunk_spans(text, list(range(len(text))), budget=30, overlap=3)
    assert all(b - a <= 30 for a, b in spans) and spans[-1][1] == len(text)
    assert [a for a, _ in spans] == sorted({a for a, _ in spans})


def test_chunks_are_deterministic_and_keep_metadata_through_convert(tmp_path, schemas):
    docs = [
        {"id": "d1", "text": chinese_book(3000), "source_url": "http://example.org/1"},
        {"id": "d2", "text": "张三在北京。", "year": 2024},
    ]
    write_jsonl(tmp_path / "docs.json", docs)
    args = (
        "chunk",
        "docs.json",
        "chunks.json",
        "--preset",
        "tiny-random-llama-lora",
        "--task",
        "NER",
        "--schema",
        f"{schemas}/ner.json",
    )
    run_kgc(*args, cwd=tmp_path, check=True)
    first = (tmp_path / "chunks.json").read_bytes()
    run_kgc(*args, cwd=tmp_path, check=True)
    assert (tmp_path / "chunks.json").read_bytes() == first
    chunks = read_jsonl(tmp_path / "chunks.json")
    assert {c["doc_id"] for c in chunks} == {"d1", "d2"}
    assert all(c["source_url"] == "http://example.org/1" for c in chunks if c["doc_id"] == "d1")
    run_kgc(
        "convert",
        "chunks.json",
        "test.json",
        "--task",
        "NER",
        "--split",
        "test",
        "--schema",
        f"{schemas}/ner.json",
        "--source",
        "docs",
        cwd=tmp_path,
        check=True,
    )
    records = read_jsonl(tmp_path / "test.json")
    assert len(records) == len(chunks)
    for record, chunk in zip(records, chunks, strict=True):
        assert {k: record[k] for k in ("doc_id", "chunk", "start", "end")} == {
            k: chunk[k] for k in ("doc_id", "chunk", "start", "end")
        }
        assert record.get("year") == chunk.get("year") and "text" not in record
    plain = run_kgc(
        "convert",
        "-",
        "-",
        "--task",
        "NER",
        "--split",
        "test",
        "--schema",
        f"{schemas}/ner.json",
        "--source",
        "s",
        input='{"text": "张三在北京。", "entity": []}\n',
        cwd=tmp_path,
        check=True,
    )
    assert list(json.loads(plain.stdout_text)) == ["id", "task", "source", "instruction", "label"]
