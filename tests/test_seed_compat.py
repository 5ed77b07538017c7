"""Where kgc follows the seed's own scripts: training presets laid out like the seed's YAMLs, the seed's
choices at --neg-schema 0, the KG answer shape, and `kgc eval --legacy` = the seed's eval_func.py.

The expected numbers are worked out by hand from the seed's code (shared/spec/iepile-compat.md §2.6, §3),
not produced by kgc."""

from __future__ import annotations

import json

from tests.conftest import iepile_record, read_jsonl, run_kgc, write_jsonl


# ---- train: presets name the seed's data and output ----------------------------------------------------
def test_the_dry_run_needs_no_data_and_leaves_nothing_behind(tmp_path):
    work, temporary = tmp_path / "work", tmp_path / "tmp"  # a private TMPDIR: no other test writes there
    work.mkdir()
    temporary.mkdir()
    result = run_kgc("train", "--preset", "oneke-continue", "--dry-run", "--num-processes", "4", cwd=work,
                     env={"TMPDIR": str(temporary)})
    assert result.returncode == 0, result.stderr_text
    plan, launch = result.stdout_text.split("launch: ")
    assert "accelerate.commands.launch" in launch and "--num_processes 4" in launch
    assert "-m kgcli train --preset oneke-continue --num-processes 4 --in-launcher" in launch
    assert "--config_file" not in launch  # the launch options are on the command line: no file to keep
    train = __import__("yaml").safe_load(plan)["train"]
    assert (train["preset"]["template"], train["preset"]["lora_r"]) == ("llama2_zh", 64)
    assert (train["train_file"], train["valid_file"], train["output_dir"]) == (
        "data/train.json", "data/dev.json", "lora/oneke-continue")
    assert list(work.iterdir()) == [] and list(temporary.iterdir()) == []


def test_a_conflicting_setting_is_refused_before_anything_is_created(tmp_path):
    result = run_kgc("train", "--preset", "oneke-continue-full", "--set", "bits=4", cwd=tmp_path)
    assert result.returncode == 2 and result.stderr_text.count("\n") == 1
    assert result.stderr_text.startswith("kgc: error: preset oneke-continue-full: bits 4 (QLoRA) works only "
                                         "with finetuning_type lora, not 'full'")
    assert list(tmp_path.iterdir()) == []


def test_the_preset_as_typed_runs_in_a_folder_laid_out_like_the_seeds(tmp_path):
    (tmp_path / "data").mkdir()
    record = iepile_record("NER", ["person"], "Alice", output={"person": ["Alice"]})
    write_jsonl(tmp_path / "data" / "train.json", [record])
    missing = run_kgc("train", "--preset", "oneke-continue", cwd=tmp_path)
    assert missing.returncode == 2 and missing.stderr_text == (
        "kgc: error: data/dev.json: no such file (the valid_file of preset oneke-continue; give --valid-file "
        "PATH)\n")
    write_jsonl(tmp_path / "data" / "dev.json", [record])
    assert run_kgc("train", "--preset", "oneke-continue", "--dry-run", cwd=tmp_path).returncode == 0
    result = run_kgc("train", "--preset", "oneke-continue", cwd=tmp_path, env={"HF_HUB_OFFLINE": "1"})
    # past the argument and data checks: it stops where the base model is looked up (not on this machine)
    assert result.returncode == 2 and result.stderr_text == (
        "kgc: error: zjunlp/OneKE: the model is not a folder here and not in the local Hugging Face cache, "
        "and HF_HUB_OFFLINE is set (unset it to download)\n")
    (tmp_path / "data" / "train.json").unlink()
    gone = run_kgc("train", "--preset", "oneke-continue", cwd=tmp_path)
    assert gone.stderr_text == ("kgc: error: data/train.json: no such file (the train_file of preset "
                                "oneke-continue; give --train-file PATH)\n")


# ---- convert at --neg-schema 0, KG shape ---------------------------------------------------------------
def convert(tmp_path, records, schema, *args):
    folder = tmp_path / "seed"
    folder.mkdir(exist_ok=True)
    write_jsonl(folder / "in.json", records)
    (folder / "schema.json").write_text("\n".join(json.dumps(s, ensure_ascii=False) for s in schema) + "\n",
                                        encoding="utf-8")
    result = run_kgc("convert", str(folder / "in.json"), str(folder / "out.json"), "--schema",
                     str(folder / "schema.json"), "--language", "en", *args, check=True)
    lines = read_jsonl(folder / "out.json")
    return [(json.loads(r["instruction"])["schema"], json.loads(r["output"])) for r in lines], result


