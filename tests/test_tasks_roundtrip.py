"""Each task's format, end to end inside its own module: annotated record → instruction records (convert)
→ the rendered answer → the answer parsed back into tuples (eval) = the record's gold tuples. A task whose
renderer and parser disagree on anything (a key, a value shape, NAN) fails here."""

from __future__ import annotations

import json

import pytest

from kgcli.convert import ConvertConfig, Converter
from kgcli.records import parse_instruction, text_id
from kgcli.tasks import get_task
from tests import samples

CASES = {"NER": (samples.NER_RECORD, samples.NER_SCHEMA), "RE": (samples.RE_RECORD, samples.RE_SCHEMA),
         "SPO": (samples.SPO_RECORD, samples.SPO_SCHEMA), "EE": (samples.EE_RECORD, samples.EE_SCHEMA),
         "EET": (samples.EE_RECORD, samples.EE_SCHEMA), "EEA": (samples.EEA_RECORD, samples.EEA_SCHEMA),
         "KG": (samples.KG_RECORD, samples.KG_SCHEMA)}


def converter(tmp_path, task, schema, split, **options):
    path = tmp_path / f"{task}-schema.json"
    path.write_text("\n".join(json.dumps(part, ensure_ascii=False) for part in schema) + "\n",
                    encoding="utf-8")
    return Converter(ConvertConfig(task=task, language="en", split=split, schema_path=str(path), source="s",
                                   **options))


@pytest.mark.parametrize("task_name", list(CASES))
@pytest.mark.parametrize("split_num", [None, 1])
def test_rendered_answers_parse_back_into_the_gold_tuples(tmp_path, task_name, split_num):
    record, schema = CASES[task_name]
    task = get_task(task_name)
    lines = converter(tmp_path, task_name, schema, "train",
                      split_num=split_num).convert_record(record, ("in", 1))
    assert lines
    parsed = {metric: set() for metric in task.metrics}
    for line in lines:
        out = json.loads(line)
        inner = parse_instruction(out["instruction"])
        assert inner["input"] == record["text"]
        assert split_num is None or len(inner["schema"]) == 1  # one schema element per instruction
        allowed = {task.output_key(element) for element in inner["schema"]}
        answer = json.loads(out["output"])
        assert set(answer) == allowed  # every asked key answered, nothing else
        found = {metric: [] for metric in task.metrics}
        assert task.collect_all(answer, allowed, found) == 0
        for metric, tuples in found.items():
            parsed[metric].update(tuples)
    gold = task.gold(task.read_items(record))
    assert parsed == {metric: set(gold.get(metric, [])) for metric in task.metrics}
    assert any(parsed.values())


@pytest.mark.parametrize("task_name", list(CASES))
def test_the_test_split_label_gives_the_same_gold_and_the_id_is_the_text_hash(tmp_path, task_name):
    record, schema = CASES[task_name]
    task = get_task(task_name)
    [first, *_] = converter(tmp_path, task_name, schema, "test").convert_record(record, ("in", 1))
    out = json.loads(first)
    assert out["id"] == text_id(record["text"]) and out["task"] == task_name
    counts = task.gold_counts(out["label"])
    gold = task.gold(task.read_items(record))
    as_lists = {metric: sorted(t for t, n in tuples.items() for _ in range(n)) for metric,
                tuples in counts.items()}
    assert {m: t for m, t in as_lists.items() if t} == {m: sorted(t) for m, t in gold.items() if t}
