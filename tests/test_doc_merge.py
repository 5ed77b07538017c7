"""Document merge and grounding, with a stub generator that answers every chunk from the gold (so these
tests check chunking, merge and grounding, not a model): every gold mention grounded at its exact offsets,
none twice from overlapping chunks, a string absent from the text ungrounded, and a book merged as one
document gives the extractions of its chapters merged separately."""

from __future__ import annotations

import csv
import io
import json
import random

import pytest

from kgcli.convert import ConvertConfig, Converter
from kgcli.documents.chunking import Chunk, chunk_spans
from kgcli.documents.grounding import find_all
from kgcli.documents.merge import merge_records
from tests.conftest import run_kgc

LANGUAGES = {
    "zh": {
        "people": ["张三", "李四", "王五", "赵六", "ＡＢＣ公司"],
        "cities": ["北京", "上海", "广州", "深圳"],
        "works": "{p}在{c}工作。",
        "left": "后来{p}离开了{c}！",
        "filler": "这一句什么也没有说",
        "end": "。",
        "relation": "工作于",
    },
    "en": {
        "people": ["Alice", "Bob", "Carol", "Dave", "ACME Corp"],
        "cities": ["Paris", "Rome", "Oslo", "Lima"],
        "works": "{p} works in {c}. ",
        "left": "Later {p} left {c}! ",
        "filler": "this says nothing ",
        "end": ". ",
        "relation": "works in",
    },
}
PEOPLE, CITIES = LANGUAGES["zh"]["people"], LANGUAGES["zh"]["cities"]
NER_SCHEMA = '["人物", "地点"]\n[]\n{}\n'


def book(chapters: int = 20, sentences: int = 30, language: str = "zh",
         spans: dict[str, list[tuple[int, int]]] | None = None) -> list[str]:
    """The chapters of a generated book; ``spans`` (when given) receives where each name was written, as
    offsets into the whole book: the test's own record of the gold, not a search of the text."""
    words, rng = LANGUAGES[language], random.Random(7)
    texts, offset = [], 0
    for _ in range(chapters):
        parts = []
        for _ in range(sentences):
            person, city = rng.choice(words["people"]), rng.choice(words["cities"])
            repeat = rng.randint(1, 3)
            template = rng.choice([words["works"], words["left"], None])
            if template is None:
                parts.append(words["filler"] * repeat + words["end"])
            else:
                at = offset + sum(map(len, parts))
                person_at = at + template.index("{p}")
                city_at = at + template.index("{c}") - len("{p}") + len(person)
                if spans is not None:
                    spans.setdefault(person, []).append((person_at, person_at + len(person)))
                    spans.setdefault(city, []).append((city_at, city_at + len(city)))
                parts.append(template.format(p=person, c=city))
        texts.append("".join(parts) + "\n")
        offset += len(texts[-1])
    return texts


def gold_of(text: str, language: str = "zh") -> tuple[set, set]:
    words = LANGUAGES[language]
    entities = {(p, "人物") for p in words["people"] if p in text} | {
        (c, "地点") for c in words["cities"] if c in text
    }
    relations = {
        (p, words["relation"], c)
        for p in words["people"]
        for c in words["cities"]
        if words["works"].format(p=p, c=c).strip() in text
    }
    return entities, relations


def chunk_records(doc_id: str, text: str, budget: int = 60, overlap: int = 12) -> list[dict]:
    spans = chunk_spans(text, list(range(len(text))), budget, overlap)
    return [Chunk(doc_id, i, a, b, text[a:b], {}).record() for i, (a, b) in enumerate(spans)]


def stub_predictions(
    chunks: list[dict], tmp_path, extra: dict | None = None, language: str = "zh"
) -> list[tuple[int, dict]]:
    """Convert the chunks for NER and RE as kgc convert does, and answer each from the gold of its text."""
    (tmp_path / "ner.json").write_text(NER_SCHEMA)
    (tmp_path / "re.json").write_text(f'[]\n["{LANGUAGES[language]["relation"]}"]\n{{}}\n')
    records = []
    for task, schema in (("NER", "ner.json"), ("RE", "re.json")):
        converter = Converter(
            ConvertConfig(
                task=task, split="test", schema_path=str(tmp_path / schema), source="book", language=language
            )
        )
        for block in converter.convert_records(enumerate(chunks, 1), "chunks"):
            for line in block.splitlines():
                record = json.loads(line)
                text = json.loads(record["instruction"])["input"]
                entities, relations = gold_of(text, language)
                if task == "NER":
                    answer = {
                        "人物": sorted(e for e, t in entities if t == "人物"),
                        "地点": sorted(e for e, t in entities if t == "地点"),
                    }
                    if extra and record["chunk"] in extra:
                        answer["人物"].append(extra[record["chunk"]])
                else:
                    answer = {
                        LANGUAGES[language]["relation"]: [
                            {"subject": h, "object": t} for h, _, t in sorted(relations)
                        ]
                    }
                records.append({**record, "output": json.dumps(answer, ensure_ascii=False)})
    return list(enumerate(records, 1))


