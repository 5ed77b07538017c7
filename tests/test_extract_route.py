"""`kgc extract` as a user types it, on output that has something in it: a local OpenAI-compatible server
answers every chunk from the documents' gold annotations (a perfect model, so the chunking, merging and
grounding are under test, not a model), for a Chinese and an English folder; the merged documents and the
graph built from them are compared with literal offsets, nodes and edges worked out by hand."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from tests.conftest import read_jsonl, run_kgc
from tests.fake_openai import FakeOpenAI, prompt_of

THREADS = {"KGC_TORCH_THREADS": "1", "OMP_NUM_THREADS": "1"}

# Each language: its document, the gold entities (name → type) and the gold triples with the sentence that
# states each one. No name sits inside another name (that is the grounding issue's own test).
GOLD = {
    "en": {
        "text": "Alice Chen works for Acme Corp in Paris. "
                "Bob Stone lives in Rome, near the old port of Rome.\n\n"
                "Acme Corp hired Carol Diaz in Rome. Alice Chen visited Bob Stone in Paris.\n",
        "entities": {"Alice Chen": "person", "Bob Stone": "person", "Carol Diaz": "person",
                     "Acme Corp": "organization", "Paris": "city", "Rome": "city"},
        "triples": [("Alice Chen", "works for", "Acme Corp", "Alice Chen works for Acme Corp in Paris."),
                    ("Acme Corp", "located in", "Paris", "Alice Chen works for Acme Corp in Paris."),
                    ("Bob Stone", "lives in", "Rome", "Bob Stone lives in Rome, near the old port of Rome."),
                    ("Carol Diaz", "works for", "Acme Corp", "Acme Corp hired Carol Diaz in Rome.")],
        "types": ["person", "organization", "city"],
        "relations": ["works for", "lives in", "located in"],
    },
    "zh": {
        "text": "张伟在华星公司工作，公司位于杭州。李娜住在南京，常说南京很美。\n"
                "华星公司聘请了王芳。张伟去南京看望李娜。\n",
        "entities": {"张伟": "人物", "李娜": "人物", "王芳": "人物", "华星公司": "机构", "杭州": "地点",
                     "南京": "地点"},
        "triples": [("张伟", "任职于", "华星公司", "张伟在华星公司工作，公司位于杭州。"),
                    ("华星公司", "位于", "杭州", "张伟在华星公司工作，公司位于杭州。"),
                    ("李娜", "居住在", "南京", "李娜住在南京，常说南京很美。"),
                    ("王芳", "任职于", "华星公司", "华星公司聘请了王芳。")],
        "types": ["人物", "机构", "地点"],
        "relations": ["任职于", "居住在", "位于"],
    },
}

# What a correct merge gives, worked out by hand from the texts above: every occurrence of every name (Rome
# and 南京 twice in one sentence, so twice in one chunk).
MENTIONS = {
    "en": {"Alice Chen": [(0, 10), (130, 140)], "Acme Corp": [(21, 30), (94, 103)],
           "Paris": [(34, 39), (162, 167)], "Bob Stone": [(41, 50), (149, 158)],
           "Rome": [(60, 64), (87, 91), (124, 128)], "Carol Diaz": [(110, 120)]},
    "zh": {"张伟": [(0, 2), (42, 44)], "华星公司": [(3, 7), (32, 36)], "杭州": [(14, 16)],
           "李娜": [(17, 19), (49, 51)], "南京": [(21, 23), (26, 28), (45, 47)], "王芳": [(39, 41)]},
}


# Chunks of a sentence or two (a Chinese character is one to three of the tokenizer's tokens), overlapping.
CHUNKS = {"en": ["--budget", "24", "--overlap", "8"], "zh": ["--budget", "48", "--overlap", "16"]}


def gold_answer(body: dict) -> str:
    """The perfect model: the instruction's text answered from the gold of whichever document holds it."""
    prompt = prompt_of(body)
    inner = json.loads(prompt.split("user\n", 1)[1].rsplit("<|im_end|>", 1)[0])
    text, schema = inner["input"], inner["schema"]
    gold = next(g for g in GOLD.values() if text in g["text"])
    if all(name in gold["types"] for name in schema):  # NER: every asked type's names in the chunk
        return json.dumps({t: [n for n, kind in gold["entities"].items() if kind == t and n in text]
                           for t in schema}, ensure_ascii=False)
    return json.dumps({r: [{"subject": h, "object": t} for h, rel, t, sentence in gold["triples"]
                           if rel == r and sentence in text] for r in schema}, ensure_ascii=False)


