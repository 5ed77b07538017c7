"""vLLM engine in its own process (run as ``python -m kgcli.predict.vllm_worker``).

vLLM pins its own torch / transformers, so it usually lives in its own environment (``.venv-vllm``); this
module imports nothing from kgc and talks JSON lines: one config line in, ``{"ready": true}`` out, then one
batch of prompt ids in and one list of answers out, until stdin closes.
"""

from __future__ import annotations

import json
import sys


def _sampling(config: dict, schema: dict | None):
    from vllm import SamplingParams

    kwargs = {"temperature": config["temperature"], "top_p": config["top_p"],
              "max_tokens": config["max_new_tokens"],
              "stop_token_ids": config["stop_token_ids"], "skip_special_tokens": True}
    if schema is not None:
        try:
            from vllm.sampling_params import StructuredOutputsParams

            kwargs["structured_outputs"] = StructuredOutputsParams(json=schema)
        except ImportError:  # older vLLM
            from vllm.sampling_params import GuidedDecodingParams

            kwargs["guided_decoding"] = GuidedDecodingParams(json=schema)
    return SamplingParams(**kwargs)


def main() -> None:
    config = json.loads(sys.stdin.readline())
    from vllm import LLM
    from vllm.inputs import TokensPrompt
    from vllm.lora.request import LoRARequest

    engine = {"model": config["model"], "dtype": config["dtype"], "max_model_len": config["max_model_len"],
              "tensor_parallel_size": config["tensor_parallel_size"], "seed": 0,
              "trust_remote_code": config["trust_remote_code"], "enforce_eager": config["enforce_eager"]}
    if config.get("gpu_memory_utilization"):
        engine["gpu_memory_utilization"] = config["gpu_memory_utilization"]
    if config.get("max_num_seqs"):
        engine["max_num_seqs"] = config["max_num_seqs"]
    lora = None
    if config.get("adapter"):
        engine.update(enable_lora=True, max_lora_rank=config["max_lora_rank"])
        lora = LoRARequest("adapter", 1, config["adapter"])
    llm = LLM(**engine)
    plain = _sampling(config, None)
    print(json.dumps({"ready": True}), flush=True)
    for line in sys.stdin:
        batch = json.loads(line)
        prompts = [TokensPrompt(prompt_token_ids=ids) for ids in batch["prompts"]]
        schemas = batch.get("schemas")
        params = [_sampling(config, s) for s in schemas] if schemas else plain
        results = llm.generate(prompts, params, lora_request=lora, use_tqdm=False)
        print(json.dumps({"outputs": [r.outputs[0].text for r in results]}, ensure_ascii=False), flush=True)


if __name__ == "__main__":
    main()
