#!/usr/bin/env bash
# kgc GPU checks, for a CUDA machine: one script, about 10 minutes on one H100/H200-class GPU. Prints tables.
#   train:   bf16 LoRA and 4-bit QLoRA runs of the smollm2-135m-lora preset on SmolLM2-135M (batch 32, 120
#            steps, no evaluation, no checkpoints): tokens/s over the whole run and over the steady steps
#            (first step and between-step time apart, from kgc_train.json's "time"), model FLOPs utilisation
#            (6 · parameters · steady tokens/s over the chip's dense bf16 peak) and peak GPU memory.
#   predict: the LoRA trained above on 2,048 converted test records through the real `kgc predict` loop:
#            HF one record per generate (on the first 128, the seed's way), HF batched, vLLM streaming with
#            the LoRA, vLLM in slices of 8 (before streaming), vLLM on the merged model, vLLM with
#            --guided-json; samples/s, generated tokens/s, the ratio to HF batched and parse errors.
#   ray:     where ray[data] and vllm are both installed: 512 records through --backend ray (ray.data.llm's
#            vLLM processor) against vLLM streaming (same answers?).
#   extract: 400 documents through `kgc extract --backend vllm` with that LoRA: chunks per second start to
#            end, and the same job with --backend gold (kgc's own share).
# Usage: scripts/gpu_check.sh   (PYTHON=python3 with kgcli and vllm installed; KGC_GPU_WORK=<folder> to keep files)
set -euo pipefail
cd "$(dirname "$0")/.."
PY=${PYTHON:-python3}
WORK=${KGC_GPU_WORK:-$(mktemp -d)}
export HF_HUB_OFFLINE=1 TRANSFORMERS_OFFLINE=1 PYTHONPATH="$PWD${PYTHONPATH:+:$PYTHONPATH}" KGC_PLAIN_PROGRESS=0
"$PY" -c "import torch; assert torch.cuda.is_available(), 'no CUDA device'; print('gpu:', torch.cuda.get_device_name(0))"

# A synthetic English NER set: train records, and 2,048 test records.
"$PY" - "$WORK" <<'PYEOF'
import json, random, sys
from kgcli.convert import ConvertConfig, convert_file
work = sys.argv[1]
rng = random.Random(0)
people = ["Alice", "Bob", "Carol", "Dave", "Erin", "Frank", "Grace", "Heidi"]
cities, orgs = ["Paris", "Rome", "Oslo", "Lima", "Kyoto"], ["Acme", "Initech", "Globex", "Umbrella"]
for name, count in (("raw", 1024), ("raw-test", 2048)):
    with open(f"{work}/{name}.json", "w") as out:
        for i in range(count):
            p, c, o = rng.choice(people), rng.choice(cities), rng.choice(orgs)
            filler = " ".join(rng.choice(["the", "report", "said", "many", "people", "agreed"]) for _ in range(rng.randint(3, 40)))
            ents = [{"entity": p, "entity_type": "person"}, {"entity": o, "entity_type": "organization"}, {"entity": c, "entity_type": "city"}]
            out.write(json.dumps({"text": f"{p} joined {o} in {c}; {filler}.", "entity": ents}) + "\n")
open(f"{work}/schema.json", "w").write('["person", "organization", "city"]\n[]\n{}\n')
convert_file(f"{work}/raw.json", f"{work}/train.json", ConvertConfig(task="NER", language="en", schema_path=f"{work}/schema.json", source="gpu"))
convert_file(f"{work}/raw-test.json", f"{work}/test.json", ConvertConfig(task="NER", language="en", split="test", schema_path=f"{work}/schema.json", source="gpu"))
PYEOF

run() {  # name, extra kgc train arguments...
  local name=$1; shift
  "$PY" -m kgcli train --preset smollm2-135m-lora --train-file "$WORK/train.json" --output-dir "$WORK/$name" \
    --overwrite --max-steps 120 --set per_device_train_batch_size=32,logging_steps=20 "$@" >/dev/null
}
run lora-bf16 --dtype bf16
run qlora-4bit --dtype bf16 --set bits=4

