"""ICL prompt construction, exact strings (the seed's §6.1 layout), and few-shot selection for batch mode."""

from __future__ import annotations

import json

import pytest

from kgcli.errors import KgcError
from kgcli.icl.batch import ShotPool, build_messages
from kgcli.icl.prompts import (
    SingleRequest,
    build_prompt,
    load_examples,
    normalise_language,
    parse_reply,
    prompt_data,
    split_labels,
)
from tests.conftest import run_kgc, write_jsonl

NER_OUT = ("Your output format is only [{'E': type of entity from predefined entity types, 'W': entity in "
           "the input "
           "text},...] form, no other form.\n\n")


def test_ner_en_with_labels_and_examples_is_exact():
    request = SingleRequest("ner", "en", "Bob lives in Rome.", labels=["person", "city"])
    examples = [{"text": "Ann met Joe.", "data": [{"E": "person", "W": "Ann"}, {"E": "person", "W": "Joe"}]}]
    assert build_prompt(request, examples) == (
        "You are a highly intelligent and accurate Named-entity recognition(NER) system. You take Passage as "
        "input "
        "and your task is to recognize and extract specific types of named entities in that given passage "
        "and "
        "classify into a set of following predefined entity types:\nperson, city\n" + NER_OUT
        + "Examples: \nInput: Ann met Joe.\nOutput: [{'E': 'person', 'W': 'Ann'}, {'E': 'person', 'W': "
          "'Joe'}]\n"
        + "Input: Bob lives in Rome.\nOutput: ")


def test_ner_en_without_domain_or_labels_uses_the_ner_sentence_not_the_seeds_re_one():
    prompt = build_prompt(SingleRequest("ner", "en", "x"), [])
    assert prompt.startswith("You are a highly intelligent and accurate Named-entity recognition(NER) "
                             "system.")
    assert "relation" not in prompt.split("\n")[0]
    assert prompt.endswith(NER_OUT + "Input: x\nOutput: ")


def test_re_zh_domain_labels_and_example_line():
    request = SingleRequest("re", normalise_language("ch"), "张三在北京工作。", domain="金融",
                            labels=split_labels("雇佣，出生地"),
                            head_entity="张三", head_type="人物", tail_entity="北京", tail_type="地点")
    example = {"text": "李四生于上海。", "head_type": "人物", "head_entity": "李四", "tail_type": "地点",
               "tail_entity": "上海", "relation": "出生地"}
    assert build_prompt(request, [example]) == (
        "您是一个高度智能和精确的金融域关系抽取（RE）系统。给定上下文以及上下文中包含的一对头实体和尾实体，您的任务是提取给定头实体和尾实体间"
        "特定类型的金融域关系，候选的关系类型如下：\n雇佣，出生地\n您只需要输出关系的类型即可，不需要其他的文字输出。\n\n"
        "示例: \n上下文: 李四生于上海。输出: 上下文头实体（人物）‘李四’和尾实体（地点）‘上海’间的关系类型是： 出生地\n"
        "上下文：张三在北京工作。\n上下文中头实体（人物）‘张三’和尾实体（地点）‘北京’之间的关系类型是：")


def test_re_en_task_line_and_domain_only_sentence():
    request = SingleRequest("re", "en", "Ann works at Acme.", domain="business", head_entity="Ann",
                            head_type="person", tail_entity="Acme", tail_type="company")
    assert build_prompt(request, []) == (
        "You are a highly intelligent and accurate business domain relation extraction(RE) system. Given a "
        "context, "
        "a pair of head and tail entities in the context, your task is to extract the specific type of "
        "business "
        "domain relationship between the head and tail entities.\nYour output is only the relation type, no "
        "other "
        "words.\n\nContext: Ann works at Acme.\nThe relation between (person) 'Ann' and (company) 'Acme' in "
        "the "
        "context is: ")


def test_da_header_names_the_first_examples_relation_and_has_no_output_line():
    request = SingleRequest("da", "en", "founded by", labels=["organization", "person"])
    example = {"text": "T", "head_type": "organization", "head_entity": "H", "tail_type": "person",
               "tail_entity": "P", "relation": "founded by"}
    assert build_prompt(request, [example]) == (
        "One sample in relation extraction datasets consists of a relation, a context, a pair of head and "
        "tail "
        "entities in the context and their entity types. The head entity has the relation with the tail "
        "entity and "
        "entities are pre-categorized as the following types: \norganization, person\n"
        "Here are some samples for relation 'founded by': \nRelation: founded by\nContext: T\nHead Entity: "
        "H\n"
        "Head Type: organization\nTail Entity: P\nTail Type: person\n"
        "Generate more samples for the relation 'founded by':\n")


