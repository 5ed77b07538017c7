"""eval: hand-computed P/R/F1 for every task, both match modes, legacy protocol, repairs, sources, pipes."""

from __future__ import annotations

import json
import subprocess
import sys

import pytest

from kgcli.errors import KgcError
from kgcli.evaluate import evaluate_file
from tests.conftest import ROOT, iepile_record, run_kgc, write_jsonl


def rec(rid, source, task, schema, label, output):
    return iepile_record(task, schema, "t", label=label, output=output, record_id=rid, source=source)


NER_GOLD_A = [{"entity": "张三", "entity_type": "人物"}, {"entity": "北京", "entity_type": "地点"},
              {"entity": "华为", "entity_type": "组织"}]
NER_GOLD_B = [{"entity": "上海", "entity_type": "地点"}]
NER_RECORDS = [
    rec("a", "s1", "NER", ["人物", "地点"], NER_GOLD_A, {"人物": ["张三", "李四"], "地点": ["北京"]}),
    rec("b", "s2", "NER", ["人物", "地点"], NER_GOLD_B, {"人物": [], "地点": ["上海", "上海"]}),
    rec("a", "s1", "NER", ["组织"], NER_GOLD_A, {"组织": []}),  # a later chunk of sample a
]


def score(tmp_path, records, **options):
    path = write_jsonl(tmp_path / "pred.json", records)
    return evaluate_file(str(path), **options)


def prf(block, prefix=""):
    return block[f"{prefix}P"], block[f"{prefix}R"], block[f"{prefix}F1"]


def test_ner_normal_and_set_mode(tmp_path):
    normal = score(tmp_path, NER_RECORDS, task="NER")["total"]
    assert prf(normal) == (60.0, 75.0, 66.67) and normal["samples"] == 2
    assert (normal["tp"], normal["pred"], normal["gold"]) == (3, 5, 4)
    per_type = normal["per_type"]
    assert prf(per_type["人物"]) == (50.0, 100.0, 66.67)
    assert prf(per_type["地点"]) == (66.67, 100.0, 80.0)
    assert prf(per_type["组织"]) == (0.0, 0.0, 0.0)
    assert prf(score(tmp_path, NER_RECORDS, task="NER", match_mode="set")["total"]) == (75.0, 75.0, 75.0)
    assert prf(score(tmp_path, NER_RECORDS, task="NER", legacy=True)["total"]) == (60.0, 75.0, 66.67)


def test_sort_by_source_gives_one_block_per_source_and_a_micro_total(tmp_path):
    report = score(tmp_path, NER_RECORDS, task="NER", sort_by="source")
    assert list(report) == ["total", "s1", "s2"]
    assert prf(report["s1"]) == (66.67, 66.67, 66.67) and report["s1"]["samples"] == 1
    assert prf(report["s2"]) == (50.0, 100.0, 66.67)
    assert prf(report["total"]) == (60.0, 75.0, 66.67)


def test_re_legacy_rounds_p_and_r_before_f1(tmp_path):
    gold = [{"head": f"h{i}", "relation": "r", "tail": f"t{i}"} for i in range(6)]
    records = [rec("x", "re", "RE", ["r"], gold, {"r": [{"subject": "h0", "object": "t0"}]})]
    assert prf(score(tmp_path, records, task="RE")["total"]) == (100.0, 16.67, 28.57)
    assert prf(score(tmp_path, records, task="RE", legacy=True)["total"]) == (100.0, 16.67, 28.58)


def test_re_accepts_head_tail_and_subject_object(tmp_path):
    gold = [{"head": "A", "relation": "r", "tail": "B"}, {"head": "C", "relation": "r", "tail": "D"}]
    records = [rec("x", "re", "RE", ["r"], gold,
                   {"r": [{"subject": "A", "object": "B"}, {"head": "C", "tail": "D"},
                                                      {"head": "C", "tail": "D"}]})]
    normal = score(tmp_path, records, task="RE")["total"]
    assert (normal["tp"], normal["pred"], normal["gold"]) == (2, 3, 2)
    assert prf(score(tmp_path, records, task="RE", match_mode="set")["total"]) == (100.0, 100.0, 100.0)


