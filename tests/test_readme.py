"""README.md runs as written: every `kgc` command in its shell blocks parses against the real CLI (options,
arguments, types), and the blocks marked `<!-- runnable -->` run for real, in order, in one folder."""

from __future__ import annotations

import json
import os
import re
import shlex
import subprocess

import pytest

from tests.conftest import ROOT

README = (ROOT / "README.md").read_text(encoding="utf-8")
BLOCK = re.compile(r"(<!-- runnable -->\n)?```bash\n(.*?)```", re.S)


def blocks() -> list[tuple[bool, str]]:
    return [(bool(marker), body) for marker, body in BLOCK.findall(README)]


def kgc_commands(script: str) -> list[list[str]]:
    """Each `kgc …` command of a shell block (continuations joined, comments, pipes and && split off)."""
    joined = script.replace("\\\n", " ")
    commands = []
    for line in joined.splitlines():
        words = shlex.split(line, comments=True)
        current: list[str] = []
        for word in [*words, "|"]:
            if word in ("|", "&&", "||", ";"):
                if current and current[0] == "kgc":
                    commands.append(current[1:])
                current = []
            else:
                current.append(word)
    return commands


def parse_only(args: list[str]) -> None:
    """Parse ``kgc ARGS`` with the real Typer/click app, without running any command."""
    import click
    import typer

    from kgcli.cli import app

    group = typer.main.get_command(app)

    def silence(command: click.Command) -> None:
        command.callback = lambda *a, **k: None
        for sub in getattr(command, "commands", {}).values():
            silence(sub)

    for sub in group.commands.values():
        silence(sub)
    group.main(args=args, prog_name="kgc", standalone_mode=False)


def test_the_readme_has_runnable_blocks_and_kgc_commands():
    assert sum(runnable for runnable, _ in blocks()) >= 3
    assert len([c for _, body in blocks() for c in kgc_commands(body)]) >= 30


@pytest.mark.parametrize("args", [c for _, body in blocks() for c in kgc_commands(body)], ids=shlex.join)
def test_every_kgc_command_in_the_readme_parses(args):
    parse_only(args)


