"""In-context extraction over converted IEPile records: each record gets an ``output`` (the reply), so
``kgc eval`` scores the run exactly as it scores ``kgc predict``.

Each record is one chat: optional system message, then ``shots`` worked examples as user/assistant turns
(an IEPile *train* record's instruction and output), then the record's own instruction. Examples are drawn
from the same task, preferring the same schema chunk, then the largest schema overlap; ties are broken by a
RNG seeded with the record's id, so a re-run builds the same messages (and hits the cache). An example with
the record's own input text is never used.

Several requests are in flight (threads); records are written in input order as soon as every record before
them is done, and flushed, so ``--resume`` continues after the last complete line.
"""

from __future__ import annotations

import json
import random
from collections import defaultdict, deque
from concurrent.futures import Future, ThreadPoolExecutor
from dataclasses import dataclass
from typing import Any

from kgcli.errors import KgcError, say, warn
from kgcli.icl.client import ChatClient
from kgcli.icl.prompts import definitions_block
from kgcli.io import check_input, display_name, read_jsonl, spool_stdin
from kgcli.outputs import Output, check_output
from kgcli.progress import progress
from kgcli.records import INPUT, INSTRUCTION, SCHEMA, check_records, parse_instruction


@dataclass(frozen=True)
class Shot:
    instruction: str
    output: str
    schema: frozenset
    text: str


def _instruction_parts(instruction: object, name: str, number: int) -> tuple[frozenset, str]:
    """(schema elements, input text) of an IEPile instruction string."""
    if not isinstance(instruction, str):
        raise KgcError("record has no 'instruction' string", name, number)
    try:
        data = parse_instruction(instruction)
        schema = frozenset(json.dumps(item, sort_keys=True, ensure_ascii=False) for item in data[SCHEMA])
        return schema, str(data[INPUT])
    except (ValueError, KeyError, TypeError):
        raise KgcError("'instruction' is not an IEPile instruction (JSON with schema and input)", name,
                       number) from None


class ShotPool:
    """Worked examples by task, with an index of exact schema chunks."""

    def __init__(self, path: str):
        self.by_task: dict[str, list[Shot]] = defaultdict(list)
        self.by_schema: dict[tuple[str, frozenset], list[Shot]] = defaultdict(list)
        name = display_name(path)
        for number, record in read_jsonl(path):
            output = record.get("output")
            if not isinstance(output, str):
                raise KgcError("an example needs an 'output' string (use the train split of kgc convert)",
                               name, number)
            schema, text = _instruction_parts(record.get(INSTRUCTION), name, number)
            shot = Shot(record[INSTRUCTION], output, schema, text)
            task = str(record.get("task", ""))
            self.by_task[task].append(shot)
            self.by_schema[task, schema].append(shot)
        if not self.by_task:
            raise KgcError("the example file has no records", name)

    def choose(self, task: str, schema: frozenset, text: str, k: int, seed: str) -> list[Shot]:
        rng = random.Random(seed)
        exact = [shot for shot in self.by_schema.get((task, schema), ()) if shot.text != text]
        if len(exact) >= k:
            return rng.sample(exact, k)
        others = [shot for shot in self.by_task.get(task, ()) if shot.text != text and shot.schema != schema]
        rng.shuffle(others)
        others.sort(key=lambda shot: len(shot.schema & schema), reverse=True)
        return rng.sample(exact, len(exact)) + others[: k - len(exact)]


def build_messages(record: dict, shots: list[Shot], system: str | None, described: str = "") -> list[dict]:
    """``described``: the definitions of the record's schema names (--describe-schema), after ``system``."""
    system = "\n\n".join(part for part in (system, described) if part)
    messages = [{"role": "system", "content": system}] if system else []
    for shot in shots:
        messages += [{"role": "user", "content": shot.instruction},
                     {"role": "assistant", "content": shot.output}]
    messages.append({"role": "user", "content": record[INSTRUCTION]})
    return messages


@dataclass
class BatchStats:
    records: int = 0
    skipped_done: int = 0
    short_of_shots: int = 0


