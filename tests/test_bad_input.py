"""The bad-input corpus: every command, fed what a careful tester would try, must answer with one line —
``kgc: error: FILE:LINE: what is wrong`` where a file and line apply — and exit status 2, with no traceback,
every file in the user's folder byte-identical afterwards (inputs and any existing OUT), nothing new left
behind, and no model loaded (the heavy libraries are not even imported, unless the case says which may be).

Cases are grouped by the six classes of the sweep that found them: data loss, tracebacks, bad values,
work before the check, slow failures, leaks.
"""

from __future__ import annotations

import http.server
import json
import os
import shutil
import struct
import subprocess
import sys
import tempfile
import threading
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path

import pytest

from tests.conftest import ROOT, free_port
from tests.graph_samples import built_graph

HEAVY = ("torch", "transformers", "vllm", "litellm", "openai", "bitsandbytes", "peft", "accelerate")
CANARY = "sk-canary-0b9e7d1f2a4c6e8b"
# Runs kgc in a child that, at exit, lists the heavy libraries it imported, and "modeling" when any model
# class of transformers was imported (a model was built or loaded; a tokenizer alone imports none).
RUNNER = (
    "import atexit, os, sys\n"
    "heavy = " + repr(HEAVY) + "\n"
    "def seen():\n"
    "    found = {m.split('.')[0] for m in sys.modules if m.split('.')[0] in heavy}\n"
    "    if any(m.startswith('transformers.models.') and '.modeling_' in m and '.auto.' not in m\n"
    "           for m in sys.modules):\n"
    "        found.add('modeling')\n"
    "    open(os.environ['KGC_TEST_MODULES'], 'w').write(' '.join(sorted(found)))\n"
    "atexit.register(seen)\n"
    "from kgcli.cli import main\n"
    "main(sys.argv[1:])\n"
)

NOBODY = 65534  # the unprivileged user a permission case runs as, when the tests run as root
SCHEMA = '["人物", "地点"]\n[]\n{}\n'
RAW = [
    {"text": "张三在北京。", "entity": [{"entity": "张三", "entity_type": "人物"}]},
    {"text": "李四去上海。", "entity": [{"entity": "李四", "entity_type": "人物"}]},
    {"text": "王五在广州。", "entity": [{"entity": "广州", "entity_type": "地点"}]},
]


def lines(records: list) -> str:
    return "".join(json.dumps(r, ensure_ascii=False) + "\n" for r in records)


def instruction_record(i: int) -> dict:
    inner = {
        "instruction": "你是专门进行实体抽取的专家。",
        "schema": ["人物", "地点"],
        "input": f"张三{i}在北京。",
    }
    return {
        "id": f"r{i}",
        "task": "NER",
        "source": "s",
        "instruction": json.dumps(inner, ensure_ascii=False),
        "label": json.dumps([{"entity": f"张三{i}", "entity_type": "人物"}], ensure_ascii=False),
    }


TEST = lines([instruction_record(i) for i in range(3)])
PRED = lines([{**instruction_record(i), "output": '{"人物": [], "地点": []}'} for i in range(3)])
TRAIN = lines(
    [
        {
            "task": "NER",
            "source": "s",
            "instruction": instruction_record(i)["instruction"],
            "output": '{"人物": [], "地点": []}',
        }
        for i in range(3)
    ]
)


def safetensors(path: Path, shapes: dict[str, list[int]]) -> None:
    """A safetensors file with these tensor shapes (zeros), written without torch."""
    header, offset = {}, 0
    for name, shape in shapes.items():
        size = 4
        for n in shape:
            size *= n
        header[name] = {"dtype": "F32", "shape": shape, "data_offsets": [offset, offset + size]}
        offset += size
    text = json.dumps(header).encode()
    text += b" " * (-len(text) % 8)
    path.write_bytes(struct.pack("<Q", len(text)) + text + b"\0" * offset)


def adapter(
    folder: Path,
    *,
    config: str | None = None,
    rank: int = 4,
    weights_rank: int | None = None,
    in_features: int = 16,
    weights: bool = True,
) -> Path:
    folder.mkdir(parents=True)
    (folder / "adapter_config.json").write_text(
        config
        if config is not None
        else json.dumps({"peft_type": "LORA", "r": rank, "lora_alpha": 8, "target_modules": ["q_proj"]})
    )
    if weights:
        r = weights_rank or rank
        prefix = "base_model.model.model.layers.0.self_attn.q_proj"
        safetensors(
            folder / "adapter_model.safetensors",
            {f"{prefix}.lora_A.weight": [r, in_features], f"{prefix}.lora_B.weight": [16, r]},
        )
    return folder


def fake_base(folder: Path) -> Path:
    """A local base folder whose q_proj is 16x16 (only its header is ever read)."""
    folder.mkdir(parents=True)
    (folder / "config.json").write_text(json.dumps({"model_type": "llama", "hidden_size": 16}))
    safetensors(folder / "model.safetensors", {"model.layers.0.self_attn.q_proj.weight": [16, 16]})
    return folder


