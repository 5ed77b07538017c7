"""Predict over records: each output record is the input record plus ``output``, in input order.

Records are taken in windows; inside a window, batches are formed in order of prompt length (less
padding), and finished records are written, in input order, as soon as every record before them is done.
OUT is appended to and flushed as it goes, so a killed run loses at most its window in flight and
``--resume`` continues after the last complete line: the result equals an uninterrupted run.
"""

from __future__ import annotations

import dataclasses
import os
from collections.abc import Callable
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from kgcli.errors import KgcError, say, warn
from kgcli.io import display_name, read_jsonl, spool_stdin
from kgcli.model.prompting import fit_prompt
from kgcli.model.templates import Template
from kgcli.outputs import Output, check_output
from kgcli.predict.base import (
    DEFAULT_WINDOW,
    BatchFileOptions,
    HFOptions,
    RayOptions,
    Sampling,
    backend_spec,
    backend_target,
    load_setup,
    open_backend,
    windows,
)
from kgcli.predict.closing import closed_if_cut
from kgcli.predict.inputs import check_budget, guided_rule, output_schema, test_record_rule
from kgcli.progress import progress
from kgcli.records import INSTRUCTION, answered_line, check_records

if TYPE_CHECKING:
    from kgcli.model.resolve import ModelChoice, Resolved


@dataclass
class PredictStats:
    records: int = 0
    skipped_done: int = 0
    shortened: int = 0
    closed: int = 0  # --guided-json answers cut by the token limit and closed
    capped: int = 0  # answers longer than the answer cap (a server that ignores max_tokens), cut


def _closed(text: str, schema: dict, stats: PredictStats) -> str:
    """A guided answer as written, or, when the token limit cut it (under the grammar nothing else leaves
    an answer that is not JSON), closed after its last complete item."""
    closed = closed_if_cut(text, schema)
    if closed is None:
        return text
    stats.closed += 1
    return closed


def predict_file(in_path: str, out_path: str | Output, generate: Callable[..., list[str]],
                 template: Template, tokenizer: Any, *, batch_size: int, cutoff_len: int,
                 resume: bool = False, overwrite: bool = False, guided_json: bool = False,
                 shard: tuple[int, int] = (0, 1), total: int | None = None,
                 window: int | None = None, answer_cap: int | None = None) -> PredictStats:
    """``window``: a backend that schedules itself (vLLM) gets ``window`` prompts per ``generate`` call;
    without it, windows of ``8 × batch_size`` are cut into length-sorted batches of ``batch_size`` (HF).
    ``shard`` = (rank, world): this process answers records rank, rank + world, ... (data parallel).
    ``out_path``: a path (checked here) or the ``Output`` the caller checked before loading the model.
    ``answer_cap``: answers longer than this many characters are cut to it (and counted)."""
    stats = PredictStats()
    name = display_name(in_path)
    output = out_path if isinstance(out_path, Output) else check_output(
        out_path, inputs=[in_path], resume=resume, overwrite=overwrite, resumable=True)
    done = stats.skipped_done = output.done
    rank, world = shard
    records = read_jsonl(in_path) if world == 1 else (
        item for index, item in enumerate(read_jsonl(in_path)) if index % world == rank)
    try:
        for _ in range(done):
            next(records)
    except StopIteration:
        pass
    left = None if total is None else max(0, len(range(rank, total, world)) - done)
    with output.open() as out, progress("predict", total=left, unit="samples") as advance:
        size = window or batch_size * 8
        batch = window or batch_size
        for chunk in windows(records, size):
            prompts, schemas = [], []
            for number, record in chunk:
                instruction = record.get(INSTRUCTION)
                if not isinstance(instruction, str):
                    raise KgcError("record has no 'instruction' string", name, number)
                ids, shortened = fit_prompt(template, tokenizer, instruction, cutoff_len)
                if ids is None:
                    raise KgcError(f"the template alone is longer than cutoff_len {cutoff_len}", name,
                                   number)
                stats.shortened += shortened
                prompts.append(ids)
                if guided_json:
                    try:
                        schemas.append(output_schema(record))
                    except (KeyError, TypeError, ValueError, KgcError):
                        raise KgcError("--guided-json needs converted records (task + JSON instruction "
                                       "with a schema)", name, number) from None
            order = sorted(range(len(chunk)), key=lambda i: -len(prompts[i]))
            outputs: list[str | None] = [None] * len(chunk)
            written = 0
            for start in range(0, len(order), batch):
                chosen = order[start : start + batch]
                ids = [prompts[i] for i in chosen]
                answers = generate(ids, [schemas[i] for i in chosen]) if guided_json else generate(ids)
                for index, text in zip(chosen, answers, strict=True):
                    if answer_cap is not None and len(text) > answer_cap:
                        text = text[:answer_cap]
                        stats.capped += 1
                    if guided_json:
                        text = _closed(text, schemas[index], stats)
                    outputs[index] = text
                while written < len(chunk) and outputs[written] is not None:
                    out.write(answered_line(chunk[written][1], outputs[written]))
                    written += 1
                out.flush()
                advance(len(chosen))
            stats.records += len(chunk)
    if stats.shortened:
        warn(f"{stats.shortened} prompt(s) had their input text shortened to fit cutoff_len {cutoff_len}")
    if stats.capped:
        warn(f"{stats.capped} answer(s) longer than {answer_cap:,} characters (the cap for this run's "
             "new-token limit) were cut: does the server honour max_tokens?")
    if stats.closed:
        warn(f"{stats.closed} answer(s) reached the new-token limit under --guided-json: closed after their "
             "last complete item (raise --max-new-tokens to keep more)")
    return stats


