"""Nothing deleted, nothing run, nothing leaked: each attack of the security review typed as a user (or an
attacker) would, and the harm it did then checked to be gone — folders intact, no model code run without
consent, no link followed out of a documents folder, no key sent to a host it was not meant for, no file
replaced without --overwrite, no reply cache readable by another user."""

from __future__ import annotations

import json
import os
import shutil
import signal
import stat
import subprocess
import sys
import tempfile
from pathlib import Path

import pytest

from tests.conftest import ROOT, random_lora, read_jsonl, run_kgc, write_jsonl
from tests.fake_openai import FakeOpenAI, prompt_of
from tests.graph_samples import built_graph

THREADS = {"KGC_TORCH_THREADS": "1", "OMP_NUM_THREADS": "1"}
CANARY = "sk-canary-4d1f0e9b7a6c5e3d2b1a"
RECORDS = [{"text": "Alice lives in Paris.", "entity": [{"entity": "Alice", "entity_type": "person"},
                                                         {"entity": "Paris", "entity_type": "city"}]},
           {"text": "Bob works in Rome.", "entity": [{"entity": "Bob", "entity_type": "person"},
                                                      {"entity": "Rome", "entity_type": "city"}]}]


def tree(folder: Path) -> dict[str, bytes | None]:
    """Every file and folder under ``folder`` with its bytes (None for a folder): what must stay intact."""
    return {str(p.relative_to(folder)): (None if p.is_dir() else p.read_bytes())
            for p in sorted(folder.rglob("*"))}


def victim(folder: Path) -> Path:
    """A folder of the user's own: a thesis and a subfolder, which no kgc command wrote."""
    (folder / "sub").mkdir(parents=True)
    (folder / "thesis.tex").write_text("\\chapter{Years of work}\n")
    (folder / "keep.txt").write_text("mine\n")
    (folder / "sub" / "notes.md").write_text("# notes\n")
    return folder


@pytest.fixture
def project(tmp_path, tiny_model):
    """A user's project folder: code, converted training records, a schema."""
    (tmp_path / "code.py").write_text("print('my code')\n")
    write_jsonl(tmp_path / "raw.json", RECORDS)
    (tmp_path / "schema.json").write_text('["person", "city"]\n[]\n{}\n')
    run_kgc("convert", "raw.json", "train.json", "--task", "NER", "--language", "en", "--schema",
            "schema.json", cwd=tmp_path, check=True)
    return tmp_path


SEED_YAML = """\
do_train: true
stage: sft
model_name_or_path: tiny-random-llama
model_name: llama
template: qwen
train_file: train.json
output_dir: {output_dir}
overwrite_output_dir: true
per_device_train_batch_size: 2
num_train_epochs: 1
learning_rate: 1e-2
cutoff_len: 128
max_source_length: 96
max_target_length: 32
save_strategy: "no"
lora_r: 8
bf16: false
"""


# ---- 1. overwrite from a file never deletes -------------------------------------------------------------
def test_seed_yaml_overwrite_output_dir_never_empties_the_current_folder(project):
    (project / "fine.yaml").write_text(SEED_YAML.format(output_dir="."))
    before = tree(project)
    result = run_kgc("train", "--config", "fine.yaml", "--preset", "tiny-random-llama-lora", "--max-steps",
                     "1", cwd=project, env=THREADS)
    assert result.returncode == 2 and result.stderr_text.count("\n") == 1
    assert "--output-dir is /, the home folder, the current folder or a folder above it" in result.stderr_text
    assert tree(project) == before