class Server:
    """A local OpenAI-compatible stand-in that misbehaves on purpose, by URL: /echo401 answers 401 with the
    request's Authorization header in its body (a key-leaking proxy); /err500 answers 500; /notjson answers
    200 with a body that is not JSON; /echo200 answers a completion whose text is the Authorization header."""

    def __init__(self):
        self.requests: dict[str, int] = {}
        owner = self

        class Handler(http.server.BaseHTTPRequestHandler):
            def log_message(self, *args):
                pass

            def _answer(self):
                mode = self.path.strip("/").split("/")[0]
                owner.requests[mode] = owner.requests.get(mode, 0) + 1
                length = int(self.headers.get("Content-Length") or 0)
                if length:
                    self.rfile.read(length)
                auth = self.headers.get("Authorization", "")
                if mode == "echo401":
                    status, body = (
                        401,
                        json.dumps(
                            {
                                "error": {
                                    "message": f"Incorrect API key provided: {auth}",
                                    "type": "invalid_request_error",
                                }
                            }
                        ),
                    )
                elif mode == "err500":
                    status, body = 500, json.dumps({"error": {"message": "internal error"}})
                elif mode == "notjson":
                    status, body = 200, "<html>this is not an API</html>"
                else:
                    status, body = (
                        200,
                        json.dumps(
                            {
                                "id": "x",
                                "object": "text_completion",
                                "created": 0,
                                "model": "m",
                                "choices": [
                                    {
                                        "index": 0,
                                        "text": f"echo {auth}",
                                        "finish_reason": "stop",
                                        "message": {"role": "assistant", "content": f"echo {auth}"},
                                    }
                                ],
                                "data": [{"id": "m", "object": "model"}],
                            }
                        ),
                    )
                data = body.encode()
                self.send_response(status)
                self.send_header("Content-Type", "application/json")
                self.send_header("Content-Length", str(len(data)))
                self.end_headers()
                self.wfile.write(data)

            do_GET = do_POST = _answer

        self.httpd = http.server.ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.port = self.httpd.server_address[1]
        threading.Thread(target=self.httpd.serve_forever, daemon=True).start()

    def url(self, mode: str) -> str:
        return f"http://127.0.0.1:{self.port}/{mode}/v1"


@pytest.fixture(scope="module")
def server():
    s = Server()
    yield s
    s.httpd.shutdown()


@dataclass
class Case:
    name: str
    kind: int  # 1 data loss, 2 traceback, 3 bad value, 4 work before the check, 5 slow failure, 6 leak
    argv: list[str]
    says: str  # a piece of the error line
    files: dict[str, str | bytes] = field(default_factory=dict)
    setup: Callable[[Path], None] | None = None
    stdin: str | None = None
    where: str | None = None  # FILE:LINE the line must name
    heavy: tuple[str, ...] = ()  # heavy libraries this case may import
    env: dict[str, str] = field(default_factory=dict)
    root_can: bool = True  # False: a permission case, which root does not see


def symlink(target: str, name: str) -> Callable[[Path], None]:
    return lambda folder: os.symlink(target, folder / name)


def hardlink(target: str, name: str) -> Callable[[Path], None]:
    return lambda folder: os.link(folder / target, folder / name)


def chmod(name: str, mode: int) -> Callable[[Path], None]:
    return lambda folder: os.chmod(folder / name, mode)


def read_only(name: str) -> Callable[[Path], None]:
    """A folder nobody may write to; root passes permission bits, so it gets the immutable flag."""

    def run(folder: Path) -> None:
        os.chmod(folder / name, 0o500)
        if (
            os.geteuid() == 0
            and subprocess.run(["chattr", "+i", str(folder / name)], capture_output=True).returncode != 0
        ):
            pytest.skip("root without the immutable flag writes anywhere")

    return run


def make_dir(*names: str) -> Callable[[Path], None]:
    def run(folder: Path) -> None:
        for name in names:
            (folder / name).mkdir(parents=True)

    return run


def both(*steps: Callable[[Path], None]) -> Callable[[Path], None]:
    def run(folder: Path) -> None:
        for step in steps:
            step(folder)

    return run


CONVERT = ["convert", "in.json", "out.json", "--task", "NER", "--schema", "schema.json"]
CONVERT_FILES = {"in.json": lines(RAW), "schema.json": SCHEMA}
BAD3 = lines(RAW[:2]) + '{"text": "坏", "entity": \n'
PREDICT = ["predict", "test.json", "out.json", "--preset", "tiny-random-llama-lora"]
BATCH_RESULTS = lines([
    {"custom_id": "2:r1", "response": {"status_code": 200, "body": {"choices": [{"text": "{}"}]}}},
    {"custom_id": "3:r2", "response": {"status_code": 500, "body": {}}},
])
OLD_OUT = '{"id": "old", "output": "the user\'s earlier results"}\n'
TRAIN_CMD = [
    "train",
    "--preset",
    "tiny-random-llama-lora",
    "--train-file",
    "train.json",
    "--output-dir",
    "run",
]
ICL = ["icl", "test.json", "out.json", "--model", "hosted_vllm/m", "--api-base"]
OPENAI = ["--backend", "openai", "--served-model", "m", "--api-base"]