@pytest.mark.parametrize("language", ["zh", "en"])
def test_every_gold_mention_is_grounded_once_at_its_exact_offsets(language, tmp_path):
    written: dict[str, list[tuple[int, int]]] = {}
    text = "".join(book(language=language, spans=written))
    chunks = chunk_records(
        "book", text, budget=60 if language == "zh" else 150, overlap=12 if language == "zh" else 30
    )
    assert len(chunks) >= 50
    docs, stats = merge_records(
        stub_predictions(chunks, tmp_path, extra={3: "不存在的人"}, language=language), "pred"
    )
    (doc,) = docs
    entities = {(e["text"], e["type"]): e for e in doc["entities"]}
    gold_entities, gold_relations = gold_of(text, language)
    assert set(entities) == gold_entities | {("不存在的人", "人物")}
    for (name, _), entry in entities.items():
        offsets = [(m["start"], m["end"]) for m in entry["mentions"]]
        if name == "不存在的人":
            assert entry["grounded"] is False and offsets == []  # absent: no invented offsets
            continue
        assert offsets == written[name]  # every place it was written, exactly once, in order
        assert all(text[a:b] == name for a, b in offsets)
    relations = {(r["head"], r["relation"], r["tail"]) for r in doc["relations"]}
    assert relations == gold_relations and all(r["grounded"] for r in doc["relations"])
    assert stats.unparsed == 0 and stats.extractions == len(entities) + len(relations)
    assert doc["chunks"] == len(chunks)


def test_a_mention_inside_an_overlap_is_reported_once_with_its_true_offsets(tmp_path):
    text = "这一句什么也没有说。" * 4 + "张三在北京工作。" + "这一句什么也没有说。" * 4
    position = text.index("张三")
    chunks = [c for c in chunk_records("d", text, budget=50, overlap=30)]
    holders = [c for c in chunks if c["start"] <= position and position + 2 <= c["end"]]
    assert len(holders) >= 2  # the mention sits in an overlap
    docs, _ = merge_records(stub_predictions(chunks, tmp_path), "pred")
    (person,) = [e for e in docs[0]["entities"] if e["text"] == "张三"]
    assert [(m["start"], m["end"]) for m in person["mentions"]] == [(position, position + 2)]


def test_a_book_gives_the_extractions_of_its_chapters(tmp_path):
    chapters = book()
    whole, _ = merge_records(stub_predictions(chunk_records("book", "".join(chapters)), tmp_path), "pred")
    parts = []
    for index, chapter in enumerate(chapters):
        merged, _ = merge_records(stub_predictions(chunk_records(f"ch{index}", chapter), tmp_path), "pred")
        parts += merged

    def extractions(documents):
        return (
            {(e["text"], e["type"]) for d in documents for e in d["entities"]},
            {(r["head"], r["relation"], r["tail"]) for d in documents for r in d["relations"]},
        )

    assert extractions(whole) == extractions(parts)
    offset, mentions = 0, set()
    for chapter, part in zip(chapters, parts, strict=True):
        mentions |= {(e["text"], m["start"] + offset) for e in part["entities"] for m in e["mentions"]}
        offset += len(chapter)
    assert mentions == {(e["text"], m["start"]) for e in whole[0]["entities"] for m in e["mentions"]}


@pytest.mark.parametrize(
    ("needle", "text", "expected"),
    [
        ("ABC公司", "位于ＡＢＣ公司的总部", [(2, 7)]),  # full-width Latin in the text
        ("new  york", "flew to New York today", [(8, 16)]),  # case and whitespace
        ("北京", "北京和北京", [(0, 2), (3, 5)]),
        ("上海", "北京", []),
    ],
)
def test_grounding_matches_exactly_or_normalised_and_maps_back(needle, text, expected):
    assert find_all(needle, text) == expected


def test_document_scores_with_and_without_offsets(tmp_path):
    from kgcli.documents.scores import evaluate_documents

    written: dict[str, list[tuple[int, int]]] = {}
    text = "".join(book(chapters=2, sentences=20, spans=written))
    docs, _ = merge_records(
        stub_predictions(chunk_records("book", text), tmp_path, extra={0: "不存在的人"}), "pred"
    )
    (tmp_path / "pred.json").write_text("".join(json.dumps(d, ensure_ascii=False) + "\n" for d in docs))
    entities, relations = gold_of(text)
    gold = {
        "id": "book",
        "text": text,
        "entity": [
            {"entity": e, "entity_type": t, "start": a, "end": b}
            for e, t in sorted(entities)
            for a, b in written[e]
        ],
        "relation": [{"head": h, "relation": r, "tail": t} for h, r, t in sorted(relations)],
    }
    (tmp_path / "gold.json").write_text(json.dumps(gold, ensure_ascii=False) + "\n")
    report = evaluate_documents(str(tmp_path / "pred.json"), str(tmp_path / "gold.json"))["total"]
    assert report["entity_R"] == 100.0 and report["entity_P"] < 100.0  # the invented name costs precision
    assert report["entity_offsets_P"] == 100.0 == report["entity_offsets_R"]  # it has no offsets
    assert report["triple_F1"] == 100.0 and report["samples"] == 1
    assert report["per_type"]["entity:地点"]["entity_F1"] == 100.0
    table = run_kgc("eval", str(tmp_path / "pred.json"), "--documents", str(tmp_path / "gold.json"),
                    "--format", "csv", check=True).stdout_text
    total, *types = csv.DictReader(io.StringIO(table))  # the document metrics, not empty headline columns
    assert total["triple_F1"] == "100.00" and total["entity_R"] == "100.00" and total["P"] == ""
    place = next(row for row in types if row["name"] == "entity:地点")  # per type: its name's metric
    assert (place["P"], place["R"], place["F1"], place["entity_F1"]) == ("100.00", "100.00", "100.00", "")
