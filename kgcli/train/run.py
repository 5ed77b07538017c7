"""One training run, top to bottom: output folder → tokenizer → data → model (+ LoRA / prefix / full) →
Trainer → artifacts (weights, tokenizer, kgc_train.json, trainer_log.jsonl, loss.png)."""

from __future__ import annotations

import hashlib
import json
import random
import re
import shutil
import sys
import time
from importlib import metadata
from pathlib import Path
from typing import Any

from kgcli.errors import KgcError, warn
from kgcli.model.adapters import adapter_rank
from kgcli.model.builders import resolve_model_path
from kgcli.model.loading import device, load_model, load_tokenizer, template_of
from kgcli.outputs import (
    check_output_folder,
    honour_umask,
    mark_folder,
    remove_folder,
    write_text_atomic,
)
from kgcli.progress import PlainLines, bar_progress, plain_progress
from kgcli.train.config import WRITER, TrainRequest, deepspeed_config
from kgcli.train.data import Collator, EncodeStats, FlatCollator, Limits, encode_file

LOG_FILE = "trainer_log.jsonl"
CHECKPOINT = re.compile(r"^checkpoint-(\d+)$")


def last_checkpoint(output_dir: Path) -> Path | None:
    found = [(int(m.group(1)),
              p) for p in output_dir.iterdir() if (m := CHECKPOINT.match(p.name)) and p.is_dir()]
    return max(found)[1] if found else None


def prepare_output_dir(request: TrainRequest) -> Path | None:
    """Refuse to mix runs: a non-empty folder needs --resume (continue), --overwrite (start again, in a
    folder an earlier kgc train wrote) or the seed's ``overwrite_output_dir`` (write into it as it is)."""
    out = Path(request.output_dir)
    replace = check_output_folder(str(out), writer=WRITER, overwrite=request.overwrite, resume=request.resume,
                                  into=request.overwrite_output_dir, flag="--output-dir")
    if request.resume:
        checkpoint = last_checkpoint(out) if out.is_dir() else None
        if checkpoint is None:
            raise KgcError("--resume: no checkpoint-* folder to continue from", str(out))
        return checkpoint
    if replace:
        remove_folder(str(out), WRITER)
    mark_folder(str(out), WRITER)
    return None


def sha256_file(path: str) -> str:
    digest = hashlib.sha256()
    with open(path, "rb") as handle:
        for block in iter(lambda: handle.read(1 << 20), b""):
            digest.update(block)
    return digest.hexdigest()


def versions() -> dict[str, str]:
    result = {"python": sys.version.split()[0]}
    for name in ("kgcli", "torch", "transformers", "peft", "accelerate", "bitsandbytes"):
        try:
            result[name] = metadata.version(name)
        except metadata.PackageNotFoundError:
            pass
    return result


def attach_method(model: Any, request: TrainRequest) -> Any:
    """LoRA (fresh or continued), QLoRA, prefix tuning (P-tuning v2) or full fine-tuning."""
    from peft import (
        LoraConfig,
        PeftModel,
        PrefixTuningConfig,
        get_peft_model,
        prepare_model_for_kbit_training,
    )

    from kgcli.model.families import family_targets

    preset = request.preset
    if preset.finetuning_type == "full":
        for parameter in model.parameters():
            parameter.requires_grad = True
        return model
    if preset.finetuning_type == "ptuning":
        return get_peft_model(model, PrefixTuningConfig(task_type="CAUSAL_LM",
                                                        num_virtual_tokens=preset.pre_seq_len))
    if preset.bits in (4, 8):
        model = prepare_model_for_kbit_training(model, use_gradient_checkpointing=False)
    adapters = list(request.adapters)
    for earlier in adapters[:-1]:  # into a 16-bit base only (validate.check_launch)
        model = PeftModel.from_pretrained(model, earlier).merge_and_unload()
    if adapters:
        model = PeftModel.from_pretrained(model, adapters[-1], is_trainable=True)
        saved = model.peft_config["default"]
        for field, value in (("lora_r", saved.r), ("lora_alpha", saved.lora_alpha)):
            if getattr(preset, field) != value:
                request.notes.append(f"continuing {adapters[-1]}: its saved {field} {value} is used, not the "
                                     "preset's "
                                     f"{getattr(preset, field)}")
        return model
    targets = preset.resolved_targets(family_targets(preset.family))
    config = LoraConfig(task_type="CAUSAL_LM", r=preset.lora_r, lora_alpha=preset.lora_alpha,
                        lora_dropout=preset.lora_dropout,
                        target_modules="all-linear" if targets == ["all"] else targets)
    return get_peft_model(model, config)