@pytest.fixture(scope="module")
def extracted(tmp_path_factory, tiny_model) -> Path:
    """Both folders through `kgc extract` (small chunks that overlap, so every name is read by several
    chunks), then one graph of both."""
    folder = tmp_path_factory.mktemp("route")
    with FakeOpenAI(gold_answer) as server:
        for language, gold in GOLD.items():
            (folder / f"docs_{language}").mkdir()
            (folder / f"docs_{language}" / f"{language}.txt").write_text(gold["text"], encoding="utf-8")
            types, relations = (json.dumps(gold[k], ensure_ascii=False) for k in ("types", "relations"))
            (folder / f"ner_{language}.json").write_text(f"{types}\n[]\n{{}}\n", encoding="utf-8")
            (folder / f"re_{language}.json").write_text(f"[]\n{relations}\n{{}}\n", encoding="utf-8")
            result = run_kgc(
                "extract", f"docs_{language}", f"{language}.json", "--preset", "tiny-random-llama-lora",
                "--task", "NER,RE", "--schema", f"ner_{language}.json,re_{language}.json", "--language",
                language, *CHUNKS[language], "--backend", "openai", "--api-base", server.url,
                "--served-model", "m", cwd=folder, env=THREADS, check=True)
            (folder / f"{language}.stderr").write_text(result.stderr_text)
    run_kgc("graph", "build", "en.json", "zh.json", "--out", "graph", cwd=folder, check=True)
    return folder


@pytest.mark.parametrize("language", ["en", "zh"])
def test_extract_grounds_every_name_at_its_offsets_and_states_every_triple(extracted, language):
    (document,) = read_jsonl(extracted / f"{language}.json")
    assert document["doc_id"] == f"{language}.txt" and document["chunks"] >= 3  # several chunks, overlapping
    found = {e["text"]: (e["type"], [(m["start"], m["end"]) for m in e["mentions"]])
             for e in document["entities"]}
    assert found == {name: (GOLD[language]["entities"][name], spans)
                     for name, spans in MENTIONS[language].items()}
    assert all(e["grounded"] for e in document["entities"])
    triples = sorted((r["head"], r["relation"], r["tail"]) for r in document["relations"])
    assert triples == sorted((h, r, t) for h, r, t, _ in GOLD[language]["triples"])
    summary = (extracted / f"{language}.stderr").read_text().strip().splitlines()[-1]
    assert summary.startswith("extracted: 1 document(s), ")
    mentions = sum(len(e["mentions"]) for e in document["entities"]) + sum(
        len(r["head_mentions"]) + len(r["tail_mentions"]) for r in document["relations"])
    assert (", 0 answer(s) did not parse, 0 off-schema, 10 extraction(s), 100.0% grounded (mentions: "
            f"{mentions} exact, 0 normalised, 0 loose)") in summary


def test_the_graph_of_both_languages_has_the_literal_nodes_and_edges(extracted):
    nodes = sorted((n["name"], n["type"], n["count"])
                   for n in read_jsonl(extracted / "graph" / "nodes.jsonl"))
    assert nodes == [
        ("Acme Corp", "organization", 2), ("Alice Chen", "person", 2), ("Bob Stone", "person", 2),
        ("Carol Diaz", "person", 1), ("Paris", "city", 2), ("Rome", "city", 3),
        ("华星公司", "机构", 2), ("南京", "地点", 3), ("张伟", "人物", 2), ("李娜", "人物", 2),
        ("杭州", "地点", 1), ("王芳", "人物", 1)]
    edges = sorted((e["head_name"], e["relation"], e["tail_name"]) for e in
                   read_jsonl(extracted / "graph" / "edges.jsonl"))
    assert edges == [("Acme Corp", "located in", "Paris"), ("Alice Chen", "works for", "Acme Corp"),
                     ("Bob Stone", "lives in", "Rome"), ("Carol Diaz", "works for", "Acme Corp"),
                     ("华星公司", "位于", "杭州"), ("张伟", "任职于", "华星公司"), ("李娜", "居住在", "南京"),
                     ("王芳", "任职于", "华星公司")]
    meta = json.loads((extracted / "graph" / "graph.json").read_text())
    assert (meta["nodes"], meta["edges"], meta["documents"]) == (12, 8, 2)
