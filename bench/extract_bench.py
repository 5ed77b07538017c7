"""Documents → chunks → records → answers → merged documents: one 200-chunk book against its 20 chapters;
and the API route against LangExtract.

Usage: python bench/extract_bench.py [--remote-only] [--no-langextract]
       python bench/extract_bench.py --corpus [--sizes 10000,100000] [--no-ray] [--ray-sizes 10000,100000]
Both runs go through the same code in this process (the real SmolLM2 tokenizer for chunking, convert's
test path, the merge); the answers come from a generator that answers each chunk from the gold, so the
figures are kgc's own cost (a model's time per chunk is the same either way). Prints chunks/s of each run,
the time ratio chapters / book (the target is within 1.1x: a book costs its chunks), whether the two give
the same extractions, and the merge's own cost per 10,000 answers.

The remote row: four documents, a local OpenAI-compatible server (``kgcli/demo/answer_server.py``) that
answers every chunk after 0.3 s, four requests in flight. ``kgc extract --backend openai`` (no preset, chat)
is timed as the command a user types, start to end, with its requests counted by the server; in the same
run LangExtract (``langextract`` from PyPI, in the bench's own environment ``.venv-bench``; made on first use)
extracts the same documents from the same server with the same chunk size in characters and four workers.
The ratio is kgc's wall time over LangExtract's.

``--corpus``: the main job at corpus scale. Generated annotated documents, half English, half Chinese (about
500 characters each: 100k documents are about 50 M characters), go through ``kgc extract --backend gold``
(each record answered from its own label: every stage a model run takes, without the model) as the command a
user types, NER and RE, ``--language auto``, one chunk a document. Prints wall seconds, seconds per document
and the kgc process's peak RSS at each size, the ratio of seconds per document at the largest size to the
smallest (the target: at most 1.2x, the cost grows with the corpus, not faster), and the same job through
``--backend ray --ray-engine gold`` on a local Ray at the smallest size with its overhead over the local
route: the driver's peak RSS, and every process Ray starts (raylet, GCS, workers, replicas) with its own
peak, sampled every 0.2 s.
"""

from __future__ import annotations

import json
import os
import random
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))
from _util import ROOT, Command, run_measured, run_sampled, summarize, table  # noqa: E402

LANGEXTRACT = """
import sys, json, langextract as lx
docs_path, url, chars = sys.argv[1], sys.argv[2], int(sys.argv[3])
docs = [json.loads(line) for line in open(docs_path, encoding="utf-8")]
examples = [lx.data.ExampleData(text="Ana Lopez works for Vela Bank in Lisbon.", extractions=[
    lx.data.Extraction(extraction_class="person", extraction_text="Ana Lopez"),
    lx.data.Extraction(extraction_class="organization", extraction_text="Vela Bank"),
    lx.data.Extraction(extraction_class="city", extraction_text="Lisbon")])]
config = lx.factory.ModelConfig(model_id="gold", provider="OpenAILanguageModel",
                                provider_kwargs={"api_key": "EMPTY", "base_url": url, "max_workers": 4})
found = lx.extract(text_or_documents=[lx.data.Document(text=d["text"], document_id=d["id"]) for d in docs],
                   prompt_description="Extract people, organizations and cities.", examples=examples,
                   config=config, max_char_buffer=chars, max_workers=4, batch_length=4, fence_output=False,
                   use_schema_constraints=False, show_progress=False)
print(sum(1 for _ in found))
"""

ZH_PEOPLE = ["王建国", "李晓梅", "张伟", "刘洋", "陈静", "杨帆", "赵磊", "黄丽", "周杰", "吴敏", "徐强",
             "孙悦", "马超", "朱琳", "胡军", "郭涛"]
ZH_CITIES = ["杭州", "成都", "西安", "南京", "武汉", "苏州", "青岛", "厦门"]
ZH_ORGS = ["华星科技", "远航物流", "青松银行", "蓝海食品", "金桥建设", "天元传媒"]
ZH_TEMPLATES = [("{p}在{o}工作，住在{c}。", [("p", "works for", "o"), ("p", "lives in", "c")]),
                ("{o}总部位于{c}。", [("o", "headquartered in", "c")]),
                ("{p}上个月搬到了{c}。", [("p", "lives in", "c")]),
                ("{p}和{q}都在{o}上班。", [("p", "works for", "o"), ("q", "works for", "o")]),
                ("今天的会议讨论了明年的计划和预算。", [])]


