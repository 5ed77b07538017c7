"""``kgc chunk`` as a library call: documents in, chunk records out, sized so that no prompt is shortened.

The budget is what ``cutoff_len`` leaves after the template and the longest test instruction (sentence and
schema chunk) of the tasks asked for; every chunk is then checked with that real prompt and cut shorter if
its tokens at the seams come out longer than counted.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

from kgcli.errors import KgcError, warn
from kgcli.io import compat_dumps, encode_str
from kgcli.model.presets import Preset
from kgcli.outputs import check_output

MARGIN = 4  # tokens kept free for the seams between the instruction and the text


@dataclass
class ChunkSettings:
    preset: str | Preset | None = None  # a name or file, or a resolved preset (kgc extract)
    tokenizer: str | None = None
    tasks: list[str] = field(default_factory=list)
    schemas: list[str] = field(default_factory=list)
    language: str = "zh"
    budget: int | None = None
    overlap: int | None = None  # tokens; default about 10% of the budget
    cutoff_len: int | None = None
    follow_links: bool = False  # in a DOCS folder, follow links that stay inside it (else skipped)
    encodings: tuple[str, ...] = ("utf-8",)  # tried in order for each text file
    on_bad_file: str = "stop"  # a text file no encoding reads: stop, or skip it with a warning


@dataclass
class ChunkStats:
    documents: int = 0
    chunks: int = 0
    budget: int = 0
    overlap: int = 0
    languages: dict[str, str | None] = field(default_factory=dict)  # document → its script's language


def task_schemas(tasks: list[str], schemas: list[str]) -> list[str]:
    """The schema file of each task: one file for them all (a schema object holds entity types and
    relations together), or one per task in the same order."""
    if tasks and len(schemas) == 1:
        return schemas * len(tasks)
    if not tasks or len(tasks) != len(schemas):
        raise KgcError("give --task and --schema: one schema file for every task, or one per task "
                       "(comma-separated, in the same order)")
    return schemas


def _instruction_prefixes(settings: ChunkSettings) -> list[str]:
    from kgcli.convert import ConvertConfig, Converter

    prefixes = []
    languages = ("zh", "en") if settings.language == "auto" else (settings.language,)
    for task, schema in zip(settings.tasks, task_schemas(settings.tasks, settings.schemas), strict=True):
        for language in languages:
            converter = Converter(ConvertConfig(task=task.upper(), split="test", schema_path=schema,
                                                language=language, source="chunk"))
            try:
                prefixes += converter.instruction_prefixes()
            except (KeyError, TypeError):  # a schema that depends on the record (EEA): its sentence alone
                prefixes.append(converter.layout.prefix([]))
    return prefixes


def load_sizing(settings: ChunkSettings) -> tuple[Any, int, Callable[[str], bool] | None]:
    """(tokenizer, token budget per chunk, the real-prompt check) for these settings."""
    from kgcli.model.builders import resolve_model_path
    from kgcli.model.loading import load_tokenizer
    from kgcli.model.presets import load_preset
    from kgcli.model.resolve import consent_to_remote_code
    from kgcli.model.templates import get_template

    if settings.preset is None and settings.tokenizer is None:
        raise KgcError("give --preset NAME (its tokenizer, template and cutoff_len) or --tokenizer PATH")
    prefixes = _instruction_prefixes(settings) if settings.tasks else []
    if settings.preset is None:
        if settings.budget is None:
            raise KgcError("--tokenizer needs --budget N (tokens per chunk); with --preset the budget comes "
                           "from its cutoff_len")
        from transformers import AutoTokenizer

        return AutoTokenizer.from_pretrained(settings.tokenizer), settings.budget, None
    if isinstance(settings.preset, Preset):
        preset = settings.preset  # resolved (and consented to) by the caller
    else:
        preset = load_preset(settings.preset)
        consent_to_remote_code(preset, settings.preset)
    template = get_template(preset.template)
    path = settings.tokenizer or resolve_model_path(preset.base_model, preset.builder, weights=False)
    # a --tokenizer folder is not the preset's model: its code never runs
    tokenizer = load_tokenizer(path, template, preset.trust_remote_code and not settings.tokenizer)
    cutoff = settings.cutoff_len or preset.cutoff_len
    if settings.budget is not None:
        return tokenizer, settings.budget, None
    if not prefixes:
        raise KgcError("give --task and --schema (the prompts the chunks must fit) or --budget N")
    lengths = {p: len(template.encode_prompt(tokenizer, p + '""}')) for p in prefixes}
    longest = max(prefixes, key=lengths.__getitem__)
    budget = cutoff - lengths[longest] - MARGIN
    if budget < 16:
        raise KgcError(f"cutoff_len {cutoff} leaves {budget} tokens for the text after the template and "
                       "instruction; raise --cutoff-len or use fewer schema items per instruction")

    def fits(text: str) -> bool:
        return len(template.encode_prompt(tokenizer, longest + encode_str(text) + "}")) <= cutoff

    return tokenizer, budget, fits


def chunk_file(in_path: str, out_path: str, settings: ChunkSettings, remote: Any = None) -> ChunkStats:
    """Chunk every document of IN into OUT (JSON lines); OUT appears only when every document chunked.
    ``remote``: a model behind an API's sizing (``documents/tokens.Sizing``) instead of a preset's."""
    from kgcli.documents.chunking import chunk_documents
    from kgcli.documents.language import script_language
    from kgcli.documents.read import read_documents
    from kgcli.io import spool_stdin

    output = check_output(out_path, inputs=[in_path] if in_path != "-" else [], spool=True)
    in_path = spool_stdin(in_path)  # read twice: checked first, then chunked

    def documents(quiet: bool = False) -> Any:
        return read_documents(in_path, settings.follow_links, settings.encodings, settings.on_bad_file,
                              quiet=quiet)

    # Every document read (and checked) before any model file, one at a time: the first pass keeps each
    # document's language only, the second chunks, so the corpus is never held in memory.
    languages: dict[str, str | None] = {}
    empty = 0
    for document in documents():
        languages[document.doc_id] = script_language(document.text)
        empty += not document.text
    tokenizer, budget, fits = ((remote.tokenizer, remote.budget, remote.fits) if remote is not None
                               else load_sizing(settings))
    overlap = settings.overlap if settings.overlap is not None else max(budget // 10, 0)
    if overlap >= budget:
        raise KgcError(f"--overlap {overlap} must be below the chunk budget {budget}")
    stats = ChunkStats(documents=len(languages), budget=budget, overlap=overlap, languages=languages)
    with output.open() as out:
        for chunk in chunk_documents(documents(quiet=True), tokenizer, budget, overlap, fits):
            out.write(compat_dumps(chunk.record()) + "\n")
            stats.chunks += 1
    if empty:
        warn(f"{empty} empty document(s) gave no chunk")
    return stats
