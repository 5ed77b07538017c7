"""Golden conversion tests: whole output lines for every task, zh and en (spec §1–§2)."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from kgcli.convert import split_chunks
from tests.conftest import run_kgc, write_jsonl
from tests.samples import (
    EE_RECORD,
    EE_SCHEMA,
    EE_TEXT,
    EEA_RECORD,
    EEA_SCHEMA,
    EEA_TEXT,
    KG_RECORD,
    KG_SCHEMA,
    KG_TEXT,
    NER_RECORD,
    NER_SCHEMA,
    NER_TEXT,
    RE_RECORD,
    RE_SCHEMA,
    RE_TEXT,
    SPO_RECORD,
    SPO_SCHEMA,
    SPO_TEXT,
)

S = {  # instruction sentences, spec §1.2
    ("NER", "zh"): "你是专门进行实体抽取的专家。请从input中抽取出符合schema定义的实体，不存在的实体类型返回空列表。请按照JSON字符串的格式回答。",
    ("NER", "en"): "You are an expert in named entity recognition. Please extract entities that match the schema definition from the input. Return an empty list if the entity type does not exist. Please respond in the format of a JSON string.",
    ("RE", "en"): "You are an expert in relationship extraction. Please extract relationship triples that match the schema definition from the input. Return an empty list for relationships that do not exist. Please respond in the format of a JSON string.",
    ("RE", "zh"): "你是专门进行关系抽取的专家。请从input中抽取出符合schema定义的关系三元组，不存在的关系返回空列表。请按照JSON字符串的格式回答。",
    ("EE", "en"): "You are an expert in event extraction. Please extract events from the input that conform to the schema definition. Return an empty list for events that do not exist, and return NAN for arguments that do not exist. If an argument has multiple values, please return a list. Respond in the format of a JSON string.",
    ("EE", "zh"): "你是专门进行事件提取的专家。请从input中抽取出符合schema定义的事件，不存在的事件返回空列表，不存在的论元返回NAN，如果论元存在多值请返回列表。请按照JSON字符串的格式回答。",
    ("EET", "en"): "You are an expert in event extraction. Please extract event types and event trigger words from the input that conform to the schema definition. Return an empty list for non-existent events. Please respond in the format of a JSON string.",
    ("EET", "zh"): "你是专门进行事件提取的专家。请从input中抽取出符合schema定义的事件类型及事件触发词，不存在的事件返回空列表。请按照JSON字符串的格式回答。",
    ("EEA", "zh"): "你是专门进行事件论元提取的专家。请从input中抽取出符合schema定义的事件论元及论元角色，不存在的论元返回NAN或空字典，如果论元存在多值请返回列表。请按照JSON字符串的格式回答。",
    ("EEA", "en"): "You are an expert in event argument extraction. Please extract event arguments and their roles from the input that conform to the schema definition, which already includes event trigger words. If an argument does not exist, return NAN or an empty dictionary. Please respond in the format of a JSON string.",
    ("KG", "zh"): "你是一个图谱实体知识结构化专家。根据输入实体类型(entity type)的schema描述，从文本中抽取出相应的实体实例和其属性信息，不存在的属性不输出, "
                  "属性存在多值就返回列表，并输出为可解析的json格式。",
    ("KG", "en"): "You are an expert in structured knowledge systems for graph entities. Based on the schema description of the input entity type, you extract the corresponding entity instances and their attribute information from the text. Attributes that do not exist should not be output. If an attribute has multiple values, a list should be returned. The results should be output in a parsable JSON format.",
}
SPO_ZH = S[("RE", "zh")]  # the current SPO sentence is the RE one


def dumps(value) -> str:
    return json.dumps(value, ensure_ascii=False)


def train_line(task, source, sentence, schema, text, output) -> str:
    instruction = dumps({"instruction": sentence, "schema": schema, "input": text})
    return dumps({"task": task, "source": source, "instruction": instruction, "output": dumps(output)})


def expected_test_line(task, source, sentence, schema, text, label=None) -> str:
    import hashlib

    record = {"id": hashlib.sha256(text.encode()).hexdigest(), "task": task, "source": source,
              "instruction": dumps({"instruction": sentence, "schema": schema, "input": text})}
    if label is not None:
        record["label"] = dumps(label)
    return dumps(record)


def convert(tmp_path: Path, records, schema_lines, *args, source="data") -> list[str]:
    folder = tmp_path / source
    folder.mkdir(parents=True, exist_ok=True)
    write_jsonl(folder / "in.json", records)
    (folder / "schema.json").write_text("\n".join(dumps(v) for v in schema_lines) + "\n", encoding="utf-8")
    out = tmp_path / "out.json"
    result = run_kgc("convert", str(folder / "in.json"), str(out), "--schema", str(folder / "schema.json"),
                     "--overwrite", *args)
    assert result.returncode == 0, result.stderr_text
    return out.read_text(encoding="utf-8").splitlines()


# ---- NER -------------------------------------------------------------------------------------------


def test_ner_zh_test_split_matches_the_seed_line(tmp_path):
    lines = convert(tmp_path, [NER_RECORD], NER_SCHEMA, "--task", "NER", "--split", "test", source="NER")
    assert lines == [
        '{"id": "e88d2b42f8ca14af1b77474fcb18671ed3cacc0c75cf91f63375e966574bd187", "task": "NER", "source": '
        '"NER", '
        '"instruction": "{\\"instruction\\": '
        '\\"你是专门进行实体抽取的专家。请从input中抽取出符合schema定义的实体，不存在的实体类型返回空列表。请按照JSON字符串的格式回答。\\", '
        '\\"schema\\": [\\"人物\\", \\"组织机构\\", \\"地理位置\\"], \\"input\\": '
        '\\"相比之下，青岛海牛队和广州松日队的雨中之战虽然也是0∶0，但乏善可陈。\\"}", '
        '"label": "[{\\"entity\\": \\"广州松日队\\", \\"entity_type\\": \\"组织机构\\"}, {\\"entity\\": \\"青岛海牛队\\", '
        '\\"entity_type\\": \\"组织机构\\"}]"}'
    ]


def test_ner_zh_train_split_sorted_schema_and_input_order_output(tmp_path):
    lines = convert(tmp_path, [NER_RECORD], NER_SCHEMA, "--task", "NER", source="NER")
    assert lines == [train_line("NER", "NER", S[("NER", "zh")], ["人物", "地理位置", "组织机构"], NER_TEXT,
                                {"人物": [], "地理位置": [], "组织机构": ["广州松日队", "青岛海牛队"]})]


def test_ner_en_split_6_with_13_types_gives_chunks_of_6_and_7(tmp_path):
    types = [f"type{i:02d}" for i in range(1, 14)]
    text = "Alice met Bob."
    record = {"text": text,
              "entity": [{"entity": "Alice", "entity_type": "type03"},
                         {"entity": "Bob", "entity_type": "type12"}]}
    label = record["entity"]
    lines = convert(tmp_path, [record], [types, [], {}], "--task", "NER", "--language", "en", "--split",
                    "test", "--source", "demo")
    assert lines == [expected_test_line("NER", "demo", S[("NER", "en")], types[:6], text, label),
                     expected_test_line("NER", "demo", S[("NER", "en")], types[6:], text, label)]
    train = convert(tmp_path, [record], [types, [], {}], "--task", "NER", "--language", "en", "--source",
                    "demo")
    assert [len(json.loads(json.loads(line)["instruction"])["schema"]) for line in train] == [6, 7]
    outputs = [json.loads(json.loads(line)["output"]) for line in train]
    assert outputs[0]["type03"] == ["Alice"] and outputs[1]["type12"] == ["Bob"]


def test_neg_schema_0_drops_records_without_positives(tmp_path):
    records = [{"text": "nothing here", "entity": []}, NER_RECORD]
    lines = convert(tmp_path, records, NER_SCHEMA, "--task", "NER", "--neg-schema", "0", source="NER")
    assert lines == [train_line("NER", "NER", S[("NER", "zh")], ["组织机构"], NER_TEXT,
                                {"组织机构": ["广州松日队", "青岛海牛队"]})]


# ---- RE --------------------------------------------------------------------------------------------


def test_re_en_train_uses_subject_object(tmp_path):
    lines = convert(tmp_path, [RE_RECORD], RE_SCHEMA, "--task", "RE", "--language", "en", source="conll04")
    assert lines == [train_line("RE", "conll04", S[("RE", "en")],
                                ["founded by", "place of birth", "works for"], RE_TEXT,
                                {"founded by": [],
                                 "place of birth": [{"subject": "Thomas Edison", "object": "Milan"}],
                                 "works for": []})]


def test_re_en_head_tail_keys_on_request(tmp_path):
    lines = convert(tmp_path, [RE_RECORD], RE_SCHEMA, "--task", "RE", "--language", "en", "--neg-schema", "0",
                    "--re-keys", "head-tail", source="conll04")
    assert lines == [train_line("RE", "conll04", S[("RE", "en")], ["place of birth"], RE_TEXT,
                                {"place of birth": [{"head": "Thomas Edison", "tail": "Milan"}]})]


def test_re_zh_test_split_with_zero_positives(tmp_path):
    text = "今天天气很好。"
    relations = ["作者", "导演", "主演", "出生地", "毕业院校"]
    lines = convert(tmp_path, [{"text": text, "relation": []}], [[], relations, {}], "--task", "RE",
                    "--split", "test",
                    "--source", "DuIE2.0")
    assert lines == [expected_test_line("RE", "DuIE2.0", S[("RE", "zh")], relations, text, [])]


# ---- SPO -------------------------------------------------------------------------------------------


def test_spo_zh_train_and_test(tmp_path):
    train = convert(tmp_path, [SPO_RECORD], SPO_SCHEMA, "--task", "SPO", "--neg-schema", "0", source="DuIE")
    schema = [{"subject_type": "人物", "predicate": "出生地", "object_type": "地点"},
              {"subject_type": "影视作品", "predicate": "导演", "object_type": "人物"}]
    assert train == [train_line("SPO", "DuIE", SPO_ZH, schema, SPO_TEXT,
                                {"出生地": [{"subject": "张艺谋", "object": "西安"}],
                                 "导演": [{"subject": "红高粱", "object": "张艺谋"}]})]
    test = convert(tmp_path, [SPO_RECORD], SPO_SCHEMA, "--task", "SPO", "--split", "test", source="DuIE")
    file_order = [{"subject_type": "人物", "predicate": "出生地", "object_type": "地点"},
                  {"subject_type": "影视作品", "predicate": "导演", "object_type": "人物"},
                  {"subject_type": "人物", "predicate": "毕业院校", "object_type": "学校"}]
    assert test == [expected_test_line("SPO", "DuIE", SPO_ZH, file_order, SPO_TEXT, SPO_RECORD["relation"])]


def test_spo_types_sharing_a_predicate_are_merged_not_overwritten(tmp_path):
    text = "甲生于北京，乙公司成立于上海。"
    record = {"text": text, "relation": [
        {"head": "甲", "head_type": "人物", "relation": "所在地", "tail": "北京", "tail_type": "地点"},
        {"head": "乙公司", "head_type": "企业", "relation": "所在地", "tail": "上海", "tail_type": "地点"}]}
    [line] = convert(tmp_path, [record], [["人物_所在地_地点", "企业_所在地_地点"], [], {}], "--task", "SPO",
                     "--neg-schema", "0", source="x")
    assert json.loads(json.loads(line)["output"]) == {"所在地": [{"subject": "甲", "object": "北京"},
                                                              {"subject": "乙公司", "object": "上海"}]}


# ---- EE --------------------------------------------------------------------------------------------


def test_ee_en_train_missing_role_is_nan_and_multi_values_in_text_order(tmp_path):
    lines = convert(tmp_path, [EE_RECORD], EE_SCHEMA, "--task", "EE", "--language", "en", source="ace")
    schema = [{"event_type": "attack", "trigger": True, "arguments": ["attacker", "instrument", "target"]},
              {"event_type": "meeting", "trigger": True, "arguments": ["entity", "place"]}]
    output = {"attack": [{"trigger": "attacked", "arguments": {"attacker": "rebels", "instrument": "NAN",
                                                               "target": ["base", "airport"]}}], "meeting": []}
    assert lines == [train_line("EE", "ace", S[("EE", "en")], schema, EE_TEXT, output)]


def test_ee_zh_test_split_in_schema_file_order(tmp_path):
    text = "公司宣布裁员。"
    schema_lines = [["裁员", "融资"], ["裁员方", "融资方"], {"融资": ["融资方", "融资金额"], "裁员": ["裁员方"]}]
    lines = convert(tmp_path, [{"text": text}], schema_lines, "--task", "EE", "--split", "test",
                    source="DuEE")
    schema = [{"event_type": "融资", "trigger": True, "arguments": ["融资方", "融资金额"]},
              {"event_type": "裁员", "trigger": True, "arguments": ["裁员方"]}]
    assert lines == [expected_test_line("EE", "DuEE", S[("EE", "zh")], schema, text)]  # unlabelled: no label


def test_ee_event_without_filled_roles_gets_empty_arguments(tmp_path):
    record = {"text": "They met.",
              "event": [{"event_type": "meeting", "event_trigger": "met", "arguments": []}]}
    [line] = convert(tmp_path, [record], EE_SCHEMA, "--task", "EE", "--language", "en", "--neg-schema", "0",
                     source="x")
    assert json.loads(json.loads(line)["output"]) == {"meeting": [{"trigger": "met", "arguments": {}}]}


# ---- EET -------------------------------------------------------------------------------------------
def test_eet_en_train_and_zh_test(tmp_path):
    [line] = convert(tmp_path, [EE_RECORD], EE_SCHEMA, "--task", "EET", "--language", "en", source="ace")
    assert line == train_line("EET", "ace", S[("EET", "en")], ["attack", "meeting"], EE_TEXT,
                              {"attack": ["attacked"], "meeting": []})
    text = "公司宣布裁员。"
    record = {"text": text, "event": [{"event_type": "裁员", "event_trigger": "裁员", "arguments": []}]}
    [line] = convert(tmp_path, [record], [["裁员", "融资"], [], {}], "--task", "EET", "--split", "test",
                     source="DuEE")
    assert line == expected_test_line("EET", "DuEE", S[("EET", "zh")], ["裁员", "融资"], text, record["event"])


# ---- EEA -------------------------------------------------------------------------------------------


def test_eea_zh_train_iepile_and_deepke_shapes(tmp_path):
    schema = [{"event_type": "裁员", "trigger": ["裁员"], "arguments": ["裁员人数", "裁员方"]}]
    lines = convert(tmp_path, [EEA_RECORD, {"text": "无事件。", "event": []}], EEA_SCHEMA, "--task", "EEA",
                    source="DuEE")
    assert lines == [train_line("EEA", "DuEE", S[("EEA", "zh")], schema, EEA_TEXT,
                                {"裁员": [{"裁员人数": "NAN", "裁员方": "某公司"}]})]
    lines = convert(tmp_path, [EEA_RECORD], EEA_SCHEMA, "--task", "EEA", "--eea-format", "deepke",
                    source="DuEE")
    assert lines == [train_line("EEA", "DuEE", S[("EEA", "zh")], schema, EEA_TEXT,
                                {"裁员": [{"trigger": "裁员", "arguments": {"裁员人数": "NAN", "裁员方": "某公司"}}]})]


def test_eea_en_test_split_carries_triggers(tmp_path):
    text = "The rebels attacked the base."
    record = {"text": text, "event": [{"event_type": "attack", "event_trigger": "attacked"}]}
    [line] = convert(tmp_path, [record], EE_SCHEMA, "--task", "EEA", "--language", "en", "--split", "test",
                     source="ace")
    schema = [{"event_type": "attack", "trigger": ["attacked"],
               "arguments": ["attacker", "target", "instrument"]}]
    assert line == expected_test_line("EEA", "ace", S[("EEA", "en")], schema, text, record["event"])


# ---- KG --------------------------------------------------------------------------------------------


def test_kg_zh_train_multi_values_as_lists_in_text_order(tmp_path):
    [line] = convert(tmp_path, [KG_RECORD], KG_SCHEMA, "--task", "KG", source="KG")
    output = {"人物": {"明治天皇": {"别名": "睦仁", "父母": ["孝明天皇", "英照皇太后", "权大纳言"]},
                       "孝明天皇": {"配偶": ["英照皇太后", "权大纳言"]}}}
    assert line == train_line("KG", "KG", S[("KG", "zh")],
                              [{"entity_type": "人物", "attributes": ["别名", "父母", "配偶"]}],
                              KG_TEXT, output)


def test_kg_en_test_split_one_entity_type_per_instruction(tmp_path):
    text = "Ada Lovelace, born Augusta Ada Byron, was a mathematician."
    schema_lines = [["person", "work"], ["alias", "occupation", "author"],
                    {"person": ["alias", "occupation"], "work": ["author"]}]
    lines = convert(tmp_path, [{"text": text}], schema_lines, "--task", "KG", "--language", "en", "--split",
                    "test", source="kg")
    assert lines == [expected_test_line("KG", "kg", S[("KG", "en")],
                                        [{"entity_type": "person",
                                          "attributes": ["alias", "occupation"]}], text),
                     expected_test_line("KG", "kg", S[("KG", "en")],
                                        [{"entity_type": "work", "attributes": ["author"]}], text)]


# ---- every task: unlabelled test input ----------------------------------------------------------------
@pytest.mark.parametrize("task,schema",
                         [("NER", NER_SCHEMA), ("RE", RE_SCHEMA), ("SPO", SPO_SCHEMA), ("EE", EE_SCHEMA),
                                         ("EET", EE_SCHEMA), ("KG", KG_SCHEMA)])
def test_unlabelled_test_input_works(tmp_path, task, schema):
    lines = convert(tmp_path, [{"text": "plain text"}], schema, "--task", task, "--split", "test", source="x")
    assert lines and all("label" not in json.loads(line) for line in lines)


@pytest.mark.parametrize("n,k,sizes",
                         [(3, 6, [3]), (7, 4, [4, 3]), (5, 4, [5]), (13, 6, [6, 7]), (49, 4, [4] * 11 + [5]),
                                       (7, 3, [3, 3, 1]), (5, 2, [2, 2, 1]), (7, 5, [5, 2]), (6, 5, [6]), (0, 4, [0]), (9, -1, [9])])
def test_chunking_rule(n, k, sizes):
    assert [len(c) for c in split_chunks(list(range(n)), k)] == sizes