"$PY" - "$WORK" <<'PYEOF'
import json, math, sys, torch
from safetensors import safe_open
from kgcli.model.builders import build_smollm2
work = sys.argv[1]
name = torch.cuda.get_device_name(0)
PEAK = {"H200": 989e12, "H100": 989e12, "A100": 312e12, "L40S": 362e12, "L4": 121e12, "A10": 125e12}  # dense bf16
peak = next((v for k, v in PEAK.items() if k in name), None)
with safe_open(f"{build_smollm2()}/model.safetensors", "pt") as f:
    params = sum(math.prod(f.get_slice(k).get_shape()) for k in f.keys())
print(f"SmolLM2-135M: {params / 1e6:.1f} M parameters; {name}: dense bf16 peak {peak / 1e12 if peak else float('nan'):.0f} TFLOP/s")
print(f"{'run':<12} {'steps':>5} {'loss first→last':>18} {'tokens/s (run)':>15} {'steady tokens/s':>16} {'MFU':>6} "
      f"{'first step s':>12} {'between steps s':>15} {'peak GPU MB':>12}")
for run in ("lora-bf16", "qlora-4bit"):
    summary = json.load(open(f"{work}/{run}/kgc_train.json"))
    rows = [json.loads(l) for l in open(f"{work}/{run}/trainer_log.jsonl") if '"loss"' in l]
    clock = summary["time"]
    steady = clock["steady_tokens_per_second"] or 0
    mfu = f"{6 * params * steady / peak:.1%}" if peak else "n/a"
    print(f"{run:<12} {summary['steps']:>5} {rows[0]['loss']:>8.3f} → {rows[-1]['loss']:<7.3f} "
          f"{summary['tokens_per_second']:>15,.0f} {steady:>16,.0f} {mfu:>6} {clock['first_step_seconds']:>12.2f} "
          f"{clock['outside_steps_seconds']:>15.2f} {summary['peak_gpu_memory_mb']:>12,.0f}")
PYEOF

# predict: the LoRA through every way kgc has, on the same records (merged copy for the merged row).
"$PY" -m kgcli merge --preset smollm2-135m-lora --dtype bf16 --adapter "$WORK/lora-bf16" --out "$WORK/merged" --overwrite >/dev/null
"$PY" - "$WORK" <<'PYEOF'
import dataclasses, importlib.util, json, sys, time
from pathlib import Path
from kgcli.model.builders import build_smollm2
from kgcli.predict.base import Sampling, load_setup, open_backend
from kgcli.predict.run import predict_file
from kgcli.model.presets import apply_overrides, load_preset
work = Path(sys.argv[1])
preset = apply_overrides(load_preset("smollm2-135m-lora"), {"dtype": "bf16"})
lora = load_setup(preset, str(build_smollm2()), Sampling(max_new_tokens=64), [str(work / "lora-bf16")])
merged = dataclasses.replace(lora, model_path=str(work / "merged"), adapters=[])
lines = (work / "test.json").read_text().splitlines()
(work / "first128.json").write_text("\n".join(lines[:128]) + "\n")
rows = []
def timed(name, engine, setup, source, **kw):
    out = work / f"pred-{len(rows)}.json"
    start = time.perf_counter()
    predict_file(str(source), str(out), engine.generate, setup.template, setup.tokenizer, cutoff_len=setup.preset.cutoff_len, overwrite=True, **kw)
    seconds = time.perf_counter() - start
    outputs = [json.loads(l)["output"] for l in out.read_text().splitlines()]
    tokens = sum(len(setup.tokenizer.encode(o, add_special_tokens=False)) for o in outputs)
    errors = 0
    for o in outputs:
        try: json.loads(o)
        except ValueError: errors += 1
    rows.append((name, len(outputs), seconds, tokens, errors, outputs))
hf = open_backend("hf", lora)
timed("hf, 1 per generate (128)", hf, lora, work / "first128.json", batch_size=1)
timed("hf, batch 64", hf, lora, work / "test.json", batch_size=64)
hf.close()
if importlib.util.find_spec("vllm") is None:
    print("vllm: not installed on this machine; its rows are skipped")
else:
    engine = open_backend("vllm", lora)
    timed("vllm streaming, LoRA (warm-up)", engine, lora, work / "first128.json", batch_size=8, window=4096)
    rows.pop()
    timed("vllm streaming, LoRA", engine, lora, work / "test.json", batch_size=8, window=4096)
    timed("vllm slices of 8, LoRA", engine, lora, work / "test.json", batch_size=8)
    timed("vllm streaming, LoRA, --guided-json", engine, lora, work / "test.json", batch_size=8, window=4096, guided_json=True)
    engine.close()
    engine = open_backend("vllm", merged)
    timed("vllm streaming, merged", engine, merged, work / "test.json", batch_size=8, window=4096)
    engine.close()