def test_ee_and_rte_zh_use_python_literal_gold_and_custom_instruction_replaces_the_sentence():
    ee = SingleRequest("ee", "zh", "文本", domain="金融")
    example = {"text": "甲收购乙。",
               "event_list": [{"event_type": "收购", "arguments": [{"role": "收购方", "argument": "甲"}]}]}
    assert build_prompt(ee, [example]).endswith(
        "示例: \n输入: 甲收购乙。\n输出: [{'event_type': '收购', 'arguments': [{'role': '收购方', 'argument': '甲'}]}]\n"
        "输入：文本\n输出：")
    assert build_prompt(ee, []).startswith("您是一个高度智能和精确的金融域事件提取模型。")
    rte = SingleRequest("rte", "en", "x", instruction="Find triples.")
    assert build_prompt(rte, [{"text": "a b c", "labels": [["a", "b", "c"]]}]) == (
        "Find triples.\nExamples: \nInput: a b c\nOutput: [['a', 'b', 'c']]\nInput: x\nOutput: ")
    assert build_prompt(SingleRequest("rte", "en", "x", instruction=""), []) == "\nInput: x\nOutput: "


def test_every_task_and_language_has_a_sentence_set_and_shipped_examples():
    for language in ("en", "zh"):
        for task in ("ner", "re", "ee", "rte", "da"):
            examples = load_examples(None, task, language)
            assert len(examples) >= 2
            request = SingleRequest(task, language, "t", labels=["a", "b"], head_entity="h", head_type="ht",
                                    tail_entity="t", tail_type="tt")
            prompt = build_prompt(request, examples)
            assert prompt.count(examples[0]["text"]) == 1
    assert set(prompt_data()["instructions"]["zh"]) == {"ner", "re", "ee", "rte", "da"}


def test_requests_are_checked():
    with pytest.raises(KgcError, match="--head-entity"):
        SingleRequest("re", "en", "x").check()
    with pytest.raises(KgcError, match="--labels"):
        SingleRequest("da", "en", "x").check()
    with pytest.raises(KgcError, match="unknown language"):
        normalise_language("fr")


def test_bad_example_file_is_one_line(tmp_path):
    path = tmp_path / "ex.json"
    path.write_text(json.dumps([{"text": "a", "head_type": "p"}]))
    with pytest.raises(KgcError, match="example 1 lacks 'head_entity'"):
        load_examples(str(path), "re", "en")
    result = run_kgc("icl", "--model", "openai/x", "--task", "re", "--text", "t", "--head-entity", "h",
                     "--head-type",
                     "p", "--tail-entity", "t", "--tail-type", "q", "--examples", str(path))
    assert result.returncode == 2 and result.stderr_text.count("\n") == 1
    assert result.stderr_text.startswith(f"kgc: error: {path}: example 1 lacks")


def test_replies_parse_as_json_or_python_literals():
    ner = SingleRequest("ner", "en", "x")
    assert parse_reply(ner, "Sure! [{'E': 'person', 'W': 'Bob'}] done") == [{"E": "person", "W": "Bob"}]
    assert parse_reply(ner, '[{"E": "city", "W": "Rome"}]') == [{"E": "city", "W": "Rome"}]
    assert parse_reply(ner, "no entities here") is None
    re_request = SingleRequest("re", "en", "x", head_entity="Ann", tail_entity="Acme")
    assert parse_reply(re_request, " employer.\n") == {"head": "Ann", "relation": "employer", "tail": "Acme"}


def _iepile(task, schema, text, output=None):
    record = {"task": task, "source": "s", "instruction": json.dumps(
        {"instruction": "Extract.", "schema": schema, "input": text}, ensure_ascii=False)}
    if output is not None:
        record["output"] = output
    return record


def test_shots_prefer_same_task_and_schema_skip_the_same_text_and_are_deterministic(tmp_path):
    pool_file = write_jsonl(tmp_path / "train.json", [
        _iepile("NER", ["person", "city"], "A", '{"person": [], "city": []}'),
        _iepile("NER", ["city", "person"], "B", '{"city": [], "person": []}'),
        _iepile("NER", ["person"], "C", '{"person": []}'),
        _iepile("NER", ["org"], "D", '{"org": []}'),
        _iepile("RE", ["person", "city"], "E", '{"person": [], "city": []}'),
        _iepile("NER", ["person", "city"], "same text", '{"person": [], "city": []}'),
    ])
    pool = ShotPool(str(pool_file))
    schema = frozenset(json.dumps(s) for s in ["person", "city"])
    two = pool.choose("NER", schema, "same text", 2, "id:1")
    assert {shot.text for shot in two} == {"A", "B"}
    three = pool.choose("NER", schema, "same text", 3, "id:1")
    assert [shot.text for shot in three][2] == "C"  # then the largest overlap; RE and the same text never
    assert pool.choose("NER", schema, "same text", 3, "id:1") == three
    messages = build_messages(_iepile("NER", ["person", "city"], "same text"), two, "Be exact.")
    assert [m["role"] for m in messages] == ["system", "user", "assistant", "user", "assistant", "user"]
    assert messages[2]["content"] == two[0].output


def test_shot_pool_needs_train_records(tmp_path):
    path = write_jsonl(tmp_path / "test.json", [_iepile("NER", ["person"], "A")])
    with pytest.raises(KgcError, match="needs an 'output' string"):
        ShotPool(str(path))
