"""``kgc schema suggest`` and ``kgc schema check``: a starting schema from documents alone, through a server
that answers from a gold schema with noise, and the schema files a person gets wrong."""

from __future__ import annotations

import json
import random

import pytest

from kgcli.schema import load_schema
from kgcli.schema_tools.aggregate import Settings, aggregate
from tests.conftest import read_jsonl, run_kgc
from tests.fake_openai import FakeOpenAI
from tests.schema_docs import GOLD, documents, gold_schema, noisy_answerer, write_documents


def _suggest(tmp_path, language: str, out: str, *extra: str):
    docs = documents(language)
    path = tmp_path / f"docs-{language}.json"
    write_documents(path, docs)
    with FakeOpenAI(noisy_answerer(language, docs)) as server:
        result = run_kgc("schema", "suggest", str(path), str(tmp_path / out), "--backend", "openai",
                         "--api-base", server.url, "--served-model", "m", *extra)
        prompts = [s.body["messages"][-1]["content"] for s in server.seen if s.path.endswith("completions")]
    return result, prompts


@pytest.mark.parametrize("language", ["zh", "en"])
def test_suggest_recovers_the_gold_schema_through_the_noise_and_is_deterministic(tmp_path, language):
    result, prompts = _suggest(tmp_path, language, "schema.json")
    assert result.returncode == 0, result.stderr_text
    schema = json.loads((tmp_path / "schema.json").read_text(encoding="utf-8"))
    types, relations = gold_schema(language)
    assert set(schema["entity_types"]) == types and set(schema["relations"]) == relations
    gold = GOLD[language]
    assert gold["spurious"] not in json.dumps(schema, ensure_ascii=False)  # named in one chunk: dropped
    # the noise was there and merged: synonyms listed as aliases, case and width variants
    merged = {form for forms in schema["aliases"].values() for form in forms}
    assert merged & set(gold["synonyms"].values())
    if language == "en":
        assert any(form.isupper() for form in merged) and any(not form.isascii() for form in merged)
    for relation, (head, tail, _) in gold["relations"].items():
        assert schema["relation_types"][relation] == [[head, tail]]
        assert any(schema["examples"][relation] in d["text"] for d in documents(language))
    assert all(schema["support"][name] >= 2 for name in [*types, *relations])
    # the prompts are in the documents' language (auto) and carry a sampled chunk each
    assert len(prompts) == len(documents(language))
    assert all(("文本：" in p) == (language == "zh") for p in prompts)
    # kgc reads it as a schema for NER and RE alike
    read = load_schema(str(tmp_path / "schema.json"))
    assert set(read.types) == types and set(read.roles) == relations and read.definitions
    again, _ = _suggest(tmp_path, language, "again.json")
    assert again.returncode == 0
    assert (tmp_path / "again.json").read_bytes() == (tmp_path / "schema.json").read_bytes()


def test_the_threshold_drops_the_rare_type_and_the_sample_is_seeded(tmp_path):
    result, _ = _suggest(tmp_path, "en", "all.json", "--min-support", "0")
    assert result.returncode == 0
    assert GOLD["en"]["spurious"] in json.loads((tmp_path / "all.json").read_text())["entity_types"]
    _, first = _suggest(tmp_path, "en", "a.json", "--sample", "5", "--seed", "7")
    _, second = _suggest(tmp_path, "en", "b.json", "--sample", "5", "--seed", "7")
    _, other = _suggest(tmp_path, "en", "c.json", "--sample", "5", "--seed", "8")
    assert len(first) == 5 and sorted(first) == sorted(second) and sorted(first) != sorted(other)


def _answer(types: list[dict], relations: list[dict] | None = None) -> str:
    return json.dumps({"entity_types": types, "relations": relations or []})