def _split_validation(examples: list, size: int, seed: int) -> tuple[list, list]:
    if size <= 0:
        return examples, []
    if size >= len(examples):
        raise KgcError(f"--val-size {size} leaves no training example (there are {len(examples)})")
    order = list(range(len(examples)))
    random.Random(seed).shuffle(order)
    held = set(order[:size])
    return [e for i, e in enumerate(examples) if i not in held], [examples[i] for i in sorted(held)]


def plot_loss(log_path: Path, out_path: Path) -> None:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    train, valid = [], []
    for line in log_path.read_text(encoding="utf-8").splitlines():
        row = json.loads(line)
        if "loss" in row:
            train.append((row["step"], row["loss"]))
        if "eval_loss" in row:
            valid.append((row["step"], row["eval_loss"]))
    figure, axis = plt.subplots(figsize=(6, 4))
    if train:
        axis.plot(*zip(*train, strict=True), label="training loss")
    if valid:
        axis.plot(*zip(*valid, strict=True), marker="o", label="validation loss")
    axis.set_xlabel("step")
    axis.set_ylabel("loss")
    axis.legend()
    figure.tight_layout()
    figure.savefig(out_path, dpi=100)
    plt.close(figure)


def make_callback(log_path: Path, collator: Collator) -> Any:
    """Writes trainer_log.jsonl (step, loss, learning rate, tokens/s, eta) and drives a progress bar."""
    from transformers import TrainerCallback

    class KgcCallback(TrainerCallback):
        def __init__(self) -> None:
            self.start = time.perf_counter()
            self.tokens_at_start = 0
            self.bar = None
            self.plain = PlainLines() if plain_progress() else None

        def on_train_begin(self, args, state, control, **kwargs):
            self.start, self.tokens_at_start = time.perf_counter(), collator.tokens_seen
            self.first_step = state.global_step
            # Where the time goes: the first step (kernel selection, allocator warm-up) apart, the other
            # steps' own time and tokens, and what happens between steps (evaluation, checkpoints, logs).
            self.clock = {"first_step_seconds": 0.0, "step_seconds": 0.0, "step_tokens": 0}
            self.step_started, self.tokens_before = 0.0, collator.tokens_seen
            if state.is_world_process_zero and bar_progress():
                from rich.console import Console
                from rich.progress import (
                    BarColumn,
                    MofNCompleteColumn,
                    Progress,
                    TextColumn,
                    TimeRemainingColumn,
                )

                self.bar = Progress(TextColumn("[bold]train"), BarColumn(), MofNCompleteColumn(),
                                    TextColumn("{task.fields[info]}"), TimeRemainingColumn(),
                                    console=Console(stderr=True), transient=True)
                self.bar.start()
                self.task = self.bar.add_task("train", total=state.max_steps, completed=state.global_step,
                                              info="")

        def rate(self) -> float:
            elapsed = time.perf_counter() - self.start
            return (collator.tokens_seen - self.tokens_at_start) / elapsed if elapsed > 0 else 0.0

        def on_step_begin(self, args, state, control, **kwargs):
            self.step_started = time.perf_counter()

        def timing(self, seconds: float) -> dict[str, Any]:
            clock = dict(self.clock)
            clock["outside_steps_seconds"] = seconds - clock["first_step_seconds"] - clock["step_seconds"]
            clock["steady_tokens_per_second"] = (round(clock["step_tokens"] / clock["step_seconds"], 1)
                                                 if clock["step_seconds"] else None)
            return {key: round(value, 3) if isinstance(value, float) else value
                    for key, value in clock.items()}

        def on_step_end(self, args, state, control, **kwargs):
            took, tokens = time.perf_counter() - self.step_started, collator.tokens_seen - self.tokens_before
            self.tokens_before = collator.tokens_seen
            if state.global_step == self.first_step + 1:
                self.clock["first_step_seconds"] += took
            else:
                self.clock["step_seconds"] += took
                self.clock["step_tokens"] += tokens
            if self.plain is not None and state.is_world_process_zero:
                loss = next((r["loss"] for r in reversed(state.log_history) if "loss" in r), None)
                done = state.global_step - self.first_step
                left = state.max_steps - state.global_step
                eta = (time.perf_counter() - self.start) / done * left if done else 0
                self.plain.tick(f"train: step {state.global_step}/{state.max_steps}"
                                + (f", loss {loss:.4f}" if loss is not None else "")
                                + f", {self.rate():,.0f} tokens/s, about {eta:.0f} s left",
                                force=state.global_step == state.max_steps)
            if self.bar is not None:
                loss = next((r["loss"] for r in reversed(state.log_history) if "loss" in r), None)
                info = f"loss {loss:.4f}  " if loss is not None else ""
                self.bar.update(self.task, completed=state.global_step,
                                info=f"{info}{self.rate():,.0f} tok/s")

        def on_log(self, args, state, control, logs=None, **kwargs):
            if not state.is_world_process_zero or not logs:
                return
            row = {"step": state.global_step}
            for key in ("loss", "eval_loss", "learning_rate", "grad_norm", "epoch"):
                if key in logs:
                    row[key] = logs[key]
            if "loss" not in row and "eval_loss" not in row:
                return
            done = state.global_step - self.first_step
            elapsed = time.perf_counter() - self.start
            row["tokens_per_second"] = round(self.rate(), 1)
            row["eta_seconds"] = round(elapsed / done * (state.max_steps - state.global_step),
                                       1) if done else None
            with open(log_path, "a", encoding="utf-8") as handle:
                handle.write(json.dumps(row) + "\n")

        def on_train_end(self, args, state, control, **kwargs):
            if self.bar is not None:
                self.bar.stop()

    return KgcCallback()


