"""Documents as people have them: a folder with a GBK file, a PDF and a UTF-8 file (``--encoding``,
``--on-bad-file``, files of other types listed), and Chinese beside English (``--language auto``, and the
warning when the instruction language does not match a document). The model is a fake OpenAI-compatible
server that names the people it is asked about, so nothing loads here."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from tests.conftest import read_jsonl, run_kgc
from tests.fake_openai import FakeOpenAI

PEOPLE = ("张三", "李四", "Alice")
ZH_SENTENCE = "你是专门进行实体抽取的专家"


def answer(body: dict) -> str:
    (message,) = body["messages"]
    instruction = json.loads(message["content"])
    found = [name for name in PEOPLE if name in instruction["input"]]
    return json.dumps({"人物": found, "地点": []}, ensure_ascii=False)


@pytest.fixture()
def folder(tmp_path) -> Path:
    (tmp_path / "docs").mkdir()
    (tmp_path / "docs" / "a-utf8.txt").write_text("张三在北京工作。", encoding="utf-8")
    (tmp_path / "docs" / "b-gbk.txt").write_bytes("李四在上海工作，他喜欢读书。".encode("gbk"))
    (tmp_path / "docs" / "report.pdf").write_bytes(b"%PDF-1.4\n1 0 obj << /Type /Catalog >> endobj\n%%EOF\n")
    (tmp_path / "ner.json").write_text('["人物", "地点"]\n[]\n{}\n', encoding="utf-8")
    return tmp_path


def extract(folder: Path, server: FakeOpenAI, *extra: str, check: bool = False):
    return run_kgc("extract", "docs", "out.json", "--backend", "openai", "--api-base", server.url,
                   "--served-model", "m", "--task", "NER", "--schema", "ner.json", *extra, cwd=folder,
                   check=check)


def people(folder: Path) -> dict[str, set[str]]:
    return {d["doc_id"]: {e["text"] for e in d["entities"]} for d in read_jsonl(folder / "out.json")}


def test_a_gbk_file_stops_the_run_naming_it_and_the_encoding_option(folder):
    with FakeOpenAI(answer) as server:
        result = extract(folder, server)
        asked = [s for s in server.seen if s.path.endswith("/chat/completions")]
    assert result.returncode == 2
    error = [line for line in result.stderr_text.splitlines() if line.startswith("kgc: error:")]
    assert len(error) == 1 and "docs/b-gbk.txt:1:" in error[0] and "--encoding" in error[0]
    assert "Traceback" not in result.stderr_text and not (folder / "out.json").exists()
    assert "report.pdf" in result.stderr_text  # the PDF is listed as skipped, not passed over
    assert asked == []  # nothing was sent for any document


def test_skip_extracts_the_utf8_file_and_lists_the_other_two(folder):
    with FakeOpenAI(answer) as server:
        result = extract(folder, server, "--on-bad-file", "skip", check=True)
    said = result.stderr_text
    assert "b-gbk.txt" in said and "skipped (--on-bad-file skip)" in said
    assert "1 file(s) that are not .txt or .md skipped" in said and "report.pdf" in said
    assert people(folder) == {"a-utf8.txt": {"张三"}}


def test_an_encoding_list_reads_both_text_files(folder):
    with FakeOpenAI(answer) as server:
        extract(folder, server, "--encoding", "utf-8,gbk", check=True)
    found = {d["doc_id"]: d for d in read_jsonl(folder / "out.json")}
    assert people(folder) == {"a-utf8.txt": {"张三"}, "b-gbk.txt": {"李四"}}
    (li,) = found["b-gbk.txt"]["entities"]
    (mention,) = li["mentions"]
    assert (mention["start"], mention["end"]) == (0, 2)  # offsets into the decoded text


def test_language_auto_chooses_per_document_and_a_fixed_one_warns_on_the_other(tmp_path):
    (tmp_path / "docs").mkdir()
    (tmp_path / "docs" / "zh.txt").write_text("张三在北京工作，他是一名医生。", encoding="utf-8")
    (tmp_path / "docs" / "en.txt").write_text("Alice works in Paris as a doctor.", encoding="utf-8")
    (tmp_path / "ner.json").write_text('["人物", "地点"]\n[]\n{}\n', encoding="utf-8")
    with FakeOpenAI(answer) as server:
        result = extract(tmp_path, server, "--language", "auto", check=True)
        asked = {json.loads(s.body["messages"][0]["content"])["input"]:
                 json.loads(s.body["messages"][0]["content"])["instruction"]
                 for s in server.seen if s.path.endswith("/chat/completions")}
    assert ZH_SENTENCE in asked["张三在北京工作，他是一名医生。"]
    assert ZH_SENTENCE not in asked["Alice works in Paris as a doctor."]
    assert "--language auto: 1 Chinese, 1 English document(s)" in result.stderr_text
    assert people(tmp_path) == {"zh.txt": {"张三"}, "en.txt": {"Alice"}}
    with FakeOpenAI(answer) as server:
        fixed = extract(tmp_path, server, "--language", "zh", "--overwrite", check=True)
    assert ("1 of 2 document(s) are written in English (by their script) but the instructions are "
            "Chinese (--language zh)") in fixed.stderr_text