def test_aggregation_merges_only_equal_names_and_aliases_and_proposes_the_rest():
    text = "Alice met Bob in Paris."
    answers = [
        (_answer([{"name": "person", "example": "Alice"}, {"name": "city", "example": "Paris"}]), text),
        (_answer([{"name": "Person", "example": "Bob"}, {"name": "place", "aliases": ["city"]}]), text),
        (_answer([{"name": "human", "example": "Alice"}, {"name": "cities", "example": "Paris"}]), text),
        (_answer([{"name": "human", "example": "Zed"}, {"name": "cities"}]), text),
        ("no JSON here", text),
    ]
    schema, counts = aggregate(answers, Settings(min_support=0.5))
    assert counts == {"samples": 5, "answered": 4, "needed": 2, "dropped": 0}
    # by support, then name; of two spellings answered as often, the first in code-point order
    assert schema["entity_types"] == ["Person", "cities", "city", "human"]
    assert schema["aliases"] == {"Person": ["person"], "city": ["place"]}
    assert "Zed" not in json.dumps(schema)  # an example that is not in its chunk is not kept
    assert {(tuple(p["names"]), p["why"].split(":")[0]) for p in schema["proposals"]} == {
        (("Person", "human"), "the same example"), (("cities", "city"), "the same example")}
    shuffled = answers[:]
    random.Random(5).shuffle(shuffled)
    assert aggregate(shuffled, Settings(min_support=0.5)) == (schema, counts)


def test_the_suggested_schema_drives_extract_and_graph_build(tmp_path):
    docs = documents("en")
    write_documents(tmp_path / "docs.json", docs)
    with FakeOpenAI(noisy_answerer("en", docs)) as server:
        api = ["--backend", "openai", "--api-base", server.url, "--served-model", "m"]
        run_kgc("schema", "suggest", "docs.json", "schema.json", *api, cwd=tmp_path, check=True)
        run_kgc("extract", "docs.json", "merged.json", *api, "--task", "NER,RE", "--schema", "schema.json",
                "--language", "en", cwd=tmp_path, check=True)
    run_kgc("graph", "build", "merged.json", "--out", "graph", cwd=tmp_path, check=True)
    nodes = {(n["name"], n["type"]) for n in read_jsonl(tmp_path / "graph" / "nodes.jsonl")}
    edges = {(e["head_name"], e["relation"], e["tail_name"])
             for e in read_jsonl(tmp_path / "graph" / "edges.jsonl")}
    assert nodes == {(e["entity"], e["entity_type"]) for d in docs for e in d["entity"]}
    assert edges == {(r["head"], r["relation"], r["tail"]) for d in docs for r in d["relation"]}


BROKEN = {
    "empty.json": ('{"entity_types": [], "relations": []}', None, "the schema is empty"),
    "twice.json": ('{"entity_types": [\n  "Person",\n  "city",\n  "person"\n]}', 4,
                   "are one name once normalised"),
    "ends.json": ('{"entity_types": ["person", "city"],\n "relations": ["lives_in"],\n "relation_types": '
                  '{"lives_in": [\n  ["person", "town"]\n ]}}', 4,
                  "its tail type 'town' is not in entity_types"),
    "labels.json": ('{"entity_types": ["person", "location"],\n "relations": [\n  "Location"\n]}', 3,
                    "one label in the graph"),
    "shape.json": ('{"entity_types": ["person"], "definitions": {"person": 3}}', None,
                   "definitions must be a JSON object {name: text}"),
}


@pytest.mark.parametrize("name", sorted(BROKEN))
def test_schema_check_says_what_is_wrong_in_one_line(tmp_path, name):
    text, line, message = BROKEN[name]
    (tmp_path / name).write_text(text, encoding="utf-8")
    result = run_kgc("schema", "check", name, cwd=tmp_path)
    assert result.returncode == 2 and result.stdout_text == ""
    lines = result.stderr_text.splitlines()
    assert len(lines) == 1 and message in lines[0], lines
    where = f"{name}:{line}: " if line else f"{name}: "
    assert lines[0].startswith(f"kgc: error: {where}"), lines[0]


