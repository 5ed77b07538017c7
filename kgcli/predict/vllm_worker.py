"""vLLM engine in its own process (run as ``python -m kgcli.predict.vllm_worker``).

vLLM pins its own torch / transformers, so it usually lives in its own environment (``.venv-vllm``); this
module imports nothing from kgc and talks JSON lines: one config line in, ``{"ready": true}`` out, then one
window of prompt ids in and one list of answers out, until stdin closes (``{"reset_prefix_cache": true}``
in: the prompt cache emptied, ``{"reset": true}`` out). A window goes to ``llm.generate``
whole: vLLM's scheduler keeps up to ``max_num_seqs`` sequences in flight and refills as answers finish.
"""

from __future__ import annotations

import json
import sys

ENGINE_KEYS = ("model", "dtype", "max_model_len", "tensor_parallel_size", "trust_remote_code",
               "enforce_eager", "enable_prefix_caching")


def _sampling(config: dict, schema: dict | None):
    from vllm import SamplingParams

    kwargs = {"temperature": config["temperature"], "top_p": config["top_p"],
              "max_tokens": config["max_new_tokens"],
              "stop_token_ids": config["stop_token_ids"], "skip_special_tokens": True}
    if config.get("seed") is not None:
        kwargs["seed"] = config["seed"]
    if schema is not None:
        try:
            from vllm.sampling_params import StructuredOutputsParams

            kwargs["structured_outputs"] = StructuredOutputsParams(json=schema)
        except ImportError:  # vLLM before 0.11
            from vllm.sampling_params import GuidedDecodingParams

            kwargs["guided_decoding"] = GuidedDecodingParams(json=schema)
    return SamplingParams(**kwargs)


def _die_with_parent() -> None:
    """A killed kgc takes its engines with it (Linux): an orphan would keep its memory (GPU or ~3 GB of RAM
    per CPU engine) while the resumed run starts new engines. kgc starts this worker as the leader of its
    own process group, and vLLM's engine processes join it; when kgc dies (PR_SET_PDEATHSIG, and a watch on
    the parent for when vLLM takes over SIGTERM) the whole group is killed, engine processes included."""
    import ctypes
    import os
    import signal
    import threading
    import time

    parent = os.getppid()
    leader = os.getpgrp() == os.getpid()

    def kill_group(*_: object) -> None:
        if leader:
            os.killpg(os.getpid(), signal.SIGKILL)
        os._exit(1)

    def watch() -> None:
        while os.getppid() == parent:
            time.sleep(1)
        kill_group()

    signal.signal(signal.SIGTERM, kill_group)
    try:
        ctypes.CDLL("libc.so.6", use_errno=True).prctl(1, signal.SIGTERM)  # PR_SET_PDEATHSIG
    except (OSError, AttributeError):
        pass
    if os.getppid() != parent:  # the parent died before the request took effect
        kill_group()
    threading.Thread(target=watch, daemon=True).start()


def main() -> None:
    _die_with_parent()
    config = json.loads(sys.stdin.readline())
    from vllm import LLM
    from vllm.inputs import TokensPrompt
    from vllm.lora.request import LoRARequest

    engine = {key: config[key] for key in ENGINE_KEYS if key in config}
    engine["seed"] = 0
    for optional in ("gpu_memory_utilization", "max_num_seqs"):
        if config.get(optional):
            engine[optional] = config[optional]
    lora = None
    if config.get("adapter"):
        engine.update(enable_lora=True, max_lora_rank=config["max_lora_rank"])
        lora = LoRARequest("adapter", 1, config["adapter"])
    llm = LLM(**engine)
    plain = _sampling(config, None)
    print(json.dumps({"ready": True}), flush=True)
    for line in sys.stdin:
        window = json.loads(line)
        if window.get("reset_prefix_cache"):
            llm.reset_prefix_cache()
            print(json.dumps({"reset": True}), flush=True)
            continue
        prompts = [TokensPrompt(prompt_token_ids=ids) for ids in window["prompts"]]
        schemas = window.get("schemas")
        params = [_sampling(config, s) for s in schemas] if schemas else plain
        results = llm.generate(prompts, params, lora_request=lora, use_tqdm=False)
        print(json.dumps({"outputs": [r.outputs[0].text for r in results]}, ensure_ascii=False), flush=True)


if __name__ == "__main__":
    main()
