"""The block-parallel test split gives the one-process bytes, warnings and error lines."""

from __future__ import annotations

import json

import pytest

from kgcli import shards
from kgcli.convert import ConvertConfig, convert_file
from kgcli.errors import KgcError


def make_input(path, n=1500, bad_line=None):
    lines = []
    for i in range(n):
        text = f"record {i % 1000} mentions Alice and Paris"  # texts repeat across blocks
        record = {"text": text} if i % 11 == 0 else {"text": text, "entity": [
            {"entity": f"Alice{i % 7}", "entity_type": "person"},
            {"entity": "Paris", "entity_type": "city" if i % 5 else "town"}]}
        lines.append(json.dumps(record))
    if bad_line is not None:
        lines[bad_line - 1] = '{"text": 5}'
    path.write_text("\n".join(lines) + "\n")
    schema = path.parent / "schema.json"
    schema.write_text('["person", "city", "country"]\n[]\n{}\n')
    return schema


def config(schema):
    return ConvertConfig(task="NER", language="en", split="test", schema_path=str(schema), source="demo",
                         split_num=2)


def test_parallel_equals_one_process(tmp_path, small_shards_convert, monkeypatch, capsys):
    src = tmp_path / "in.json"
    schema = make_input(src)
    assert len(shards.blocks(str(src))) > 5
    stats = convert_file(str(src), str(tmp_path / "par.json"), config(schema))
    warnings_parallel = capsys.readouterr().err
    monkeypatch.setenv("KGC_WORKERS", "1")
    single = convert_file(str(src), str(tmp_path / "one.json"), config(schema))
    warnings_single = capsys.readouterr().err
    assert (tmp_path / "par.json").read_bytes() == (tmp_path / "one.json").read_bytes()
    assert (stats.duplicate_texts, stats.unknown_types) == (single.duplicate_texts,
                                                            single.unknown_types) == (500, {"town": 272})
    assert warnings_parallel == warnings_single != ""
    assert sorted(p.name for p in tmp_path.iterdir()) == ["in.json", "one.json", "par.json", "schema.json"]


def test_parallel_error_names_the_file_line_and_leaves_no_output(tmp_path, small_shards_convert):
    src = tmp_path / "in.json"
    schema = make_input(src, bad_line=1234)
    with pytest.raises(KgcError) as info:
        convert_file(str(src), str(tmp_path / "out.json"), config(schema))
    assert str(info.value) == f"{src}:1234: record has no 'text' string"
    assert sorted(p.name for p in tmp_path.iterdir()) == ["in.json", "schema.json"]
