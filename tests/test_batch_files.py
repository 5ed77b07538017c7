"""OpenAI Batch files without a server: the requests kgc writes (one per record, the openai backend's own
body) and the join of a results file that answers in another order (vllm run-batch itself: test_vllm)."""

from __future__ import annotations

import json
import random

from tests.conftest import iepile_record, read_jsonl, run_kgc, write_jsonl

TEXTS = ["Alice flew from Paris.", "Bob lives in Rome.", "Carol met Dave in Oslo.", "Eve left Lima."]


def records(tmp_path):
    return write_jsonl(
        tmp_path / "test.json",
        [
            iepile_record(
                "NER", ["person", "city"], text, label=[{"entity": text.split()[0], "entity_type": "person"}]
            )
            for text in TEXTS
        ],
    )


def join(tmp_path, source, *, check: bool = False):
    """`kgc predict IN OUT --backend openai-batch --read-results RES` on this test's files."""
    return run_kgc("predict", str(source), str(tmp_path / "out.json"), "--backend", "openai-batch",
                   "--read-results", str(tmp_path / "res.jsonl"), check=check)


def test_requests_carry_each_record_its_prompt_and_greedy_settings(tmp_path, tiny_model):
    source = records(tmp_path)
    result = run_kgc(
        "predict",
        str(source),
        "--preset",
        "tiny-random-llama-lora",
        "--max-new-tokens",
        "24",
        "--backend",
        "openai-batch",
        "--write-requests",
        str(tmp_path / "req.jsonl"),
        "--served-model",
        "tiny",
        check=True,
    )
    assert "vllm run-batch -i" in result.stderr_text and not (tmp_path / "req.jsonl.jinja").exists()
    requests = read_jsonl(tmp_path / "req.jsonl")
    assert [r["custom_id"] for r in requests] == [
        f"{n}:{r['id']}" for n, r in enumerate(read_jsonl(source), 1)
    ]
    for request, record in zip(requests, read_jsonl(source), strict=True):
        assert request["method"] == "POST" and request["url"] == "/v1/completions"
        assert request["body"] == {  # the preset's template (qwen, ChatML), written out by hand
            "model": "tiny",
            "prompt": "<|im_start|>system\nYou are a helpful assistant.<|im_end|>\n<|im_start|>user\n"
                      f"{record['instruction']}<|im_end|>\n<|im_start|>assistant\n",
            "max_tokens": 24,
            "temperature": 0.0,
            "stop": ["<|im_end|>"],
        }

    run_kgc(
        "predict",
        str(source),
        "--preset",
        "tiny-random-llama-lora",
        "--backend",
        "openai-batch",
        "--write-requests",
        str(tmp_path / "chat.jsonl"),
        "--batch-url",
        "/v1/chat/completions",
        check=True,
    )
    chat = read_jsonl(tmp_path / "chat.jsonl")
    assert [c["body"]["messages"] for c in chat] == [
        [{"role": "user", "content": r["body"]["prompt"]}] for r in requests
    ]
    assert "prompt" not in chat[0]["body"] and chat[0]["body"]["model"] == "tiny-random-llama"
    assert (tmp_path / "chat.jsonl.jinja").read_text() == "{{ messages[0]['content'] }}\n"


def test_results_in_any_order_join_back_in_input_order(tmp_path):
    source = records(tmp_path)
    answers = {
        f"{n}:{r['id']}": json.dumps(
            {
                "person": [r["instruction"].split('"input": "')[1].split()[0] if n % 2 else "nobody"],
                "city": [],
            }
        )
        for n, r in enumerate(read_jsonl(source), 1)
    }
    results = [
        {
            "id": f"batch_req_{i}",
            "custom_id": key,
            "error": None,
            "response": {
                "status_code": 200,
                "request_id": f"r{i}",
                "body": {
                    "choices": [{"index": 0, "message": {"role": "assistant", "content": text}}]
                    if i % 2
                    else [{"index": 0, "text": text}]
                },
            },
        }
        for i, (key, text) in enumerate(answers.items())
    ]
    random.Random(4).shuffle(results)
    write_jsonl(tmp_path / "res.jsonl", results)
    join(tmp_path, source, check=True)
    out = read_jsonl(tmp_path / "out.json")
    assert [r["output"] for r in out] == list(answers.values())
    assert [{k: v for k, v in r.items() if k != "output"} for r in out] == read_jsonl(source)
    # the joined file scores like any prediction file: records 1 and 3 answered right, 2 and 4 wrong
    report = json.loads(
        run_kgc("eval", str(tmp_path / "out.json"), "--format", "json", check=True).stdout_text
    )
    assert (report["total"]["tp"], report["total"]["F1"]) == (2, 50.0)


def test_a_result_for_no_record_is_refused(tmp_path):
    source = records(tmp_path)
    write_jsonl(
        tmp_path / "res.jsonl",
        [
            {
                "custom_id": f"{n}:{r['id']}",
                "response": {"status_code": 200, "body": {"choices": [{"text": "{}"}]}},
            }
            for n, r in enumerate(read_jsonl(source), 1)
        ]
        + [{"custom_id": "9:other", "response": {"status_code": 200, "body": {"choices": [{"text": "{}"}]}}}],
    )
    result = join(tmp_path, source)
    assert result.returncode == 2 and "1 result(s) are for no record" in result.stderr_text
    assert not (tmp_path / "out.json").exists()