def train(request: TrainRequest) -> dict[str, Any]:
    """Run the training described by ``request`` (built and checked by ``training_request``) in this
    process; returns a summary."""
    out = Path(request.output_dir)
    created = not out.exists()
    checkpoint = prepare_output_dir(request)
    try:
        return _run(request, checkpoint)
    except BaseException:
        if created and last_checkpoint(out) is None:  # a run that failed early leaves no empty folder
            shutil.rmtree(out, ignore_errors=True)
        raise


def _run(request: TrainRequest, checkpoint: Path | None) -> dict[str, Any]:
    import torch
    from transformers import PrinterCallback, Trainer, TrainingArguments, set_seed

    preset = request.preset
    out = Path(request.output_dir)
    set_seed(preset.seed)
    template = template_of(preset)
    model_path = resolve_model_path(preset.base_model, preset.builder)
    tokenizer = load_tokenizer(model_path, template, preset.trust_remote_code)
    limits = Limits(preset.cutoff_len, preset.max_source_length, preset.max_target_length)
    stats = EncodeStats()
    examples = encode_file(request.train_file, template, tokenizer, limits, stats)
    valid: list = []
    if request.valid_file:
        valid = encode_file(request.valid_file, template, tokenizer, limits, EncodeStats())
    else:
        examples, valid = _split_validation(examples, preset.val_size, preset.seed)
    if stats.shortened or stats.response_cut or stats.dropped:
        warn(f"{stats.shortened} example(s) had their input text shortened to fit cutoff_len "
             f"{preset.cutoff_len} / "
             f"max_source_length {preset.max_source_length}; {stats.response_cut} response(s) cut to "
             f"max_target_length {preset.max_target_length}; {stats.dropped} dropped")
    model = attach_method(load_model(model_path, preset, tokenizer), request)
    start_line(request, model, len(examples), len(valid), stats)
    collator = (FlatCollator if preset.packing else Collator)(tokenizer.pad_token_id)
    model.config.use_cache = False  # training needs no KV cache (and packed batches are masked only without)
    on_gpu = device() != "cpu"
    args = TrainingArguments(
        output_dir=str(out), per_device_train_batch_size=preset.per_device_train_batch_size,
        per_device_eval_batch_size=preset.per_device_eval_batch_size,
        gradient_accumulation_steps=preset.gradient_accumulation_steps,
        num_train_epochs=preset.num_train_epochs,
        max_steps=preset.max_steps, learning_rate=preset.learning_rate, max_grad_norm=preset.max_grad_norm,
        optim=preset.optim, lr_scheduler_type=preset.lr_scheduler_type,
        # transformers 5 reads a float below 1 in warmup_steps as a share of all steps (the old warmup_ratio)
        warmup_steps=preset.warmup_ratio, logging_steps=preset.logging_steps, logging_first_step=True,
        eval_strategy=preset.eval_strategy if valid else "no", eval_steps=preset.eval_steps,
        save_strategy=preset.save_strategy, save_steps=preset.save_steps,
        save_total_limit=preset.save_total_limit,
        bf16=on_gpu and preset.dtype == "bf16" and preset.bits == 16,
        fp16=on_gpu and preset.dtype == "fp16" and preset.bits == 16,
        use_cpu=not on_gpu, report_to=[], remove_unused_columns=False,
        seed=preset.seed, data_seed=preset.seed, dataloader_num_workers=0, disable_tqdm=True,
        deepspeed=None if not request.deepspeed else deepspeed_config(request.deepspeed),
    )
    callback = make_callback(out / LOG_FILE, collator)
    trainer = trainer_class(Trainer, preset)(model=model, args=args, data_collator=collator,
                                             train_dataset=examples, eval_dataset=valid or None,
                                             processing_class=tokenizer, callbacks=[callback])
    trainer.remove_callback(PrinterCallback)  # logs go to trainer_log.jsonl and the progress bar, not stdout
    started = time.perf_counter()
    result = trainer.train(resume_from_checkpoint=str(checkpoint) if checkpoint else None)
    seconds = time.perf_counter() - started
    if not trainer.is_world_process_zero():
        return {}
    model.config.use_cache = True  # a saved full model generates with its cache
    trainer.save_model(str(out))
    tokenizer.save_pretrained(str(out))
    summary = {
        "request": request.resolved(), "model_path": model_path, "versions": versions(),
        "data": {name: {"path": path, "sha256": sha256_file(path)}
                 for name, path in (("train", request.train_file), ("valid", request.valid_file)) if path},
        "examples": {"train": len(examples), "valid": len(valid), "shortened": stats.shortened,
                     "response_cut": stats.response_cut, "dropped": stats.dropped},
        "steps": trainer.state.global_step, "train_loss": result.training_loss,
        "last_loss": _last(trainer.state.log_history, "loss"),
        "eval_loss": _last(trainer.state.log_history, "eval_loss"),
        "seconds": round(seconds, 2), "tokens_per_second": round(collator.tokens_seen / seconds,
                                                                 1) if seconds else None,
        "time": callback.timing(seconds),
        "device": device(), "torch_threads": torch.get_num_threads(),
        "peak_gpu_memory_mb": round(torch.cuda.max_memory_allocated() / 2**20,
                                    1) if torch.cuda.is_available() else None,
        "adapter_rank": adapter_rank(str(out)),
        "quantised_layers": quantised_layers(model),
    }
    write_text_atomic(str(out / "kgc_train.json"), json.dumps(summary, indent=2, ensure_ascii=False) + "\n")
    if (out / LOG_FILE).exists():
        plot_loss(out / LOG_FILE, out / "loss.png")
    honour_umask(str(out))
    for note in request.notes:
        warn(note)
    return summary


