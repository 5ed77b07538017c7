"""Resolution across documents measured with a gold-answering model on a generated set (Chinese and
English, ``tests/resolution_docs.py``): the graph built with ``--resolve aliases`` against the gold graph of
the annotated documents (entity ids), the homonyms and look-alikes kept apart, aliases only proposed without
the rule, a person's decisions holding on later appends, and a graph grown document by document equal to the
graph built at once."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from kgcli.documents.grounding import normalise
from kgcli.graph.aliases import alias_key
from tests.conftest import read_jsonl, run_kgc
from tests.fake_openai import FakeOpenAI, prompt_of
from tests.resolution_docs import DOCS, EN_RELATIONS, EN_TYPES, ZH_RELATIONS, ZH_TYPES, answer_chunk, asked

THREADS = {"KGC_TORCH_THREADS": "1", "OMP_NUM_THREADS": "1"}
DECISIONS = "different: [[Ember Motors, Ember Motors Inc.]]\nsame: [[阿里巴巴, 阿里巴巴影业]]\n"


@pytest.fixture(scope="module")
def extracted(tmp_path_factory) -> Path:
    """en.json and zh.json (kgc extract, NER and RE, with the gold-answering model) and gold.jsonl (the
    annotated documents) in one folder."""
    folder = tmp_path_factory.mktemp("resolution")
    with FakeOpenAI(lambda body: answer_chunk(asked(prompt_of(body)))) as server:
        for language, types, relations in (("en", EN_TYPES, EN_RELATIONS), ("zh", ZH_TYPES, ZH_RELATIONS)):
            docs = folder / f"docs-{language}"
            docs.mkdir()
            for doc in DOCS:
                if doc.language == language:
                    (docs / f"{doc.name}.txt").write_text(doc.text, encoding="utf-8")
            (folder / f"ner-{language}.json").write_text(json.dumps(types, ensure_ascii=False) + "\n[]\n{}\n",
                                                         encoding="utf-8")
            (folder / f"re-{language}.json").write_text("[]\n" + json.dumps(relations, ensure_ascii=False)
                                                        + "\n{}\n", encoding="utf-8")
            run_kgc("extract", f"docs-{language}", f"{language}.json", "--preset", "tiny-random-llama-lora",
                    "--task", "NER,RE", "--schema", f"ner-{language}.json,re-{language}.json", "--language",
                    language, "--backend", "openai", "--api-base", server.url, "--served-model", "m",
                    cwd=folder, env=THREADS, check=True)
    (folder / "gold.jsonl").write_text("".join(json.dumps(d.annotated(), ensure_ascii=False) + "\n"
                                               for d in DOCS), encoding="utf-8")
    run_kgc("graph", "build", "gold.jsonl", "--gold", "--out", "gold", cwd=folder, check=True)
    return folder


def scores(folder: Path, graph: str) -> dict:
    result = run_kgc("eval", "--graph", graph, "gold", "--format", "json", cwd=folder, check=True)
    return json.loads(result.stdout_text)["total"]


def nodes(graph: Path) -> list[dict]:
    return list(read_jsonl(graph / "nodes.jsonl"))


def node_of(graph: Path, form: str) -> list[dict]:
    """The nodes that hold a form (as their name or one of their written forms)."""
    return [n for n in nodes(graph) if form in n["forms"]]


def test_the_set_holds_what_it_claims():
    assert len(DOCS) >= 10 and {d.language for d in DOCS} == {"en", "zh"}
    things: dict[str, set[str]] = {}
    for doc in DOCS:
        for _, _, form, _, thing in doc.mentions:
            things.setdefault(thing, set()).add(form)
    assert things["ember"] == {"Ember Motors", "Ember Motors Inc.", "Ember Motors, Inc."}
    assert things["alibaba"] == {"阿里巴巴", "阿里巴巴集团", "阿里巴巴集团控股有限公司"}
    for first, second in (("jordan-person", "jordan-country"), ("great-wall", "great-wall-motors")):
        assert things[first] == things[second]  # one name, two things
        docs_of = [{d.name for d in DOCS if any(m[4] == t for m in d.mentions)} for t in (first, second)]
        assert not docs_of[0] & docs_of[1]  # never in one document
    assert any(d.mistyped for d in DOCS if d.language == "en") and any(d.mistyped for d in DOCS
                                                                        if d.language == "zh")
    assert any(d.untyped for d in DOCS if d.language == "en") and any(d.untyped for d in DOCS
                                                                       if d.language == "zh")


def test_with_resolve_aliases_the_graph_is_the_gold_graph(extracted):
    result = run_kgc("graph", "build", "en.json", "zh.json", "--resolve", "aliases", "--out", "graph",
                     cwd=extracted, check=True)
    total = scores(extracted, "graph")
    assert total["node_F1"] == 100.0 and total["edge_F1"] == 100.0
    assert total["resolution_b3_F1"] >= 95.0 and total["resolution_pairwise_F1"] >= 95.0
    graph = extracted / "graph"
    (ember,) = node_of(graph, "Ember Motors")
    assert set(ember["forms"]) == {"Ember Motors", "Ember Motors Inc.", "Ember Motors, Inc."}
    assert {(m["name"], m["by"]) for m in ember["merged_from"]} == {("Ember Motors Inc.", "alias"),
                                                                     ("Ember Motors, Inc.", "alias")}
    (alibaba,) = node_of(graph, "阿里巴巴")
    assert set(alibaba["forms"]) == {"阿里巴巴", "阿里巴巴集团", "阿里巴巴集团控股有限公司"}
    # the homonyms stay apart, one node per thing
    assert sorted(n["type"] for n in node_of(graph, "Jordan")) == ["location", "person"]
    assert sorted(n["type"] for n in node_of(graph, "长城")) == ["地点", "组织机构"]
    assert "Jordan (location 3, person 2), 长城 (地点 2, 组织机构 3)" in result.stderr_text
    # the look-alikes stay apart: a longer name of another thing, numbered names
    for first, second in (("Ember Motors", "Ember Motors Finance"), ("阿里巴巴", "阿里巴巴影业"),
                          ("Model 3", "Model 4"), ("小米13", "小米14")):
        assert node_of(graph, first) != node_of(graph, second) and node_of(graph, second)
    # the minority typings and the untyped ends joined their name's node
    assert [n["type"] for n in node_of(graph, "Aurora Insurance")] == ["organization"]
    assert not [n for n in nodes(graph) if n["type"] == "Entity"]
    meta = json.loads((graph / "graph.json").read_text())
    assert meta["resolution"] == {"rule": "aliases"}  # no decisions file
    proposed = {tuple(p["names"]) for p in meta["proposals"]}
    assert proposed == {("Ember Motors", "Ember Motors Finance"), ("阿里巴巴集团", "阿里巴巴影业")}


def test_without_resolve_aliases_aliases_are_proposed_not_merged(extracted):
    result = run_kgc("graph", "build", "en.json", "zh.json", "--out", "plain", cwd=extracted, check=True)
    graph = extracted / "plain"
    for form in ("Ember Motors", "Ember Motors Inc.", "Ember Motors, Inc.", "阿里巴巴集团控股有限公司"):
        (node,) = node_of(graph, form)
        assert node["forms"] == [form]
    meta = json.loads((graph / "graph.json").read_text())
    alias = {tuple(p["names"]) for p in meta["proposals"] if p["why"] == "alias"}
    assert alias == {("Ember Motors", "Ember Motors Inc."), ("Ember Motors", "Ember Motors, Inc."),
                     ("Kestrel Foundation", "The Kestrel Foundation"), ("华为", "华为技术有限公司"),
                     ("阿里巴巴", "阿里巴巴集团"), ("阿里巴巴", "阿里巴巴集团控股有限公司")}
    assert "merge(s) proposed, not made (6 by alias key (--resolve aliases merges them)" in result.stderr_text
    assert scores(extracted, "plain")["node_F1"] < 100.0


def test_the_dry_run_lists_every_merge_and_decisions_hold_on_later_appends(extracted):
    run_kgc("graph", "build", "en.json", "--resolve", "aliases", "--out", "kept", cwd=extracted, check=True)
    graph = extracted / "kept"
    before = {name: (graph / name).read_bytes() for name in ("nodes.jsonl", "edges.jsonl", "graph.json")}
    dry = run_kgc("graph", "resolve", "kept", "--dry-run", cwd=extracted, check=True)
    assert {name: (graph / name).read_bytes() for name in before} == before  # GRAPH untouched
    merged = [n for n in nodes(graph) if n["merged_from"]]
    assert merged
    for node in merged:  # every merge, with its evidence: the forms joined, their mentions and the votes
        head = f"merge    {node['name']} ({node['type']}, {node['count']} mention(s), votes: "
        assert head in dry.stdout_text
        for absorbed in node["merged_from"]:
            assert f"← {absorbed['name']} ({absorbed['type']}, {absorbed['mentions']} mention(s))" in (
                dry.stdout_text)
    told = dry.stdout_text
    assert "propose  Ember Motors ~ Ember Motors Finance (organization; 5 and 2 mention(s))" in told
    assert "split    Jordan: no type has two thirds of the votes (ner location 3, person 2)" in told
    # a person reverses one merge and forces another (of names the graph does not hold yet)
    (extracted / "decisions.yaml").write_text(DECISIONS, encoding="utf-8")
    run_kgc("graph", "resolve", "kept", "--decisions", "decisions.yaml", cwd=extracted, check=True)
    assert len(node_of(graph, "Ember Motors Inc.")) == 1 and node_of(graph, "Ember Motors Inc.")[0][
        "forms"] == ["Ember Motors Inc."]
    assert node_of(graph, "Ember Motors, Inc.") == node_of(graph, "Ember Motors")  # the other alias stays
    run_kgc("graph", "build", "zh.json", "--out", "kept", "--append", cwd=extracted, check=True)
    assert node_of(graph, "Ember Motors Inc.")[0]["forms"] == ["Ember Motors Inc."]  # still apart
    (alibaba,) = node_of(graph, "阿里巴巴影业")  # forced: one node with the 阿里巴巴 forms
    assert set(alibaba["forms"]) == {"阿里巴巴", "阿里巴巴集团", "阿里巴巴集团控股有限公司", "阿里巴巴影业"}
    assert "decision" in {m["by"] for m in alibaba["merged_from"]}
    meta = json.loads((graph / "graph.json").read_text())
    assert meta["resolution"]["rule"] == "aliases"  # the append kept the graph's rule and decisions
    assert meta["resolution"]["decisions"]["different"] == [["ember motors", "ember motors inc."]]


def test_a_then_b_is_a_and_b_at_once_with_aliases_and_decisions(extracted):
    (extracted / "decisions.yaml").write_text(DECISIONS, encoding="utf-8")
    run_kgc("graph", "build", "en.json", "zh.json", "--resolve", "aliases", "--decisions", "decisions.yaml",
            "--out", "together", cwd=extracted, check=True)
    run_kgc("graph", "build", "zh.json", "--resolve", "aliases", "--decisions", "decisions.yaml", "--out",
            "grown", cwd=extracted, check=True)
    run_kgc("graph", "build", "en.json", "--out", "grown", "--append", cwd=extracted, check=True)
    for name in ("nodes.jsonl", "edges.jsonl"):
        assert (extracted / "grown" / name).read_bytes() == (extracted / "together" / name).read_bytes()


def test_a_bad_decisions_file_is_one_line(extracted):
    (extracted / "bad.yaml").write_text("same: [[Ember Motors]]\n", encoding="utf-8")
    result = run_kgc("graph", "resolve", "gold", "--decisions", "bad.yaml", cwd=extracted)
    assert result.returncode == 2
    assert result.stderr_text == ("kgc: error: bad.yaml: 'same' must be a list of name lists, each of two "
                                  "names or more: same: [[Ember Motors, Ember Motors Inc.]]\n")
    (extracted / "broken.yaml").write_text("same: [[a, b]]\ntype: {a: [\n", encoding="utf-8")
    result = run_kgc("graph", "build", "en.json", "--out", "x", "--decisions", "broken.yaml", cwd=extracted)
    assert result.returncode == 2 and result.stderr_text.startswith("kgc: error: broken.yaml:3: not YAML")
    assert not (extracted / "x").exists()


@pytest.mark.parametrize(("first", "second", "same"), [
    ("Ember Motors", "Ember Motors Inc.", True),
    ("Ember Motors", "EMBER-MOTORS, Ltd", True),
    ("The Kestrel Foundation", "Kestrel Foundation", True),
    ("Banco Santander S.A.", "Banco Santander", True),
    ("Siemens AG", "Siemens GmbH", True),
    ("阿里巴巴集团控股有限公司", "阿里巴巴", True),
    ("华为技术有限公司", "华为", True),
    ("Ember Motors", "Ember Motors Finance", False),
    ("阿里巴巴", "阿里巴巴影业", False),
    ("Model 3", "Model 4", False),
    ("Inc.", "Ltd.", False),  # nothing but a legal form keeps it
    ("中国科技", "中国", False),  # a trade word goes only with a legal form
])
def test_alias_keys(first, second, same):
    assert (alias_key(normalise(first)) == alias_key(normalise(second))) is same
