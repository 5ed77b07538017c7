"""OpenAI Batch files: the requests for a whole test set written out (``vllm run-batch``, a hosted Batch
API), and their results joined back into records in input order.

Why files: a batch job runs where kgc does not (a cluster queue, a provider's batch service) and costs less
than live requests, but it answers in any order and may drop or fail requests. Every request carries its
record's position and id (``custom_id`` = ``LINE:id``), so the join puts answers back in input order and
lists each record that has no answer instead of dropping it silently.

The request body is the openai backend's own (``completion_request``): the same rendered prompt, greedy,
the template's stop words. ``/v1/chat/completions`` (the only endpoint ``vllm run-batch`` takes) carries
that prompt as the one user message, and kgc writes a pass-through chat template beside the requests, so
the server adds nothing around it.
"""

from __future__ import annotations

import json
import os
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from kgcli.errors import KgcError
from kgcli.io import display_name, read_jsonl
from kgcli.model.prompting import fit_prompt
from kgcli.outputs import check_output
from kgcli.predict.base import Sampling, Setup
from kgcli.predict.openai_backend import completion_request, prompt_text, stop_strings
from kgcli.records import INSTRUCTION, answered_line

if TYPE_CHECKING:
    from kgcli.model.resolve import Resolved

COMPLETIONS, CHAT = "/v1/completions", "/v1/chat/completions"
URLS = (COMPLETIONS, CHAT)
PASS_THROUGH_TEMPLATE = "{{ messages[0]['content'] }}"
SHOWN = 10  # records named in a "no answer" error


def custom_id(number: int, record: dict) -> str:
    return f"{number}:{record.get('id', '')}"


def chat_template_path(requests_path: str) -> str:
    return f"{requests_path}.jinja"


@dataclass
class Written:
    requests: int
    shortened: int
    chat_template: str | None


def write_requests(
    in_path: str,
    requests_path: str,
    setup: Setup,
    *,
    served_model: str,
    url: str,
    cutoff_len: int,
    overwrite: bool = False,
) -> Written:
    """One request per record of IN, in input order (IN was checked line by line by the caller)."""
    if url not in URLS:
        raise KgcError(f"--batch-url must be one of {', '.join(URLS)}")
    output = check_output(requests_path, inputs=[in_path], overwrite=overwrite)
    template, tokenizer = setup.template, setup.tokenizer
    stop, name = stop_strings(template, tokenizer), display_name(in_path)
    count = shortened = 0
    with output.open() as out:
        for number, record in read_jsonl(in_path):
            ids, cut = fit_prompt(template, tokenizer, record[INSTRUCTION], cutoff_len)
            if ids is None:
                raise KgcError(f"the template alone is longer than cutoff_len {cutoff_len}", name, number)
            shortened += cut
            body = completion_request(served_model, prompt_text(tokenizer, ids), setup.sampling, stop)
            if url == CHAT:
                body["messages"] = [{"role": "user", "content": body.pop("prompt")}]
            out.write(
                json.dumps(
                    {"custom_id": custom_id(number, record), "method": "POST", "url": url, "body": body},
                    ensure_ascii=False,
                )
                + "\n"
            )
            count += 1
    template_file = None
    if url == CHAT:
        template_file = chat_template_path(requests_path)
        with check_output(template_file, overwrite=True).open() as out:
            out.write(PASS_THROUGH_TEMPLATE + "\n")
    return Written(count, shortened, template_file)


def _answer(result: Any) -> tuple[str | None, str]:
    """(answer text, why not) from one line of a results file."""
    if not isinstance(result, dict):
        return None, "not a JSON object"
    if result.get("error"):
        error = result["error"]
        return None, str(error.get("message") if isinstance(error, dict) else error)[:120]
    response = result.get("response") or {}
    status = response.get("status_code", 200)
    if status != 200:
        return None, f"HTTP {status}"
    try:
        choice = response["body"]["choices"][0]
        text = choice["message"]["content"] if "message" in choice else choice["text"]
    except (KeyError, IndexError, TypeError):
        return None, "no choices in its response"
    return (text, "") if isinstance(text, str) else (None, "no text in its response")


def read_results(in_path: str, results_path: str, out_path: str, *, overwrite: bool = False) -> int:
    """IN's records with each answer from RESULTS as ``output``, in input order. A record without an answer
    (missing, failed, empty response) is an error naming it; nothing is written then."""
    output = check_output(out_path, inputs=[in_path, results_path], overwrite=overwrite)
    results_name = display_name(results_path)
    answers: dict[str, tuple[str | None, str]] = {}
    for number, result in read_jsonl(results_path):
        key = result.get("custom_id") if isinstance(result, dict) else None
        if not isinstance(key, str):
            raise KgcError("a result without a 'custom_id' string", results_name, number)
        answers[key] = _answer(result)
    records, unanswered = [], []
    for number, record in read_jsonl(in_path):
        key = custom_id(number, record)
        text, why = answers.pop(key, (None, "missing"))
        if text is None:
            unanswered.append(f"{key} ({why})")
        records.append((record, text))
    if unanswered:
        more = f" and {len(unanswered) - SHOWN} more" if len(unanswered) > SHOWN else ""
        raise KgcError(
            f"{len(unanswered)} record(s) of {display_name(in_path)} have no answer in "
            f"{results_name}: {', '.join(unanswered[:SHOWN])}{more}; run their requests again"
        )
    if answers:
        stray = next(iter(answers))
        raise KgcError(
            f"{len(answers)} result(s) are for no record of {display_name(in_path)} (custom_id "
            f"{stray!r}): were the requests written from another file?",
            results_name,
        )
    with output.open() as out:
        for record, text in records:
            out.write(answered_line(record, text))
    return len(records)


def write_requests_for(
    in_path: str,
    requests_path: str,
    resolved: Resolved,
    sampling: Sampling,
    *,
    served_model: str | None,
    url: str,
    cutoff_len: int | None,
    overwrite: bool = False,
) -> tuple[Written, str]:
    """``kgc predict --backend openai-batch --write-requests``: IN checked line by line, the tokenizer
    loaded (no model), the requests written; returns them and the ``vllm run-batch`` line that answers
    them."""
    from kgcli.io import spool_stdin
    from kgcli.model.builders import resolve_model_path
    from kgcli.predict.base import load_setup
    from kgcli.predict.inputs import check_budget, test_record_rule
    from kgcli.records import check_records

    in_path = spool_stdin(in_path)
    check_records(in_path, test_record_rule)
    check_output(requests_path, inputs=[in_path], overwrite=overwrite)
    preset = resolved.preset
    model_path = resolve_model_path(preset.base_model, preset.builder, weights=False)
    setup = load_setup(preset, model_path, sampling, resolved.adapters)
    budget = cutoff_len or preset.cutoff_len
    check_budget(in_path, setup, budget)
    name = served_model or preset.base_model
    written = write_requests(
        in_path, requests_path, setup, served_model=name, url=url, cutoff_len=budget, overwrite=overwrite
    )
    return written, run_batch_command(requests_path, model_path, name, written.chat_template)


def run_batch_command(
    requests_path: str, model_path: str, served_model: str, chat_template: str | None
) -> str:
    """The ``vllm run-batch`` line that answers REQ (shown after writing it)."""
    results = os.path.splitext(requests_path)[0] + ".results.jsonl"
    extra = f" --chat-template {chat_template}" if chat_template else ""
    return (
        f"vllm run-batch -i {requests_path} -o {results} --model {model_path} "
        f"--served-model-name {served_model}{extra}"
    )
