"""The record writers build json.dumps' exact bytes from cached, pre-escaped pieces: check them against
json.dumps itself on texts and schemas full of characters JSON escapes."""

from __future__ import annotations

import json

import pytest

from kgcli.records import RecordLayout

TRICKY = ['plain', 'quote " and \\ backslash', 'new\nline\ttab\r\x00\x1f', '中文，“引号”\u2028\u2029',
          '\\"', 'emoji 🙂 and \ud800 lone surrogate', '}', '"input": ']


def dumps(obj):
    return json.dumps(obj, ensure_ascii=False)


@pytest.mark.parametrize("text", TRICKY)
def test_train_and_test_lines_are_json_dumps_bytes(text):
    layout = RecordLayout("NER", 'so"urce\n', 'sentence with "quotes" \\ and\nnewline')
    for elements in (["人物", 'ty"pe'], [text], ["人物", 'ty"pe']):  # the third: a cached head
        instruction = dumps({"instruction": 'sentence with "quotes" \\ and\nnewline', "schema": elements,
                             "input": text})
        output = {element: [text] for element in elements}
        expected = dumps({"task": "NER", "source": 'so"urce\n', "instruction": instruction,
                          "output": dumps(output)})
        assert layout.train_line(elements, text, output) == expected
    chunks = [["人物", 'ty"pe'], [text]]
    label = [{"entity": text, "entity_type": "人物"}]
    expected = "".join(dumps({"id": "abc", "task": "NER", "source": 'so"urce\n',
                              "instruction": dumps({"instruction": 'sentence with "quotes" \\ and\nnewline',
                                                    "schema": chunk, "input": text}),
                              "label": dumps(label)}) + "\n" for chunk in chunks)
    assert layout.test_lines("abc", layout.test_heads(chunks), text, label) == expected


def test_numbers_and_strings_never_share_a_cached_head():
    layout = RecordLayout("KG", "s", "sentence")
    first = layout.train_line([1], "t", {})
    assert layout.train_line([1.0], "t", {}) != first and '[1.0]' in layout.train_line([1.0], "t", {})
    assert layout.train_line([True], "t", {}).count("true") == 1