batched = next(r for r in rows if r[0] == "hf, batch 64")
print(f"{'predict (SmolLM2-135M + LoRA, 64 new tokens)':<40} {'records':>7} {'samples/s':>10} {'gen tok/s':>10} {'vs hf batched':>14} {'not JSON':>9} {'same as hf batched':>19}")
for name, count, seconds, tokens, errors, outputs in rows:
    same = sum(a == b for a, b in zip(outputs, batched[5]))
    print(f"{name:<40} {count:>7} {count / seconds:>10.1f} {tokens / seconds:>10,.0f} {(count / seconds) / (batched[1] / batched[2]):>13.2f}x {errors:>9} {same:>12}/{count}")
PYEOF

# ray: ray.data.llm's vLLM processor, where ray and vllm share this Python.
if "$PY" -c "import ray.data.llm, vllm" 2>/dev/null; then
  head -512 "$WORK/test.json" > "$WORK/ray-in.json"
  t0=$(date +%s)
  "$PY" -m kgcli predict "$WORK/ray-in.json" "$WORK/ray.json" --preset smollm2-135m-lora --dtype bf16 --adapter "$WORK/lora-bf16" \
    --max-new-tokens 64 --backend ray --ray-engine vllm --overwrite >/dev/null
  t1=$(date +%s)
  "$PY" -m kgcli predict "$WORK/ray-in.json" "$WORK/vllm.json" --preset smollm2-135m-lora --dtype bf16 --adapter "$WORK/lora-bf16" \
    --max-new-tokens 64 --backend vllm --overwrite >/dev/null
  t2=$(date +%s)
  same=$("$PY" -c "import json,sys; a=[json.loads(l)['output'] for l in open(sys.argv[1])]; b=[json.loads(l)['output'] for l in open(sys.argv[2])]; print(sum(x==y for x,y in zip(a,b)), '/', len(a))" "$WORK/ray.json" "$WORK/vllm.json")
  echo "ray (ray.data.llm vLLM processor): 512 records in $((t1 - t0)) s incl. start-up; vllm backend $((t2 - t1)) s; same answers: $same"
else
  echo "ray: ray[data] and vllm are not both installed here; its row is skipped"
fi

# extract: the main job on the GPU. 400 generated documents (English, about 580 characters each) through
# `kgc extract --backend vllm` with the LoRA trained above, NER: chunks per second start to end (chunking,
# convert, vLLM streaming, the merge), and the same documents with --backend gold (no model) for kgc's own
# share of the time.
if "$PY" -c "import vllm" 2>/dev/null; then
  "$PY" -c "import json, sys; from kgcli.demo.synthetic import make_documents; open(sys.argv[1], 'w').write(''.join(json.dumps(d) + '\n' for d in make_documents(400)))" "$WORK/docs.json"
  t0=$(date +%s.%N)
  "$PY" -m kgcli extract "$WORK/docs.json" "$WORK/extract-vllm.json" --preset smollm2-135m-lora --dtype bf16 \
    --adapter "$WORK/lora-bf16" --task NER --schema "$WORK/schema.json" --language en --backend vllm --overwrite \
    2>"$WORK/extract-vllm.log"
  t1=$(date +%s.%N)
  "$PY" -m kgcli extract "$WORK/docs.json" "$WORK/extract-gold.json" --preset smollm2-135m-lora \
    --task NER --schema "$WORK/schema.json" --language en --backend gold --overwrite 2>"$WORK/extract-gold.log"
  t2=$(date +%s.%N)
  chunks=$(grep -o '[0-9]* chunk(s)' "$WORK/extract-vllm.log" | head -1 | cut -d' ' -f1)
  "$PY" -c "import sys; c, a, b, g = int(sys.argv[1]), float(sys.argv[2]), float(sys.argv[3]), float(sys.argv[4]); print(f'extract (vllm, LoRA, NER): 400 documents, {c} chunks in {b - a:.1f} s = {c / (b - a):.1f} chunks/s start to end; gold answers (no model) {g - b:.1f} s')" \
    "$chunks" "$t0" "$t1" "$t2"
  grep '^extracted:' "$WORK/extract-vllm.log" || true
else
  echo "extract: vllm is not installed here; its row is skipped"
fi