CASES = [
    # 1. data loss
    Case(
        "convert IN onto itself",
        1,
        ["convert", "in.json", "in.json", "--task", "NER", "--schema", "schema.json"],
        "is also the input",
        CONVERT_FILES,
    ),
    Case(
        "convert onto IN through a symlink",
        1,
        CONVERT[:2] + ["link.json"] + CONVERT[3:],
        "is also the input",
        CONVERT_FILES,
        symlink("in.json", "link.json"),
    ),
    Case(
        "convert onto IN through a hard link",
        1,
        CONVERT[:2] + ["hard.json"] + CONVERT[3:],
        "is also the input",
        CONVERT_FILES,
        hardlink("in.json", "hard.json"),
    ),
    Case(
        "convert onto its schema file",
        1,
        CONVERT[:2] + ["schema.json"] + CONVERT[3:],
        "is also the input",
        CONVERT_FILES,
    ),
    Case(
        "convert to stdout with a bad line 3 writes nothing",
        1,
        ["convert", "in.json", "-", "--task", "NER", "--schema", "schema.json"],
        "not valid JSON",
        {"in.json": BAD3, "schema.json": SCHEMA},
        where="in.json:3",
    ),
    Case(
        "convert onto an existing OUT without --overwrite",
        1,
        CONVERT,
        "output file exists; pass --overwrite",
        {**CONVERT_FILES, "out.json": OLD_OUT},
        where="out.json",
    ),
    Case(
        "convert with a bad line keeps the old OUT",
        1,
        CONVERT + ["--overwrite"],
        "not valid JSON",
        {"in.json": BAD3, "schema.json": SCHEMA, "out.json": OLD_OUT},
        where="in.json:3",
    ),
    Case(
        "predict --overwrite with a missing IN keeps OUT",
        1,
        PREDICT[:1] + ["missing.json"] + PREDICT[2:] + ["--overwrite"],
        "no such file",
        {"out.json": OLD_OUT},
        where="missing.json",
    ),
    Case(
        "predict --overwrite with a bad IN keeps OUT",
        1,
        PREDICT + ["--overwrite"],
        "not valid JSON",
        {"test.json": TEST + "{oops\n", "out.json": OLD_OUT},
        where="test.json:4",
    ),
    Case(
        "predict onto its input",
        1,
        ["predict", "test.json", "test.json", "--preset", "tiny-random-llama-lora"],
        "is also the input",
        {"test.json": TEST},
    ),
    Case("predict onto an existing OUT", 1, PREDICT, "--resume", {"test.json": TEST, "out.json": OLD_OUT}),
    Case(
        "predict with a bad line leaves no OUT",
        1,
        PREDICT,
        "record has no 'instruction'",
        {"test.json": TEST + '{"id": "x"}\n'},
        where="test.json:4",
    ),
    Case(
        "icl --overwrite with a bad IN keeps OUT",
        1,
        ["icl", "test.json", "out.json", "--model", "hosted_vllm/m", "--overwrite"],
        "not valid JSON",
        {"test.json": "{bad\n", "out.json": OLD_OUT},
        where="test.json:1",
    ),
    Case(
        "icl batch with a bad line 3 writes nothing",
        1,
        ["icl", "test.json", "out.json", "--model", "hosted_vllm/m"],
        "not an IEPile instruction",
        {"test.json": lines([instruction_record(0), instruction_record(1), {"instruction": "plain"}])},
        where="test.json:3",
    ),
    Case(
        "icl onto its input",
        1,
        ["icl", "test.json", "test.json", "--model", "hosted_vllm/m"],
        "is also the input",
        {"test.json": TEST},
    ),
    Case(
        "eval --out onto its predictions",
        1,
        ["eval", "pred.json", "--out", "pred.json"],
        "is also the input",
        {"pred.json": PRED},
    ),
    Case(
        "train into a non-empty folder", 1, TRAIN_CMD, "--resume", {"train.json": TRAIN, "run/keep.txt": "x"}
    ),
    Case(
        "merge into a non-empty folder",
        1,
        ["merge", "--preset", "tiny-random-llama-lora", "--adapter", "ad", "--out", "merged"],
        "not empty",
        {"merged/keep.txt": "x"},
        lambda f: adapter(f / "ad"),
    ),
    # 2. tracebacks
    Case(
        "schema path is a folder", 2, CONVERT, "directory", {"in.json": lines(RAW)}, make_dir("schema.json")
    ),
    Case(
        "schema file unreadable",
        2,
        CONVERT,
        "permission denied",
        CONVERT_FILES,
        chmod("schema.json", 0),
        root_can=False,
    ),
    Case("convert OUT is a folder", 2, CONVERT, "is a folder", CONVERT_FILES, make_dir("out.json")),
    Case(
        "convert OUT's folder would be inside a file",
        2,
        CONVERT[:2] + ["notes.txt/out.json"] + CONVERT[3:],
        "not a directory",
        {**CONVERT_FILES, "notes.txt": "mine"},
    ),
    Case(
        "convert OUT's folder is not writable",
        2,
        CONVERT[:2] + ["ro/out.json"] + CONVERT[3:],
        "not writable",
        CONVERT_FILES,
        both(make_dir("ro"), read_only("ro")),
    ),
    Case(
        "convert IN is a folder", 2, CONVERT, "is a directory", {"schema.json": SCHEMA}, make_dir("in.json")
    ),
    Case("convert IN missing", 2, CONVERT, "no such file", {"schema.json": SCHEMA}, where="in.json"),
    Case(
        "convert --config YAML not UTF-8",
        2,
        ["convert", "--config", "c.yaml"],
        "not UTF-8",
        {"c.yaml": b"mode: \xff\xfe\n"},
        where="c.yaml",
    ),
    Case(
        "preset YAML not UTF-8",
        2,
        ["train", "--preset", "p.yaml", "--dry-run"],
        "not UTF-8",
        {"p.yaml": b"name: \xff\n"},
        where="p.yaml",
    ),
    Case("demo --out names a file", 2, ["demo", "--out", "report.txt"], "names a file", {"report.txt": "x"}),
    Case(
        "predict --adapter missing",
        2,
        PREDICT + ["--adapter", "nope"],
        "adapter folder does not exist",
        {"test.json": TEST},
        where="nope",
    ),
    Case(
        "predict --adapter out/typo (a mistyped path beside out/, not a hub id)",
        5,
        PREDICT + ["--adapter", "out/typo"],
        "adapter folder does not exist",
        {"test.json": TEST, "out/keep.txt": "x"},
        where="out/typo",
        env={"HF_HUB_OFFLINE": "0", "TRANSFORMERS_OFFLINE": "0"},
    ),
    Case(
        "convert --task RE with an NER schema file",
        3,
        ["convert", "raw.json", "re.json", "--task", "RE", "--schema", "ner.json", "--split", "test"],
        "the schema gives RE nothing to ask: its relations (line 2) are empty",
        {"raw.json": lines(RAW), "ner.json": SCHEMA},
        where="ner.json",
    ),
    Case(
        "train --adapter missing",
        2,
        TRAIN_CMD + ["--adapter", "nope"],
        "adapter folder does not exist",
        {"train.json": TRAIN},
    ),
    Case(
        "adapter_config.json malformed",
        2,
        PREDICT + ["--adapter", "ad"],
        "not valid JSON",
        {"test.json": TEST, "ad/adapter_config.json": '{"r": 4,'},
    ),
    Case(
        "adapter tensors do not match its config",
        2,
        PREDICT + ["--adapter", "ad"],
        "says r=8",
        {"test.json": TEST},
        lambda f: adapter(f / "ad", rank=8, weights_rank=4),
    ),
    Case(
        "adapter tensors do not match the base",
        2,
        [
            "predict",
            "test.json",
            "out.json",
            "--preset",
            "tiny-random-llama-lora",
            "--model",
            "base",
            "--adapter",
            "ad",
        ],
        "another base",
        {"test.json": TEST},
        lambda f: (fake_base(f / "base"), adapter(f / "ad", in_features=32)),
    ),
    Case(
        "adapter folder without weights",
        2,
        PREDICT + ["--adapter", "ad"],
        "no adapter weights",
        {"test.json": TEST},
        lambda f: adapter(f / "ad", weights=False),
    ),
    Case(
        "adapter is a file",
        2,
        PREDICT + ["--adapter", "ad"],
        "must be a folder",
        {"test.json": TEST, "ad": "x"},
    ),
    Case(
        "icl batch IN missing",
        2,
        ["icl", "missing.json", "out.json", "--model", "hosted_vllm/m"],
        "no such file",
        {},
        where="missing.json",
    ),
    Case("eval PRED is a folder", 2, ["eval", "pred"], "is a directory", {}, make_dir("pred")),
    Case(
        "eval --out is a folder",
        2,
        ["eval", "pred.json", "--out", "rep"],
        "is a folder",
        {"pred.json": PRED},
        make_dir("rep"),
    ),
    Case(
        "merge --out is a file",
        2,
        ["merge", "--preset", "tiny-random-llama-lora", "--adapter", "ad", "--out", "m.txt"],
        "names a file",
        {"m.txt": "x"},
        lambda f: adapter(f / "ad"),
    ),
    Case(
        "train --output-dir is a file",
        2,
        TRAIN_CMD[:-1] + ["run.txt"],
        "names a file",
        {"train.json": TRAIN, "run.txt": "x"},
    ),
    Case(
        "chunk a binary file",
        2,
        ["chunk", "doc.txt", "chunks.json", "--preset", "tiny-random-llama-lora", "--budget", "50"],
        "binary",
        {"doc.txt": b"text\n\x00\x01\x02"},
        where="doc.txt:2",
    ),
    Case(
        "chunk invalid UTF-8",
        2,
        ["chunk", "docs", "chunks.json", "--preset", "tiny-random-llama-lora", "--budget", "50"],
        "not UTF-8",
        {"docs/a.txt": "fine\n", "docs/b.txt": b"line one\nbad \xff\xfe here\n"},
        where="b.txt:2",
    ),
    Case(
        "chunk an empty folder",
        3,
        ["chunk", "docs", "chunks.json", "--preset", "tiny-random-llama-lora", "--budget", "50"],
        "no documents",
        {},
        make_dir("docs"),
    ),
    Case(
        "chunk a JSON line without text",
        3,
        ["chunk", "docs.json", "chunks.json", "--preset", "tiny-random-llama-lora", "--budget", "50"],
        "needs a 'text' string",
        {"docs.json": '{"text": "ok"}\n{"body": "no text"}\n'},
        where="docs.json:2",
    ),
    Case(
        "extract with DOCS missing",
        2,
        [
            "extract",
            "missing.txt",
            "out.json",
            "--preset",
            "tiny-random-llama-lora",
            "--task",
            "NER",
            "--schema",
            "ner.json",
        ],
        "no such file",
        {"ner.json": SCHEMA},
        where="missing.txt",
    ),
    Case(
        "extract with a --split-num per task missing",
        3,
        ["extract", "docs.txt", "out.json", "--preset", "tiny-random-llama-lora", "--task", "NER,RE",
         "--schema", "ner.json,ner.json", "--split-num", "1"],
        "--split-num takes one number per task (2: NER,RE)",
        {"docs.txt": "张三在北京。\n", "ner.json": SCHEMA},
    ),
    Case(
        "extract a JSON line without text",
        3,
        [
            "extract",
            "docs.json",
            "out.json",
            "--preset",
            "tiny-random-llama-lora",
            "--task",
            "NER",
            "--schema",
            "ner.json",
        ],
        "needs a 'text' string",
        {"docs.json": '{"text": "张三在北京。"}\n{"body": "no text"}\n', "ner.json": SCHEMA},
        where="docs.json:2",
    ),
    Case(
        "chunk onto its input",
        1,
        ["chunk", "docs.json", "docs.json", "--preset", "tiny-random-llama-lora", "--budget", "50"],
        "is also the input",
        {"docs.json": '{"text": "ok"}\n'},
    ),
    # 3. bad values
    Case("--neg-schema 2.5", 3, CONVERT + ["--neg-schema", "2.5"], "--neg-schema", CONVERT_FILES),
    Case("--neg-schema -0.5", 3, CONVERT + ["--neg-schema", "-0.5"], "--neg-schema", CONVERT_FILES),
    Case("--neg-schema not a number", 3, CONVERT + ["--neg-schema", "lots"], "--neg-schema", CONVERT_FILES),
    Case(
        "predict --max-new-tokens 0",
        3,
        PREDICT + ["--max-new-tokens", "0"],
        "--max-new-tokens",
        {"test.json": TEST},
    ),
    Case(
        "predict --temperature -1", 3, PREDICT + ["--temperature", "-1"], "--temperature", {"test.json": TEST}
    ),
    Case("predict --top-p 1.5", 3, PREDICT + ["--top-p", "1.5"], "--top-p", {"test.json": TEST}),
    Case("predict --batch-size 0", 3, PREDICT + ["--batch-size", "0"], "--batch-size", {"test.json": TEST}),
    Case(
        "predict unknown backend", 3, PREDICT + ["--backend", "tgi"], "'tgi' is not", {"test.json": TEST}
    ),
    Case(
        "predict --data-parallel with hf",
        3,
        PREDICT + ["--data-parallel", "2"],
        "--data-parallel is for --backend vllm",
        {"test.json": TEST},
    ),
    Case(
        "predict openai-batch without a file",
        3,
        PREDICT + ["--backend", "openai-batch"],
        "needs --write-requests REQ or --read-results RES",
        {"test.json": TEST},
    ),
    Case(
        "predict --write-requests with OUT",
        3,
        PREDICT + ["--backend", "openai-batch", "--write-requests", "req.json"],
        "leave OUT out",
        {"test.json": TEST},
    ),
    Case(
        "predict --read-results without openai-batch",
        3,
        PREDICT + ["--read-results", "res.json"],
        "are for --backend openai-batch",
        {"test.json": TEST, "res.json": ""},
    ),
    Case(
        "predict --read-results with answers missing and failed",
        3,
        ["predict", "test.json", "out.json", "--backend", "openai-batch", "--read-results", "res.json"],
        "2 record(s) of test.json have no answer in res.json: 1:r0 (missing), 3:r2 (HTTP 500)",
        {"test.json": TEST, "res.json": BATCH_RESULTS},
    ),
    Case(
        "predict --read-results with a bad line",
        3,
        ["predict", "test.json", "out.json", "--backend", "openai-batch", "--read-results", "res.json"],
        "a result without a 'custom_id' string",
        {"test.json": TEST, "res.json": '{"response": {}}\n'},
        where="res.json:1",
    ),
    Case("icl --text empty", 3, ["icl", "--text", "", "--model", "hosted_vllm/m"], "--text is empty", {}),
    Case("icl --text blank", 3, ["icl", "--text", "  ", "--model", "hosted_vllm/m"], "--text is empty", {}),
    Case(
        "icl --temperature -1",
        3,
        ["icl", "--text", "x", "--model", "hosted_vllm/m", "--temperature", "-1"],
        "--temperature",
        {},
    ),
    Case(
        "convert empty input",
        3,
        CONVERT,
        "no records",
        {"in.json": "", "schema.json": SCHEMA},
        where="in.json",
    ),
    Case(
        "convert blank-only input", 3, CONVERT, "no records", {"in.json": "\n  \n\n", "schema.json": SCHEMA}
    ),
    Case(
        "convert empty stdin",
        3,
        ["convert", "-", "out.json", "--task", "NER", "--schema", "schema.json", "--source", "s"],
        "no records",
        {"schema.json": SCHEMA},
        stdin="",
        where="<stdin>",
    ),
    Case("eval empty input", 3, ["eval", "pred.json"], "no records", {"pred.json": ""}, where="pred.json"),
    Case("eval blank-only stdin", 3, ["eval", "-"], "no records", {}, stdin="\n\n", where="<stdin>"),
    Case("eval --format xml", 3, ["eval", "pred.json", "--format", "xml"], "--format", {"pred.json": PRED}),
    Case(
        "convert unknown task",
        3,
        ["convert", "in.json", "out.json", "--task", "POS", "--schema", "schema.json"],
        "POS",
        CONVERT_FILES,
    ),
    Case("convert --split dev", 3, CONVERT + ["--split", "dev"], "dev", CONVERT_FILES),
    Case("predict empty IN", 3, PREDICT, "no records", {"test.json": "\n"}, where="test.json"),
    Case("train empty train file", 3, TRAIN_CMD, "no training records", {"train.json": ""}),
    Case(
        "icl batch empty IN",
        3,
        ["icl", "test.json", "out.json", "--model", "hosted_vllm/m"],
        "no records",
        {"test.json": ""},
    ),
    Case(
        "unknown preset",
        3,
        PREDICT[:3] + ["--preset", "no-such-preset"],
        "no-such-preset",
        {"test.json": TEST},
    ),
    # 4. work before the check (no model loaded, nothing heavy imported)
    Case(
        "predict IN missing",
        4,
        PREDICT[:1] + ["missing.json"] + PREDICT[2:],
        "no such file",
        {},
        where="missing.json",
    ),
    Case(
        "predict bad line 3",
        4,
        PREDICT,
        "not valid JSON",
        {"test.json": TEST[: TEST.index("\n") + 1] * 2 + "{x\n"},
        where="test.json:3",
    ),
    Case(
        "predict --resume to stdout",
        4,
        ["predict", "test.json", "-", "--preset", "tiny-random-llama-lora", "--resume"],
        "--resume needs an output file",
        {"test.json": TEST},
    ),
    Case(
        "predict --guided-json without vllm",
        4,
        PREDICT + ["--guided-json"],
        "--guided-json",
        {"test.json": TEST},
    ),
    Case(
        "train where no example fits cutoff_len leaves no folder",
        1,
        TRAIN_CMD + ["--set", "cutoff_len=8", "--set", "max_source_length=4", "--set", "max_target_length=4"],
        "no training example fits",
        {"train.json": TRAIN},
        heavy=HEAVY + ("modeling",),
    ),
    Case(
        "predict --cutoff-len too small",
        4,
        PREDICT + ["--cutoff-len", "3"],
        "cutoff_len 3",
        {"test.json": TEST},
        where="test.json:1",
        heavy=HEAVY,
    ),
    Case(
        "predict vllm with a 4-bit preset",
        4,
        PREDICT + ["--backend", "vllm", "--set", "bits=4"],
        "16 bits",
        {"test.json": TEST},
    ),
    Case(
        "merge with a missing adapter",
        4,
        ["merge", "--preset", "tiny-random-llama-lora", "--adapter", "gone", "--out", "merged"],
        "adapter folder does not exist",
        {},
        where="gone",
    ),
    Case(
        "train bad line in the data",
        4,
        TRAIN_CMD,
        "no 'output' string",
        {"train.json": TRAIN + '{"instruction": "x"}\n'},
        where="train.json:4",
    ),
    Case("train data file missing", 4, TRAIN_CMD, "no such file", {}, where="train.json"),
    Case(
        "train --resume without a checkpoint",
        4,
        TRAIN_CMD + ["--resume"],
        "no checkpoint",
        {"train.json": TRAIN},
    ),
    # 5. slow failures (bounded: the server is asked once before any record)
    Case(
        "openai backend, closed port",
        5,
        PREDICT + OPENAI + ["CLOSED"],
        "cannot reach the server",
        {"test.json": TEST},
        heavy=HEAVY,
    ),
    Case(
        "openai backend, HTTP 500",
        5,
        PREDICT + OPENAI + ["err500"],
        "HTTP 500",
        {"test.json": TEST},
        heavy=HEAVY,
    ),
    Case(
        "openai backend, not JSON",
        5,
        PREDICT + OPENAI + ["notjson"],
        "not an OpenAI-compatible",
        {"test.json": TEST},
        heavy=HEAVY,
    ),
    # 6. leaks
    Case(
        "openai backend, a server echoing the key",
        6,
        PREDICT + OPENAI + ["echo401"],
        "HTTP 401",
        {"test.json": TEST},
        heavy=HEAVY,
        env={"OPENAI_API_KEY": CANARY},
    ),
    Case(
        "icl, a server echoing the key",
        6,
        ICL + ["echo401", "--retries", "0", "--no-cache"],
        "authentication failed",
        {"test.json": TEST},
        heavy=HEAVY,
        env={"HOSTED_VLLM_API_KEY": CANARY},
    ),
    # the knowledge graph
    Case(
        "graph build a prediction whose answer does not parse",
        3,
        ["graph", "build", "pred.json", "--out", "graph"],
        "does not parse as JSON",
        {"pred.json": lines([{**instruction_record(0), "output": "{人物: [张三"}]) + PRED},
        where="pred.json:1",
    ),
    Case(
        "graph build, an unparseable answer on stdin",
        3,
        ["graph", "build", "-", "--out", "graph"],
        "does not parse as JSON",
        stdin=PRED.splitlines(keepends=True)[0] + lines([{**instruction_record(9), "output": "sorry, no"}]),
        where="<stdin>:2",
    ),
    Case("graph build empty stdin", 3, ["graph", "build", "-", "--out", "graph"], "no records", stdin="",
         where="<stdin>"),
    Case("graph build a blank-only file beside a good one", 3,
         ["graph", "build", "pred.json", "blank.json", "--out", "graph"], "no records",
         {"pred.json": PRED, "blank.json": "\n  \n"}, where="blank.json"),
    Case(
        "graph build a line that is neither a result nor a prediction",
        3,
        ["graph", "build", "pred.json", "--out", "graph"],
        "neither a kgc extract result",
        {"pred.json": PRED + '{"name": "张三"}\n'},
        where="pred.json:4",
    ),
    Case(
        "graph build an annotated document without --gold",
        3,
        ["graph", "build", "pred.json", "--out", "graph"],
        "an annotated document (text, entity, relation): pass --gold",
        {"pred.json": PRED + '{"text": "张三", "entity": []}\n'},
        where="pred.json:4",
    ),
    Case(
        "graph build --gold an annotated document whose entities are not the raw format",
        3,
        ["graph", "build", "docs.json", "--gold", "--out", "graph"],
        "'entity' is not the raw annotation format",
        {"docs.json": '{"text": "张三在北京", "entity": [{"name": "张三"}]}\n'},
        where="docs.json:1",
    ),
    Case(
        "graph build into a folder kgc did not write",
        1,
        ["graph", "build", "pred.json", "--out", "graph"],
        "did not write",
        {"pred.json": PRED, "graph/notes.txt": "my notes"},
        where="graph",
    ),
    Case(
        "graph build --append to a folder kgc did not write",
        1,
        ["graph", "build", "pred.json", "--out", "graph", "--append"],
        "not a graph folder written by kgc",
        {"pred.json": PRED, "graph/graph.json": '{"hello": 1}'},
        where="graph",
    ),
    Case(
        "graph build over an existing graph without --append",
        1,
        ["graph", "build", "pred.json", "--out", "graph"],
        "--append",
        {"pred.json": PRED},
        setup=lambda folder: built_graph(folder),
        where="graph",
    ),
    Case(
        "graph build from a missing file",
        3,
        ["graph", "build", "missing.json", "--out", "graph"],
        "no such file",
        where="missing.json",
    ),
    Case(
        "graph export of a folder kgc did not write",
        3,
        ["graph", "export", "graph", "--format", "turtle", "--out", "g.ttl"],
        "not a graph folder written by kgc",
        {"graph/nodes.jsonl": "{}\n"},
        where="graph",
    ),
    Case(
        "graph export to an unknown format",
        3,
        ["graph", "export", "graph", "--format", "gexf", "--out", "g.gexf"],
        "unknown export format 'gexf'",
        setup=lambda folder: built_graph(folder),
    ),
    Case(
        "graph export onto an existing file",
        1,
        ["graph", "export", "graph", "--format", "triples", "--out", "triples.json"],
        "--overwrite",
        {"triples.json": "mine\n"},
        setup=lambda folder: built_graph(folder),
        where="triples.json",
    ),
    Case(
        "graph export, a base IRI that is not one",
        3,
        ["graph", "export", "graph", "--format", "turtle", "--out", "g.ttl", "--base-iri", "my graph"],
        "--base-iri",
        setup=lambda folder: built_graph(folder),
    ),
    Case(
        "graph query a Cypher syntax error",
        3,
        ["graph", "query", "graph", "MATCH (n RETURN n"],
        "the query failed",
        setup=lambda folder: built_graph(folder),
    ),
    Case(
        "graph query a relation with spaces, not back-quoted",
        3,
        ["graph", "query", "graph", "MATCH (a)-[r:place of birth]->(b) RETURN a.name"],
        "needs back-quotes: :`place of birth`",
        setup=lambda folder: built_graph(folder),
    ),
    Case("graph query Neo4j's type(r)", 3, ["graph", "query", "graph", "MATCH ()-[r]->() RETURN type(r)"],
         "function TYPE does not exist. (a relationship's type is label(r) here",
         setup=lambda folder: built_graph(folder)),
    Case("graph query Neo4j's shortestPath", 3,
         ["graph", "query", "graph", "MATCH p = shortestPath((a)-[*]-(b)) RETURN p"],
         "(a shortest path is written MATCH p = (a)-[* SHORTEST 1..4]->(b) here",
         setup=lambda folder: built_graph(folder)),
    Case(
        "graph query a missing graph",
        3,
        ["graph", "query", "nowhere", "MATCH (n) RETURN n"],
        "no such graph folder",
        where="nowhere",
    ),
    Case(
        "graph query a --param without a value",
        3,
        ["graph", "query", "graph", "MATCH (n) RETURN n", "--param", "name"],
        "--param 'name'",
        setup=lambda folder: built_graph(folder),
    ),
    Case(
        "graph show of a folder kgc did not write",
        3,
        ["graph", "show", "graph", "--out", "graph.html"],
        "not a graph folder written by kgc",
        {"graph/graph.json": '{"format": "something else"}'},
        where="graph",
    ),
]


