"""Grounding you can trust, measured with a perfect model: a local server answers every chunk from the gold
annotations of generated documents full of hazards (``tests/grounding_docs.py``), so only kgc's chunking,
merging and grounding decide what comes out. Mentions are compared with the gold offsets."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from kgcli.documents.grounding import Grounder
from tests.conftest import read_jsonl, run_kgc
from tests.fake_openai import FakeOpenAI, prompt_of
from tests.grounding_docs import SLOPPY, GoldDocument, chapters, documents

THREADS = {"KGC_TORCH_THREADS": "1", "OMP_NUM_THREADS": "1"}
DOCS = documents()


def asked(body: dict) -> dict:
    """The IEPile instruction a request carries (its schema and input)."""
    return json.loads(prompt_of(body).split("user\n", 1)[1].rsplit("<|im_end|>", 1)[0])


def gold_answerer(sloppy: bool = False):
    """A perfect NER model: the names of the gold mentions wholly inside the chunk, per asked type (with
    ``sloppy``, some names copied carelessly)."""
    def answer(body: dict) -> str:
        instruction = asked(body)
        chunk = instruction["input"]
        for document in DOCS:
            at = document.text.find(chunk)
            if at >= 0:
                break
        else:
            raise AssertionError("a chunk that is in no document")
        found: dict[str, list[str]] = {t: [] for t in instruction["schema"]}
        for start, end, kind in sorted(document.gold):
            name = document.text[start:end]
            name = SLOPPY.get(name, name) if sloppy else name
            if at <= start and end <= at + len(chunk) and kind in found and name not in found[kind]:
                found[kind].append(name)
        return json.dumps(found, ensure_ascii=False)
    return answer


def extract(folder: Path, files: dict[str, str], language: str, types: list[str], server: FakeOpenAI,
            *flags: str) -> dict[str, dict]:
    """``kgc extract`` of the files with the preset's own chunk size (what fits) and overlap (10%)."""
    (folder / "docs").mkdir(parents=True)
    for name, text in files.items():
        (folder / "docs" / name).write_text(text, encoding="utf-8", newline="")
    (folder / "ner.json").write_text(json.dumps(types, ensure_ascii=False) + "\n[]\n{}\n", encoding="utf-8")
    result = run_kgc("extract", "docs", "out.json", "--preset", "tiny-random-llama-lora", "--task", "NER",
                     "--schema", "ner.json", "--language", language, "--backend", "openai", "--api-base",
                     server.url, "--served-model", "m", *flags, cwd=folder, env=THREADS, check=True)
    out = {d["doc_id"]: d for d in read_jsonl(folder / "out.json")}
    out["summary"] = {"line": result.stderr_text}
    return out


def mentions(document: dict) -> set[tuple[int, int, str]]:
    return {(m["start"], m["end"], e["type"]) for e in document["entities"] for m in e["mentions"]}


def scores(found: set, gold: set) -> tuple[float, float]:
    right = len(found & gold)
    return right / len(found) if found else 1.0, right / len(gold)


@pytest.fixture(scope="module")
def exact_runs(tmp_path_factory) -> dict[str, dict]:
    """Every document extracted whole and as its chapters (each a document of its own), by language."""
    folder = tmp_path_factory.mktemp("grounding")
    runs: dict[str, dict] = {}
    with FakeOpenAI(gold_answerer()) as server:
        for language in ("zh", "en"):
            docs = [d for d in DOCS if d.language == language]
            files = {f"{d.name}.txt": d.text for d in docs}
            files |= {f"{d.name}-{n}.txt": text for d in docs for n, (_, text) in enumerate(chapters(d))}
            runs[language] = extract(folder / language, files, language, docs[0].types, server)
    return runs


def test_the_documents_hold_the_hazards():
    for document in DOCS:
        text, names = document.text, {document.text[s:e] for s, e, _ in document.gold}
        assert len(text) >= 3000
        if document.language == "zh":
            assert {"北京", "北京大学", "杭州", "杭州银行", "李明", "李明远", "IBM 中国研究院", "马丁·路德",
                    "ＩＢＭ"} <= names and "「" in text and "，" in text
            assert sum(text[s:e] == "北京" for s, e, _ in document.gold) >= 100
        else:
            assert {"John Smith", "John Smithson", "Lisbon", "Bank of Lisbon", "York", "New York",
                    "The New York Times", "Li", "Sean O’Brien", "São Paulo"} <= names
            assert sum(text[s:e] == "Lisbon" for s, e, _ in document.gold) >= 100
        gold = sorted(document.gold)
        assert all(a[1] <= b[0] for a, b in zip(gold, gold[1:], strict=False))  # no gold name nested


@pytest.mark.parametrize("language", ["zh", "en"])
def test_a_perfect_model_gives_precision_and_recall_one(exact_runs, language):
    run = exact_runs[language]
    for document in (d for d in DOCS if d.language == language):
        found = mentions(run[f"{document.name}.txt"])
        assert scores(found, document.gold) == (1.0, 1.0), sorted(found ^ document.gold)[:10]
        statuses = {m["status"] for e in run[f"{document.name}.txt"]["entities"] for m in e["mentions"]}
        assert statuses == {"exact"}
    assert "mentions: " in run["summary"]["line"] and " exact" in run["summary"]["line"]


