#!/usr/bin/env bash
# Cost of SDS beside SparseGPT at the stories110M shape: one decoder layer is enough (SDS works layer by layer, so the
# whole model costs about n_layers times this), so the model is a seeded synthetic 1-layer model with stories110M's
# dimensions (dim 768, hidden 2048, 12 heads, vocab 32000). Calibration: 128 × 256 tokens from the first half of the
# head slice, Llama-2 vocabulary. Rows: SparseGPT 2:4 alone, and SDS over it with SDS_STEPS re-dense steps (default
# 200, batch 8). Seeded weights make the perplexity meaningless here; time and peak RSS are what count.
# MGPP and GMP train the whole model, so they run on the full 12-layer stories110M shape for MGPP_STEPS steps
# (default 10) of 4 windows × 256 tokens: the per-step time and the peak RSS of whole-model AdamW training.
# Usage: bench/sds-cost.sh [OUTDIR]   (THREADS, SDS_STEPS, MGPP_STEPS from the environment)
set -euo pipefail
root="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
shared="${PARE_SHARED:-$root/../shared}"
out="${1:-$root/.build/bench-sds-cost}"
pare="${PARE:-$root/pare}"
mkdir -p "$out"
model="$out/synth110m-1layer.bin"
[ -f "$model" ] || $pare synth --shape dim=768,hidden=2048,layers=1,heads=12,kv_heads=12,vocab=32000,seq=1024 --seed 1 --out "$model" --json > /dev/null
common=(--model "$model" --tokenizer "$shared/tokenizers/llama2/tokenizer.bin" --sparsity 2:4 --calibration "$shared/data/tinystories/TinyStories-valid.head.txt"
  --calibration-slice 0:0.5 --samples 128 --seqlen 256 --seed 0 --threads "${THREADS:-2}")
$pare prune "${common[@]}" --method sparsegpt --out "$out/sparsegpt.bin" --json > "$out/sparsegpt.json"
$pare prune "${common[@]}" --method sds --base sparsegpt --sds-steps "${SDS_STEPS:-200}" --out "$out/sds.bin" --json > "$out/sds.json"
full="$out/synth110m.bin"
[ -f "$full" ] || $pare synth --shape stories110m --seed 1 --out "$full" --json > /dev/null
for m in gmp mgpp; do
  $pare prune --model "$full" --tokenizer "$shared/tokenizers/llama2/tokenizer.bin" --method $m --sparsity 0.8 \
    --train "$shared/data/tinystories/TinyStories-valid.head.txt" --train-slice 0:0.5 --steps "${MGPP_STEPS:-10}" --batch 4 --seqlen 256 \
    --prune-every 2 --threads "${THREADS:-2}" --out "$out/$m.bin" --json > "$out/$m.json"
done
python3 - "$out" <<'PY'
import json, sys, os
for name in ("gmp", "mgpp"):
    r = json.load(open(os.path.join(sys.argv[1], name + ".json")))
    print(f"{name} (stories110M shape, whole model): {r['steps']} steps in {r['train_seconds']:.1f} s ({r['train_seconds'] / r['steps']:.2f} s per step of {r['tokens'] // r['steps']} tokens), total {r['seconds']:.1f} s, peak RSS {r['peak_rss_bytes'] / 2**20:.0f} MiB")
for name in ("sparsegpt", "sds"):
    r = json.load(open(os.path.join(sys.argv[1], name + ".json")))
    extra = ""
    if name == "sds":
        s = r["sds"]; l = r["layers"][0]["sds"]
        extra = f"; {s['steps']} re-dense steps ({r['prune_seconds'] / s['steps']:.2f} s per step including both prunings), layer error {l['first_prune_mse']:.4f} -> {l['final_mse']:.4f}"
    print(f"{name}: pipeline {r['prune_seconds']:.1f} s, total {r['seconds']:.1f} s, peak RSS {r['peak_rss_bytes'] / 2**20:.0f} MiB{extra}")
PY