def prepare(in_path: str, out_path: str, *, resume: bool = False,
            overwrite: bool = False) -> tuple[str, Output, int]:
    """The batch's checks, before any request: IN readable, OUT checked, every record an IEPile
    instruction. Returns (IN, stdin spooled to a file; the checked OUT; how many records)."""
    check_input(in_path)
    output = check_output(out_path, inputs=[in_path], resume=resume, overwrite=overwrite, resumable=True)
    in_path = spool_stdin(in_path)
    return in_path, output, check_records(in_path, lambda record, name, number: _instruction_parts(
        record[INSTRUCTION], name, number))


def run_batch(in_path: str, out_path: str, client: ChatClient, *, shots: int = 0,
              pool: ShotPool | None = None,
              system: str | None = None, concurrency: int = 4, resume: bool = False,
              overwrite: bool = False, prepared: tuple[str, Output, int] | None = None,
              definitions: dict[str, str] | None = None) -> BatchStats:
    """Answer every record of IN into OUT; ``prepared``: what ``prepare`` returned, when the caller ran the
    checks before importing the client library; ``definitions``: a schema file's (--describe-schema), each
    record told those of the names its instruction asks for."""
    stats = BatchStats()
    name = display_name(in_path)
    if shots and pool is None:
        raise KgcError("--shots needs --examples FILE (IEPile train records)")
    in_path, output, total = prepared or prepare(in_path, out_path, resume=resume, overwrite=overwrite)
    done = stats.skipped_done = output.done
    records = read_jsonl(in_path)
    for _ in range(done):
        if next(records, None) is None:
            break

    def messages_of(number: int, record: dict) -> list[dict]:
        schema, text = _instruction_parts(record.get(INSTRUCTION), name, number)
        chosen: list[Shot] = []
        if shots and pool is not None:
            chosen = pool.choose(str(record.get("task", "")), schema, text, shots,
                                 f"{record.get('id', '')}:{number}")
            stats.short_of_shots += len(chosen) < shots
        described = ""
        if definitions:
            data = parse_instruction(record[INSTRUCTION])
            # IEPile's Chinese instruction sentences are Chinese: the definitions follow their language
            sentence = str(data.get("instruction"))
            language = "zh" if any("\u4e00" <= ch <= "\u9fff" for ch in sentence) else "en"
            described = definitions_block([a for a in data[SCHEMA] if isinstance(a, str)], definitions,
                                          language)
        return build_messages(record, chosen, system, described)

    executor = ThreadPoolExecutor(max(1, concurrency))
    in_flight: deque[tuple[int, dict, Future]] = deque()
    try:
        with output.open() as out, progress("icl", total=max(total - done, 0), unit="records") as advance:
            exhausted = False
            while True:
                while not exhausted and len(in_flight) < 2 * concurrency:
                    item = next(records, None)
                    if item is None:
                        exhausted = True
                        break
                    number, record = item
                    in_flight.append((number, record,
                                      executor.submit(client.complete, messages_of(number, record))))
                if not in_flight:
                    break
                number, record, future = in_flight.popleft()
                try:
                    reply = future.result()
                except KgcError as exc:
                    raise KgcError(exc.message, name, number) from None
                out.write(json.dumps({**record, "output": reply.text}, ensure_ascii=False) + "\n")
                out.flush()
                stats.records += 1
                advance(1)
    except BaseException:
        client.stopped.set()
        raise
    finally:
        executor.shutdown(wait=False, cancel_futures=True)
    return stats


def run_and_report(in_path: str, out_path: str, client: ChatClient, *, shots: int,
                   **options: Any) -> BatchStats:
    """``run_batch``, then token usage and cost, resumed records and short example pools on stderr."""
    stats = run_batch(in_path, out_path, client, shots=shots, **options)
    say(f"kgc: icl: {client.usage.summary(client.settings.model)}")
    if stats.skipped_done:
        say(f"kgc: icl: resumed after {stats.skipped_done} records already in OUT")
    if stats.short_of_shots:
        warn(f"{stats.short_of_shots} record(s) got fewer than {shots} examples (too few of their task)")
    return stats
