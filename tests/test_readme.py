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
    # what each block prints and writes, in order: the tour (predict, eval table and report) …
    assert "predicted 4 record(s)" in said and "total" in out
    assert json.loads((tmp_path / "report.json").read_text())["total"]["samples"] == 4
    # … the presets (the list names every built-in, validate says what it checked) …
    assert "oneke-continue" in out and "llama3-8b-iepile-lora" in out and "template 'alpaca'" in out
    assert "ok" in out.split("oneke-continue")[-1] or "ok" in out
    # … documents: chunks with exact offsets, one merged result per document …
    documents = [json.loads(line) for line in (tmp_path / "docs.json").read_text().splitlines()]
    chunks = [json.loads(line) for line in (tmp_path / "chunks.json").read_text().splitlines()]
    by_id = {str(d.get("id")): d["text"] for d in documents}
    assert chunks and all(by_id[str(c["doc_id"])][c["start"]:c["end"]] == c["text"] for c in chunks)
    merged = [json.loads(line) for line in (tmp_path / "merged.json").read_text().splitlines()]
    assert [str(m["doc_id"]) for m in merged] == [str(d.get("id")) for d in documents]
    # … the graph of the test set's labels: its node types, three triples, the exports and the page …
    assert all(t in out for t in ("person", "organization", "city"))
    triples = [json.loads(line) for line in out.splitlines() if line.startswith('{"head"')]
    assert len(triples) == 3 and all({"head", "relation", "tail"} <= set(t) for t in triples)
    assert "https://example.org/my-graph/" in (tmp_path / "gold.ttl").read_text()
    assert (tmp_path / "gold-neo4j" / "import.sh").is_file() and (tmp_path / "gold-graph.png").is_file()
    assert "graph-data" in (tmp_path / "gold-graph.html").read_text()
    # … and the pipeline's RE table
    assert "RE" in out.split("https://")[-1] or out.count("RE") >= 1


def help_examples() -> list[list[str]]:
    import json

    listed = json.loads((ROOT / "kgcli" / "data" / "help_examples.json").read_text(encoding="utf-8"))
    return [args for lines in listed.values() for line in lines for args in kgc_commands(line)]


def test_every_command_has_help_examples():
    import json

    listed = json.loads((ROOT / "kgcli" / "data" / "help_examples.json").read_text(encoding="utf-8"))
    assert set(listed) >= {"convert", "train", "predict", "merge", "eval", "icl", "chunk", "extract",
                           "graph build", "graph query", "graph export", "graph show"}


@pytest.mark.parametrize("args", help_examples(), ids=shlex.join)
def test_every_help_example_parses(args):
    parse_only(args)
