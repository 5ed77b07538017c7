"""``kgc extract``: documents → chunks → instruction records → one prediction stream → merged documents.

Every chunk of every document, for every task, goes through one ``predict`` run (a book costs its chunks,
not a serial loop over chapters). The intermediate files live in a work folder beside OUT
(``.OUT.kgc-extract/``): chunks and records are rebuilt identically on every run, the predictions file is
resumable exactly like ``kgc predict``'s (``--resume`` after a kill answers only what is missing), and the
folder is removed when OUT is written.
"""

from __future__ import annotations

import os
import shutil
import time
from collections import Counter
from collections.abc import Iterator
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

from kgcli.documents.language import LANGUAGE_NAMES
from kgcli.errors import KgcError, say, warn
from kgcli.io import compat_dumps, read_jsonl
from kgcli.outputs import check_output, work_folder
from kgcli.predict.base import DEFAULT_WINDOW

if TYPE_CHECKING:
    from kgcli.documents.merge import MergeStats
    from kgcli.model.resolve import Resolved
    from kgcli.predict.base import Sampling
    from kgcli.predict.remote import RemoteModel


@dataclass
class ExtractSettings:
    tasks: list[str]
    schemas: list[str]
    language: str = "zh"
    split_nums: dict[str, int] = field(default_factory=dict)  # task → schema items per instruction
    budget: int | None = None
    overlap: int | None = None
    drop_ungrounded: bool = False
    backend: str = "hf"
    options: Any = None  # the backend's own options (kgcli.predict.base); its defaults when None
    batch_size: int = 8
    window: int = DEFAULT_WINDOW
    resume: bool = False
    overwrite: bool = False
    follow_links: bool = False
    encodings: tuple[str, ...] = ("utf-8",)
    on_bad_file: str = "stop"
    remote: RemoteModel | None = None  # a model behind an API, no model files here (predict/remote.py)
    tokenizer: str | None = None  # remote: the tokenizer.json that counts the chunks' tokens


@dataclass
class ExtractSummary:
    documents: int
    chunks: int
    records: int
    unparsed: int
    extractions: int
    grounded_percent: float
    seconds: float
    off_schema: int = 0
    statuses: dict[str, int] = field(default_factory=dict)  # mentions per grounding status

    def line(self) -> str:
        statuses = ", ".join(f"{count} {status}" for status, count in self.statuses.items())
        return (f"{self.documents} document(s), {self.chunks} chunk(s), {self.records} record(s) predicted, "
                f"{self.unparsed} answer(s) did not parse, {self.off_schema} off-schema, "
                f"{self.extractions} extraction(s), {self.grounded_percent:.1f}% grounded "
                f"(mentions: {statuses or 'none'}), {self.seconds:.1f} s")


def check_answers(stats: MergeStats) -> None:
    """A run whose every answer did not parse or fit its schema is an error, not an empty result: say what
    the server answered and what shape kgc expects."""
    if not stats.answers or stats.unparsed + stats.off_schema < stats.answers:
        return
    sample = " ".join((stats.sample or "").split())
    sample = sample if len(sample) <= 120 else sample[:117] + "..."
    keys = f" (here: {stats.expected})" if stats.expected else ""
    raise KgcError(f"none of the {stats.answers} answer(s) fit their schema ({stats.unparsed} did not parse, "
                   f"{stats.off_schema} named none of its keys); the model answered e.g. {sample!r}; kgc "
                   f"expects one JSON object keyed by the schema's names{keys}, as IEPile answers are")


