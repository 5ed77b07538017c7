"""What `kgc eval` prints: every column in a file or a pipe, the headline of event tasks named, support
columns, per-type tables per source, Markdown and CSV, two runs side by side, the error listing, --task on
a mixed file, and empty or unparseable input as errors."""

from __future__ import annotations

import csv
import json

from tests.conftest import iepile_record, run_kgc, write_jsonl

SOURCE = "people_daily_2014_and_a_long_source_name"
EE_SCHEMA = [{"event_type": "地震", "trigger": True, "arguments": ["时间", "地点"]}]
EE_LABEL = [
    {
        "event_type": "地震",
        "event_trigger": "地震",
        "arguments": [{"argument": "四川", "role": "地点"}, {"argument": "5月", "role": "时间"}],
    }
]
NER_LABEL = [{"entity": "张三", "entity_type": "人物"}, {"entity": "北京", "entity_type": "地点"}]


def records(ner_answer: dict | str) -> list[dict]:
    return [
        iepile_record(
            "EE",
            EE_SCHEMA,
            "5月四川发生地震。",
            label=EE_LABEL,
            source=SOURCE,
            output={"地震": [{"trigger": "地震", "arguments": {"地点": "四川", "时间": "NAN"}}]},
        ),
        iepile_record(
            "NER", ["人物", "地点"], "张三在北京。", label=NER_LABEL, source="msra", output=ner_answer
        ),
    ]


def test_a_file_or_pipe_gets_every_column_and_the_event_headline_is_named(tmp_path):
    write_jsonl(tmp_path / "pred.json", records({"人物": ["张三"], "地点": []}))
    table = run_kgc("eval", "pred.json", "--sort-by", "source", cwd=tmp_path)  # stdout is a pipe here
    assert table.returncode == 0, table.stderr_text
    text = table.stdout_text
    assert SOURCE in text and "…" not in text  # nothing cut to 80 columns
    for column in ("event_F1", "argument_F1", "parse_errors", "off_schema", "gold", "pred"):
        assert column in text
    assert "P/R/F1: argument" in text.splitlines()[0]  # the EE rows' headline is their argument score
    assert f"per type ({SOURCE})" in text and "per type (msra)" in text  # per type for every block
    report = json.loads(
        run_kgc("eval", "pred.json", "--sort-by", "source", "--format", "json", cwd=tmp_path).stdout_text
    )
    ee = report[SOURCE]
    assert (ee["P"], ee["R"], ee["F1"], ee["headline"]) == (100.0, 50.0, 66.67, "argument")
    assert (ee["event_F1"], ee["argument_F1"]) == (100.0, 66.67)
    assert report["msra"]["F1"] == 66.67 and "headline" not in report["msra"]
    total = report["total"]  # NER's tuples and EE's arguments together
    assert (total["tp"], total["pred"], total["gold"], total["headline"]) == (2, 2, 4, "main+argument")


def test_markdown_and_csv(tmp_path):
    write_jsonl(tmp_path / "pred.json", records({"人物": ["张三"], "地点": ["北京"]}))
    markdown = run_kgc("eval", "pred.json", "--format", "markdown", cwd=tmp_path).stdout_text
    assert "| block | P | R | F1 | gold | pred |" in markdown and "| --- | ---: |" in markdown
    rows = list(
        csv.DictReader(run_kgc("eval", "pred.json", "--format", "csv", cwd=tmp_path).stdout_text.splitlines())
    )
    by_name = {row["name"]: row for row in rows}
    assert by_name["total"]["F1"] == "85.71" and by_name["人物"]["gold"] == "1"  # (2 + 1) of (2 + 2)


def test_two_runs_side_by_side(tmp_path):
    write_jsonl(tmp_path / "a.json", records({"人物": [], "地点": []}))
    write_jsonl(tmp_path / "b.json", records({"人物": ["张三"], "地点": ["北京"]}))
    result = run_kgc("eval", "a.json", "b.json", "--task", "NER", "--format", "json", cwd=tmp_path)
    assert result.returncode == 0, result.stderr_text
    delta = json.loads(result.stdout_text)["delta"]
    assert (delta["total"]["F1_a"], delta["total"]["F1_b"], delta["total"]["delta_F1"]) == (0.0, 100.0, 100.0)
    assert delta["total"]["per_type"]["人物"]["delta_F1"] == 100.0
    assert "1 record(s) of other tasks left out (--task NER)" in result.stderr_text
    table = run_kgc("eval", "a.json", "b.json", "--task", "NER", cwd=tmp_path).stdout_text
    assert "ΔF1" in table and "+100.00" in table


def test_errors_lists_false_positives_and_negatives(tmp_path):
    write_jsonl(tmp_path / "pred.json", records({"人物": ["李四"], "地点": ["北京"]}))
    report = json.loads(
        run_kgc("eval", "pred.json", "--errors", "5", "--format", "json", cwd=tmp_path).stdout_text
    )
    listed = {e["task"]: e for e in report["errors"]}
    assert listed["NER"]["false_positives"] == [["李四", "人物"]]
    assert listed["NER"]["false_negatives"] == [["张三", "人物"]]
    assert (
        listed["EE"]["false_negatives"] == [["地震", "5月", "时间"]] and listed["EE"]["false_positives"] == []
    )


def test_empty_or_unparseable_input_fails_the_pipeline(tmp_path):
    empty = run_kgc("eval", "-", input="")
    assert empty.returncode == 2 and empty.stderr_text.startswith("kgc: error: <stdin>: no records")
    write_jsonl(tmp_path / "pred.json", [{**r, "output": "Sorry, I cannot."} for r in records({})])
    unparsed = run_kgc("eval", "pred.json", cwd=tmp_path)
    assert unparsed.returncode == 2 and "none of the 2 answer(s) parses as JSON" in unparsed.stderr_text
    assert unparsed.stdout_text == ""
