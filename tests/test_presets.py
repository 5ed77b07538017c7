from __future__ import annotations

import yaml

from kgcli.errors import KgcError
from kgcli.model.presets import all_presets, apply_overrides, load_preset, parse_set_options
from tests.conftest import run_kgc

PUBLISHED = ["oneke", "llama2-13b-iepile-lora", "baichuan2-13b-iepile-lora", "llama3-8b-iepile-lora",
             "qwen1.5-14b-iepile-lora"]
V1 = ["llama-7b-lora-ie", "alpaca-7b-lora-ie", "knowlm-13b-ie-lora"]
RECIPES = ["oneke-continue", "oneke-continue-full", "llama2-7b-chat-lora", "alpaca-7b-lora", "vicuna-7b-lora",
           "zhixi-13b-lora", "chatglm3-6b-lora", "moss-lora", "baichuan2-7b-lora", "qwen1.5-lora",
           "llama3-8b-lora",
           "smollm2-135m-lora"]


def test_presets_list_shows_every_row():
    result = run_kgc("presets", "list", check=True)
    for name in PUBLISHED + V1 + RECIPES:
        assert f"│ {name} " in result.stdout_text, name


def test_show_llama3_iepile_lora():
    shown = yaml.safe_load(run_kgc("presets", "show", "llama3-8b-iepile-lora", check=True).stdout_text)
    assert shown["template"] == "alpaca"
    assert shown["dtype"] == "bf16"
    assert (shown["lora_r"], shown["lora_alpha"]) == (64, 64)
    assert shown["adapter"] == "zjunlp/llama3-8b-iepile-lora"


def test_published_rows_match_the_checkpoint_table():
    rows = {p.name: p for p in all_presets()}
    assert (rows["oneke"].template, rows["oneke"].finetuning_type, rows["oneke"].adapter) == ("llama2_zh",
                                                                                              "full", None)
    assert (rows["llama2-13b-iepile-lora"].template, rows["llama2-13b-iepile-lora"].lora_r) == ("llama2", 64)
    assert rows["baichuan2-13b-iepile-lora"].lora_target_modules == ["W_pack", "o_proj", "gate_proj",
                                                                     "down_proj", "up_proj"]
    assert (rows["qwen1.5-14b-iepile-lora"].family,
            rows["qwen1.5-14b-iepile-lora"].template) == ("qwen2", "qwen")
    continue_ = rows["oneke-continue"]
    assert (continue_.lora_r, continue_.lora_alpha, continue_.bits, continue_.template) == (64, 64, 4,
                                                                                            "llama2_zh")
    assert all(rows[name].dtype == "fp16" for name in V1)


def test_unknown_preset_key_is_an_error(tmp_path):
    (tmp_path / "mine.yaml").write_text("base_model: x\nfamily: llama\ntemplate: alpaca\nlora_rank: 8\n")
    result = run_kgc("presets", "show", "mine", env={"KGC_PRESETS_DIR": str(tmp_path)})
    assert result.returncode == 2
    assert "unknown key 'lora_rank'" in result.stderr_text


def test_user_presets_dir_adds_presets(tmp_path):
    (tmp_path / "my-model.yaml").write_text("base_model: /models/mine\nfamily: qwen2\ntemplate: qwen\n")
    listed = run_kgc("--presets-dir", str(tmp_path), "presets", "list", check=True).stdout_text
    assert "my-model" in listed
    shown = yaml.safe_load(run_kgc("presets", "show", "my-model", env={"KGC_PRESETS_DIR": str(tmp_path)},
                                   check=True).stdout_text)
    assert shown["base_model"] == "/models/mine"


def test_set_overrides_parse_values_and_reject_unknown_keys():
    preset = load_preset("smollm2-135m-lora")
    changed = apply_overrides(preset, parse_set_options(["lora_r=32", "lora_target_modules=q_proj,v_proj"]))
    assert changed.lora_r == 32 and changed.lora_target_modules == ["q_proj", "v_proj"]
    try:
        apply_overrides(preset, {"nope": 1})
    except KgcError as exc:
        assert "unknown key 'nope'" in str(exc)
    else:
        raise AssertionError("unknown key accepted")


def test_target_modules_string_is_never_evaluated():
    preset = load_preset("smollm2-135m-lora")
    changed = apply_overrides(preset, {"lora_target_modules": "['q_proj', '__import__(\"os\")']"})
    assert changed.lora_target_modules == ["q_proj", "__import__(os)"]


def test_an_unquoted_no_is_the_strategy_no_not_false(tmp_path):
    """YAML 1.1 reads ``no`` as false: ``--set eval_strategy=no`` (as typed) and an unquoted ``no`` in a
    preset file both mean the strategy "no"; a bool field still reads yes/no."""
    preset = load_preset("tiny-random-llama-lora")
    changed = apply_overrides(preset, parse_set_options(["eval_strategy=no", "save_strategy=no",
                                                         "trust_remote_code=yes"]))
    assert (changed.eval_strategy, changed.save_strategy, changed.trust_remote_code) == ("no", "no", True)
    text = (tmp_path / "p.yaml")
    text.write_text(preset.to_yaml().replace('eval_strategy: "no"', "eval_strategy: no")
                    .replace("eval_strategy: 'no'", "eval_strategy: no"))
    assert "eval_strategy: no\n" in text.read_text()
    assert load_preset(str(text)).eval_strategy == "no"