def run_extract(docs_path: str, out_path: str, resolved: Resolved | None, sampling: Sampling,
                settings: ExtractSettings) -> ExtractSummary:
    """``resolved``: the local preset's model, or None for ``settings.remote`` (a model behind an API)."""
    from kgcli.convert import ConvertConfig, convert_file
    from kgcli.documents.merge import DocumentMerger
    from kgcli.documents.sizing import ChunkSettings, chunk_file, task_schemas

    started = time.monotonic()
    if out_path == "-":
        raise KgcError("kgc extract needs an output file (OUT), not stdout")
    settings.schemas = task_schemas(settings.tasks, settings.schemas)
    output = check_output(out_path, inputs=[docs_path, *settings.schemas], overwrite=settings.overwrite)
    work = work_folder(out_path, "extract")
    predictions = os.path.join(work, "predictions.json")
    if not settings.resume and os.path.exists(work):
        shutil.rmtree(work)
    os.makedirs(work, exist_ok=True)
    try:
        chunks = os.path.join(work, "chunks.json")
        stats = chunk_file(docs_path, chunks, ChunkSettings(
            preset=resolved.preset if resolved else None, tasks=settings.tasks, schemas=settings.schemas,
            language=settings.language, budget=settings.budget, overlap=settings.overlap,
            cutoff_len=resolved.preset.cutoff_len if resolved else None,
            follow_links=settings.follow_links, encodings=settings.encodings,
            on_bad_file=settings.on_bad_file), remote=_remote_sizing(settings))
        records = os.path.join(work, "records.json")
        parts = []
        for language, chunk_part in by_language(chunks, stats.languages, settings.language, work):
            for task, schema in zip(settings.tasks, settings.schemas, strict=True):
                part = os.path.join(work, f"{task}.{language}.json")
                convert_file(chunk_part, part, ConvertConfig(
                    task=task.upper(), split="test", schema_path=schema, language=language, source="extract",
                    split_num=settings.split_nums.get(task.upper())))
                parts.append(part)
        with check_output(records).open() as out:
            for line in interleave(chunks, parts):
                out.write(line)
        for part in parts:
            os.unlink(part)
        predicted = _predict(records, predictions, resolved, sampling, settings)
        merger = DocumentMerger(drop_ungrounded=settings.drop_ungrounded)
        with output.open() as out:  # document by document: the records come in (document, chunk, task) order
            for document in merger.stream(read_jsonl(predictions), predictions):
                out.write(compat_dumps(document) + "\n")
            check_answers(merger.stats)
        merged = merger.stats
        shutil.rmtree(work)
        return ExtractSummary(stats.documents, stats.chunks, predicted.records + predicted.skipped_done,
                              merged.unparsed, merged.extractions, merged.grounded_percent,
                              time.monotonic() - started, merged.off_schema, merged.statuses)
    except BaseException:
        if not os.path.exists(predictions) or not os.path.getsize(predictions):
            shutil.rmtree(work, ignore_errors=True)  # nothing to resume: leave nothing behind
        raise


def _remote_sizing(settings: ExtractSettings) -> Any:
    """A remote route's chunk sizing (``documents/tokens.py``), said once; None for a local preset."""
    if settings.remote is None:
        return None
    from kgcli.documents.tokens import remote_sizing
    from kgcli.predict.remote import preflight

    model = settings.remote
    preflight(model)
    sizing = remote_sizing(settings.tokenizer, settings.budget, model.api_base if model.backend == "openai"
                           else None, model.served_model)
    say(f"chunks: {sizing.source}")
    return sizing


def _predict(records: str, predictions: str, resolved: Resolved | None, sampling: Sampling,
             settings: ExtractSettings) -> Any:
    """One prediction stream over every chunk record: the local preset's backend, or the API model."""
    if settings.remote is not None:
        from kgcli.predict.remote import predict_remote

        return predict_remote(records, predictions, settings.remote, sampling, resume=settings.resume,
                              overwrite=True)
    from kgcli.predict.run import run_predict

    return run_predict(records, predictions, resolved, settings.backend, sampling, settings.options,
                       batch_size=settings.batch_size, window=settings.window, resume=settings.resume,
                       overwrite=True)


def show_plan(docs_path: str, out_path: str, resolved: Resolved | None, sampling: Sampling,
              settings: ExtractSettings) -> None:
    """``kgc extract --dry-run``: DOCS read and OUT and the schemas checked (no model, no request), then
    the settings the run would use, one per line."""
    from kgcli.convert import ConvertConfig, Converter
    from kgcli.documents.language import script_language
    from kgcli.documents.read import read_documents
    from kgcli.documents.sizing import task_schemas

    if out_path == "-":
        raise KgcError("kgc extract needs an output file (OUT), not stdout")
    settings.schemas = task_schemas(settings.tasks, settings.schemas)
    check_output(out_path, inputs=[docs_path, *settings.schemas], overwrite=settings.overwrite)
    for task, schema in zip(settings.tasks, settings.schemas, strict=True):
        Converter(ConvertConfig(task=task.upper(), split="test", schema_path=schema,
                                language="zh" if settings.language == "auto" else settings.language))
    languages = Counter(script_language(d.text) or "zh" for d in read_documents(
        docs_path, settings.follow_links, settings.encodings, settings.on_bad_file))
    scripts = ", ".join(f"{n} {LANGUAGE_NAMES[lang]}" for lang, n in sorted(languages.items()))
    print(f"DOCS: {docs_path} ({sum(languages.values())} document(s): {scripts})")
    print(f"OUT: {out_path}")
    print("tasks: " + ", ".join(f"{t.upper()} ({s})" for t, s in zip(settings.tasks, settings.schemas,
                                                                       strict=True))
          + f"; instructions in {settings.language}")
    if settings.remote is not None:
        remote = settings.remote
        print(f"model: {remote.served_model} behind {remote.api_base or remote.backend} "
              f"({remote.backend}, {remote.concurrency} request(s) at a time)")
    elif resolved is not None:
        preset = resolved.preset
        adapters = ", ".join(resolved.adapters) or "none"
        print(f"model: preset {preset.name} (base {preset.base_model}), adapters: {adapters}, "
              f"backend {settings.backend} (batch size {settings.batch_size})")
    budget = f"{settings.budget} tokens" if settings.budget else "what fits the model's prompt"
    overlap = settings.overlap if settings.overlap is not None else "about 10%"
    print(f"chunks: {budget} per chunk, overlap {overlap}")
    print(f"sampling: max_new_tokens {sampling.max_new_tokens}")