EEA_TEXT = "The firm laid off 10 people in May and laid off 20 people in June."
EEA_RECORD = {"text": EEA_TEXT, "event": [
    {"event_type": "layoff", "event_trigger": "laid off",
     "arguments": [{"argument": "10 people", "role": "count"}]},
    {"event_type": "layoff", "event_trigger": "laid off",
     "arguments": [{"argument": "20 people", "role": "count"}]},
    {"event_type": "layoff", "event_trigger": "cut", "arguments": [{"argument": "May", "role": "time"}]}]}
EEA_SCHEMA = [["layoff"], ["company", "count", "time"], {"layoff": ["company", "count", "time"]}]


def test_eea_at_neg_schema_0_asks_every_role_of_the_type_and_one_trigger(tmp_path):
    [(schema, output)], _ = convert(tmp_path, [EEA_RECORD], EEA_SCHEMA, "--task", "EEA", "--neg-schema", "0")
    [element] = schema
    # The seed: all roles of the gold type (not only the filled ones) and one drawn trigger of the type's
    # three; the answer still lists every event.
    assert element["arguments"] == ["company", "count", "time"]
    assert len(element["trigger"]) == 1 and element["trigger"][0] in {"laid off", "cut"}
    assert len(output["layoff"]) == 3


EE_TEXT = "The rebels attacked the base with rockets."
EE_RECORD = {"text": EE_TEXT, "event": [{"event_type": "attack", "event_trigger": "attacked", "arguments": [
    {"argument": "rebels", "role": "attacker"}, {"argument": "rockets", "role": "instrument"}]}]}
EE_SCHEMA = [["attack"], ["attacker", "target"], {"attack": ["attacker", "target"]}]


def test_ee_at_neg_schema_0_asks_only_the_schemas_roles_and_warns_once(tmp_path):
    pairs, result = convert(tmp_path, [EE_RECORD, EE_RECORD], EE_SCHEMA, "--task", "EE", "--neg-schema", "0")
    schema, output = pairs[0]
    assert len(pairs) == 2 and schema == [{"event_type": "attack", "trigger": True,
                                           "arguments": ["attacker", "target"]}]
    assert output == {"attack": [{"trigger": "attacked",
                                  "arguments": {"attacker": "rebels", "target": "NAN"}}]}
    warnings = [line for line in result.stderr_text.splitlines() if "not asked" in line]
    assert len(warnings) == 1 and "'attack/instrument'×2" in warnings[0]


def test_kg_repeated_values_keep_the_seeds_list_shape_written_once(tmp_path):
    text = "周杰伦的妻子是昆凌，昆凌是周杰伦的配偶。周杰伦出生于台北。"
    spouse = {"head": "周杰伦", "relation": "配偶", "tail": "昆凌"}
    born = {"head": "周杰伦", "relation": "出生地", "tail": "台北"}
    record = {"text": text, "relation": [spouse, spouse, born]}
    schema = [["人物"], ["配偶", "出生地"], {"人物": ["配偶", "出生地"]}]
    [(_, output)], _ = convert(tmp_path, [record], schema, "--task", "KG")
    # The seed writes {"配偶": ["昆凌", "昆凌"], "出生地": "台北"}: a list for two annotated values.
    assert output == {"人物": {"周杰伦": {"出生地": "台北", "配偶": ["昆凌"]}}}


# ---- eval --legacy = the seed's eval_func.py ----------------------------------------------------------
def evaluate(tmp_path, records, *args):
    path = write_jsonl(tmp_path / "pred.json", records)
    result = run_kgc("eval", str(path), "--format", "json", *args, check=True)
    return json.loads(result.stdout_text)["total"], result.stderr_text


