"""Options that no other test ran on their success path, each typed as a user would and checked for its
effect: presets cp, train --adapter, predict --temperature/--top-p/--seed, --version, --verbose, extract
--drop-ungrounded/--budget/--overlap, chunk --budget/--overlap/--tokenizer, icl --task re|ee|da and
--show-prompt."""

from __future__ import annotations

import json

import pytest

from tests.conftest import read_jsonl, run_kgc, write_jsonl
from tests.fake_openai import FakeOpenAI, prompt_of

THREADS = {"KGC_TORCH_THREADS": "1", "OMP_NUM_THREADS": "1"}
RECORDS = [{"text": "Alice lives in Paris.", "entity": [{"entity": "Alice", "entity_type": "person"},
                                                         {"entity": "Paris", "entity_type": "city"}]},
           {"text": "Bob works in Rome.", "entity": [{"entity": "Bob", "entity_type": "person"},
                                                      {"entity": "Rome", "entity_type": "city"}]}]


@pytest.fixture(scope="module")
def data(tmp_path_factory, tiny_model):
    folder = tmp_path_factory.mktemp("options")
    write_jsonl(folder / "raw.json", RECORDS)
    (folder / "schema.json").write_text('["person", "city"]\n[]\n{}\n')
    for split in ("train", "test"):
        run_kgc("convert", "raw.json", f"{split}.json", "--task", "NER", "--language", "en", "--split", split,
                "--schema", "schema.json", cwd=folder, check=True)
    return folder


def test_presets_cp_writes_a_file_that_preset_file_then_uses(tmp_path):
    copied = run_kgc("presets", "cp", "tiny-random-llama-lora", "my-tiny.yaml", cwd=tmp_path, check=True)
    assert (tmp_path / "my-tiny.yaml").is_file() and "my-tiny.yaml" in copied.stderr_text + copied.stdout_text
    text = (tmp_path / "my-tiny.yaml").read_text()
    (tmp_path / "my-tiny.yaml").write_text(text.replace("lora_r: 8", "lora_r: 4"))
    plan = run_kgc("train", "--preset", "my-tiny.yaml", "--train-file", "t.json", "--output-dir", "out",
                   "--dry-run", cwd=tmp_path, check=True)
    preset = __import__("yaml").safe_load(plan.stdout_text.split("# launch")[0])["train"]["preset"]
    assert (preset["name"], preset["lora_r"], preset["base_model"]) == ("my-tiny", 4, "tiny-random-llama")


def lora_tensors(folder):
    from safetensors.torch import load_file

    return load_file(str(folder / "adapter_model.safetensors"))


def test_train_adapter_continues_from_the_adapters_weights(data):
    """A run with --adapter and a learning rate of 1e-12 saves the weights it was given (to 1e-8): it loaded
    them (a fresh LoRA starts with B = 0, which the first run's trained adapter is not)."""
    import torch

    base = ["--preset", "tiny-random-llama-lora", "--train-file", "train.json"]
    run_kgc("train", *base, "--output-dir", "first", "--max-steps", "3", cwd=data, env=THREADS, check=True)
    run_kgc("train", *base, "--output-dir", "continued", "--adapter", "first", "--max-steps", "1", "--set",
            "learning_rate=1e-12", cwd=data, env=THREADS, check=True)
    first, continued = lora_tensors(data / "first"), lora_tensors(data / "continued")
    assert first.keys() == continued.keys() and len(first) == 28  # 2 layers × 7 modules × (A, B)
    assert all(torch.allclose(first[k], continued[k], rtol=0, atol=1e-8) for k in first)
    assert any(k.endswith("lora_B.weight") and bool(first[k].abs().sum()) for k in first)


def test_sampling_repeats_with_one_seed_and_differs_with_another(data):
    def sampled(seed: int, name: str) -> list[str]:
        run_kgc("predict", "test.json", name, "--preset", "tiny-random-llama-lora", "--max-new-tokens", "12",
                "--temperature", "1.0", "--top-p", "0.9", "--seed", str(seed), cwd=data, env=THREADS,
                check=True)
        return [r["output"] for r in read_jsonl(data / name)]

    one, again, other = sampled(1, "s1.json"), sampled(1, "s1b.json"), sampled(2, "s2.json")
    assert one == again and one != other
    run_kgc("predict", "test.json", "greedy.json", "--preset", "tiny-random-llama-lora", "--max-new-tokens",
            "12", cwd=data, env=THREADS, check=True)
    assert [r["output"] for r in read_jsonl(data / "greedy.json")] != one  # sampling ran


def test_version_and_verbose():
    version = run_kgc("--version", check=True)
    assert version.stdout_text.strip() == f"kgc {__import__('kgcli').__version__}"
    for flag in ("-v", "--verbose"):
        failed = run_kgc(flag, "convert", "missing.json", "out.json", "--task", "NER")
        assert failed.returncode == 2 and "Traceback (most recent call last)" in failed.stderr_text
        assert failed.stderr_text.rstrip().endswith("kgc: error: missing.json: no such file")
    quiet = run_kgc("convert", "missing.json", "out.json", "--task", "NER")
    assert quiet.stderr_text == "kgc: error: missing.json: no such file\n"


DOC = "Alice met Bob in Paris. Carol flew to Rome. Dave stayed in Oslo. Erin moved to Lima.\n"


def answer_with_a_stranger(body: dict) -> str:
    """NER from the names in the chunk, plus one name that is in no text."""
    text = json.loads(prompt_of(body).split("user\n", 1)[1].rsplit("<|im_end|>", 1)[0])["input"]
    names = [n for n in ("Alice", "Bob", "Carol", "Dave", "Erin") if n in text]
    return json.dumps({"person": [*names, "Zoe"]})