def by_language(chunks: str, languages: dict[str, str | None], language: str,
                work: str) -> list[tuple[str, str]]:
    """(instruction language, chunks file) pairs: the one file in ``language``, or for ``auto`` the chunks
    split by their document's script (a document with neither script gets Chinese, the default). With a
    fixed language, documents written in the other one are counted in a warning."""
    if language != "auto":
        other = Counter(found for found in languages.values() if found and found != language)
        for found, count in sorted(other.items()):
            warn(f"{count} of {len(languages)} document(s) are written in {LANGUAGE_NAMES[found]} (by their "
                 f"script) but the instructions are {LANGUAGE_NAMES[language]} (--language {language}); "
                 "--language auto chooses per document")
        return [(language, chunks)]
    import orjson

    paths = {lang: os.path.join(work, f"chunks.{lang}.json") for lang in ("zh", "en")}
    handles = {lang: open(path, "wb") for lang, path in paths.items()}  # noqa: SIM115 (closed below)
    used: set[str] = set()
    try:
        for _, chunk in read_jsonl(chunks):
            lang = languages.get(str(chunk.get("doc_id"))) or "zh"
            used.add(lang)
            handles[lang].write(orjson.dumps(chunk) + b"\n")
    finally:
        for handle in handles.values():
            handle.close()
    say(f"--language auto: {sum(1 for v in languages.values() if (v or 'zh') == 'zh')} Chinese, "
        f"{sum(1 for v in languages.values() if v == 'en')} English document(s)")
    return [(lang, paths[lang]) for lang in ("zh", "en") if lang in used]


def interleave(chunks: str, parts: list[str]) -> Iterator[str]:
    """The tasks' record lines in (document, chunk, task) order: each part (one task's records, in chunk
    order) is read along the chunks file, so a document's records come together and the merge can finish
    it as soon as they are answered."""
    import orjson

    readers = [open(part, encoding="utf-8") for part in parts]  # noqa: SIM115 (closed below)
    try:
        pending: list[tuple[Any, str] | None] = [None] * len(readers)

        def peek(index: int) -> tuple[Any, str] | None:
            if pending[index] is None:
                line = readers[index].readline()
                if line:
                    record = orjson.loads(line)
                    pending[index] = ((record.get("doc_id"), record.get("chunk")), line)
            return pending[index]

        for _, chunk in read_jsonl(chunks):
            key = (chunk.get("doc_id"), chunk.get("chunk"))
            for index in range(len(readers)):
                while (found := peek(index)) is not None and found[0] == key:
                    yield found[1]
                    pending[index] = None
        for index in range(len(readers)):  # anything left (nothing, when every record names its chunk)
            while (found := peek(index)) is not None:
                yield found[1]
                pending[index] = None
    finally:
        for reader in readers:
            reader.close()


def parse_split_nums(text: str | None, tasks: list[str]) -> dict[str, int]:
    """``--split-num 6,1`` → {task: n} in ``--task`` order (checked before any model loads)."""
    if not text:
        return {}
    values = [part.strip() for part in text.split(",") if part.strip()]
    if len(values) != len(tasks) or not all(v.lstrip("-").isdigit() for v in values):
        raise KgcError(f"--split-num takes one number per task ({len(tasks)}: {','.join(tasks)}), "
                       f"got {text!r}")
    return {task.upper(): int(value) for task, value in zip(tasks, values, strict=True)}

