"""Never silent: a batch that outlasts the progress interval says so before it ends (a slow fake model on a
fake clock), every step of a graph build says what it does, and a model fetched from a hub (a fake one on
127.0.0.1) says its size before the first byte."""

from __future__ import annotations

import os
import subprocess
import threading

from tests.conftest import ROOT, iepile_record, read_jsonl, write_jsonl
from tests.fake_hub import REPO, FakeHub, fake_hub


def test_a_batch_that_outlasts_the_interval_prints_a_progress_line_before_it_ends(tiny_model, tmp_path,
                                                                                  monkeypatch):
    from transformers import AutoTokenizer

    from kgcli import progress
    from kgcli.model.templates import get_template
    from kgcli.predict.run import predict_file

    now = [0.0]
    monkeypatch.setattr(progress, "clock", lambda: now[0])
    monkeypatch.setattr(progress, "POLL", 0.01)
    monkeypatch.setattr(progress, "plain_progress", lambda: True)
    lines: list[str] = []
    printed = threading.Event()

    def emit(text: str) -> None:
        lines.append(text)
        printed.set()

    monkeypatch.setattr(progress, "emit", emit)
    seen_when_done: list[list[str]] = []

    def generate(prompts: list) -> list[str]:
        """A model whose one batch takes 40 s of the fake clock."""
        now[0] += 40.0
        printed.wait(timeout=60)  # the heartbeat's moment to speak, while the batch still runs
        seen_when_done.append(list(lines))
        return ['{"person": []}'] * len(prompts)

    write_jsonl(tmp_path / "test.json", [iepile_record("NER", ["person"], f"Alice {i} is here.")
                                         for i in range(8)])
    stats = predict_file(str(tmp_path / "test.json"), str(tmp_path / "out.json"), generate,
                         get_template("qwen"), AutoTokenizer.from_pretrained(tiny_model), batch_size=8,
                         cutoff_len=256, total=8)
    assert stats.records == 8 and len(read_jsonl(tmp_path / "out.json")) == 8
    (before_end,) = seen_when_done
    assert before_end and before_end[0].startswith("predict: 0/8 samples")  # said while the batch ran
    assert lines[-1].startswith("predict: 8/8 samples")  # and the end, since a line came before


def test_a_download_from_the_hub_says_its_size_before_the_first_byte(tiny_model, tmp_path):
    said = threading.Event()
    before_first_byte: list[bool] = []
    hub = FakeHub(tiny_model, first_byte=lambda: before_first_byte.append(said.wait(timeout=60)))
    write_jsonl(tmp_path / "test.json", [iepile_record("NER", ["person"], "Alice is here.")])
    size = sum(len(data) for data in hub.files.values())
    with fake_hub(hub) as url:
        env = {**os.environ, "HF_ENDPOINT": url, "HF_HOME": str(tmp_path / "hf"), "HF_HUB_OFFLINE": "0",
               "TRANSFORMERS_OFFLINE": "0", "HF_HUB_DISABLE_XET": "1", "KGC_PLAIN_PROGRESS": "0"}
        env.pop("HF_HUB_CACHE", None)
        process = subprocess.Popen(
            [str(ROOT / ".venv" / "bin" / "kgc"), "predict", "test.json", "out.json", "--preset",
             "tiny-random-llama-lora", "--model", REPO],
            cwd=tmp_path, env=env, stderr=subprocess.PIPE, stdout=subprocess.DEVNULL, text=True)
        stderr = []
        for line in process.stderr:
            stderr.append(line)
            if line.startswith(f"downloading {REPO} from {url}:"):
                said.set()
        process.wait(timeout=300)
    text = "".join(stderr)
    assert process.returncode == 0, text
    assert before_first_byte == [True], text  # the size line came before the first byte was sent
    (line,) = [s for s in stderr if s.startswith("downloading")]
    assert f"{size / 1e6:,.1f} MB in {len(hub.files)} file(s)" in line
    (answer,) = read_jsonl(tmp_path / "out.json")
    assert isinstance(answer["output"], str)  # the fetched model answered


def test_every_step_of_a_long_graph_build_says_what_it_does(tmp_path, monkeypatch):
    """On a clock where every look is 20 s later, each step of the build (reading, adding up the nodes and
    the edges, loading the database) prints its line; one interval runs over all of them."""
    from kgcli import progress
    from kgcli.graph.build import BuildSettings, build_graph
    from tests.test_resolution import A, write

    now = [0.0]

    def clock() -> float:
        now[0] += 20.0
        return now[0]

    lines: list[str] = []
    monkeypatch.setattr(progress, "clock", clock)
    monkeypatch.setattr(progress, "plain_progress", lambda: True)
    monkeypatch.setattr(progress, "emit", lines.append)
    write(tmp_path / "docs.json", A)
    build_graph([str(tmp_path / "docs.json")], str(tmp_path / "graph"), BuildSettings())
    steps = list(dict.fromkeys(line.split(": ")[1] for line in lines))
    assert steps == [f"reading {tmp_path / 'docs.json'}", "adding up nodes", "adding up edges",
                     "loading the database"]
    assert any(line.startswith("graph build: adding up edges: 16/16 partitions") for line in lines)