def snapshot(folder: Path) -> dict[str, bytes | None]:
    found: dict[str, bytes | None] = {}
    for path in sorted(folder.rglob("*")):
        key = str(path.relative_to(folder))
        found[key] = path.read_bytes() if path.is_file() and os.access(path, os.R_OK) else None
    return found


def run_case(case: Case, folder: Path, modules: Path, server: Server,
             user: int | None = None) -> subprocess.CompletedProcess:
    """Run the case's command in ``folder``; ``user``: as that unprivileged user (setpriv)."""
    argv = [
        server.url(a)
        if a in ("err500", "notjson", "echo401")
        else f"http://127.0.0.1:{free_port()}/v1"
        if a == "CLOSED"
        else a
        for a in case.argv
    ]
    env = {**os.environ, "KGC_TEST_MODULES": str(modules), **case.env}
    as_user = [] if user is None else ["setpriv", f"--reuid={user}", f"--regid={user}", "--clear-groups"]
    return subprocess.run(
        [*as_user, sys.executable, "-c", RUNNER, *argv],
        cwd=folder,
        env=env,
        capture_output=True,
        input=(case.stdin or "").encode(),
        timeout=120,
    )


def test_the_corpus_covers_every_class_and_command():
    assert len(CASES) >= 60 and len({c.name for c in CASES}) == len(CASES)
    assert {c.kind for c in CASES} == {1, 2, 3, 4, 5, 6}
    assert {c.argv[0] for c in CASES} >= {
        "convert",
        "eval",
        "train",
        "predict",
        "merge",
        "icl",
        "demo",
        "chunk",
        "extract",
        "graph",
    }