def test_seed_yaml_overwrite_output_dir_trains_into_the_folder_and_deletes_nothing(project):
    """The seed's own YAML form (``overwrite_output_dir: true``) keeps Hugging Face's meaning: the run
    writes into a non-empty folder, and every file that was there stays."""
    victim(project / "victim")
    kept = tree(project / "victim")
    (project / "fine.yaml").write_text(SEED_YAML.format(output_dir="victim"))
    run_kgc("train", "--config", "fine.yaml", "--preset", "tiny-random-llama-lora", "--max-steps", "1",
            cwd=project, env=THREADS, check=True)
    after = tree(project / "victim")
    assert {name: after[name] for name in kept} == kept
    assert "adapter_model.safetensors" in after and "kgc_train.json" in after
    assert ".kgc-output.json" not in after  # a folder that held the user's files never becomes kgc's
    again = run_kgc("train", "--preset", "tiny-random-llama-lora", "--train-file", "train.json",
                    "--output-dir", "victim", "--overwrite", "--max-steps", "1", cwd=project, env=THREADS)
    assert again.returncode == 2 and "kgc train" not in again.stderr_text.split("written by")[1].split(";")[0]
    assert "--overwrite replaces only a folder kgc train wrote" in again.stderr_text
    assert {name: tree(project / "victim")[name] for name in kept} == kept


def test_overwrite_in_a_run_file_is_refused(project):
    victim(project / "victim")
    (project / "run.yaml").write_text("preset: tiny-random-llama-lora\ntrain_file: train.json\n"
                                      "output_dir: victim\noverwrite: true\n")
    before = tree(project)
    result = run_kgc("train", "run.yaml", "--max-steps", "1", cwd=project, env=THREADS)
    assert result.returncode == 2 and result.stderr_text == (
        "kgc: error: run.yaml: 'overwrite' cannot come from a run file: pass --overwrite on the command line "
        "(it deletes the output folder)\n")
    words = run_kgc("train", "run.yaml", "overwrite=true", cwd=project, env=THREADS)
    assert words.returncode == 2 and "pass --overwrite" in words.stderr_text
    assert tree(project) == before


def test_a_dry_run_plan_replays_without_overwrite(project):
    plan = run_kgc("train", "--preset", "tiny-random-llama-lora", "--train-file", "train.json",
                   "--output-dir", "out", "--overwrite", "--dry-run", cwd=project, check=True)
    assert "overwrite:" not in plan.stdout_text.replace("overwrite_output_dir:", "")
    (project / "plan.yaml").write_text(plan.stdout_text)
    replay = run_kgc("train", "plan.yaml", "--dry-run", cwd=project, check=True)
    assert "output_dir: out" in replay.stdout_text


def test_train_replaces_only_a_folder_it_wrote(tmp_path, monkeypatch):
    """The train side of the folder rule, at the library's door: a new folder is marked as train's, so
    --overwrite may replace it; the marker is checked again right before anything is deleted."""
    from kgcli.errors import KgcError
    from kgcli.model.presets import load_preset
    from kgcli.train.config import TrainRequest
    from kgcli.train.run import prepare_output_dir

    monkeypatch.chdir(tmp_path)
    preset = load_preset("tiny-random-llama-lora")
    prepare_output_dir(TrainRequest(preset=preset, train_file="t.json", output_dir="run"))
    assert json.loads((tmp_path / "run" / ".kgc-output.json").read_text()) == {"written_by": "kgc train"}
    (tmp_path / "run" / "old-checkpoint.bin").write_text("old")
    prepare_output_dir(TrainRequest(preset=preset, train_file="t.json", output_dir="run", overwrite=True))
    assert sorted(p.name for p in (tmp_path / "run").iterdir()) == [".kgc-output.json"]
    victim(tmp_path / "mine")
    with pytest.raises(KgcError, match="written by someone other than kgc"):
        prepare_output_dir(TrainRequest(preset=preset, train_file="t.json", output_dir="mine",
                                        overwrite=True))
    assert (tmp_path / "mine" / "thesis.tex").exists()


