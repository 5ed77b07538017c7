"""convert as a tool: determinism, seed YAML configs, pipes, hard negatives, and bad input."""

from __future__ import annotations

import json
import subprocess
import sys

import pytest

from tests.conftest import ROOT, run_kgc, write_jsonl

SCHEMA = '["人物", "组织机构", "地理位置", "时间", "作品", "事件", "产品", "学校"]\n[]\n{}\n'


def dataset(tmp_path, n=40):
    folder = tmp_path / "MSRA"
    folder.mkdir(exist_ok=True)
    types = json.loads(SCHEMA.splitlines()[0])
    records = []
    for i in range(n):
        entity = [{"entity": f"实体{i}", "entity_type": types[i % len(types)]}] if i % 3 else []
        records.append({"text": f"第{i}条文本，提到实体{i}。", "entity": entity})
    write_jsonl(folder / "train.json", records)
    (folder / "schema.json").write_text(SCHEMA, encoding="utf-8")
    return folder


def test_same_bytes_in_two_processes_with_different_hash_seeds(tmp_path):
    folder = dataset(tmp_path)
    outputs = []
    for hash_seed in ("1", "12345"):
        out = tmp_path / f"out{hash_seed}.json"
        result = run_kgc("convert", str(folder / "train.json"), str(out), "--task", "NER", "--schema",
                         str(folder / "schema.json"), "--random-sort", "--neg-schema", "0.5", "--split-num",
                         "3",
                         env={"PYTHONHASHSEED": hash_seed})
        assert result.returncode == 0, result.stderr_text
        outputs.append(out.read_bytes())
    assert outputs[0] == outputs[1] and outputs[0].count(b"\n") > 40
    other_seed = tmp_path / "seed7.json"
    run_kgc("convert", str(folder / "train.json"), str(other_seed), "--task", "NER", "--schema",
            str(folder / "schema.json"),
            "--random-sort", "--neg-schema", "0.5", "--split-num", "3", "--seed", "7", check=True)
    assert other_seed.read_bytes() != outputs[0]


def test_neg_schema_between_0_and_1_samples_some_negatives(tmp_path):
    folder = dataset(tmp_path)
    out = tmp_path / "out.json"
    run_kgc("convert", str(folder / "train.json"), str(out), "--task", "NER", "--schema",
            str(folder / "schema.json"),
            "--neg-schema", "0.5", "--split-num", "-1", check=True)
    sizes = [len(json.loads(json.loads(line)["instruction"])["schema"])
             for line in out.read_text().splitlines()]
    assert len(sizes) == 40 and 1 <= min(sizes) and max(sizes) <= 8 and len(set(sizes)) > 2


def test_seed_yaml_config_train_and_test(tmp_path):
    dataset(tmp_path, n=6)
    for mode, split in (("train", "train"), ("test", "test")):
        config = tmp_path / f"convert_{mode}.yaml"
        config.write_text(
            f"mode: {mode}\n"
            "train:\n  src_path: MSRA/train.json\n  tgt_path: train_out.json\n  schema_path: "
            "MSRA/schema.json\n"
            "  language: zh\n  task: NER\n  split_num: 6\n  random_sort: true\n  split: train\n"
            "test:\n  src_path: MSRA/train.json\n  tgt_path: test_out.json\n  schema_path: MSRA/schema.json\n"
            "  language: zh\n  task: NER\n  split_num: 6\n  split: test\n", encoding="utf-8")
        run_kgc("convert", "--config", str(config), check=True)
        records = [json.loads(line) for line in (tmp_path / f"{split}_out.json").read_text().splitlines()]
        assert records and all(r["source"] == "MSRA" for r in records)
        assert ("output" in records[0]) == (split == "train") and ("id" in records[0]) == (split == "test")


def test_stdin_stdout_pipe_into_head(tmp_path):
    folder = dataset(tmp_path, n=2000)
    command = (f"cat {folder / 'train.json'} | {sys.executable} -m kgcli convert --task NER --language zh "
               "--split test "
               f"--schema {folder / 'schema.json'} --source MSRA - - | head -n 3")
    result = subprocess.run(["bash", "-o", "pipefail", "-c", command], capture_output=True, text=True,
                            cwd=ROOT)
    lines = result.stdout.splitlines()
    assert len(lines) == 3 and all(json.loads(line)["source"] == "MSRA" for line in lines)
    assert "Traceback" not in result.stderr


def test_a_reader_that_goes_away_is_not_a_failure_under_pipefail(tmp_path):
    folder = dataset(tmp_path, n=3000)  # far more output than a pipe buffer holds: the write must fail
    command = (f"{sys.executable} -m kgcli convert {folder / 'train.json'} - --task NER --split test "
               f"--schema {folder / 'schema.json'} | head -n 1")
    result = subprocess.run(["bash", "-o", "pipefail", "-c", command], capture_output=True, text=True,
                            cwd=ROOT)
    assert result.returncode == 0 and len(result.stdout.splitlines()) == 1 and result.stderr == ""


def test_stdin_needs_a_source(tmp_path):
    folder = dataset(tmp_path, n=1)
    result = run_kgc("convert", "--task", "NER", "--schema", str(folder / "schema.json"),
                     input=(folder / "train.json").read_text())
    assert result.returncode == 2 and "--source NAME is required" in result.stderr_text