def chunk_inputs(server: FakeOpenAI) -> list[str]:
    return [json.loads(prompt_of(s.body).split("user\n", 1)[1].rsplit("<|im_end|>", 1)[0])["input"]
            for s in server.seen if s.body]


def extract(tmp_path, *flags: str) -> tuple[dict, list[str]]:
    (tmp_path / "docs").mkdir(parents=True)
    (tmp_path / "docs" / "d.txt").write_text(DOC)
    (tmp_path / "ner.json").write_text('["person"]\n[]\n{}\n')
    with FakeOpenAI(answer_with_a_stranger) as server:
        run_kgc("extract", "docs", "out.json", "--preset", "tiny-random-llama-lora", "--task", "NER",
                "--schema", "ner.json", "--language", "en", *flags, "--backend", "openai", "--api-base",
                server.url, "--served-model", "m", cwd=tmp_path, env=THREADS, check=True)
        sent = chunk_inputs(server)
    (document,) = read_jsonl(tmp_path / "out.json")
    return document, sent


def test_extract_budget_and_overlap_size_the_chunks_sent(tmp_path, smol_tokenizer):
    """--budget 12: every chunk the model sees is at most 12 tokens (the preset's tokenizer, counted here);
    --overlap 0: the chunks tile the document; --overlap 6: neighbours share text, so there are more."""
    tiled, tiled_sent = extract(tmp_path / "a", "--budget", "12", "--overlap", "0")
    shared, shared_sent = extract(tmp_path / "b", "--budget", "12", "--overlap", "6")
    for document, sent in ((tiled, tiled_sent), (shared, shared_sent)):
        assert document["chunks"] == len(sent) > 1
        assert all(len(smol_tokenizer(t, add_special_tokens=False)["input_ids"]) <= 12 for t in sent)
        assert {e["text"] for e in document["entities"]} == {"Alice", "Bob", "Carol", "Dave", "Erin", "Zoe"}
    assert "".join(sorted(tiled_sent, key=DOC.index)) == DOC  # no text twice, none left out
    assert len(shared_sent) > len(tiled_sent)
    starts = sorted((DOC.index(t), DOC.index(t) + len(t)) for t in shared_sent)
    assert all(after[0] < before[1] for before, after in zip(starts, starts[1:], strict=False))


def test_extract_drop_ungrounded_keeps_only_names_in_the_text(tmp_path, smol_tokenizer):
    kept, _ = extract(tmp_path / "a", "--budget", "40")
    dropped, sent = extract(tmp_path / "b", "--budget", "40", "--drop-ungrounded")
    assert len(smol_tokenizer(DOC, add_special_tokens=False)["input_ids"]) <= 40 and sent == [DOC]
    names = {"Alice": True, "Bob": True, "Carol": True, "Dave": True, "Erin": True}
    assert {e["text"]: e["grounded"] for e in kept["entities"]} == {**names, "Zoe": False}
    assert {e["text"]: e["grounded"] for e in dropped["entities"]} == names


def test_chunk_with_a_tokenizer_a_budget_and_an_overlap(tmp_path, smollm2_dir, smol_tokenizer):
    (tmp_path / "docs").mkdir()
    (tmp_path / "docs" / "d.txt").write_text(DOC * 3)
    result = run_kgc("chunk", "docs", "chunks.json", "--tokenizer", str(smollm2_dir), "--budget", "20",
                     "--overlap", "8", cwd=tmp_path, check=True)
    assert "of at most 20 tokens (8 shared)" in result.stderr_text
    chunks = read_jsonl(tmp_path / "chunks.json")
    text = DOC * 3
    assert len(chunks) >= 6 and chunks[0]["start"] == 0 and chunks[-1]["end"] == len(text)
    for chunk in chunks:  # counted by the tokenizer itself
        assert len(smol_tokenizer(chunk["text"], add_special_tokens=False)["input_ids"]) <= 20
    for before, after in zip(chunks, chunks[1:], strict=False):
        assert after["start"] < before["end"]  # neighbours share text


@pytest.mark.parametrize("task,args,sentence,line", [
    ("re", ["--labels", "lives in,born in", "--head-entity", "Alice", "--head-type", "person",
            "--tail-entity", "Paris", "--tail-type", "city"],
     "relation extraction(RE) system",
     "The relation between (person) 'Alice' and (city) 'Paris' in the context is: "),
    ("ee", ["--domain", "news"], "news domain event extraction model",
     "Input: Alice moved to Paris.\nOutput: "),
    ("da", ["--labels", "person,city"], "One sample in relation extraction datasets consists of a relation",
     "Generate more samples for the relation 'Alice moved to Paris.':\n"),
])
def test_icl_tasks_re_ee_da_send_their_prompts_and_show_prompt_prints_it(tmp_path, task, args, sentence,
                                                                           line):
    with FakeOpenAI(lambda body: '{"relation": "lives in"}') as server:
        result = run_kgc("icl", "--model", "openai/m", "--api-base", server.url, "--task", task, "--language",
                         "en", "--text", "Alice moved to Paris.", *args, "--show-prompt",
                         env={"KGC_CACHE": str(tmp_path)}, check=True)
        (sent,) = [prompt_of(s.body) for s in server.seen if s.body]
    assert sentence in sent and sent.endswith(line)
    assert sent in result.stderr_text  # --show-prompt: the prompt as sent, on stderr
    assert result.stdout_text.startswith('{"relation": "lives in"}')