# ---- 2. --overwrite deletes only what kgc wrote ----------------------------------------------------------
@pytest.mark.parametrize("fmt", ["csv", "neo4j"])
def test_graph_export_overwrite_keeps_a_folder_kgc_never_wrote(tmp_path, fmt):
    graph = built_graph(tmp_path)
    victim(tmp_path / "victim")
    before = tree(tmp_path / "victim")
    result = run_kgc("graph", "export", "graph", "--format", fmt, "--out", "victim", "--overwrite",
                     cwd=tmp_path)
    assert result.returncode == 2 and result.stderr_text == (
        "kgc: error: victim: --out was written by someone other than kgc; --overwrite replaces only a folder "
        "kgc graph export wrote (or an empty one): give another folder\n")
    assert tree(tmp_path / "victim") == before
    # the control: a folder an export wrote is replaced by the next one
    run_kgc("graph", "export", str(graph), "--format", fmt, "--out", "exported", cwd=tmp_path, check=True)
    (tmp_path / "exported" / "stale.csv").write_text("old")
    run_kgc("graph", "export", str(graph), "--format", fmt, "--out", "exported", "--overwrite", cwd=tmp_path,
            check=True)
    assert not (tmp_path / "exported" / "stale.csv").exists()
    assert (tmp_path / "exported" / ("nodes.csv")).read_text().count("\n") > 5


@pytest.mark.parametrize("out", [".", "..", "HOME", "/"])
def test_the_current_folder_its_ancestors_home_and_root_are_never_output_folders(tmp_path, out):
    built_graph(tmp_path)
    (tmp_path / "work").mkdir()
    victim(tmp_path / "work" / "mine")
    before = tree(tmp_path)
    # home and / are typed without --overwrite: should the rule ever fail, no deletion is even asked for
    args = [str(Path.home())] if out == "HOME" else [out] if out == "/" else [out, "--overwrite"]
    result = run_kgc("graph", "export", "../graph", "--format", "csv", "--out", *args, cwd=tmp_path / "work")
    assert result.returncode == 2 and "--out is /, the home folder, the current folder" in result.stderr_text
    assert tree(tmp_path) == before


def test_merge_overwrite_keeps_a_folder_kgc_never_wrote(tmp_path, tiny_model):
    adapter = random_lora(tiny_model, tmp_path / "adapter", seed=3, targets=["q_proj"])
    victim(tmp_path / "victim")
    before = tree(tmp_path / "victim")
    result = run_kgc("merge", "--preset", "tiny-random-llama-lora", "--adapter", str(adapter), "--out",
                     "victim", "--overwrite", cwd=tmp_path, env=THREADS)
    assert result.returncode == 2
    assert "--overwrite replaces only a folder kgc merge wrote" in result.stderr_text
    assert tree(tmp_path / "victim") == before


# ---- 5. remote code only with consent ---------------------------------------------------------------------
@pytest.fixture
def evil_model(tmp_path, tiny_model):
    """A model folder whose tokenizer config maps to its own ``.py``, which writes a marker file (with what
    it could read of the environment) when it runs."""
    folder = tmp_path / "evilmodel"
    shutil.copytree(tiny_model, folder)
    (folder / "evil.py").write_text(
        "import os, pathlib\n"
        "pathlib.Path(os.environ['EVIL_MARKER']).write_text('ran ' + os.environ.get('OPENAI_API_KEY', ''))\n"
        "from transformers import PreTrainedTokenizerFast\n\n\n"
        "class EvilTokenizer(PreTrainedTokenizerFast):\n    pass\n")
    config = json.loads((folder / "tokenizer_config.json").read_text())
    config.update(auto_map={"AutoTokenizer": [None, "evil.EvilTokenizer"]}, tokenizer_class="EvilTokenizer")
    (folder / "tokenizer_config.json").write_text(json.dumps(config))
    write_jsonl(tmp_path / "in.json", [{"id": "1", "instruction": "hi"}])
    return folder


@pytest.mark.parametrize("args", [
    ["--preset", "baichuan2-7b-lora", "--model", "./evilmodel"],
    ["--preset", "tiny-random-llama-lora", "--model", "./evilmodel", "--set", "trust_remote_code=true"],
    ["--preset", "tiny-random-llama-lora", "--model", "./evilmodel"],
])
def test_a_model_folders_code_never_runs_without_trust_remote_code(tmp_path, evil_model, args):
    env = {**THREADS, "EVIL_MARKER": str(tmp_path / "ran.txt"), "OPENAI_API_KEY": CANARY,
           "HF_MODULES_CACHE": str(tmp_path / "modules")}
    result = run_kgc("predict", "in.json", "out.json", *args, "--dtype", "fp32", "--max-new-tokens", "2",
                     cwd=tmp_path, env=env)
    assert result.returncode == 2 and result.stderr_text.count("\n") == 1, result.stderr_text
    assert "--trust-remote-code" in result.stderr_text
    assert not (tmp_path / "ran.txt").exists()


