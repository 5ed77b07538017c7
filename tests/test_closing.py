"""--guided-json answers cut by the token limit are closed after their last complete item: for every task,
every cut of a rendered answer closes into JSON that its schema accepts, holding only tuples of the whole
answer, and no fewer as the cut moves on."""

from __future__ import annotations

import json

import jsonschema
import pytest

from kgcli.predict.closing import close_answer
from kgcli.records import parse_instruction
from kgcli.tasks import get_task
from tests.test_tasks_roundtrip import CASES, converter


def tuples(task, answer: dict, allowed: set[str]) -> set:
    found = {metric: [] for metric in task.metrics}
    task.collect_all(answer, allowed, found)
    return {(metric, t) for metric, items in found.items() for t in items}


@pytest.mark.parametrize("task_name", list(CASES))
def test_every_cut_of_an_answer_closes_into_its_schema_with_only_whole_items(tmp_path, task_name):
    record, schema = CASES[task_name]
    task = get_task(task_name)
    lines = converter(tmp_path, task_name, schema, "train", split_num=-1).convert_record(record, ("in", 1))
    for line in lines:
        out = json.loads(line)
        elements = parse_instruction(out["instruction"])["schema"]
        answer_schema = task.output_schema(elements)
        allowed = {task.output_key(element) for element in elements}
        text = json.dumps(json.loads(out["output"]), ensure_ascii=False, indent=1)  # spaces and newlines too
        whole = tuples(task, json.loads(text), allowed)
        assert whole
        before: set = set()
        for cut in range(len(text)):
            closed = json.loads(close_answer(text[:cut], answer_schema))
            jsonschema.validate(closed, answer_schema)
            found = tuples(task, closed, allowed)
            assert found <= whole, (text[:cut], closed)
            assert before <= found, (text[:cut], closed)
            before = found
        assert before == whole  # the last cut lacks only the closing brace
        assert json.loads(close_answer(text, answer_schema)) == json.loads(text)


def test_a_cut_answer_keeps_the_schema_key_order_and_drops_unfinished_items():
    schema = get_task("RE").output_schema(["works for", "lives in"])
    cut = '{"works for": [{"subject": "Ann", "object": "Acme"}, {"subject": "Bob", "obj'
    assert close_answer(cut, schema) == (
        '{"works for": [{"subject": "Ann", "object": "Acme"}], "lives in": []}')
    cut = '{"lives in": [{"subject": "Ann", "object": "Ro'
    assert close_answer(cut, schema) == '{"works for": [], "lives in": []}'


@pytest.mark.parametrize("text", ["Sure, here it is", '{"a": [1] x', '{"a": [1]} trailing', "[1, 2]]"])
def test_text_that_is_not_the_start_of_json_is_left_alone(text):
    assert close_answer(text, get_task("NER").output_schema(["person"])) is None