@pytest.mark.parametrize("language", ["zh", "en"])
def test_the_whole_book_equals_its_chapters(exact_runs, language):
    run = exact_runs[language]
    for document in (d for d in DOCS if d.language == language):
        from_chapters = set()
        for number, (offset, _) in enumerate(chapters(document)):
            chapter = mentions(run[f"{document.name}-{number}.txt"])
            from_chapters |= {(start + offset, end + offset, kind) for start, end, kind in chapter}
        assert len(chapters(document)) == 4
        assert from_chapters == mentions(run[f"{document.name}.txt"])


def test_sloppy_copies_are_grounded_loose_at_the_gold_span(tmp_path):
    with FakeOpenAI(gold_answerer(sloppy=True)) as server:
        runs = {language: extract(tmp_path / language, {f"{d.name}.txt": d.text for d in DOCS
                                                        if d.language == language},
                                  language, (DOCS[0] if language == "zh" else DOCS[2]).types, server)
                for language in ("zh", "en")}
    for document in DOCS:
        merged = runs[document.language][f"{document.name}.txt"]
        assert mentions(merged) == document.gold  # every span the gold one: none partial, none lost
        for entity in merged["entities"]:
            for mention in entity["mentions"]:
                written = document.text[mention["start"]:mention["end"]]
                assert mention["status"] == ("loose" if entity["text"] != written else "exact")
                assert SLOPPY.get(written, written) == entity["text"]
    loose = {e["text"] for run in runs.values() for d in run.values() for e in d.get("entities", [])
             if any(m["status"] == "loose" for m in e["mentions"])}
    assert loose == set(SLOPPY.values())


def test_grounding_levels_and_word_boundaries():
    cases = [
        ("ＩＢＭ在杭州", "IBM", [(0, 3)], "normalised"),  # full-width Latin
        ("IBM  Research", "ibm research", [(0, 13)], "normalised"),
        ("IBM 中国研究院", "IBM中国研究院", [(0, 9)], "loose"),
        ("Li went to Lisbon.", "Li", [(0, 2)], "exact"),  # not the Li of Lisbon
        ("Lisbon and Bank of Lisbon", "Lisbon", [(0, 6), (19, 25)], "exact"),
        ("Sean O’Brien", "Sean O", [], None),  # never a partial span
        ("John Smithson", "John Smith", [], None),
        ("北京大学", "北京", [(0, 2)], "exact"),  # Chinese has no word boundary: the merge settles this
    ]
    for text, needle, spans, status in cases:
        assert Grounder(text).find(needle) == (spans, status), (text, needle)


def test_a_name_inside_a_longer_mention_of_the_document_is_no_mention(tmp_path):
    """The settling is per document: 北京 inside 北京大学 is no mention even where the chunk that holds
    北京 cut 北京大学 off (chunks of 12 tokens cut everywhere)."""
    text = "北京大学在北京。" * 6
    document = GoldDocument("d", "zh", [p for _ in range(6) for p in (("北京大学", "组织机构"), "在",
                                                                      ("北京", "地点"), "。")])
    assert document.text == text
    DOCS.append(document)
    try:
        with FakeOpenAI(gold_answerer()) as server:
            run = extract(tmp_path, {"d.txt": text}, "zh", ["组织机构", "地点"], server)
    finally:
        DOCS.remove(document)
    assert mentions(run["d.txt"]) == document.gold


EDGE_DOC = ("Nothing happened on Monday. Alibaba grew fast. Alibaba is headquartered in Hangzhou. "
            "Hangzhou is large, and Alibaba hired many people there. Hangzhou welcomed them. "
            + "Nothing else happened that day. " * 30 + "Alibaba and Hangzhou were in the news again. ")


def test_an_edge_stated_once_counts_once(tmp_path):
    """Alibaba and Hangzhou recur, near each other, but the relation is stated once: the edge has one
    mention (the nearest pair in the chunk that gave it), with overlapping chunks that both give it."""
    statement = "Alibaba is headquartered in Hangzhou."

    def answer(body: dict) -> str:
        instruction = asked(body)
        if isinstance(instruction["schema"], list) and "headquartered in" in instruction["schema"]:
            stated = statement in instruction["input"]
            return json.dumps({"headquartered in": [{"subject": "Alibaba", "object": "Hangzhou"}] if stated
                               else []})
        return json.dumps({"organization": ["Alibaba"] if "Alibaba" in instruction["input"] else [],
                           "location": ["Hangzhou"] if "Hangzhou" in instruction["input"] else []})

    (tmp_path / "docs").mkdir()
    (tmp_path / "docs" / "d.txt").write_text(EDGE_DOC)
    (tmp_path / "ner.json").write_text('["organization", "location"]\n[]\n{}\n')
    (tmp_path / "re.json").write_text('[]\n["headquartered in"]\n{}\n')
    with FakeOpenAI(answer) as server:
        run_kgc("extract", "docs", "out.json", "--preset", "tiny-random-llama-lora", "--task", "NER,RE",
                "--schema", "ner.json,re.json", "--language", "en", "--budget", "40", "--overlap", "30",
                "--backend", "openai", "--api-base", server.url, "--served-model", "m", cwd=tmp_path,
                env=THREADS, check=True)
    (document,) = read_jsonl(tmp_path / "out.json")
    (relation,) = document["relations"]
    assert len(relation["records"]) >= 2  # overlapping chunks both gave it
    (stated,) = relation["statements"]
    assert EDGE_DOC[stated["start"]:stated["end"]] == "Alibaba is headquartered in Hangzhou"
    run_kgc("graph", "build", "out.json", "--out", "graph", cwd=tmp_path, check=True)
    (edge,) = read_jsonl(tmp_path / "graph" / "edges.jsonl")
    assert edge["count"] == 1 and edge["mentions"][0]["context"] == statement
    alibaba = next(n for n in read_jsonl(tmp_path / "graph" / "nodes.jsonl") if n["name"] == "Alibaba")
    assert alibaba["count"] == EDGE_DOC.count("Alibaba")  # the ends keep every occurrence