def test_trust_remote_code_runs_it_and_names_the_files_first(tmp_path, evil_model):
    """The control: the crafted folder's code does run once the user consents, and kgc names the folder
    and its .py file before loading it."""
    env = {**THREADS, "EVIL_MARKER": str(tmp_path / "ran.txt"), "HF_MODULES_CACHE": str(tmp_path / "modules")}
    result = run_kgc("predict", "in.json", "out.json", "--preset", "tiny-random-llama-lora", "--model",
                     "./evilmodel", "--trust-remote-code", "--max-new-tokens", "2", cwd=tmp_path, env=env)
    assert (tmp_path / "ran.txt").read_text() == "ran "
    notice = next(line for line in result.stderr_text.splitlines() if "trust_remote_code" in line)
    assert notice == "kgc: warning: trust_remote_code: running the model's own code from ./evilmodel: evil.py"


def test_presets_that_run_remote_code_are_marked_in_the_list():
    table = run_kgc("presets", "list", check=True).stdout_text
    names = [line.split("│")[1] for line in table.splitlines() if line.startswith("│")]
    marked = sorted(name.split()[0] for name in names if "[remote code]" in name)
    assert marked == ["baichuan2-13b-iepile-lora", "baichuan2-7b-lora", "chatglm3-6b-lora", "moss-lora"]
    rows = json.loads(run_kgc("presets", "list", "--format", "json", check=True).stdout_text)
    assert sorted(r["name"] for r in rows if r["trust_remote_code"]) == marked


# ---- 6. links in a documents folder ----------------------------------------------------------------------
@pytest.fixture
def corpus(tmp_path):
    """``corpus/`` with one real article, a link to a secret file outside, a link to a folder outside, and
    (for --follow-links) a link to an article inside."""
    secrets = tmp_path / "home"
    (secrets / ".aws").mkdir(parents=True)
    (secrets / ".aws" / "credentials").write_text(f"aws_secret_access_key = {CANARY}\n")
    (secrets / "private").mkdir()
    (secrets / "private" / "diary.txt").write_text(f"my diary {CANARY}\n")
    docs = tmp_path / "corpus"
    (docs / "inner").mkdir(parents=True)
    (docs / "article1.txt").write_text("Alice lives in Paris.\n")
    (docs / "inner" / "article3.txt").write_text("Bob works in Rome.\n")
    (docs / "article2.txt").symlink_to(secrets / ".aws" / "credentials")
    (docs / "outside").symlink_to(secrets / "private")
    (docs / "again.txt").symlink_to(docs / "inner" / "article3.txt")
    (tmp_path / "ner.json").write_text('["person", "city"]\n[]\n{}\n')
    return tmp_path


def test_links_in_a_documents_folder_are_skipped_and_the_secret_reaches_no_server(corpus, tiny_model):
    with FakeOpenAI(lambda body: '{"person": [], "city": []}') as server:
        result = run_kgc("extract", "corpus", "out.json", "--preset", "tiny-random-llama-lora", "--task",
                         "NER", "--schema", "ner.json", "--language", "en", "--backend", "openai",
                         "--api-base", server.url, "--served-model", "m", cwd=corpus, env=THREADS, check=True)
        sent = server.everything()
        prompts = [prompt_of(s.body) for s in server.seen if s.body]
    assert CANARY not in sent and "diary" not in sent
    assert any("Alice lives in Paris." in p for p in prompts)
    assert any("Bob works in Rome." in p for p in prompts)
    assert [r["doc_id"] for r in read_jsonl(corpus / "out.json")] == ["article1.txt", "inner/article3.txt"]
    warnings = [line for line in result.stderr_text.splitlines() if "a link, skipped" in line]
    assert warnings == [
        "kgc: warning: corpus/again.txt: a link, skipped (pass --follow-links to follow links that stay "
        "inside the folder)",
        "kgc: warning: corpus/article2.txt: a link, skipped (pass --follow-links to follow links that stay "
        "inside the folder)",
        "kgc: warning: corpus/outside: a link, skipped (pass --follow-links to follow links that stay inside "
        "the folder)"]