def test_hard_negatives_from_nested_iepile_dictionary(tmp_path):
    folder = tmp_path / "DuIE2.0"
    folder.mkdir()
    text = "《红高粱》由张艺谋执导。"
    write_jsonl(folder / "train.json", [{"text": text, "relation": [
        {"head": "红高粱", "head_type": "影视作品", "relation": "导演", "tail": "张艺谋", "tail_type": "人物"}]}])  # noqa: E501
    keys = ["影视作品_导演_人物", "影视作品_主演_人物", "影视作品_编剧_人物", "人物_妻子_人物", "人物_丈夫_人物",  # noqa: E501
            "企业_董事长_人物", "歌曲_作词_人物"]
    (folder / "schema.json").write_text(json.dumps(keys, ensure_ascii=False) + "\n[]\n{}\n", encoding="utf-8")
    hard = {"SPO": {"DuIE2.0": {"影视作品_导演_人物": ["影视作品_主演_人物", "影视作品_编剧_人物"]}}}
    (tmp_path / "hard_dict.json").write_text(json.dumps(hard, ensure_ascii=False), encoding="utf-8")
    out = tmp_path / "out.json"
    whole = run_kgc("convert", str(folder / "train.json"), str(out), "--task", "SPO", "--schema",
                    str(folder / "schema.json"),
                    "--hard-negatives", str(tmp_path / "hard_dict.json"))
    assert whole.returncode == 2 and "--hard-negatives-key TASK/DATASET" in whole.stderr_text and not out.exists()  # noqa: E501
    run_kgc("convert", str(folder / "train.json"), str(out), "--task", "SPO", "--schema",
            str(folder / "schema.json"),
            "--hard-negatives", str(tmp_path / "hard_dict.json"), "--hard-negatives-key", "SPO/DuIE2.0",
            "--split-num", "-1", check=True)
    [record] = [json.loads(line) for line in out.read_text().splitlines()]
    schema = json.loads(record["instruction"])["schema"]
    predicates = {s["predicate"] for s in schema}
    assert {"导演", "主演", "编剧"} <= predicates  # the positive and both of its hard negatives
    assert len(schema) == 3 + 4  # with --split-num -1 every easy negative joins


def test_unknown_annotation_types_warn_with_a_count(tmp_path):
    folder = dataset(tmp_path, n=1)
    write_jsonl(folder / "train.json", [{"text": "甲乙", "entity": [{"entity": "甲", "entity_type": "外星人"},
                                                                    {"entity": "乙", "entity_type": "外星人"}]},  # noqa: E501
                                        {"text": "丙", "entity": [{"entity": "丙", "entity_type": "外星人"}]}])  # noqa: E501
    result = run_kgc("convert", str(folder / "train.json"), str(tmp_path / "o.json"), "--task", "NER",
                     "--schema",
                     str(folder / "schema.json"), check=True)
    assert "kgc: warning: 3 annotation(s) use types not in the schema" in result.stderr_text
    assert "外星人" in (tmp_path / "o.json").read_text()


BAD_CASES = {
    "malformed line": ('{"text": "a", "entity": []}\n{"text": "b", \n',
                       "in.json:2: not valid JSON (unexpected end of data)"),
    "no text": ('{"text": "a", "entity": []}\n{"entity": []}\n', "in.json:2: record has no 'text' string"),
    "wrong annotation shape": ('{"text": "a", "entity": [{"entity": "a", "type": "人物"}]}\n',
                               "in.json:1: entity[0]: 'entity_type' must be a string"),
    "annotation not a list": ('{"text": "a", "entity": {"a": 1}}\n', "in.json:1: 'entity' must be a list"),
}


@pytest.mark.parametrize("case", sorted(BAD_CASES))
def test_bad_input_is_one_line_and_leaves_no_output(tmp_path, case):
    content, message = BAD_CASES[case]
    (tmp_path / "in.json").write_text(content, encoding="utf-8")
    (tmp_path / "schema.json").write_text(SCHEMA, encoding="utf-8")
    out = tmp_path / "out.json"
    result = run_kgc("convert", "in.json", str(out), "--task", "NER", "--schema", "schema.json", cwd=tmp_path)
    assert result.returncode == 2
    assert result.stderr_text == f"kgc: error: {message}\n"
    assert not out.exists() and sorted(p.name for p in tmp_path.iterdir()) == ["in.json", "schema.json"]


def test_bad_schema_file_and_unknown_task(tmp_path):
    (tmp_path / "in.json").write_text('{"text": "a"}\n', encoding="utf-8")
    (tmp_path / "schema.json").write_text('["人物"]\n[\n', encoding="utf-8")
    out = tmp_path / "out.json"
    result = run_kgc("convert", "in.json", str(out), "--task", "NER", "--schema", "schema.json", cwd=tmp_path)
    assert (result.returncode,
            result.stderr_text) == (2, "kgc: error: schema.json:2: schema line is not valid JSON\n")
    result = run_kgc("convert", "in.json", str(out), "--task", "NERD", "--schema", "schema.json",
                     cwd=tmp_path)
    assert result.returncode == 2 and result.stderr_text.startswith(
        "kgc: error: Invalid value for '--task': 'NERD' is not one of 'ner', 're',")
    assert not out.exists()


def test_json_object_schema_file(tmp_path):
    (tmp_path / "in.json").write_text('{"text": "a", "entity": []}\n', encoding="utf-8")
    (tmp_path / "schema.json").write_text('{"entity_types": ["人物", "地点"]}', encoding="utf-8")
    result = run_kgc("convert", "in.json", "-", "--task", "NER", "--split", "test", "--schema", "schema.json",
                     "--source", "s", cwd=tmp_path, check=True)
    assert json.loads(json.loads(result.stdout_text)["instruction"])["schema"] == ["人物", "地点"]