def test_legacy_counts_a_repeated_gold_entity_twice(tmp_path):
    person, place = {"entity": "张三", "entity_type": "人物"}, {"entity": "北京", "entity_type": "地点"}
    records = [iepile_record("NER", ["人物", "地点"], "张三去北京", label=[person, person, place],
                             output={"人物": ["张三"], "地点": ["北京"]})]
    legacy, _ = evaluate(tmp_path, records, "--legacy")
    # seed: gold multiset of 3, 2 predictions, 2 hits → P 100, R round(200/3, 2) = 66.67,
    # F1 = round(2 · 100 · 66.67 / 166.67, 2) = 80.0
    assert (legacy["P"], legacy["R"], legacy["F1"]) == (100.0, 66.67, 80.0)
    default, _ = evaluate(tmp_path, records)
    assert (default["P"], default["R"], default["F1"]) == (100.0, 100.0, 100.0)  # gold de-duplicated


def ee_record(arguments_label, arguments_answer):
    schema = [{"event_type": "attack", "trigger": True,
               "arguments": ["attacker", "target", "instrument", "place",
                                                                         "time"]}]
    label = [{"event_type": "attack", "event_trigger": "attacked", "arguments": arguments_label}]
    return iepile_record("EE", schema, EE_TEXT, label=label,
                         output={"attack": [{"trigger": "attacked", "arguments": arguments_answer}]})


def test_legacy_counts_empty_and_non_string_argument_values_as_predictions(tmp_path):
    records = [ee_record([{"argument": "rebels", "role": "attacker"}],
                         {"attacker": "rebels", "target": "", "instrument": 5, "place": {"x": 1},
                          "time": [7]})]
    legacy, _ = evaluate(tmp_path, records, "--legacy")
    # seed: argument predictions (rebels, attacker), ("", target), (5, instrument), ({x: 1}, place),
    # (7, time) = 5, one hit of 1 gold → P 20, R 100, F1 round(2 · 20 · 100 / 120, 2) = 33.33; events 1/1/1
    assert (legacy["argument_P"], legacy["argument_R"], legacy["argument_F1"]) == (20.0, 100.0, 33.33)
    assert (legacy["event_P"], legacy["event_R"], legacy["event_F1"]) == (100.0, 100.0, 100.0)
    default, _ = evaluate(tmp_path, records)
    assert (default["argument_P"], default["argument_pred"]) == (100.0, 1)  # only non-empty strings


def test_legacy_keeps_an_empty_gold_argument(tmp_path):
    records = [ee_record([{"argument": "rebels", "role": "attacker"}, {"argument": "", "role": "target"}],
                         {"attacker": "rebels", "target": "NAN"})]
    legacy, _ = evaluate(tmp_path, records, "--legacy")
    # seed: gold (rebels, attacker) and ("", target) = 2, prediction (rebels, attacker) (NAN skipped) = 1,
    # 1 hit → P 100, R 50, F1 round(2 · 100 · 50 / 150, 2) = 66.67
    assert (legacy["argument_P"], legacy["argument_R"], legacy["argument_F1"]) == (100.0, 50.0, 66.67)
    matched = [ee_record([{"argument": "", "role": "target"}], {"target": ""})]
    legacy, _ = evaluate(tmp_path, matched, "--legacy")
    assert (legacy["argument_tp"], legacy["argument_pred"], legacy["argument_gold"]) == (1, 1, 1)
    default, _ = evaluate(tmp_path, records)
    assert (default["argument_P"], default["argument_R"]) == (100.0, 100.0)  # "" dropped on both sides


def test_legacy_says_when_subject_object_answers_were_scored(tmp_path):
    gold = [{"head": "Edison", "relation": "born in", "tail": "Milan"}]
    records = [iepile_record("RE", ["born in"], "Edison was born in Milan.", label=gold,
                             output={"born in": [{"subject": "Edison", "object": "Milan"}]})]
    legacy, stderr = evaluate(tmp_path, records, "--legacy")
    assert legacy["F1"] == 100.0  # kgc reads subject/object (the IEPile corpus's keys)
    notes = [line for line in stderr.splitlines() if "subject/object" in line]
    assert len(notes) == 1 and notes[0].startswith("kgc: warning: 1 answers keyed subject/object were scored")
    _, plain = evaluate(tmp_path, records)
    assert "subject/object" not in plain
    head_tail = [dict(records[0], output=json.dumps({"born in": [{"head": "Edison", "tail": "Milan"}]}))]
    _, quiet = evaluate(tmp_path, head_tail, "--legacy")
    assert "subject/object" not in quiet