def test_follow_links_follows_only_links_that_stay_inside(corpus, tiny_model):
    result = run_kgc("chunk", "corpus", "chunks.json", "--preset", "tiny-random-llama-lora", "--budget", "64",
                     "--follow-links", cwd=corpus, check=True)
    chunks = read_jsonl(corpus / "chunks.json")
    assert [c["doc_id"] for c in chunks] == ["again.txt", "article1.txt", "inner/article3.txt"]
    assert CANARY not in (corpus / "chunks.json").read_text()
    skipped = sorted(line.split(": ")[2] for line in result.stderr_text.splitlines() if "a link" in line)
    assert skipped == ["corpus/article2.txt", "corpus/outside"]
    assert all("its target is outside the folder" in line for line in result.stderr_text.splitlines()
               if "a link" in line)


# ---- 7. keys go only where meant -------------------------------------------------------------------------
@pytest.fixture
def records(tmp_path):
    return write_jsonl(tmp_path / "in.json", [{"id": "1", "instruction": "Alice lives in Paris."}])


def test_openai_backend_sends_no_environment_key_to_a_custom_server(tmp_path, records, tiny_model):
    env = {**THREADS, "OPENAI_API_KEY": CANARY}
    with FakeOpenAI() as server:
        run_kgc("predict", "in.json", "out.json", "--preset", "tiny-random-llama-lora", "--backend", "openai",
                "--api-base", server.url, "--served-model", "m", cwd=tmp_path, env=env, check=True)
        assert CANARY not in server.everything()
        assert set(server.authorizations()) == {"Bearer EMPTY"}
    # the control: a key named with --api-key-env is what the server gets
    with FakeOpenAI() as server:
        run_kgc("predict", "in.json", "out2.json", "--preset", "tiny-random-llama-lora", "--backend",
                "openai", "--api-base", server.url, "--served-model", "m", "--api-key-env", "MY_SERVER_KEY",
                cwd=tmp_path, env={**env, "MY_SERVER_KEY": "sk-for-my-server-123"}, check=True)
        assert set(server.authorizations()) == {"Bearer sk-for-my-server-123"}
        assert CANARY not in server.everything()


@pytest.mark.parametrize("model,variable", [("openai/m", "OPENAI_API_KEY"),
                                            ("hosted_vllm/m", "HOSTED_VLLM_API_KEY"),
                                            ("deepseek/m", "DEEPSEEK_API_KEY")])
def test_icl_sends_no_provider_key_to_a_custom_api_base(tmp_path, model, variable):
    env = {variable: CANARY, "KGC_CACHE": str(tmp_path / "cache")}
    with FakeOpenAI(lambda body: '{"person": ["Alice"]}') as server:
        result = run_kgc("icl", "--model", model, "--api-base", server.url, "--task", "ner", "--language",
                         "en", "--labels", "person", "--text", "Alice lives in Paris.", env=env, check=True)
        assert "Alice" in result.stdout_text
        assert server.seen and CANARY not in server.everything()
    with FakeOpenAI(lambda body: '{"person": ["Alice"]}') as server:
        run_kgc("icl", "--model", model, "--api-base", server.url, "--task", "ner", "--language", "en",
                "--labels", "person", "--text", "Bob lives in Rome.", "--api-key-env", variable, env=env,
                check=True)
        assert CANARY in server.everything()  # the control: named, it goes


