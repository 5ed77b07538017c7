"""`kgc icl` against a real OpenAI-compatible server: vLLM's server from `.venv-vllm` serving SmolLM2-135M on
127.0.0.1, behind a small counting proxy (which can also answer 429 / 500, slow down, or go away). The
tests check structure, never wording. Slow (server start-up)."""

from __future__ import annotations

import json
import os
import sys
import threading
import time
import urllib.request
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

import pytest

from tests.conftest import free_port, kill_when_written, read_jsonl, run_kgc, write_jsonl

pytestmark = [pytest.mark.slow, pytest.mark.vllm, pytest.mark.xdist_group("vllm")]
if os.environ.get("KGC_SKIP_VLLM") == "1":
    pytest.skip("KGC_SKIP_VLLM=1", allow_module_level=True)

SECRET = "sk-kgc-test-7f3a9c1e5b2d4860aa11"
PEOPLE, CITIES = ["Alice", "Bob", "Carol", "Dave", "Erin"], ["Paris", "Rome", "Oslo", "Lima"]


class Proxy:
    """Forwards POSTs to the real server and counts them; ``fail`` holds HTTP codes to answer first;
    ``delay`` slows each answer; ``close_after`` N: stop listening after N forwarded requests."""

    def __init__(self, upstream: str):
        self.upstream, self.requests, self.forwarded, self.fail, self.delay = upstream, 0, 0, [], 0.0
        self.close_after: int | None = None
        self.refuse_json_mode = False
        self.authorizations: list[str] = []
        self.lock = threading.Lock()
        proxy = self

        class Handler(BaseHTTPRequestHandler):
            def log_message(self, *args):
                pass

            def do_POST(self):
                body = self.rfile.read(int(self.headers.get("Content-Length", 0)))
                with proxy.lock:
                    proxy.requests += 1
                    proxy.authorizations.append(self.headers.get("Authorization", ""))
                    failure = proxy.fail.pop(0) if proxy.fail else None
                    if proxy.refuse_json_mode and b'"response_format"' in body:
                        failure = 400
                    proxy.forwarded += failure is None
                    last = failure is None and proxy.forwarded == proxy.close_after
                if failure:
                    message = ("response_format is not supported" if failure == 400
                               else f"test failure {failure}")
                    payload = json.dumps({"error": {"message": message, "code": failure}}).encode()
                    self.send_response(failure)
                    self.send_header("Content-Type", "application/json")
                    self.send_header("Content-Length", str(len(payload)))
                    if failure == 429:
                        self.send_header("Retry-After", "0")
                    self.end_headers()
                    self.wfile.write(payload)
                    return
                time.sleep(proxy.delay)
                request = urllib.request.Request(proxy.upstream + self.path.removeprefix("/v1"), data=body,
                                                 headers={"Content-Type": "application/json"})
                with urllib.request.urlopen(request, timeout=300) as response:
                    payload = response.read()
                if last:  # stop listening before answering: the next request finds nobody there
                    stopper = threading.Thread(target=proxy.stop)
                    stopper.start()
                    stopper.join()
                self.send_response(200)
                self.send_header("Content-Type", "application/json")
                self.send_header("Content-Length", str(len(payload)))
                self.end_headers()
                self.wfile.write(payload)

        self.server = ThreadingHTTPServer(("127.0.0.1", free_port()), Handler)
        self.url = f"http://127.0.0.1:{self.server.server_address[1]}/v1"
        threading.Thread(target=self.server.serve_forever, daemon=True).start()

    def stop(self):
        self.server.shutdown()
        self.server.server_close()


@pytest.fixture(scope="module")
def server(vllm_server):
    return vllm_server


@pytest.fixture
def proxy(server):
    proxy = Proxy(server)
    yield proxy
    proxy.stop()


