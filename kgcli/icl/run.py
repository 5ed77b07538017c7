"""``kgc icl`` as one library call: single mode (one text, the seed's prompts) or batch mode (every record of
IN), every check made before the client library loads, the reply cache opened and closed around the run."""

from __future__ import annotations

import sys
from dataclasses import dataclass, field

from kgcli.errors import KgcError
from kgcli.icl.client import CallSettings


@dataclass(frozen=True)
class SingleText:
    """Single mode's own settings (``--text`` and the prompt it builds)."""

    text: str
    task: str | None = None
    language: str = "zh"
    domain: str | None = None
    labels: str | None = None
    head_entity: str | None = None
    head_type: str | None = None
    tail_entity: str | None = None
    tail_type: str | None = None
    instruction: str | None = None
    zero_shot: bool = False
    as_json: bool = False
    show_prompt: bool = False


@dataclass(frozen=True)
class IclRequest:
    call: CallSettings
    in_path: str = "-"
    out_path: str = "-"
    single: SingleText | None = None
    examples: str | None = None
    shots: int | None = None
    system: str | None = None
    concurrency: int = 4
    resume: bool = False
    overwrite: bool = False
    cache_dir: str | None = None
    no_cache: bool = False
    schema: str | None = None  # a schema file: single mode's labels, and the definitions told
    describe_schema: bool = False  # its definitions go into the prompts
    # single-mode flags given in batch mode (refused: batch records carry their own instruction)
    single_flags: dict[str, object] = field(default_factory=dict)


def run_icl(request: IclRequest) -> None:
    from kgcli.icl.cache import ReplyCache
    from kgcli.icl.client import ChatClient

    single = request.single
    if single is not None and not single.text.strip():
        raise KgcError("--text is empty: give the text to extract from")
    if single is not None and request.in_path != "-":
        raise KgcError("give --text (one text) or IN (a file of records), not both")
    if single is None and sys.stdin.isatty() and request.in_path == "-":
        raise KgcError("give --text TEXT for one text, or IN, a file of converted records")
    prepared = None
    if request.describe_schema and not request.schema:
        raise KgcError("--describe-schema needs --schema FILE (whose definitions it tells the model)")
    definitions = None
    if single is None and request.schema:
        if not request.describe_schema:
            raise KgcError("batch records carry their own schema: --schema is read for --describe-schema")
        from kgcli.schema import load_schema

        definitions = load_schema(request.schema).definitions
        if not definitions:
            raise KgcError("--describe-schema: the schema file has no definitions", request.schema)
    if single is None:  # every check before the client library loads
        for flag, value in request.single_flags.items():
            if value:
                raise KgcError(f"{flag} is for single mode (--text); batch records carry their own "
                               "instruction")
        from kgcli.icl.batch import prepare as prepare_batch

        prepared = prepare_batch(request.in_path, request.out_path, resume=request.resume,
                                 overwrite=request.overwrite)
    else:
        from kgcli.icl.single import prepare

        asked, chosen = prepare(
            single.text, task=single.task, language=single.language, domain=single.domain,
            labels=single.labels, head_entity=single.head_entity, head_type=single.head_type,
            tail_entity=single.tail_entity, tail_type=single.tail_type, instruction=single.instruction,
            examples=request.examples, zero_shot=single.zero_shot, shots=request.shots,
            schema=request.schema, describe=request.describe_schema)
    cache = None if request.no_cache else ReplyCache(request.cache_dir)
    try:
        client = ChatClient(request.call, cache)
        if single is not None:
            from kgcli.icl.single import show

            show(asked, chosen, client, request.system, as_json=single.as_json,
                 show_prompt=single.show_prompt)
        else:
            from kgcli.icl.batch import ShotPool, run_and_report

            pool = ShotPool(request.examples) if request.examples else None
            run_and_report(request.in_path, request.out_path, client, shots=request.shots or 0, pool=pool,
                           system=request.system, concurrency=request.concurrency, resume=request.resume,
                           overwrite=request.overwrite, prepared=prepared, definitions=definitions)
    finally:
        if cache:
            cache.close()