@pytest.mark.slow
def test_the_runnable_blocks_run(tmp_path):
    script = "\n".join(body for runnable, body in blocks() if runnable)
    env = {**os.environ, "PATH": f"{ROOT / '.venv' / 'bin'}:{os.environ['PATH']}", "KGC_TORCH_THREADS": "1"}
    result = subprocess.run(["bash", "-euo", "pipefail", "-c", script], cwd=tmp_path, env=env,
                            capture_output=True,
                            text=True)
    assert result.returncode == 0, result.stdout[-3000:] + result.stderr[-3000:]
    out, said = result.stdout, result.stderr
    # what each block prints and writes, in order (the model's own answers aside: SmolLM2 is untrained):
    # the tour — four records predicted and scored against their 11 gold entities …
    assert "predicted 4 record(s)" in said
    report = json.loads((tmp_path / "report.json").read_text())["total"]
    assert (report["samples"], report["gold"]) == (4, 11)
    assert {name: block["gold"] for name, block in report["per_type"].items()} == {
        "city": 4, "organization": 3, "person": 4}
    # … the presets: the list (remote code marked), one shown, one validated with what was checked …
    assert "│ baichuan2-7b-lora [remote code]" in out and "name: llama3-8b-iepile-lora\n" in out
    assert "template: alpaca\n" in out and "preset oneke-continue: ok\n" in out
    assert "  bits 4: bitsandbytes installed, finetuning_type lora\n" in out
    # … documents: three chunked, each chunk its document's exact slice; the untrained model's answers fit
    # no schema, so extract stops with one line and writes nothing …
    assert "chunked 3 document(s) into 3 chunk(s)" in said and "exit 2\n" in out
    assert "kgc: error: none of the 6 answer(s) fit their schema (" in said
    documents = [json.loads(line) for line in (tmp_path / "docs.json").read_text().splitlines()]
    chunks = [json.loads(line) for line in (tmp_path / "chunks.json").read_text().splitlines()]
    assert [(c["doc_id"], c["start"], c["end"]) for c in chunks] == [
        (f"docs.json:{number}", 0, len(d["text"])) for number, d in enumerate(documents, 1)]
    assert not (tmp_path / "merged.json").exists()
    # … the test set's own graph: its size, node types, a query with a parameter, three triples, exports …
    assert "graph: 61 node(s), 35 edge(s) from 28 document(s)" in said
    assert re.search(r"\d+ node\(s\) merged names or types, 0 name\(s\) kept split, \d+ merge\(s\) "
                     r"proposed; rule: names \(dry run: GRAPH unchanged\)", said)
    assert re.search(r"│ person +│ 26 +│\n│ organization +│ 21 +│\n│ city +│ 14 +│", out)
    edges = [json.loads(line) for line in (tmp_path / "gold-graph" / "edges.jsonl").read_text().splitlines()]
    stated = {(e["head_name"], e["head_type"], e["relation"], e["tail_name"], e["tail_type"]) for e in edges}
    rows = re.findall(r"│ ([^│]+?) +│ (headquartered in) +│ ([^│]+?) +│\n", out)
    assert "5 row(s)" in said and len(rows) == 5  # organisations and the cities they are linked to
    assert all((o, "organization", r, c, "city") in stated for o, r, c in rows)
    triples = [json.loads(line) for line in out.splitlines() if line.startswith('{"head"')]
    assert len(triples) == 3 and all(
        (t["head"], t["head_type"], t["relation"], t["tail"], t["tail_type"]) in stated for t in triples)
    assert "https://example.org/my-graph/" in (tmp_path / "gold.ttl").read_text()
    assert "exported neo4j: 61 node(s), 35 edge(s) → gold-neo4j" in said
    assert "graph page: 61 of 61 node(s) → gold-graph.html" in said
    assert (tmp_path / "gold-graph.png").is_file()
    # … the API route: no preset, a local server answering from the documents' gold: their own graph …
    assert "chunks: 409 tokens per chunk (512 × 0.8 safety margin)" in said
    gold_docs = [json.loads(line) for line in
                 (tmp_path / "demo-data" / "data" / "synthetic" / "documents.json").read_text().splitlines()]
    api_nodes = {(n["name"], n["type"]) for n in
                 map(json.loads, (tmp_path / "api-graph" / "nodes.jsonl").read_text().splitlines())}
    assert api_nodes == {(e["entity"], e["entity_type"]) for d in gold_docs for e in d["entity"]}
    # … no schema yet: the one suggested from the documents is their gold's, and drives the same graph …
    suggested = json.loads((tmp_path / "schema.json").read_text())
    assert set(suggested["entity_types"]) == {e["entity_type"] for d in gold_docs for e in d["entity"]}
    assert set(suggested["relations"]) == {r["relation"] for d in gold_docs for r in d["relation"]}
    assert "schema.json: 3 type(s)" in out and "100.0% of " in out
    nodes_file = tmp_path / "suggested-graph" / "nodes.jsonl"
    suggested_nodes = {(n["name"], n["type"]) for n in map(json.loads, nodes_file.read_text().splitlines())}
    assert suggested_nodes == api_nodes
    # … and the pipe: three RE records predicted and scored, against their 4 gold triples
    assert "predicted 3 record(s)" in said and "kgc eval: <stdin>" in out
    assert re.search(r"│ total │[^\n]*│ +4 │[^\n]*│ +3 │", out.split("kgc eval: <stdin>")[1])


def help_examples() -> list[list[str]]:
    import json

    listed = json.loads((ROOT / "kgcli" / "data" / "help_examples.json").read_text(encoding="utf-8"))
    return [args for lines in listed.values() for line in lines for args in kgc_commands(line)]


def test_every_command_has_help_examples():
    import json

    listed = json.loads((ROOT / "kgcli" / "data" / "help_examples.json").read_text(encoding="utf-8"))
    assert set(listed) >= {"convert", "train", "predict", "merge", "eval", "icl", "chunk", "extract",
                           "graph build", "graph resolve", "graph query", "graph export", "graph show",
                           "schema suggest", "schema check"}


@pytest.mark.parametrize("args", help_examples(), ids=shlex.join)
def test_every_help_example_parses(args):
    parse_only(args)