@pytest.fixture(scope="module")
def ner_test(tmp_path_factory):
    """20 converted NER test records (kgc convert, test split)."""
    folder = tmp_path_factory.mktemp("icl-data") / "demo"
    raw = [{"text": f"{PEOPLE[i % 5]} flew from {CITIES[i % 4]} to {CITIES[(i + 1) % 4]} on day {i}.",
            "entity": [{"entity": PEOPLE[i % 5], "entity_type": "person"},
                       {"entity": CITIES[i % 4], "entity_type": "city"}]} for i in range(20)]
    write_jsonl(folder / "raw.json", raw)
    (folder / "ner.json").write_text('["person", "city"]\n[]\n{}\n')
    for split in ("test", "train"):
        run_kgc("convert", str(folder / "raw.json"), str(folder / f"{split}.json"), "--task", "NER",
                "--split", split,
                "--schema", str(folder / "ner.json"), check=True)
    return folder / "test.json"


def icl(*args, cache, env=None, check=False):
    return run_kgc("icl", "--model", "hosted_vllm/smol", "--max-tokens", "32", *args,
                   env={"KGC_CACHE": str(cache), **(env or {})}, check=check)


def test_single_text_gets_a_reply_from_the_local_server(proxy, tmp_path):
    result = icl("--task", "ner", "--language", "en", "--api-base", proxy.url, "--labels", "person,city",
                 "--text", "Alice flew from Paris to Rome.", "--json", cache=tmp_path, check=True)
    answer = json.loads(result.stdout_text)
    assert answer["reply"].strip() and answer["prompt"].endswith("Input: Alice flew from Paris to "
                                                                 "Rome.\nOutput: ")
    assert "Examples: \n" in answer["prompt"] and proxy.requests == 1


def test_429_and_500_are_retried(proxy, tmp_path):
    proxy.fail = [429, 500]
    result = icl("--task", "rte", "--language", "zh", "--api-base", proxy.url, "--text", "长江流经武汉。",
                 "--backoff", "0.05", cache=tmp_path, check=True)
    assert result.stdout_text.strip() and proxy.requests == 3


@pytest.fixture(scope="module")
def batch(server, ner_test, tmp_path_factory):
    """One batch run with an API key in the environment; the proxy sees every request."""
    proxy = Proxy(server)
    folder = tmp_path_factory.mktemp("icl-batch")
    env = {"KGC_TEST_KEY": SECRET, "OPENAI_API_KEY": SECRET, "HOSTED_VLLM_API_KEY": SECRET}
    first = icl(str(ner_test), str(folder / "out.json"), "--api-base", proxy.url, "--api-key-env",
                "KGC_TEST_KEY",
                "--concurrency", "4", cache=folder / "cache", env=env, check=True)
    sent = proxy.requests
    again = icl(str(ner_test), str(folder / "again.json"), "--api-base", proxy.url, "--api-key-env",
                "KGC_TEST_KEY",
                "--concurrency", "4", cache=folder / "cache", env=env, check=True)
    yield {"folder": folder, "proxy": proxy, "first": first, "again": again, "sent": sent}
    proxy.stop()


def test_batch_writes_every_record_with_an_output_and_eval_scores_it(batch, ner_test):
    records = read_jsonl(batch["folder"] / "out.json")
    assert [r["id"] for r in records] == [r["id"] for r in read_jsonl(ner_test)]
    assert len(records) == 20 and all(isinstance(r["output"], str) and r["output"] for r in records)
    assert batch["sent"] == 20
    report = batch["folder"] / "report.json"
    run_kgc("eval", str(batch["folder"] / "out.json"), "--task", "NER", "--out", str(report), check=True)
    total = json.loads(report.read_text())["total"]
    # every record scored against its gold: both types of the schema, each gold entity counted once
    assert total["samples"] == 20 and set(total["per_type"]) == {"person", "city"}
    assert sum(block["gold"] for block in total["per_type"].values()) == 40  # 2 gold entities a record


def test_rerunning_a_batch_sends_no_request(batch):
    assert batch["proxy"].requests == batch["sent"]
    assert "0 requests, 20 from the cache" in batch["again"].stderr_text
    assert (batch["folder"] / "again.json").read_text() == (batch["folder"] / "out.json").read_text()


def test_the_api_key_is_used_but_never_written(batch):
    assert all(SECRET in auth for auth in batch["proxy"].authorizations)
    written = [p for p in batch["folder"].rglob("*") if p.is_file()]
    assert any(p.name.startswith("replies.sqlite") for p in written)
    for path in written:
        assert SECRET.encode() not in path.read_bytes(), path
    for result in (batch["first"], batch["again"]):
        assert SECRET not in result.stdout_text + result.stderr_text