def test_markdown_fence_is_repaired_by_default_and_an_error_in_legacy(tmp_path):
    fenced = '```json\n{"人物": ["张三"], "地点": ["北京"]}\n```'
    records = [rec("a", "s1", "NER", ["人物", "地点"], NER_GOLD_A, fenced),
               rec("b", "s1", "NER", ["人物", "地点"], NER_GOLD_B, {"人物": [], "地点": ["上海"]})]
    default = score(tmp_path, records, task="NER")["total"]
    assert prf(default) == (100.0, 75.0, 85.71) and (default["repaired"], default["parse_errors"]) == (1, 0)
    legacy = score(tmp_path, records, task="NER", legacy=True)["total"]
    assert prf(legacy) == (100.0, 25.0, 40.0) and (legacy["repaired"], legacy["parse_errors"]) == (0, 1)


def test_a_reasoning_answer_scores_as_its_json_and_is_an_error_in_legacy(tmp_path):
    """Qwen3 with thinking off answers an empty think block first; one with thinking on may run out of
    tokens inside it (an unfinished block: a parse error of its own kind); braces inside the reasoning are
    not mistaken for the answer."""
    qwen3 = '<think>\n\n</think>\n\n{"人物": ["张三"]}'
    bare = rec("a", "s1", "NER", ["人物", "地点"], NER_GOLD_A, {"人物": ["张三"]})
    plain = score(tmp_path, [bare], task="NER")["total"]
    records = [rec("a", "s1", "NER", ["人物", "地点"], NER_GOLD_A, qwen3),
               rec("b", "s1", "NER", ["人物", "地点"], NER_GOLD_B,
                   '<think>The text says {"地点": ["北京"]} maybe</think> {"地点": ["上海"]}'),
               rec("c", "s1", "NER", ["人物", "地点"], NER_GOLD_B, "<think>Let me see. The entities are")]
    default = score(tmp_path, records[:1], task="NER")["total"]
    assert {k: default[k] for k in plain} == plain and default["thinking"] == 1
    assert default["repaired"] == 0
    both = score(tmp_path, records, task="NER")["total"]
    assert (both["tp"], both["pred"], both["gold"]) == (2, 2, 5)
    assert (both["thinking"], both["unfinished_thinking"], both["parse_errors"]) == (2, 1, 1)
    legacy = score(tmp_path, [records[0], bare], task="NER", legacy=True)["total"]
    assert (legacy["parse_errors"], legacy["tp"]) == (1, 1) and "thinking" not in legacy
    table = run_kgc("eval", str(write_jsonl(tmp_path / "p.json", records)), check=True).stdout_text
    assert "thinking" in table and "unfinished_thinking" in table


def test_every_answer_unparseable_or_no_record_of_the_task_is_an_error(tmp_path):
    records = [rec("a", "s1", "NER", ["人物", "地点"], NER_GOLD_A, "I cannot answer that."),
               rec("b", "s1", "NER", ["人物", "地点"], NER_GOLD_B, "Sorry.")]
    with pytest.raises(KgcError, match="none of the 2 answer"):
        score(tmp_path, records, task="NER")
    with pytest.raises(KgcError, match="no records of task RE"):
        score(tmp_path, NER_RECORDS, task="RE")


def test_truncated_and_chatty_answers_are_repaired(tmp_path):
    records = [rec("a", "s1", "NER", ["人物", "地点"], NER_GOLD_A, 'Here you go: {"人物": ["张三"], "地点": ["北'),  # noqa: E501
               rec("b", "s1", "NER", ["人物", "地点"], NER_GOLD_B, "I cannot answer that.")]
    total = score(tmp_path, records, task="NER")["total"]
    assert (total["tp"], total["pred"], total["gold"]) == (1, 2, 4)
    assert (total["repaired"], total["parse_errors"]) == (1, 1)


def test_off_schema_keys_are_counted_and_ignored(tmp_path):
    records = [rec("a", "s1", "NER", ["人物"], NER_GOLD_A, {"人物": ["张三"], "地点": ["北京"], "组织": []})]
    total = score(tmp_path, records, task="NER")["total"]
    assert (total["tp"], total["pred"], total["off_schema"]) == (1, 1, 2)
    legacy = score(tmp_path, records, task="NER", legacy=True)["total"]  # the seed does not check keys
    assert (legacy["tp"], legacy["pred"], legacy["off_schema"]) == (2, 2, 0)


EE_GOLD = [{"event_type": "attack", "event_trigger": "attacked", "arguments": [
    {"argument": "rebels", "role": "attacker"}, {"argument": "base", "role": "target"}]},
    {"event_type": "meeting", "event_trigger": "met",
     "arguments": [{"argument": "leaders", "role": "entity"}]}]