def test_answers_of_the_wrong_shape_stop_extract_with_one_line(tmp_path):
    (tmp_path / "docs").mkdir()
    (tmp_path / "docs" / "d.txt").write_text("Alice met Bob in Paris. " * 4)
    (tmp_path / "ner.json").write_text('["person", "city"]\n[]\n{}\n')
    wrong = '[{"entity": "Alice", "entity_type": "person"}, {"entity": "Paris", "entity_type": "city"}]'
    with FakeOpenAI(lambda body: wrong) as server:
        result = run_kgc("extract", "docs", "out.json", "--preset", "tiny-random-llama-lora", "--task", "NER",
                         "--schema", "ner.json", "--language", "en", "--backend", "openai", "--api-base",
                         server.url, "--served-model", "m", cwd=tmp_path, env=THREADS)
    assert result.returncode == 2 and result.stdout_text == ""
    (line,) = result.stderr_text.splitlines()[-1:]
    assert line.startswith("kgc: error: none of the 1 answer(s) fit their schema (0 did not parse, 1 named "
                           "none of its keys)")
    assert '[{"entity": "Alice", "entity_type": "person"}' in line and "(here: city, person)" in line
    assert "Traceback" not in result.stderr_text and not (tmp_path / "out.json").exists()
    assert [p.name for p in tmp_path.iterdir() if p.name.startswith("out")] == []


def test_ungrounded_strings_stay_out_of_the_graph_unless_kept(tmp_path):
    def answer(body: dict) -> str:
        names = [n for n in ("Alice", "Bob") if n in asked(body)["input"]]
        return json.dumps({"person": [*names, "Zoe", "Yann"], "city": ["Paris", "Atlantis"]})

    (tmp_path / "docs").mkdir()
    (tmp_path / "docs" / "d.txt").write_text("Alice met Bob in Paris. Bob stayed.")
    (tmp_path / "ner.json").write_text('["person", "city"]\n[]\n{}\n')
    with FakeOpenAI(answer) as server:
        run_kgc("extract", "docs", "out.json", "--preset", "tiny-random-llama-lora", "--task", "NER",
                "--schema", "ner.json", "--language", "en", "--backend", "openai", "--api-base", server.url,
                "--served-model", "m", cwd=tmp_path, env=THREADS, check=True)
    (document,) = read_jsonl(tmp_path / "out.json")
    flagged = {e["text"] for e in document["entities"] if not e["grounded"]}
    assert flagged == {"Zoe", "Yann", "Atlantis"}  # kept in OUT, flagged, for audit
    plain = run_kgc("graph", "build", "out.json", "--out", "plain", cwd=tmp_path, check=True)
    assert "3 node(s)" in plain.stderr_text
    assert {n["name"] for n in read_jsonl(tmp_path / "plain" / "nodes.jsonl")} == {"Alice", "Bob", "Paris"}
    run_kgc("graph", "build", "out.json", "--out", "kept", "--keep-ungrounded", cwd=tmp_path, check=True)
    kept = {n["name"]: n["grounded"] for n in read_jsonl(tmp_path / "kept" / "nodes.jsonl")}
    assert kept == {"Alice": True, "Bob": True, "Paris": True, "Zoe": False, "Yann": False, "Atlantis": False}
    run_kgc("graph", "export", "kept", "--format", "neo4j", "--out", "neo4j", cwd=tmp_path, check=True)
    header = (tmp_path / "neo4j" / "nodes.csv").read_text().splitlines()[0].split(",")
    assert "grounded:boolean" in header
    # every string ungrounded: no node, and the build says why
    only = {**document, "entities": [e for e in document["entities"] if not e["grounded"]]}
    (tmp_path / "only.json").write_text(json.dumps(only) + "\n")
    empty = run_kgc("graph", "build", "only.json", "--out", "empty", cwd=tmp_path)
    assert empty.returncode == 2 and not (tmp_path / "empty").exists()
    assert empty.stderr_text.startswith("kgc: error: no node: every string of the 1 record(s) is ungrounded")