@pytest.mark.parametrize("case", CASES, ids=[c.name for c in CASES])
def test_bad_input_is_one_line_and_leaves_everything_as_it_was(case, tmp_path, server, tiny_model):
    # root reads and writes past permissions: a permission case runs as the unprivileged user nobody, in a
    # folder of its own that nobody can enter (pytest's own is private to root)
    user = NOBODY if not case.root_can and os.geteuid() == 0 else None
    if user is not None:
        tmp_path = Path(tempfile.mkdtemp(prefix="kgc-unprivileged-", dir="/tmp"))
        os.chmod(tmp_path, 0o755)
    folder = tmp_path / "user"
    folder.mkdir()
    for name, content in case.files.items():
        (folder / name).parent.mkdir(parents=True, exist_ok=True)
        data = content.encode() if isinstance(content, str) else content
        (folder / name).write_bytes(data)
    if case.setup:
        case.setup(folder)
    if user is not None:
        (tmp_path / "modules.txt").touch()
        for path in (tmp_path, *tmp_path.rglob("*")):
            os.chown(path, user, user)
    before = snapshot(folder)
    result = run_case(case, folder, tmp_path / "modules.txt", server, user)
    stderr = result.stderr.decode()
    try:
        assert result.returncode == 2, stderr
        assert stderr.startswith("kgc: error: ") and stderr.count("\n") == 1, stderr
        assert "Traceback" not in stderr and case.says in stderr, stderr
        if case.where:
            assert case.where in stderr, stderr
        assert result.stdout == b""  # nothing reached a pipeline
        assert snapshot(folder) == before  # inputs and OUT byte-identical, nothing new left behind
        loaded = set((tmp_path / "modules.txt").read_text().split())
        assert loaded <= set(case.heavy), f"imported {loaded}"  # "modeling" is never allowed
        assert CANARY not in stderr
    finally:
        for path in folder.rglob("*"):  # let pytest clean up what a permission case locked
            if path.is_dir() and os.geteuid() == 0:
                subprocess.run(["chattr", "-i", str(path)], capture_output=True)
            os.chmod(path, 0o700)
        if user is not None:
            shutil.rmtree(tmp_path)