def zh_document(number: int, rng: random.Random, sentences: int = 34) -> dict:
    """One annotated Chinese document of about 450 characters (the raw format: text, entity, relation)."""
    cast = {"p": rng.sample(ZH_PEOPLE, 3), "c": rng.sample(ZH_CITIES, 2), "o": rng.sample(ZH_ORGS, 2)}
    lines, relations, entities = [], [], {}
    for _ in range(sentences):
        template, triples = ZH_TEMPLATES[rng.randrange(len(ZH_TEMPLATES))]
        people = rng.sample(cast["p"], 2)
        values = {"p": people[0], "q": people[1], "c": rng.choice(cast["c"]), "o": rng.choice(cast["o"])}
        lines.append(template.format(**values))
        for key, kind in (("p", "person"), ("q", "person"), ("c", "city"), ("o", "organization")):
            if "{" + key + "}" in template:
                entities[values[key]] = kind
        relations += [{"head": values[h], "relation": r, "tail": values[t]} for h, r, t in triples]
    unique = list({(r["head"], r["relation"], r["tail"]): r for r in relations}.values())
    return {"id": f"zh-{number}", "text": "".join(lines),
            "entity": [{"entity": e, "entity_type": t} for e, t in entities.items()], "relation": unique}


def write_corpus(path: Path, count: int) -> int:
    """``count`` documents, English and Chinese in turn, as JSON lines; returns their characters."""
    from kgcli.demo.synthetic import make_documents

    rng, characters = random.Random(11), 0
    english = iter(make_documents(count - count // 2, seed=11))
    with open(path, "w", encoding="utf-8") as handle:
        for number in range(count):
            document = zh_document(number, rng) if number % 2 else next(english)
            if number % 2 == 0:
                document = {**document, "id": f"en-{number}"}
            characters += len(document["text"])
            handle.write(json.dumps(document, ensure_ascii=False) + "\n")
    return characters


def corpus(sizes: list[int], ray: bool = True, ray_sizes: list[int] | None = None) -> None:
    """``kgc extract --backend gold`` at each size (and on local Ray at the smallest, or at
    ``ray_sizes``): time and memory."""
    rows, per_document, characters, processes_at = [], {}, {}, {}
    ray_sizes = ray_sizes or [min(sizes)]
    with tempfile.TemporaryDirectory() as tmp:
        folder = Path(tmp)
        (folder / "ner.json").write_text('["person", "organization", "city"]\n[]\n{}\n', encoding="utf-8")
        (folder / "re.json").write_text('[]\n["works for", "lives in", "headquartered in"]\n{}\n',
                                        encoding="utf-8")
        runs = [(size, "gold") for size in sizes] + ([(size, "ray") for size in ray_sizes] if ray else [])
        for size, backend in runs:
            docs = folder / f"docs-{size}.json"
            if not docs.exists():
                characters[size] = write_corpus(docs, size)
            out = folder / f"out-{size}-{backend}.json"
            ray_route = ["--backend", "ray", "--ray-engine", "gold", "--data-parallel", "2",
                         "--batch-size", "64"]
            route = ["--backend", "gold"] if backend == "gold" else ray_route
            command = Command(
                [sys.executable, "-m", "kgcli", "extract", str(docs), str(out), "--preset",
                 "tiny-random-llama-lora", "--set", "cutoff_len=4096", "--task", "NER,RE", "--schema",
                 f"{folder / 'ner.json'},{folder / 're.json'}", "--language", "auto", *route],
                variables={"KGC_PLAIN_PROGRESS": "0"})
            if backend == "ray":  # the driver and every process Ray starts
                seconds, peak, processes_at[size] = run_sampled(command)
            else:
                seconds, peak = run_measured(command)
            per_document[(size, backend)] = seconds / size
            label = f"{size:,} documents ({characters[size] / 1e6:.1f} M chars), {backend}"
            rows.append((label, f"{seconds:,.1f}", f"{seconds / size * 1000:.2f}", f"{peak:,.0f}"))
            out.unlink()
    small, large = min(sizes), max(sizes)
    growth = per_document[(large, "gold")] / per_document[(small, "gold")]
    print("\ncorpus: kgc extract --backend gold, NER + RE, --language auto")
    print(table(rows, ("run", "wall seconds", "ms per document", "peak RSS MB")))
    print(f"seconds per document, {large:,} vs {small:,}: {growth:.2f}x (goal ≤ 1.2x)")
    note = f"s/doc {large:,} vs {small:,}: {growth:.2f}x (goal ≤ 1.2)"
    for size in ray_sizes if ray else []:
        overhead = per_document[(size, "ray")] / per_document.get((size, "gold"), float("nan"))
        print(f"local Ray vs local route at {size:,}: {overhead:.2f}x (nan: no local run at this size)")
        print(f"\nlocal Ray at {size:,}: every process the driver started (peak RSS sampled every 0.2 s)")
        print(table([(role, pid, f"{peak:,.0f}") for role, pid, peak in processes_at[size]],
                    ("process", "pid", "peak RSS MB")))
        biggest = max(processes_at[size], key=lambda p: p[2])
        note += (f"; Ray at {size:,}: {overhead:.2f}x the local route, its largest process {biggest[0]} "
                 f"{biggest[2]:,.0f} MB")
    if ray and len(ray_sizes) > 1:
        ray_growth = per_document[(max(ray_sizes), "ray")] / per_document[(min(ray_sizes), "ray")]
        print(f"seconds per document on Ray, {max(ray_sizes):,} vs {min(ray_sizes):,}: {ray_growth:.2f}x")
    summarize("extract at corpus scale (gold answers)", f"{per_document[(large, 'gold')] * 1000:.2f} ms/doc "
              f"at {large:,}", f"{per_document[(small, 'gold')] * 1000:.2f} ms/doc at {small:,}",
              f"{growth:.2f}x", note)


PEOPLE = ["张三", "李四", "王五", "赵六", "孙七"]
CITIES = ["北京", "上海", "广州", "深圳"]


def chapters(count: int = 20, sentences: int = 30) -> list[str]:
    rng = random.Random(3)
    return [
        "".join(
            rng.choice(
                [
                    f"{rng.choice(PEOPLE)}在{rng.choice(CITIES)}工作。",
                    "这一句什么也没有说" * rng.randint(1, 3) + "。",
                ]
            )
            for _ in range(sentences)
        )
        + "\n"
        for _ in range(count)
    ]


def answer(record: dict) -> str:
    text = json.loads(record["instruction"])["input"]
    return json.dumps(
        {"人物": [p for p in PEOPLE if p in text], "地点": [c for c in CITIES if c in text]},
        ensure_ascii=False,
    )


def run(documents, tokenizer, schema: str) -> tuple[dict, int, float, float]:
    from kgcli.convert import ConvertConfig, Converter
    from kgcli.documents.chunking import chunk_documents
    from kgcli.documents.merge import merge_records

    started = time.perf_counter()
    chunks = [c.record() for c in chunk_documents(iter(documents), tokenizer, budget=100, overlap=10)]
    converter = Converter(ConvertConfig(task="NER", split="test", schema_path=schema, source="bench"))
    records = [
        json.loads(line)
        for block in converter.convert_records(enumerate(chunks, 1), "chunks")
        for line in block.splitlines()
    ]
    predictions = [(i, {**r, "output": answer(r)}) for i, r in enumerate(records, 1)]
    merge_started = time.perf_counter()
    merged, _ = merge_records(predictions, "bench")
    finished = time.perf_counter()
    found = {(e["text"], e["type"]) for d in merged for e in d["entities"]}
    return {"entities": found}, len(chunks), finished - started, finished - merge_started


def main() -> None:
    from kgcli.documents.read import Document
    from kgcli.model.builders import build_smollm2
    from kgcli.model.loading import load_tokenizer
    from kgcli.model.templates import get_template

    tokenizer = load_tokenizer(str(build_smollm2()), get_template("qwen"))
    parts = chapters()
    with tempfile.TemporaryDirectory() as tmp:
        schema = Path(tmp) / "ner.json"
        schema.write_text('["人物", "地点"]\n[]\n{}\n', encoding="utf-8")
        book_found, book_chunks, book_seconds, book_merge = run(
            [Document("book", "".join(parts))], tokenizer, str(schema)
        )
        part_found, part_chunks, part_seconds, part_merge = run(
            [Document(f"chapter-{i}", text) for i, text in enumerate(parts)], tokenizer, str(schema)
        )
    same = book_found == part_found
    answers = book_chunks  # one NER answer per chunk (one schema chunk)
    merge_per_10k = book_merge / answers * 10_000
    rows = [
        ("one book", book_chunks, f"{book_chunks / book_seconds:,.0f}", f"{book_seconds:.2f}", "1.00x"),
        (
            "20 chapters",
            part_chunks,
            f"{part_chunks / part_seconds:,.0f}",
            f"{part_seconds:.2f}",
            f"{part_seconds / book_seconds:.2f}x",
        ),
    ]
    print("extract benchmark: chunk + convert + stub answers + merge, SmolLM2 tokenizer")
    print(table(rows, ("run", "chunks", "chunks/s", "seconds", "time vs book")))
    print(f"same extractions: {same}; merge: {merge_per_10k:.2f} s per 10,000 answers")
    summarize(
        "extract, a 200-chunk book vs its 20 chapters",
        f"{book_chunks / book_seconds:,.0f} chunks/s (book)",
        f"20 chapters: {part_seconds:.2f} s",
        f"{part_seconds / book_seconds:.2f}x",
        f"same extractions: {same}; merge {merge_per_10k:.2f} s/10k",
    )


def bench_python() -> Path | None:
    """``.venv-bench``'s python with langextract (made on first use), or None where it cannot be."""
    import subprocess

    venv = ROOT / ".venv-bench"
    python = venv / "bin" / "python"
    if not python.exists():
        subprocess.run([sys.executable, "-m", "venv", str(venv)], check=True)
    if subprocess.run([str(python), "-c", "import langextract, openai"], capture_output=True).returncode:
        print("installing langextract into .venv-bench (from PyPI) …", flush=True)
        if subprocess.run([str(python), "-m", "pip", "install", "-q", "langextract[openai]"]).returncode:
            return None
    return python


def requests_so_far(url: str) -> int:
    import urllib.request

    with urllib.request.urlopen(url.rsplit("/v1", 1)[0] + "/stats", timeout=5) as response:
        return json.loads(response.read())["requests"]


def remote(langextract: bool = True) -> None:
    """kgc's API route and LangExtract on the same server and documents."""
    import subprocess

    from kgcli.demo.synthetic import make_documents

    with tempfile.TemporaryDirectory() as tmp:
        folder = Path(tmp)
        documents = make_documents(4)
        docs = folder / "docs.json"
        docs.write_text("".join(json.dumps(d, ensure_ascii=False) + "\n" for d in documents),
                        encoding="utf-8")
        (folder / "ner.json").write_text('["person", "organization", "city"]\n[]\n{}\n', encoding="utf-8")
        port = 18000 + os.getpid() % 1000
        url = f"http://127.0.0.1:{port}/v1"
        server = subprocess.Popen([sys.executable, "-m", "kgcli.demo.answer_server", str(docs), "--port",
                                   str(port), "--latency", "0.3"], stdout=subprocess.PIPE, text=True,
                                  cwd=ROOT)
        try:
            server.stdout.readline()  # "answering at …": listening
            before = requests_so_far(url)
            seconds, _ = run_measured(Command([sys.executable, "-m", "kgcli", "extract", str(docs),
                                               str(folder / "out.json"), "--backend", "openai", "--api-base",
                                               url, "--served-model", "gold", "--task", "NER", "--schema",
                                               str(folder / "ner.json"), "--language", "en", "--budget",
                                               "256"]))
            kgc_requests = requests_so_far(url) - before
            chars = sum(len(d["text"]) for d in documents) // max(kgc_requests, 1)
            rows = [("kgc extract --backend openai (no preset, chat)", kgc_requests, f"{seconds:.2f}",
                     "1.00x")]
            ratio = None
            python = bench_python() if langextract else None
            if python is not None:
                before = requests_so_far(url)
                lx_seconds, _ = run_measured(Command([str(python), "-c", LANGEXTRACT, str(docs), url,
                                                      str(chars)]))
                lx_requests = requests_so_far(url) - before
                ratio = seconds / lx_seconds
                rows.append((f"LangExtract {chars} chars per chunk, 4 workers", lx_requests,
                             f"{lx_seconds:.2f}", f"{lx_seconds / seconds:.2f}x"))
        finally:
            server.terminate()
            server.wait()
    print("\nremote: 4 documents, a local server answering each chunk after 0.3 s, 4 requests in flight")
    print(table(rows, ("run", "requests", "wall seconds", "time vs kgc")))
    summarize("extract through an API (0.3 s a request)", f"kgc {seconds:.2f} s, {kgc_requests} requests",
              "LangExtract " + (f"{lx_seconds:.2f} s" if ratio else "not run"),
              f"{ratio:.2f}x" if ratio else "–", "kgc wall time / LangExtract's (goal ≤ 1)")


if __name__ == "__main__":
    if "--corpus" in sys.argv:
        given = sys.argv[sys.argv.index("--sizes") + 1] if "--sizes" in sys.argv else "10000,100000"
        ray_given = sys.argv[sys.argv.index("--ray-sizes") + 1] if "--ray-sizes" in sys.argv else ""
        corpus([int(s) for s in given.split(",")], ray="--no-ray" not in sys.argv,
               ray_sizes=[int(s) for s in ray_given.split(",")] if ray_given else None)
    else:
        if "--remote-only" not in sys.argv:
            main()
        remote(langextract="--no-langextract" not in sys.argv)