def part_path(out_path: str, rank: int) -> str:
    return f"{out_path}.part{rank}"


def merge_parts(out_path: str, world: int) -> None:
    """Interleave the ranks' part files back into input order (record i came from rank i % world)."""
    parts = [open(part_path(out_path, rank), encoding="utf-8") for rank in range(world)]
    try:
        with check_output(out_path).open() as out:
            while True:
                wrote = False
                for part in parts:
                    line = part.readline()
                    if line:
                        out.write(line)
                        wrote = True
                if not wrote:
                    break
    finally:
        for part in parts:
            part.close()
    for rank in range(world):
        os.unlink(part_path(out_path, rank))
        if os.path.exists(part_path(out_path, rank) + ".done"):
            os.unlink(part_path(out_path, rank) + ".done")


def run_predict(in_path: str, out_path: str, resolved: Resolved, backend: str, sampling: Sampling,
                options: Any = None, *, batch_size: int, cutoff_len: int | None = None,
                resume: bool = False, overwrite: bool = False, guided_json: bool = False,
                in_launcher: bool = False, window: int = DEFAULT_WINDOW) -> PredictStats:
    """A whole prediction run: tokenizer and template once, the backend started, every record answered,
    the backend closed. ``options``: the backend's own (its defaults when None). Under ``accelerate launch``
    each rank answers its share into a part file and rank 0 merges the parts back into input order."""
    from kgcli.model.builders import resolve_model_path

    spec = backend_spec(backend)
    options = options if options is not None else spec.options()
    preset = resolved.preset
    rank, world = (int(os.environ.get("RANK", 0)),
                   int(os.environ.get("WORLD_SIZE", 1))) if in_launcher else (0, 1)
    target = part_path(out_path, rank) if world > 1 else out_path
    # Everything that needs no model first: IN (every line), OUT, the machine; then the tokenizer, the
    # prompt budget, and only then the model.
    in_path = spool_stdin(in_path)
    total = check_records(in_path, guided_rule if guided_json else test_record_rule)
    output = check_output(target, inputs=[in_path], resume=resume, overwrite=overwrite, resumable=True)
    if not spec.remote(options):  # a server or a cluster runs the model elsewhere: this machine's rules
        resolved.check_hardware()  # do not apply
    from kgcli.model.launch import set_threads

    set_threads()
    model_path = resolve_model_path(preset.base_model, preset.builder, weights=not spec.remote(options))
    setup = load_setup(preset, model_path, sampling, resolved.adapters)
    budget = cutoff_len or preset.cutoff_len
    check_budget(in_path, setup, budget)
    done = f" ({output.done} already in OUT)" if output.done else ""
    step = (f"window {window}" if spec.streams else
            f"{options.ray_engine} engine × {options.data_parallel}" if isinstance(options, RayOptions)
            else "answers from gold labels" if backend == "gold" else f"batch {batch_size}")
    start = (f"predict: {total} record(s){done} with {preset.name}, backend {backend}, {step}, "
             f"at most {sampling.max_new_tokens} new tokens → {'stdout' if out_path == '-' else out_path}")
    if spec.whole_file:  # the whole job runs on the cluster (or answers from gold)
        say(start)
        if isinstance(options, RayOptions):
            options = dataclasses.replace(options, batch_size=batch_size)
        answered = backend_target(backend)(in_path, output, setup, options, budget=budget)
        return PredictStats(records=answered, skipped_done=output.done)
    if rank == 0 and not spec.remote(options):  # after every check; a server's comes with the backend
        say(start)
    engine = open_backend(backend, setup, options)
    if rank == 0 and spec.remote(options):
        say(start)
    try:
        stats = predict_file(in_path, output, engine.generate, setup.template, setup.tokenizer,
                             batch_size=batch_size, cutoff_len=budget, guided_json=guided_json,
                             shard=(rank, world), total=total, window=window if spec.streams else None,
                             answer_cap=sampling.answer_cap)
        if world > 1:
            finish_shard(out_path, rank, world)
    finally:
        engine.close()
    return stats