def test_the_misbehaving_server_was_asked_once_per_failing_run(server, tmp_path):
    """The HTTP 500 server gets the one check request, not a round of retries for every record."""
    case = next(c for c in CASES if c.name == "openai backend, HTTP 500")
    folder = tmp_path / "user"
    folder.mkdir()
    (folder / "test.json").write_text(TEST)
    before = server.requests.get("err500", 0)
    result = run_case(case, folder, tmp_path / "modules.txt", server)
    assert result.returncode == 2 and server.requests["err500"] - before == 1


@pytest.mark.parametrize("command", ["predict", "icl"])
def test_a_canary_key_never_leaves_the_process(command, server, tmp_path):
    """A server that puts the Authorization header in its answers: the key appears nowhere — not on stdout
    or stderr, not in OUT, not in the reply cache — neither from OPENAI_API_KEY nor from a custom
    --api-key-env variable."""
    folder = tmp_path / "user"
    folder.mkdir()
    (folder / "test.json").write_text(TEST)
    env = {"OPENAI_API_KEY": CANARY, "MY_LLM_CRED": CANARY + "-custom", "HOSTED_VLLM_API_KEY": CANARY}
    if command == "predict":
        argv = PREDICT + OPENAI + [server.url("echo200"), "--api-key-env", "MY_LLM_CRED"]
    else:
        argv = ICL + [
            server.url("echo200"),
            "--api-key-env",
            "MY_LLM_CRED",
            "--no-json-mode",
            "--cache-dir",
            str(tmp_path / "cache"),
        ]
    for variable in (None, "MY_LLM_CRED"):
        run_argv = argv if variable else [a for a in argv if a not in ("--api-key-env", "MY_LLM_CRED")]
        out = folder / "out.json"
        if out.exists():
            out.unlink()
        result = subprocess.run(
            [sys.executable, "-m", "kgcli", *run_argv],
            cwd=folder,
            capture_output=True,
            env={**os.environ, **env},
            timeout=300,
        )
        assert result.returncode == 0, result.stderr.decode()
        answers = [json.loads(line)["output"] for line in out.read_text().splitlines()]
        assert len(answers) == 3 and all("echo Bearer ***" in a for a in answers)  # the server did echo
        everything = (
            result.stdout
            + result.stderr
            + b"".join(p.read_bytes() for p in tmp_path.rglob("*") if p.is_file())
        )
        assert CANARY.encode() not in everything


