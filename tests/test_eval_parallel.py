"""eval by worker processes: same report as one process; an instance spread over blocks falls back."""

from __future__ import annotations

import json

import pytest

from kgcli import shards
from kgcli.errors import KgcError
from kgcli.evaluate import evaluate_file
from tests.conftest import write_jsonl


def predictions(n=600, repeat_far=False):
    records = []
    for i in range(n):
        gold = [{"entity": f"e{i}", "entity_type": "person"}, {"entity": f"c{i % 9}", "entity_type": "city"}]
        for chunk, schema in enumerate((["person"], ["city", "org"])):
            answer = {key: [g["entity"] for g in gold if g["entity_type"] == key and (i + chunk) % 4]
                      for key in schema}
            if i % 17 == 0:
                answer = "```json\n" + json.dumps(answer) + "\n```"
            records.append({"id": f"id{i}", "source": f"s{i % 3}", "task": "NER",
                            "instruction": json.dumps({"instruction": "x", "schema": schema,
                                                       "input": f"text {i}"}),
                            "label": json.dumps(gold),
                            "output": answer if isinstance(answer, str) else json.dumps(answer)})
    if repeat_far:
        records.append(dict(records[0], output=json.dumps({"person": ["e0"]})))
    return records


@pytest.mark.parametrize("repeat_far", [False, True])
@pytest.mark.parametrize("options",
                         [{"task": "NER", "sort_by": "source"}, {"match_mode": "set"}, {"legacy": True}])
def test_parallel_report_equals_one_process(tmp_path, small_shards_eval, monkeypatch, options, repeat_far):
    path = write_jsonl(tmp_path / "pred.json", predictions(repeat_far=repeat_far))
    assert len(shards.blocks(str(path))) > 10
    parallel = evaluate_file(str(path), **options)
    from kgcli.evaluate import evaluate_parallel

    merged = evaluate_parallel(str(path), str(path), options)
    assert (merged is None) == repeat_far  # an instance in two blocks: scored again in one process
    monkeypatch.setenv("KGC_WORKERS", "1")
    assert parallel == evaluate_file(str(path), **options)
    assert parallel["total"]["samples"] == 600


def test_blocks_never_split_an_instance(tmp_path, small_shards_eval):
    from kgcli.evaluate import _same_instance

    path = write_jsonl(tmp_path / "pred.json", predictions())
    ranges = shards.blocks(str(path), together=_same_instance)
    data = path.read_bytes()
    for start, end in ranges[1:]:
        before = json.loads(data[:start].splitlines()[-1])
        after = json.loads(data[start:end].splitlines()[0])
        assert before["id"] != after["id"]


def test_parallel_error_reports_the_file_line(tmp_path, small_shards_eval):
    records = predictions()
    records[900] = {"id": "broken", "source": "s0", "label": "[]"}
    path = write_jsonl(tmp_path / "pred.json", records)
    with pytest.raises(KgcError) as info:
        evaluate_file(str(path), task="NER")
    assert str(info.value) == f"{path}:901: record has no 'output' string (run kgc predict first)"
