"""The light commands must not import the heavy stack, and user mistakes are one line + exit 2."""

from __future__ import annotations

import json
import subprocess
import sys

import pytest

from tests.conftest import run_kgc

HEAVY = ("torch", "transformers", "litellm", "peft", "vllm")


@pytest.mark.parametrize("argv", [["--help"], ["convert", "--help"], ["eval", "--help"], ["icl", "--help"]])
def test_help_does_not_import_heavy_modules(argv):
    code = (
        "import sys\n"
        "from kgcli.cli import main\n"
        f"try:\n    main({argv!r})\nexcept SystemExit:\n    pass\n"
        f"print(sorted(m for m in {HEAVY!r} if m in sys.modules))"
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True).stdout
    assert out.strip().splitlines()[-1] == "[]"


def test_python_dash_m_runs_the_cli():
    result = run_kgc("--help")
    assert result.returncode == 0
    for command in ("convert", "eval", "train", "predict", "merge", "icl", "presets"):
        assert command in result.stdout_text


def test_user_error_is_one_line_and_exit_2(tmp_path):
    result = run_kgc("convert", str(tmp_path / "missing.json"), "--task", "NER", "--schema", "x.json")
    assert result.returncode == 2
    assert result.stderr_text.strip().count("\n") == 0
    assert result.stderr_text.startswith("kgc: error: ")
    assert "Traceback" not in result.stderr_text


@pytest.mark.parametrize("command", ["convert", "eval"])
def test_convert_and_eval_runs_import_no_preset_or_model_stack(tmp_path, command):
    """A real conversion and a real scoring stay light: no torch, and not even pydantic or yaml (presets)."""
    raw = tmp_path / "raw.json"
    raw.write_text('{"text": "Alice", "entity": [{"entity": "Alice", "entity_type": "person"}]}\n')
    (tmp_path / "schema.json").write_text('["person"]\n[]\n{}\n')
    converted = tmp_path / "test.json"
    argv = ["convert", str(raw), str(converted), "--task", "NER", "--split", "test", "--schema",
            str(tmp_path / "schema.json"), "--source", "s"]
    if command == "eval":
        run_kgc(*argv, check=True)
        record = json.loads(converted.read_text())
        (tmp_path / "pred.json").write_text(json.dumps({**record, "output": '{"person": ["Alice"]}'}) + "\n")
        argv = ["eval", str(tmp_path / "pred.json"), "--format", "json"]
    code = (
        "import sys\n"
        "from kgcli.cli import main\n"
        f"try:\n    main({argv!r})\nexcept SystemExit as exc:\n    assert not exc.code, exc.code\n"
        f"print(sorted(m for m in {(*HEAVY, 'pydantic', 'yaml')!r} if m in sys.modules), file=sys.stderr)\n"
        "print(sorted(m for m in sys.modules if m.endswith('_cmd')), file=sys.stderr)"
    )
    result = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    heavy, commands = result.stderr.strip().splitlines()[-2:]
    assert heavy == "[]"
    # a run builds only the command it runs: no other command's module (demo, graph, predict...) is loaded
    assert commands == f"['kgcli.cli.{command}_cmd']"


def test_help_lists_every_command_and_a_typo_gets_one_suggestion():
    from kgcli.cli import COMMANDS

    listed = run_kgc("--help").stdout_text
    assert [name for name in COMMANDS if f"│ {name} " not in listed] == []
    typos = ((["conver"], "'convert'"), (["-q", "evl"], "'eval'"), (["graph", "buil"], "'build'"))
    for argv, suggestion in typos:
        result = run_kgc(*argv)
        assert result.returncode == 2
        assert result.stderr_text.count("Did you mean") == 1 and suggestion in result.stderr_text
    # root options before the command still reach it: the run builds the named command only
    assert run_kgc("--presets-dir", ".", "-q", "convert", "--help").returncode == 0