def test_a_key_over_plain_http_to_another_host_is_warned_about(monkeypatch, capsys):
    from kgcli.secrets import key_for

    monkeypatch.setenv("MY_KEY", CANARY)
    monkeypatch.setenv("OPENAI_API_KEY", CANARY)
    assert key_for("http://10.1.2.3:8000/v1", "MY_KEY", "openai", "OPENAI_API_KEY") == CANARY
    assert capsys.readouterr().err == ("kgc: warning: the key in $MY_KEY goes to 10.1.2.3 over plain http, "
                                       "which anyone on the way can read; use https\n")
    assert key_for("http://127.0.0.1:8000/v1", "MY_KEY", "openai", "OPENAI_API_KEY") == CANARY
    assert key_for("https://api.openai.com/v1", None, "openai", "OPENAI_API_KEY") == CANARY
    assert key_for("https://gateway.example/v1", None, "openai", "OPENAI_API_KEY") is None
    assert key_for(None, None, "openai", "OPENAI_API_KEY") == CANARY
    assert capsys.readouterr().err == ""
    assert CANARY not in capsys.readouterr().out


# ---- 11. graph show never replaces a file without --overwrite ------------------------------------------
def test_graph_show_refuses_an_existing_file(tmp_path):
    built_graph(tmp_path)
    (tmp_path / "notes.txt").write_text("my notes\n")
    (tmp_path / "picture.png").write_bytes(b"my picture")
    page = run_kgc("graph", "show", "graph", "--out", "notes.txt", cwd=tmp_path)
    assert page.returncode == 2 and page.stderr_text == (
        "kgc: error: notes.txt: output file exists; pass --overwrite to replace it\n")
    png = run_kgc("graph", "show", "graph", "--out", "new.html", "--png", "picture.png", cwd=tmp_path)
    assert png.returncode == 2 and "picture.png: output file exists" in png.stderr_text
    assert (tmp_path / "notes.txt").read_text() == "my notes\n"
    assert (tmp_path / "picture.png").read_bytes() == b"my picture" and not (tmp_path / "new.html").exists()
    run_kgc("graph", "show", "graph", "--out", "notes.txt", "--overwrite", cwd=tmp_path, check=True)
    assert (tmp_path / "notes.txt").read_text().startswith("<!DOCTYPE html>")


# ---- 12. the reply cache is private ---------------------------------------------------------------------
def modes(folder: Path) -> dict[str, int]:
    return {p.name: stat.S_IMODE(p.stat().st_mode) for p in [folder, *folder.iterdir()]}


def read_as_nobody(path: Path) -> subprocess.CompletedProcess:
    return subprocess.run(["setpriv", "--reuid=65534", "--regid=65534", "--clear-groups", "cat", str(path)],
                          capture_output=True, text=True)


def test_reply_cache_files_are_private_during_a_run_and_after_a_kill():
    from kgcli.icl.cache import Reply, ReplyCache

    shared = Path(tempfile.mkdtemp(prefix="kgc-cache-", dir="/tmp"))  # a folder others can enter
    try:
        os.chmod(shared, 0o755)
        cache = ReplyCache(shared / "icl")
        cache.put("k1", Reply("a private reply: the patient's diagnosis"))
        during = modes(shared / "icl")  # the connection is open: -wal and -shm exist
        assert during == {"icl": 0o700, "replies.sqlite": 0o600, "replies.sqlite-wal": 0o600,
                          "replies.sqlite-shm": 0o600}
        cache.close()
        code = ("import os, signal, sys; sys.path.insert(0, sys.argv[2]); from kgcli.icl.cache import Reply, "
                "ReplyCache; c = ReplyCache(sys.argv[1]); c.put('k2', Reply('second private reply')); "
                "os.kill(os.getpid(), signal.SIGKILL)")
        killed = subprocess.run([sys.executable, "-c", code, str(shared / "icl"), str(ROOT)])
        assert killed.returncode == -signal.SIGKILL
        after = modes(shared / "icl")
        assert after == during
        for name in after:
            if name != "icl":
                refused = read_as_nobody(shared / "icl" / name)
                assert refused.returncode != 0 and "Permission denied" in refused.stderr
        # the control: the same read of a file others may read succeeds, so the refusals above are the modes'
        (shared / "public.txt").write_text("public")
        os.chmod(shared / "public.txt", 0o644)
        assert read_as_nobody(shared / "public.txt").stdout == "public"
    finally:
        shutil.rmtree(shared)