def test_server_going_away_is_one_line_and_the_partial_output_resumes(proxy, ner_test, tmp_path):
    proxy.close_after = 5
    out = tmp_path / "out.json"
    result = icl(str(ner_test), str(out), "--api-base", proxy.url, "--concurrency", "1", "--retries", "1",
                 "--backoff", "0.05", cache=tmp_path / "cache")
    assert result.returncode == 2
    assert result.stderr_text.count("\n") == 1 and "cannot reach the server" in result.stderr_text
    kept = read_jsonl(out)
    assert 1 <= len(kept) <= 5
    fresh = Proxy(proxy.upstream)
    try:
        icl(str(ner_test), str(out), "--api-base", fresh.url, "--concurrency", "4", "--resume",
            cache=tmp_path / "cache", check=True)
    finally:
        fresh.stop()
    records = read_jsonl(out)
    assert [r["id"] for r in records] == [r["id"] for r in read_jsonl(ner_test)]
    assert records[: len(kept)] == kept and fresh.requests == 20 - len(kept)


def test_server_down_from_the_start_leaves_no_output(ner_test, tmp_path):
    out = tmp_path / "out.json"
    result = icl(str(ner_test), str(out), "--api-base", f"http://127.0.0.1:{free_port()}/v1", "--retries",
                 "0",
                 cache=tmp_path)
    assert result.returncode == 2 and result.stderr_text.startswith("kgc: error: ")
    assert result.stderr_text.count("\n") == 1 and not out.exists()


def test_a_killed_batch_resumes_without_duplicates(proxy, ner_test, tmp_path):
    proxy.delay = 0.3
    out = tmp_path / "out.json"
    command = [sys.executable, "-m", "kgcli", "icl", str(ner_test), str(out), "--model", "hosted_vllm/smol",
               "--max-tokens", "32", "--api-base", proxy.url, "--concurrency", "2"]
    done = kill_when_written(command, out, 4, env={"KGC_CACHE": str(tmp_path / "cache")}, timeout=240)
    assert 4 <= done < 20
    proxy.delay = 0
    icl(str(ner_test), str(out), "--api-base", proxy.url, "--resume", cache=tmp_path / "cache", check=True)
    ids = [r["id"] for r in read_jsonl(out)]
    assert ids == [r["id"] for r in read_jsonl(ner_test)] and len(set(ids)) == 20
    assert all(isinstance(r["output"], str) for r in read_jsonl(out))


def test_json_mode_refused_falls_back_and_shots_come_from_train_records(proxy, ner_test, tmp_path):
    proxy.refuse_json_mode = True
    head = write_jsonl(tmp_path / "head.json", read_jsonl(ner_test)[:3])
    result = icl(str(head), str(tmp_path / "out.json"), "--api-base", proxy.url, "--shots", "2", "--examples",
                 str(ner_test.parent / "train.json"), "--concurrency", "1", cache=tmp_path, check=True)
    assert "refused JSON mode" in result.stderr_text
    assert len(read_jsonl(tmp_path / "out.json")) == 3 and proxy.requests == 4  # one refusal, then 3 answers


def test_chunk_fields_travel_through_a_batch(proxy, ner_test, tmp_path):
    """Records converted from kgc chunk carry doc_id, chunk, start, end and metadata; icl keeps them all."""
    records = [{**r, "doc_id": "book", "chunk": i, "start": 10 * i, "end": 10 * i + 9, "year": 2024}
               for i, r in enumerate(read_jsonl(ner_test)[:3])]
    write_jsonl(tmp_path / "chunks.json", records)
    icl(str(tmp_path / "chunks.json"), str(tmp_path / "out.json"), "--api-base", proxy.url,
        cache=tmp_path / "cache", check=True)
    written = read_jsonl(tmp_path / "out.json")
    assert [{k: v for k, v in w.items() if k != "output"} for w in written] == records
    assert all(isinstance(w["output"], str) for w in written)