def test_schema_check_measures_coverage_of_a_gold_set(tmp_path):
    docs = documents("zh")
    write_documents(tmp_path / "gold.json", docs)
    schema = {"entity_types": ["人物", "机构"], "relations": ["任职于"]}
    (tmp_path / "schema.json").write_text(json.dumps(schema, ensure_ascii=False), encoding="utf-8")
    result = run_kgc("schema", "check", "schema.json", "gold.json", cwd=tmp_path)
    assert result.returncode == 0, result.stderr_text
    mentions = [e["entity_type"] for d in docs for e in d["entity"]]
    named = sum(t in ("人物", "机构") for t in mentions)
    assert f"{named / len(mentions):.1%} of {len(mentions)} gold entity mention(s)" in result.stdout_text
    assert "not in the schema: " in result.stdout_text and "地点 (" in result.stdout_text
    assert "居住在 (" in result.stdout_text and "任职于 (" not in result.stdout_text


def test_suggest_checks_its_input_before_any_request(tmp_path):
    with FakeOpenAI() as server:
        api = ["--backend", "openai", "--api-base", server.url, "--served-model", "m"]
        missing = run_kgc("schema", "suggest", "nowhere/", "schema.json", *api, cwd=tmp_path)
        (tmp_path / "schema.json").write_text("{}")
        (tmp_path / "a.txt").write_text("Alice lives in Paris.")
        exists = run_kgc("schema", "suggest", "a.txt", "schema.json", *api, cwd=tmp_path)
        posts = [s for s in server.seen if s.path.endswith("completions")]
    assert missing.returncode == 2 and missing.stderr_text.startswith("kgc: error: nowhere/: no such file")
    assert exists.returncode == 2 and "--overwrite" in exists.stderr_text
    assert posts == [] and (tmp_path / "schema.json").read_text() == "{}"


def test_a_model_that_answers_no_json_is_told_apart_from_an_empty_corpus(tmp_path, tiny_model):
    """The local route: the prompts go through the preset's template and a real (random) model."""
    (tmp_path / "a.txt").write_text("Alice works for Northwind Labs in Lisbon.", encoding="utf-8")
    result = run_kgc("schema", "suggest", "a.txt", "schema.json", "--backend", "hf", "--preset",
                     "tiny-random-llama-lora", "--max-new-tokens", "8", cwd=tmp_path)
    assert result.returncode == 2, result.stderr_text
    assert "none of the 1 answer(s) is a JSON object" in result.stderr_text
    assert "predict: 1 record(s)" in result.stderr_text and not (tmp_path / "schema.json").exists()


def test_convert_and_icl_take_the_schema_file_and_tell_its_definitions(tmp_path):
    schema = {"entity_types": ["person", "city"], "relations": ["lives_in"],
              "definitions": {"person": "a human being", "city": "a town with a name", "lives_in": "home"}}
    (tmp_path / "schema.json").write_text(json.dumps(schema), encoding="utf-8")
    (tmp_path / "docs.json").write_text(json.dumps({"text": "Alice lives in Lisbon.", "entity": [
        {"entity": "Alice", "entity_type": "person"}, {"entity": "Lisbon", "entity_type": "city"}]}) + "\n")
    run_kgc("convert", "docs.json", "test.json", "--task", "NER", "--split", "test", "--language", "en",
            "--schema", "schema.json", cwd=tmp_path, check=True)
    with FakeOpenAI(lambda body: '["Alice"]') as server:
        common = ["--model", "hosted_vllm/m", "--api-base", server.url, "--no-cache", "--schema",
                  "schema.json"]
        single = run_kgc("icl", "--text", "Alice lives in Lisbon.", "--task", "ner", "--language", "en",
                         *common, "--describe-schema", cwd=tmp_path)
        batch = run_kgc("icl", "test.json", "out.json", *common, "--describe-schema", cwd=tmp_path)
        refused = run_kgc("icl", "test.json", "other.json", *common, cwd=tmp_path)
        sent = [s.body["messages"] for s in server.seen if s.path.endswith("completions")]
    assert single.returncode == 0 and batch.returncode == 0, single.stderr_text + batch.stderr_text
    prompt = sent[0][-1]["content"]
    assert "person, city" in prompt or "person,city" in prompt  # the labels, from the schema file
    assert "Definitions:\n- person: a human being\n- city: a town with a name" in prompt
    system = sent[1][0]
    assert system["role"] == "system" and "- person: a human being" in system["content"]
    assert "lives_in" not in system["content"]  # only the names the record's instruction asks for
    assert refused.returncode == 2 and "--schema is read for --describe-schema" in refused.stderr_text
