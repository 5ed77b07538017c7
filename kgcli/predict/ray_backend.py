"""The Ray backend: the same records through Ray Data, across the nodes of a Ray cluster (``kgcli[ray]``).

Why Ray Data: one node's engines stop scaling at its GPUs; Ray Data streams the records to engine
replicas on every node and back, and is what vLLM's batch-inference guide recommends for that. kgc keeps
its own guarantees around it:
- the driver writes OUT in input order (Ray Data keeps the order, ``preserve_order``, and every answer
  carries its record's position, checked on the way out), line by line as answers arrive;
- ``--resume`` sends only the records after the last complete line of OUT;
- every replica renders prompts with the preset's template and tokenizer, so each sees the ids HF sees.

Replicas are either vLLM engines through ``ray.data.llm``'s processor (``--ray-engine vllm``: GPUs; LoRA
through its engine arguments), kgc's HF backend in a Ray actor (``--ray-engine hf``: any machine, and the
one the CPU tests run), or the gold answers (``--ray-engine gold``: tests and benchmarks of the pipeline
itself, answers from each record's label).
"""

from __future__ import annotations

import itertools
import os
import shutil
import warnings
from collections.abc import Iterator
from typing import Any

from kgcli.errors import KgcError
from kgcli.io import read_jsonl
from kgcli.outputs import Output
from kgcli.predict.base import RayOptions, Setup
from kgcli.progress import progress
from kgcli.records import INSTRUCTION, answered_line

ENGINES = ("vllm", "hf", "gold")
VLLM_BATCH = 256  # rows in one pass of the vLLM processor (ray.data.llm batches them for the engine)


def _render(setup_args: dict, instructions: list[str], budget: int) -> list[list[int]]:
    from kgcli.model.prompting import fit_prompt

    template, tokenizer = setup_args["template"], setup_args["tokenizer"]
    return [fit_prompt(template, tokenizer, text, budget)[0] or [] for text in instructions]


class HFReplica:
    """One Ray actor holding kgc's HF backend: one forward pass of rows in, those rows' ``output`` out."""

    def __init__(self, preset: Any, model_path: str, sampling: Any, adapters: list[str], budget: int):
        from kgcli.model.launch import set_threads
        from kgcli.predict.base import load_setup, open_backend

        set_threads()
        setup = load_setup(preset, model_path, sampling, adapters)
        self.engine = open_backend("hf", setup)
        self.kit = {"template": setup.template, "tokenizer": setup.tokenizer}
        self.budget = budget

    def __call__(self, batch: dict) -> dict:
        prompts = _render(self.kit, [str(t) for t in batch[INSTRUCTION]], self.budget)
        return {"position": batch["position"], "output": list(self.engine.generate(prompts))}


class GoldReplica:
    """A Ray actor answering each row from its record's gold label (``tasks/gold.py``): the pipeline with
    a perfect model that costs nothing."""

    def __call__(self, batch: dict) -> dict:
        from kgcli.predict.gold_backend import answer

        records = [{"instruction": str(i), "label": str(label), "task": str(task)}
                   for i, label, task in zip(batch[INSTRUCTION], batch["label"], batch["task"], strict=True)]
        return {"position": batch["position"],
                "output": [answer(r, "IN", int(p) + 1) for r, p in zip(records, batch["position"],
                                                                       strict=True)]}


class Renderer:
    """The vLLM processor's preprocess stage: template-encoded ids and greedy sampling for each row."""

    def __init__(self, preset: Any, model_path: str, sampling: Any, budget: int, adapter: str | None):
        from kgcli.model.loading import load_tokenizer, template_of

        template = template_of(preset)
        self.kit = {"template": template, "tokenizer": load_tokenizer(model_path, template,
                                                                        preset.trust_remote_code)}
        self.stop = template.stop_token_ids(self.kit["tokenizer"])
        self.sampling, self.budget, self.adapter = sampling, budget, adapter

    def __call__(self, row: dict) -> dict:
        ids = _render(self.kit, [str(row[INSTRUCTION])], self.budget)[0]
        params = {"temperature": self.sampling.temperature, "top_p": self.sampling.top_p,
                  "max_tokens": self.sampling.max_new_tokens, "stop_token_ids": self.stop,
                  "skip_special_tokens": True}
        rendered = {"position": row["position"], "tokenized_prompt": ids, "sampling_params": params}
        if self.adapter:
            rendered["model"] = self.adapter  # ray.data.llm: a row's model other than the base = its LoRA
        return rendered