@dataclass(frozen=True)
class PredictRequest:
    """One ``kgc predict`` as the user typed it: files, model, backend (with its own options), sampling and
    run flags."""

    in_path: str
    out_path: str
    model: ModelChoice
    backend: str = "hf"
    options: Any = None  # the backend's own (``backend_options``); its defaults when None
    max_new_tokens: int | None = None
    temperature: float = 0.0
    top_p: float = 1.0
    seed: int | None = None
    thinking: str = "off"
    batch_size: int = 8
    cutoff_len: int | None = None
    window: int = DEFAULT_WINDOW
    guided_json: bool = False
    resume: bool = False
    overwrite: bool = False
    dry_run: bool = False
    in_launcher: bool = False
    remote: Any = None  # a model behind an API (``predict/remote.RemoteModel``): no preset, no model files


def predict(request: PredictRequest) -> Any:
    """``kgc predict``: the batch files' join (no model), or the preset resolved and checked, then a launch
    under accelerate, a dry run, a batch-file write, or the prediction itself (None for all but the last)."""
    from kgcli.io import check_input

    if request.remote is not None:
        return _predict_remote(request)
    spec = backend_spec(request.backend)
    options = request.options if request.options is not None else spec.options()
    if isinstance(options, BatchFileOptions):
        _check_batch_paths(options, request.in_path, request.out_path)
        if options.read_results:  # needs no preset: IN and the results are all there is
            from kgcli.predict.batch_files import read_results

            check_input(request.in_path)
            count = read_results(request.in_path, options.read_results, request.out_path,
                                 overwrite=request.overwrite)
            where = "stdout" if request.out_path == "-" else request.out_path
            say(f"joined {count} answer(s) from {options.read_results} → {where}")
            return None
    resolved = request.model.resolve("predict", dry_run=request.dry_run, backend=spec)
    resolved = resolved.with_thinking(request.thinking)
    files = resolved.options  # the seed's inference YAML may name IN and OUT
    in_path = files.get("input_file") or request.in_path if request.in_path == "-" else request.in_path
    out_path = files.get("output_file") or request.out_path if request.out_path == "-" else request.out_path
    if isinstance(options, HFOptions) and options.num_processes > 1 and not request.in_launcher:
        return _launch(request, options, in_path, out_path)
    sampling = Sampling(
        max_new_tokens=request.max_new_tokens or resolved.preset.max_new_tokens,
        temperature=request.temperature or float(files.get("temperature") or 0.0),
        top_p=request.top_p if request.top_p != 1.0 else float(files.get("top_p") or 1.0),
        seed=request.seed,
    )
    if request.dry_run:
        _show_plan(request, resolved, in_path, out_path, sampling)
        return None
    check_input(in_path)
    if isinstance(options, BatchFileOptions):
        _write_requests(in_path, options, resolved, request)
        return None
    return run_predict(in_path, out_path, resolved, request.backend, sampling, options,
                       batch_size=request.batch_size, cutoff_len=request.cutoff_len, resume=request.resume,
                       overwrite=request.overwrite, guided_json=request.guided_json,
                       in_launcher=request.in_launcher, window=request.window)