EE_SCHEMA = [{"event_type": "attack", "trigger": True, "arguments": ["attacker", "target", "instrument"]},
             {"event_type": "meeting", "trigger": True, "arguments": ["entity"]}]


@pytest.mark.parametrize("legacy", [False, True])
def test_ee_event_and_argument_scores(tmp_path, legacy):
    output = {"attack": [{"trigger": "attacked",
                          "arguments": {"attacker": "rebels", "target": "NAN", "instrument": "rockets"}}],
              "meeting": []}
    total = score(tmp_path, [rec("e", "ace", "EE", EE_SCHEMA, EE_GOLD, output)], task="EE",
                  legacy=legacy)["total"]
    assert prf(total, "event_") == (100.0, 50.0, 66.67)
    assert prf(total, "argument_") == (50.0, 33.33, 40.0)
    set_mode = score(tmp_path, [rec("e", "ace", "EE", EE_SCHEMA, EE_GOLD, output)], task="EE",
                     match_mode="set")["total"]
    assert prf(set_mode, "argument_") == (50.0, 33.33, 40.0)


def test_eea_reads_iepile_and_deepke_shapes(tmp_path):
    schema = [{"event_type": "attack", "trigger": ["attacked"], "arguments": ["attacker", "target"]}]
    gold = EE_GOLD[:1]
    flat = rec("e", "ace", "EEA", schema, gold, {"attack": [{"attacker": "rebels", "target": "NAN"}]})
    deepke = rec("f", "ace", "EEA", schema, gold,
                 {"attack": [{"trigger": "attacked", "arguments": {"attacker": "rebels", "target": "base"}}]})
    total = score(tmp_path, [flat, deepke], task="EEA")["total"]
    assert (total["argument_tp"], total["argument_pred"], total["argument_gold"]) == (3, 3, 4)
    assert prf(total, "argument_") == (100.0, 75.0, 85.71)
    assert prf(total, "event_") == (100.0, 100.0, 100.0)


def test_eet_spo_and_kg_evaluate(tmp_path):
    eet = rec("e", "ace", "EET", ["attack", "meeting"], EE_GOLD,
              {"attack": ["attacked"], "meeting": ["meets"]})
    assert prf(score(tmp_path, [eet], task="EET")["total"]) == (50.0, 50.0, 50.0)
    spo_gold = [{"head": "红高粱", "head_type": "影视作品", "relation": "导演", "tail": "张艺谋", "tail_type": "人物"},  # noqa: E501
                {"head": "张艺谋", "head_type": "人物", "relation": "出生地", "tail": "西安", "tail_type": "地点"}]  # noqa: E501
    spo_schema = [{"subject_type": "影视作品", "predicate": "导演", "object_type": "人物"},
                  {"subject_type": "人物", "predicate": "出生地", "object_type": "地点"}]
    spo = rec("s", "duie", "SPO", spo_schema, spo_gold, {"导演": [{"subject": "红高粱", "object": "张艺谋"}],
                                                          "出生地": [{"subject": "张艺谋", "object": "北京"}]})  # noqa: E501
    assert prf(score(tmp_path, [spo], task="SPO")["total"]) == (50.0, 50.0, 50.0)
    kg_gold = [{"head": "明治天皇", "relation": "别名", "tail": "睦仁"},
               {"head": "明治天皇", "relation": "父母", "tail": "孝明天皇"},
               {"head": "明治天皇", "relation": "父母", "tail": "英照皇太后"}]
    kg = rec("k", "kg", "KG", [{"entity_type": "人物", "attributes": ["别名", "父母"]}], kg_gold,
             {"人物": {"明治天皇": {"别名": "睦仁", "父母": ["孝明天皇", "权大纳言"], "配偶": "NAN"}}})
    report = score(tmp_path, [kg], task="KG")["total"]
    assert prf(report) == (66.67, 66.67, 66.67)
    assert prf(score(tmp_path, [kg], task="KG", match_mode="set")["total"]) == (66.67, 66.67, 66.67)


