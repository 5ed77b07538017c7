"""``kgc schema suggest``: documents → a sample of chunks → one suggestion prompt each → a model's answers →
one schema file (``aggregate.py``), which ``kgc extract``, ``convert`` and ``icl`` read as it is.

The model is one of extract's: a model behind an API (``--backend openai`` without a preset, ``litellm``)
or a local preset (``hf``, ``vllm``: the prompts go through ``kgc predict``'s stream with the preset's
template). Every document is read and OUT checked before a chunk is tokenized or a request sent.
"""

from __future__ import annotations

import json
import os
import shutil
import tempfile
import time
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

from kgcli.documents.language import script_language
from kgcli.errors import KgcError, say
from kgcli.io import read_jsonl
from kgcli.outputs import check_output
from kgcli.progress import progress
from kgcli.schema_tools.aggregate import Settings, aggregate
from kgcli.schema_tools.prompts import answer_schema, suggestion_prompt
from kgcli.schema_tools.sample import Reading, count_documents, sample_chunks

if TYPE_CHECKING:
    from kgcli.model.resolve import Resolved
    from kgcli.predict.base import Sampling
    from kgcli.predict.remote import RemoteModel

DEFAULT_SAMPLE = 24
DEFAULT_BUDGET = 512  # tokens of text per sampled chunk


@dataclass
class SuggestSettings:
    sample: int = DEFAULT_SAMPLE
    seed: int = 1
    language: str = "auto"  # zh, en, or auto: each chunk's prompt in its own script's language
    budget: int | None = None
    tokenizer: str | None = None  # remote: the tokenizer.json that counts the chunks' tokens
    reading: Reading = field(default_factory=Reading)
    rules: Settings = field(default_factory=Settings)
    backend: str = "openai"
    options: Any = None  # a local backend's own options
    batch_size: int = 8
    remote: RemoteModel | None = None
    overwrite: bool = False


@dataclass
class SuggestSummary:
    documents: int
    samples: int
    answered: int
    needed: int
    types: int
    relations: int
    proposals: int
    seconds: float

    def line(self) -> str:
        return (f"{self.types} entity type(s), {self.relations} relation(s), {self.proposals} proposal(s) "
                f"from {self.answered} of {self.samples} sampled chunk(s) of {self.documents} document(s) "
                f"(kept: named in at least {self.needed}), {self.seconds:.1f} s")


def suggest_schema(docs: str, out_path: str, resolved: Resolved | None, sampling: Sampling,
                   settings: SuggestSettings) -> SuggestSummary:
    """``resolved``: the local preset's model, or None for ``settings.remote``."""
    started = time.monotonic()
    output = check_output(out_path, inputs=[docs], overwrite=settings.overwrite)
    total = count_documents(docs, settings.reading)
    tokenizer, budget, fits = _sizing(resolved, settings)
    chunks = sample_chunks(docs, total, settings.sample, settings.seed, settings.reading, tokenizer, budget,
                           fits)
    if not chunks:
        raise KgcError("no text to sample: every document is empty", docs)
    prompts = [suggestion_prompt(c.text, settings.language if settings.language != "auto"
                                 else script_language(c.text) or "zh") for c in chunks]
    say(f"schema suggest: {len(chunks)} chunk(s) sampled from {total} document(s) (seed {settings.seed})")
    answers = (_ask_remote(prompts, settings.remote, sampling) if settings.remote is not None
               else _ask_local(prompts, resolved, sampling, settings))
    schema, counts = aggregate(list(zip(answers, [c.text for c in chunks], strict=True)), settings.rules)
    if not counts["answered"]:
        sample = " ".join((answers[0] if answers else "").split())[:120]
        raise KgcError(f"none of the {len(answers)} answer(s) is a JSON object; the model answered e.g. "
                       f"{sample!r}; kgc expects {{\"entity_types\": [...], \"relations\": [...]}}")
    if not schema["entity_types"] and not schema["relations"]:
        raise KgcError(f"no entity type or relation was named in {counts['needed']} or more of the "
                       f"{counts['answered']} answered chunk(s); lower --min-support or raise --sample")
    with output.open() as out:
        out.write(json.dumps(schema, ensure_ascii=False, indent=2) + "\n")
    return SuggestSummary(total, len(chunks), counts["answered"], counts["needed"],
                          len(schema["entity_types"]), len(schema["relations"]),
                          len(schema.get("proposals", [])), time.monotonic() - started)


def _sizing(resolved: Resolved | None, settings: SuggestSettings) -> tuple[Any, int, Any]:
    """(tokenizer, budget, fits) for the sampled chunks: the API route's (``documents/tokens.py``) or the
    preset's tokenizer."""
    budget = settings.budget or DEFAULT_BUDGET
    if settings.remote is not None:
        from kgcli.documents.tokens import remote_sizing
        from kgcli.predict.remote import preflight

        model = settings.remote
        preflight(model)
        sizing = remote_sizing(settings.tokenizer, budget, model.api_base if model.backend == "openai"
                               else None, model.served_model)
        return sizing.tokenizer, sizing.budget, sizing.fits
    from kgcli.documents.sizing import ChunkSettings, load_sizing

    assert resolved is not None
    return load_sizing(ChunkSettings(preset=resolved.preset, budget=budget))


def _ask_remote(prompts: list[str], model: RemoteModel, sampling: Sampling) -> list[str]:
    from kgcli.predict.remote import open_client

    client = open_client(model)
    wanted = answer_schema() if model.structured else None
    answers: list[str] = []
    try:
        with progress("schema suggest: asking", len(prompts), "chunks") as advance, \
                ThreadPoolExecutor(max(1, model.concurrency)) as pool:
            for text in pool.map(lambda prompt: client.answer(prompt, wanted, sampling), prompts):
                answers.append(text)
                advance(1)
    finally:
        client.close()
    return answers


def _ask_local(prompts: list[str], resolved: Resolved | None, sampling: Sampling,
               settings: SuggestSettings) -> list[str]:
    """The prompts through ``kgc predict``'s stream (the preset's template and backend), in a private
    temporary folder that goes when the answers are read."""
    from kgcli.io import compat_dumps
    from kgcli.predict.run import run_predict

    assert resolved is not None
    work = tempfile.mkdtemp(prefix="kgc-schema-")
    try:
        records, answered = os.path.join(work, "prompts.json"), os.path.join(work, "answers.json")
        with open(records, "w", encoding="utf-8") as handle:
            for number, prompt in enumerate(prompts):
                handle.write(compat_dumps({"id": f"sample-{number}", "instruction": prompt}) + "\n")
        run_predict(records, answered, resolved, settings.backend, sampling, settings.options,
                    batch_size=settings.batch_size, overwrite=True)
        return [str(record.get("output", "")) for _, record in read_jsonl(answered)]
    finally:
        shutil.rmtree(work, ignore_errors=True)
