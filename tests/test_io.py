from __future__ import annotations

import pytest

from kgcli.errors import KgcError
from kgcli.io import compat_dumps, read_jsonl
from kgcli.outputs import check_output


def test_bom_crlf_and_blank_lines_are_tolerated(tmp_path):
    path = tmp_path / "in.json"
    path.write_bytes(b'\xef\xbb\xbf{"text": "a"}\r\n\r\n{"text": "\xe4\xb8\xad"}\r\n')
    assert list(read_jsonl(str(path))) == [(1, {"text": "a"}), (3, {"text": "中"})]


def test_bad_line_reports_file_and_line(tmp_path):
    path = tmp_path / "in.json"
    path.write_text('{"text": "a"}\n{"text": \n')
    with pytest.raises(KgcError) as info:
        list(read_jsonl(str(path)))
    assert str(info.value).startswith(f"{path}:2: not valid JSON")


def test_output_leaves_nothing_on_failure_and_keeps_old_file(tmp_path):
    target = tmp_path / "out.json"
    with pytest.raises(RuntimeError), check_output(str(target)).open() as handle:
        handle.write("half")
        raise RuntimeError("boom")
    assert not target.exists() and list(tmp_path.iterdir()) == []
    target.write_text("old\n")
    with pytest.raises(RuntimeError), check_output(str(target)).open() as handle:
        handle.write("new")
        raise RuntimeError("boom")
    assert target.read_text() == "old\n"
    with check_output(str(target)).open() as handle:
        handle.write("new\n")
    assert target.read_text() == "new\n"


def test_compat_dumps_is_the_seed_byte_format():
    assert compat_dumps({"人物": ["张三"], "b": []}) == '{"人物": ["张三"], "b": []}'