def test_task_is_read_from_records_and_sort_by_task(tmp_path):
    eet = rec("e", "ace", "EET", ["attack", "meeting"], EE_GOLD, {"attack": ["attacked"], "meeting": ["met"]})
    report = score(tmp_path, NER_RECORDS + [eet], sort_by="task")
    assert list(report) == ["total", "EET", "NER"]
    assert prf(report["EET"]) == (100.0, 100.0, 100.0)
    assert (report["total"]["tp"], report["total"]["pred"], report["total"]["gold"]) == (5, 7, 6)


def test_ner_and_re_records_of_one_text_in_one_file_are_scored_apart(tmp_path):
    gold_re = [{"head": "张三", "relation": "工作于", "tail": "华为"}]
    records = [rec("a", "s1", "NER", ["人物", "地点", "组织"], NER_GOLD_A,
                   {"人物": ["张三"], "地点": ["北京"], "组织": ["华为"]}),
               rec("a", "s1", "RE", ["工作于"], gold_re, {"工作于": [{"subject": "张三", "object": "华为"}]})]
    report = score(tmp_path, records, sort_by="task")
    assert prf(report["NER"]) == (100.0, 100.0, 100.0) and prf(report["RE"]) == (100.0, 100.0, 100.0)
    assert report["NER"]["samples"] == report["RE"]["samples"] == 1


def test_bad_lines_stop_with_file_and_line_unless_skipped(tmp_path):
    records = NER_RECORDS + [{"id": "z", "source": "s1", "label": "[]"}]
    path = write_jsonl(tmp_path / "pred.json", records)
    result = run_kgc("eval", str(path), "--task", "NER")
    assert result.returncode == 2
    assert result.stderr_text == f"kgc: error: {path}:4: record has no 'output' string (run kgc predict first)\n"  # noqa: E501
    with open(path, "a") as handle:
        handle.write("not json\n")
    skipped = json.loads(run_kgc("eval", str(path), "--task", "NER", "--skip-bad", "--format", "json",
                                 check=True).stdout_text)
    assert skipped["total"]["skipped_lines"] == 2 and skipped["total"]["F1"] == 66.67


def test_json_report_file_and_table(tmp_path):
    path = write_jsonl(tmp_path / "pred.json", NER_RECORDS)
    result = run_kgc("eval", str(path), "--task", "NER", "--sort-by", "source", "--out",
                     str(tmp_path / "report.json"), check=True)
    assert "total" in result.stdout_text and "66.67" in result.stdout_text
    report = json.loads((tmp_path / "report.json").read_text())
    assert set(report) == {"total", "s1", "s2"}
    assert {"P", "R", "F1", "samples", "parse_errors", "repaired", "off_schema",
            "per_type"} <= set(report["total"])


def test_convert_predict_eval_pipe(tmp_path):
    folder = tmp_path / "MSRA"
    folder.mkdir()
    write_jsonl(folder / "test.json", [
        {"text": "张三在北京工作。",
         "entity": [{"entity": "张三", "entity_type": "人物"}, {"entity": "北京", "entity_type": "地点"}]},
        {"text": "李四去了上海。",
         "entity": [{"entity": "李四", "entity_type": "人物"}, {"entity": "上海", "entity_type": "地点"}]}])
    (folder / "schema.json").write_text('["人物", "地点", "组织"]\n[]\n{}\n', encoding="utf-8")
    # A stand-in "model": answers each chunk with the gold entities of the asked types, except one miss.
    answer = ("import json,sys\n"
              "for line in sys.stdin:\n"
              "    r = json.loads(line); schema = json.loads(r['instruction'])['schema']\n"
              "    gold = [e for e in json.loads(r['label']) if e['entity'] != '上海']\n"
              "    r['output'] = json.dumps({t: [e['entity'] for e in gold if e['entity_type'] == t] for t "
              "in schema}, ensure_ascii=False)\n"
              "    print(json.dumps(r, ensure_ascii=False))\n")
    kgc = f"{sys.executable} -m kgcli"
    command = (f"{kgc} convert {folder / 'test.json'} --task NER --split test --split-num 2 --schema "
               f"{folder / 'schema.json'} "
               f"| {sys.executable} -c \"{answer}\" | {kgc} eval --task NER --format json -")
    result = subprocess.run(["bash", "-o", "pipefail", "-c", command], capture_output=True, text=True,
                            cwd=ROOT)
    assert result.returncode == 0, result.stderr
    total = json.loads(result.stdout)["total"]
    assert (total["P"], total["R"], total["F1"], total["samples"]) == (100.0, 75.0, 85.71, 2)