def _show_plan(request: PredictRequest, resolved: Resolved, in_path: str, out_path: str,
               sampling: Sampling) -> None:
    """``--dry-run``: IN and OUT checked (every record read, no model), then the settings the run would
    use, one per line."""
    from kgcli.io import check_input

    preset = resolved.preset
    if in_path != "-":
        check_input(in_path)
        rule = guided_rule if request.guided_json else test_record_rule
        records = f"{check_records(in_path, rule)} record(s)"
    else:
        records = "stdin, read when the run starts"
    output = check_output(out_path, inputs=[in_path], resume=request.resume, overwrite=request.overwrite,
                          resumable=True)
    state = (f"{output.done} answered, --resume goes on" if output.done
             else "new" if out_path == "-" or not os.path.exists(out_path) else "replaced (--overwrite)")
    print(f"preset: {preset.name} (base {preset.base_model}, template {preset.template}, {preset.dtype}, "
          f"{preset.bits}-bit)")
    print(f"IN: {in_path} ({records})")
    print(f"OUT: {out_path} ({state})")
    print(f"adapters: {', '.join(resolved.adapters) if resolved.adapters else 'none'}")
    print(f"backend: {request.backend} (batch size {request.batch_size}, cutoff_len "
          f"{request.cutoff_len or preset.cutoff_len}{', guided JSON' if request.guided_json else ''})")
    print(f"sampling: max_new_tokens {sampling.max_new_tokens}, temperature {sampling.temperature}, "
          f"top_p {sampling.top_p}, seed {sampling.seed}")
    print(f"launch: in this process ({request.backend} backend, {len(resolved.adapters)} adapter(s))")


def _predict_remote(request: PredictRequest) -> Any:
    """``kgc predict`` with a model behind an API: no preset, no model files (``predict/remote.py``)."""
    from kgcli.predict.remote import DEFAULT_NEW_TOKENS, predict_remote

    if request.guided_json:
        raise KgcError("--guided-json is vLLM's; for a model behind an API: --structured")
    sampling = Sampling(max_new_tokens=request.max_new_tokens or DEFAULT_NEW_TOKENS,
                        temperature=request.temperature, top_p=request.top_p, seed=request.seed)
    return predict_remote(request.in_path, request.out_path, request.remote, sampling, resume=request.resume,
                          overwrite=request.overwrite)


def _check_batch_paths(options: BatchFileOptions, in_path: str, out_path: str) -> None:
    if in_path == "-" and options.read_results:
        raise KgcError("--read-results joins answers into IN: give IN as a file")
    if options.write_requests and out_path != "-":
        raise KgcError(f"--write-requests writes REQ, not OUT ({out_path}): leave OUT out")


def _launch(request: PredictRequest, options: HFOptions, in_path: str, out_path: str) -> None:
    """The hf backend over several GPUs: this command again under ``accelerate launch``, one rank a GPU."""
    import subprocess

    from kgcli.io import check_input
    from kgcli.model import launch

    if "-" in (in_path, out_path):
        raise KgcError("--num-processes shards the hf backend over IN and OUT files (vllm: --data-parallel)")
    command = launch.accelerate_command(
        launch.rerun_argv(), ["--multi_gpu", "--num_processes", str(options.num_processes)])
    if request.dry_run:
        print(f"launch: {launch.shell(command)}")
        return None
    check_input(in_path)
    check_output(out_path, inputs=[in_path], resume=request.resume, overwrite=request.overwrite,
                 resumable=True)
    raise SystemExit(subprocess.call(command))


def _write_requests(in_path: str, options: BatchFileOptions, resolved: Resolved,
                    request: PredictRequest) -> None:
    from kgcli.predict import batch_files

    sampling = Sampling(max_new_tokens=request.max_new_tokens or resolved.preset.max_new_tokens)
    requests = str(options.write_requests)
    written, command = batch_files.write_requests_for(in_path, requests, resolved, sampling,
                                                      served_model=options.served_model,
                                                      url=options.batch_url, cutoff_len=request.cutoff_len,
                                                      overwrite=request.overwrite)
    say(f"wrote {written.requests} request(s) to {requests}; answer them with, e.g.:\n  {command}\n"
        f"then: kgc predict {in_path} OUT --backend openai-batch --read-results RESULTS")


def finish_shard(out_path: str, rank: int, world: int) -> None:
    """Every rank marks its part done; rank 0 waits for all of them and merges the parts in input order."""
    import time

    open(part_path(out_path, rank) + ".done", "w").close()
    if rank != 0:
        return
    while not all(os.path.exists(part_path(out_path, r) + ".done") for r in range(world)):
        time.sleep(0.5)
    merge_parts(out_path, world)