def _vllm_processor(setup: Setup, options: RayOptions, budget: int):
    """``ray.data.llm``'s vLLM processor with kgc's prompts (no chat template, no re-tokenising)."""
    from ray.data.llm import build_llm_processor, vLLMEngineProcessorConfig

    from kgcli.predict.engine_args import vllm_engine_args

    preset, sampling = setup.preset, setup.sampling
    engine_kwargs = vllm_engine_args(setup, tensor_parallel_size=options.tensor_parallel_size,
                                     prefix_caching=options.prefix_caching)
    adapter = setup.adapters[0] if setup.adapters else None
    if adapter:
        engine_kwargs["enable_lora"] = True
    config = vLLMEngineProcessorConfig(
        model_source=setup.model_path, engine_kwargs=engine_kwargs, concurrency=options.data_parallel,
        batch_size=VLLM_BATCH, apply_chat_template=False, tokenize=False, detokenize=False)
    return build_llm_processor(
        config,
        preprocess=Renderer,
        preprocess_map_kwargs={"fn_constructor_kwargs": {
            "preset": preset, "model_path": setup.model_path, "sampling": sampling, "budget": budget,
            "adapter": adapter}, "concurrency": options.data_parallel},
        postprocess=lambda row: {"position": row["position"], "output": row["generated_text"]})


def _start(address: str | None) -> None:
    import logging

    import ray

    if ray.is_initialized():
        return
    for name in ("ray", "ray.data"):  # Ray's own lines (plan, progress) stay out of kgc's stderr
        logging.getLogger(name).setLevel(logging.ERROR)
    target = address or os.environ.get("RAY_ADDRESS")
    try:
        if target:
            ray.init(address=target, log_to_driver=False)
        else:  # a local instance on this machine's cores
            ray.init(include_dashboard=False, log_to_driver=False, configure_logging=False)
    except ConnectionError as exc:
        raise KgcError(f"cannot reach the Ray cluster at {target}: {exc}") from None


def _answers(setup: Setup, options: RayOptions, rows: str, count: int, budget: int) -> Iterator[dict]:
    """Answers in input order. A Ray batch is one forward pass (``--batch-size``); a Ray task answers one
    block of rows (``_blocks``), pass by pass, and its answers reach OUT when the block is done, so a kill
    loses at most the blocks in flight. ``rows``: the rows folder (``_rows_file``, ``count`` rows), read by
    Ray Data on this node (a cluster's other nodes do not have it), so no process holds every row."""
    import logging

    import ray.data

    for name in ("ray", "ray.data"):  # ray.data sets its own levels on import
        logging.getLogger(name).setLevel(logging.ERROR)
    context = ray.data.DataContext.get_current()
    context.execution_options.preserve_order = True
    context.enable_progress_bars = False
    from ray.util.scheduling_strategies import NodeAffinitySchedulingStrategy

    # the read takes no CPU: the replicas may hold every core, and reading a local file must never wait
    # for one of them to finish (which it never would)
    here = NodeAffinitySchedulingStrategy(ray.get_runtime_context().get_node_id(), soft=False)
    with warnings.catch_warnings():  # ray_remote_args: the one way to place the read on this node
        warnings.simplefilter("ignore")
        files = [os.path.join(rows, name) for name in sorted(os.listdir(rows))]  # in position order
        dataset = ray.data.read_json(files, lines=True, num_cpus=0,
                                     override_num_blocks=_blocks(len(files), count, _pass_rows(options)),
                                     ray_remote_args={"scheduling_strategy": here})
    if options.ray_engine == "vllm":
        dataset = _vllm_processor(setup, options, budget)(dataset)
    elif options.ray_engine == "gold":
        dataset = dataset.map_batches(
            GoldReplica, compute=ray.data.ActorPoolStrategy(size=options.data_parallel),
            batch_size=options.batch_size, num_cpus=options.cpus_per_replica, batch_format="numpy")
    else:
        dataset = dataset.map_batches(
            HFReplica, compute=ray.data.ActorPoolStrategy(size=options.data_parallel),
            batch_size=options.batch_size, num_cpus=options.cpus_per_replica, batch_format="numpy",
            fn_constructor_kwargs={"preset": setup.preset, "model_path": setup.model_path,
                                   "sampling": setup.sampling, "adapters": setup.adapters, "budget": budget})
    yield from dataset.iter_rows()