def test_a_canary_key_stays_out_of_a_local_prediction(tmp_path):
    """The hf backend with keys in the environment: no key in its output or messages either."""
    folder = tmp_path / "user"
    folder.mkdir()
    (folder / "test.json").write_text(TEST)
    env = {"OPENAI_API_KEY": CANARY, "MY_LLM_CRED": CANARY, "KGC_TORCH_THREADS": "1"}
    result = subprocess.run(
        [sys.executable, "-m", "kgcli", *PREDICT, "--max-new-tokens", "4"],
        cwd=folder,
        capture_output=True,
        env={**os.environ, **env},
        timeout=300,
    )
    assert result.returncode == 0, result.stderr.decode()
    assert len((folder / "out.json").read_text().splitlines()) == 3
    everything = result.stdout + result.stderr + (folder / "out.json").read_bytes()
    assert CANARY.encode() not in everything


def test_runner_sees_heavy_imports(tmp_path):
    """The module check can fail: a command that does load torch is seen."""
    modules = tmp_path / "m.txt"
    subprocess.run(
        [
            sys.executable,
            "-c",
            RUNNER.replace("from kgcli.cli import main", "import torch\nfrom kgcli.cli import main"),
            "--help",
        ],
        env={**os.environ, "KGC_TEST_MODULES": str(modules)},
        capture_output=True,
        cwd=ROOT,
    )
    assert "torch" in modules.read_text().split()