def _last(history: list[dict[str, Any]], key: str) -> float | None:
    return next((row[key] for row in reversed(history) if key in row), None)


def planned_steps(preset: Any, examples: int) -> int:
    """The optimizer steps the Trainer will take (its own arithmetic: batches per epoch, then
    accumulation, times the epochs; or max_steps)."""
    import math
    import os

    if preset.max_steps and preset.max_steps > 0:
        return preset.max_steps
    world = int(os.environ.get("WORLD_SIZE", 1))
    batches = math.ceil(examples / (preset.per_device_train_batch_size * world))
    per_epoch = max(1, math.ceil(batches / preset.gradient_accumulation_steps))
    return math.ceil(preset.num_train_epochs * per_epoch)


def start_line(request: TrainRequest, model: Any, examples: int, valid: int, stats: EncodeStats) -> None:
    """What is about to run, in one line, before the first step: data, steps, batch, method, parameters."""
    import os

    from kgcli.errors import say

    if int(os.environ.get("RANK", 0)) != 0:
        return
    preset = request.preset
    trainable = sum(p.numel() for p in model.parameters() if p.requires_grad)
    total = sum(p.numel() for p in model.parameters())
    method = {"lora": f"LoRA r {preset.lora_r}", "ptuning": f"prefix tuning ({preset.pre_seq_len} tokens)",
              "full": "full fine-tuning"}.get(preset.finetuning_type, preset.finetuning_type)
    if preset.bits in (4, 8):
        method = f"QLoRA {preset.bits}-bit, {method}"
    say(f"train: {preset.name}, {examples} example(s) ({stats.shortened} shortened, {stats.dropped} dropped)"
        + (f", {valid} for validation" if valid else "")
        + f"; {planned_steps(preset, examples)} step(s), batch {preset.per_device_train_batch_size}"
          f"×{preset.gradient_accumulation_steps}; {method}: {trainable:,} of {total:,} parameters trainable "
          f"→ {request.output_dir}")
    note = busy_cpu_note()
    if note:
        warn(note)