def predict_with_ray(in_path: str, output: Output, setup: Setup, options: RayOptions, *, budget: int) -> int:
    """Answer IN's records after the ``output.done`` already in OUT; returns how many were answered."""
    if options.ray_engine not in ENGINES:
        raise KgcError(f"--ray-engine must be one of {', '.join(ENGINES)}")
    try:
        import ray  # noqa: F401
    except ImportError:
        raise KgcError("--backend ray needs Ray: pip install 'kgcli[ray]'") from None
    done = output.done
    rows, count = _rows_file(in_path, done, gold=options.ray_engine == "gold")
    try:
        if not count:
            return 0
        _start(options.ray_address)
        written = 0
        records = itertools.islice(read_jsonl(in_path), done, None)  # read again: rows hold no whole records
        with output.open() as out, progress("predict", total=count, unit="samples") as advance:
            answers = _answers(setup, options, rows, count, budget)
            for (_, record), answer in zip(records, answers, strict=False):
                if int(answer["position"]) != done + written:
                    raise KgcError(f"Ray returned record {answer['position']} where {done + written} was due")
                out.write(answered_line(record, str(answer["output"])))
                out.flush()
                written += 1
                advance(1)
    finally:
        shutil.rmtree(rows, ignore_errors=True)
    if written != count:
        raise KgcError(f"Ray answered {written} of {count} records")
    return written


def _pass_rows(options: RayOptions) -> int:
    """Rows in one pass of the chosen engine: the vLLM processor's batch, else ``--batch-size``."""
    return VLLM_BATCH if options.ray_engine == "vllm" else options.batch_size


# the most blocks Ray reads the rows as (its own default floor for a read)
MOST_BLOCKS = 200


def _blocks(files: int, rows: int, batch_size: int) -> int:
    """How many blocks Ray reads the rows as: one pass each where that makes at most ``MOST_BLOCKS``, and
    never fewer than one per file. Left to itself Ray groups small files into a few reads, and a block's
    answers reach OUT only when all of them are done: a kill would lose most of a small run."""
    return max(files, min(-(-rows // max(batch_size, 1)), MOST_BLOCKS))


# rows in one file of the rows folder: what one Ray read holds at a time (KGC_RAY_ROWS_PER_FILE: the tests'
# small files, so that a few records make several)
ROWS_PER_FILE = 4096


def _rows_file(in_path: str, done: int, gold: bool) -> tuple[str, int]:
    """The records after the first ``done`` as Ray's rows (position, instruction; label and task for the
    gold engine), in a temporary folder on this node of JSON-lines files of ``ROWS_PER_FILE`` rows each (a
    Ray read holds one file, not the corpus); and how many there are."""
    import tempfile

    import orjson

    folder = tempfile.mkdtemp(prefix="kgc-ray-rows-")
    per_file = int(os.environ.get("KGC_RAY_ROWS_PER_FILE") or ROWS_PER_FILE)
    count = 0
    handle = None
    try:
        for position, (_, record) in enumerate(itertools.islice(read_jsonl(in_path), done, None), done):
            if count % per_file == 0:
                if handle:
                    handle.close()
                handle = open(os.path.join(folder, f"{count // per_file:08d}.jsonl"), "wb")
            row = {"position": position, INSTRUCTION: record[INSTRUCTION]}
            if gold:
                row.update(label=str(record.get("label")), task=str(record.get("task")))
            handle.write(orjson.dumps(row) + b"\n")
            count += 1
    except BaseException:
        shutil.rmtree(folder, ignore_errors=True)
        raise
    finally:
        if handle:
            handle.close()
    return folder, count
