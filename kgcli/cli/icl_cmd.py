"""``kgc icl``: in-context extraction with any litellm model, for one text or a whole converted test set."""

from __future__ import annotations

import sys

import typer

from kgcli.cli.options import ApiBaseOpt, ConcurrencyOpt, TemperatureOpt
from kgcli.errors import KgcError


def icl(
    in_path: str = typer.Argument("-", metavar="[IN]", help="Batch: converted test records ('-' = stdin)."),
    out_path: str = typer.Argument("-", metavar="[OUT]", help="Batch: records + 'output' ('-' = stdout)."),
    model: str = typer.Option(
        ...,
        "--model",
        help="litellm model string: openai/gpt-4o-mini, deepseek/deepseek-chat, "
        "anthropic/…, ollama/…, hosted_vllm/NAME (with --api-base), …",
    ),
    text: str = typer.Option(
        None, "--text", rich_help_panel="Single mode (--text)", help="Single mode: the text to extract from."
    ),
    task: str = typer.Option(
        None,
        "--task",
        rich_help_panel="Single mode (--text)",
        help="Single mode: ner, re, ee, rte (triples) or da (data augmentation).",
    ),
    language: str = typer.Option(
        "en",
        "--language",
        rich_help_panel="Single mode (--text)",
        help="Single mode: en or zh (ch is accepted).",
    ),
    domain: str = typer.Option(
        None,
        "--domain",
        rich_help_panel="Single mode (--text)",
        help="Single mode: the domain named in the prompt.",
    ),
    labels: str = typer.Option(
        None,
        "--labels",
        rich_help_panel="Single mode (--text)",
        help="Single mode: types or relations, comma-separated.",
    ),
    head_entity: str = typer.Option(
        None, "--head-entity", rich_help_panel="Single mode (--text)", help="re: the head entity."
    ),
    head_type: str = typer.Option(
        None, "--head-type", rich_help_panel="Single mode (--text)", help="re: the head entity's type."
    ),
    tail_entity: str = typer.Option(
        None, "--tail-entity", rich_help_panel="Single mode (--text)", help="re: the tail entity."
    ),
    tail_type: str = typer.Option(
        None, "--tail-type", rich_help_panel="Single mode (--text)", help="re: the tail entity's type."
    ),
    examples: str = typer.Option(
        None,
        "--examples",
        help="Single: a seed-format example file (default: kgc's own). "
        "Batch: IEPile train records to draw --shots from.",
    ),
    zero_shot: bool = typer.Option(
        False,
        "--zero-shot",
        rich_help_panel="Single mode (--text)",
        help="Single mode: no examples in the prompt.",
    ),
    shots: int = typer.Option(
        None, "--shots", min=0, help="Examples per prompt (batch default 0; single: all)."
    ),
    instruction: str = typer.Option(
        None,
        "--instruction",
        rich_help_panel="Single mode (--text)",
        help="Single mode: replaces the built instruction.",
    ),
    system: str = typer.Option(None, "--system", help="A system message before the prompt."),
    temperature: TemperatureOpt = 0.0,
    top_p: float = typer.Option(None, "--top-p"),
    max_tokens: int = typer.Option(512, "--max-tokens", min=1, help="Reply length limit."),
    api_base: ApiBaseOpt = None,
    api_key_env: str = typer.Option(
        None,
        "--api-key-env",
        help="Variable holding the key (default: the provider's own, e.g. OPENAI_API_KEY, sent only to the "
             "provider's own host; a custom --api-base gets a key only from this option).",
    ),
    concurrency: ConcurrencyOpt = 4,
    retries: int = typer.Option(
        4, "--retries", min=0, help="Retries on 429 / 5xx / timeouts / refused connections."
    ),
    backoff: float = typer.Option(
        1.0, "--backoff", min=0.0, help="First wait between retries in seconds (doubles)."
    ),
    timeout: float = typer.Option(600.0, "--timeout", min=1.0, help="Seconds per request."),
    json_mode: bool = typer.Option(
        True,
        "--json-mode/--no-json-mode",
        rich_help_panel="Batch mode (IN)",
        help="Batch: ask for a JSON object (response_format) where the provider allows.",
    ),
    cache_dir: str = typer.Option(None, "--cache-dir", help="Reply cache folder (default $KGC_CACHE/icl)."),
    no_cache: bool = typer.Option(False, "--no-cache", help="Neither read nor write the reply cache."),
    resume: bool = typer.Option(
        False,
        "--resume",
        rich_help_panel="Batch mode (IN)",
        help="Batch: skip the records already in OUT and append the rest.",
    ),
    overwrite: bool = typer.Option(
        False, "--overwrite", rich_help_panel="Batch mode (IN)", help="Batch: replace an existing OUT."
    ),
    as_json: bool = typer.Option(
        False,
        "--json",
        rich_help_panel="Single mode (--text)",
        help="Single mode: print one JSON object (prompt, reply, extracted).",
    ),
    show_prompt: bool = typer.Option(
        False,
        "--show-prompt",
        rich_help_panel="Single mode (--text)",
        help="Single mode: print the prompt on stderr.",
    ),
) -> None:
    """Extract with an API LLM: one text (--text, the seed's prompts) or every record of IN (scored by kgc
    eval).

    Every call goes through litellm; API keys are read from the environment only. Replies are cached on disk,
    so re-running a batch sends no request twice.
    """
    from kgcli.icl.cache import ReplyCache
    from kgcli.icl.client import CallSettings, ChatClient

    single = text is not None
    if single and not text.strip():
        raise KgcError("--text is empty: give the text to extract from")
    if single and in_path != "-":
        raise KgcError("give --text (one text) or IN (a file of records), not both")
    if not single and sys.stdin.isatty() and in_path == "-":
        raise KgcError("give --text TEXT for one text, or IN, a file of converted records")
    prepared = None
    if not single:  # every check before the client library loads
        for flag, value in (
            ("--task", task),
            ("--domain", domain),
            ("--labels", labels),
            ("--instruction", instruction),
            ("--head-entity", head_entity),
            ("--zero-shot", zero_shot),
        ):
            if value:
                raise KgcError(
                    f"{flag} is for single mode (--text); batch records carry their own instruction"
                )
        from kgcli.icl.batch import prepare as prepare_batch

        prepared = prepare_batch(in_path, out_path, resume=resume, overwrite=overwrite)
    settings = CallSettings(
        model=model,
        api_base=api_base,
        temperature=temperature,
        top_p=top_p,
        max_tokens=max_tokens,
        json_mode=json_mode and not single,
        timeout=timeout,
        retries=retries,
        backoff=backoff,
        api_key_env=api_key_env,
    )
    if single:
        from kgcli.icl.single import prepare, show

        request, chosen = prepare(
            text,
            task=task,
            language=language,
            domain=domain,
            labels=labels,
            head_entity=head_entity,
            head_type=head_type,
            tail_entity=tail_entity,
            tail_type=tail_type,
            instruction=instruction,
            examples=examples,
            zero_shot=zero_shot,
            shots=shots,
        )
    else:
        from kgcli.icl.batch import ShotPool, run_and_report

        pool = ShotPool(examples) if examples else None
    cache = None if no_cache else ReplyCache(cache_dir)
    client = ChatClient(settings, cache)
    try:
        if single:
            show(request, chosen, client, system, as_json=as_json, show_prompt=show_prompt)
        else:
            run_and_report(
                in_path,
                out_path,
                client,
                shots=shots or 0,
                pool=pool,
                system=system,
                concurrency=concurrency,
                resume=resume,
                overwrite=overwrite,
                prepared=prepared,
            )
    finally:
        if cache:
            cache.close()