def busy_cpu_note() -> str | None:
    """On CPU, several torch threads on a machine whose cores are already busy slow training tenfold (the
    threads wait on each other); one thread keeps going. Said once, before the first step, when other
    processes keep cores busy (measured over a moment: the load average counts this process too)."""
    import os

    import torch

    threads, cores = torch.get_num_threads(), os.cpu_count() or 1
    if device() != "cpu" or threads < 2:
        return None
    others = other_processes_cores()
    if others is None or threads + others <= cores + 0.25:
        return None
    return (f"this machine is busy (other processes keep {others:.1f} of its {cores} cores busy) and "
            f"training runs {threads} torch threads, which then wait on each other; KGC_TORCH_THREADS=1 "
            "trains faster beside other work")


def quantised_layers(model: Any) -> dict[str, int]:
    """The layers the run trained on quantised weights, by bitsandbytes class (``Linear4bit``,
    ``Linear8bitLt``): what ``bits`` 4 or 8 did, in the run's record. Empty in 16 bits."""
    from collections import Counter

    found = Counter(type(module).__name__ for module in model.modules()
                    if type(module).__module__.startswith("bitsandbytes"))
    return dict(sorted(found.items()))


def busy_core_seconds() -> float:
    """CPU seconds the whole machine has spent busy (not idle or waiting for IO), from /proc/stat."""
    import os

    with open("/proc/stat", encoding="ascii") as handle:
        fields = [int(v) for v in handle.readline().split()[1:]]
    return (sum(fields[:8]) - fields[3] - fields[4]) / os.sysconf("SC_CLK_TCK")  # minus idle, iowait


def own_core_seconds() -> float:
    import os

    return sum(os.times()[:2])


def other_processes_cores(interval: float = 0.3, *, busy: Any = busy_core_seconds,
                          own: Any = own_core_seconds, clock: Any = time.monotonic,
                          sleep: Any = time.sleep) -> float | None:
    """How many cores other processes keep busy over ``interval`` seconds (None off Linux); the readers
    and the clock are parameters so the arithmetic can be checked without a busy machine."""
    try:
        start_busy, start_own, start = busy(), own(), clock()
        sleep(interval)
        busy_seconds, own_seconds = busy() - start_busy, own() - start_own
        elapsed = clock() - start
    except (OSError, ValueError, IndexError):
        return None
    return max(0.0, busy_seconds - own_seconds) / max(elapsed, 1e-6)


def trainer_class(trainer: Any, preset: Any) -> Any:
    """The Trainer with the preset's ``sampler`` (kgcli.train.sampling): transformers' own length grouping
    orders a small run into blocks of one kind of record."""
    import torch

    from kgcli.train.sampling import ShuffledLengthGroups

    class KgcTrainer(trainer):
        def _get_train_sampler(self, train_dataset=None):
            dataset = train_dataset if train_dataset is not None else self.train_dataset
            if preset.sampler == "random":
                return torch.utils.data.RandomSampler(
                    dataset, generator=torch.Generator().manual_seed(preset.seed))
            return ShuffledLengthGroups([len(example["input_ids"]) for example in dataset],
                                        self.args.train_batch_size, preset.seed)

    return KgcTrainer
