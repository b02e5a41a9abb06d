#!/usr/bin/env bash
# Time and peak RSS of GPTQ (4 bits, groups of 32) and joint SparseGPT 2:4 + GPTQ 4-bit on seeded synthetic models
# (`pare synth`) of the stories110M shape and, with SHAPES="stories110m tinyllama-1.1b", the TinyLlama-1.1B shape
# (where SparseGPT 2:4 alone is timed too); 128 × 256 calibration tokens from the first half of the TinyStories head
# slice with the Llama-2 vocabulary; torch on THREADS threads (default 2). Each run is wrapped in flock
# /tmp/bench.lock so no two timed runs overlap. Targets (issue 13): under 30 minutes on 2 cores, peak RSS under the
# model's size + 2 GB.
# Usage: bench/quantize-speed.sh [OUTDIR]   (PARE overrides the CLI command)
set -euo pipefail
root="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
shared="${PARE_SHARED:-$root/../shared}"
[ -f "$shared/MANIFEST.md" ] || shared="$root/../../shared"
out="${1:-$root/.build/bench-quantize-speed}"
pare="${PARE:-$root/pare}"
mkdir -p "$out"
cal=(--tokenizer "$shared/tokenizers/llama2/tokenizer.bin" --calibration "$shared/data/tinystories/TinyStories-valid.head.txt" --calibration-slice 0:0.5
  --samples 128 --seqlen 256 --seed 0 --threads "${THREADS:-2}")
for shape in ${SHAPES:-stories110m}; do
  model="$out/synth-$shape.bin"
  [ -f "$model" ] || $pare synth --shape "$shape" --seed 1 --out "$model" --json > /dev/null
  runs=("gptq-w4:quantize --method gptq --bits 4 --group 32" "joint-2of4-w4:quantize --method gptq --bits 4 --group 32 --sparsity 2:4")
  [ "$shape" = tinyllama-1.1b ] && runs=("sparsegpt-2of4:prune --method sparsegpt --sparsity 2:4" "${runs[@]}")
  for run in "${runs[@]}"; do
    name="$shape-${run%%:*}"
    read -r -a args <<< "${run#*:}"
    flock /tmp/bench.lock /usr/bin/time -v $pare "${args[@]}" --model "$model" "${cal[@]}" --out "$out/$name.gguf" --json 2> "$out/$name.time" > "$out/$name.json"
    rm -f "$out/$name.gguf"
    python3 - "$name" "$model" "$out/$name.json" "$out/$name.time" <<'PY'
import json, os, sys
name, model, rj, rt = sys.argv[1:]
r = json.load(open(rj))
rss = int(next(l for l in open(rt) if "Maximum resident set size" in l).split(":")[1]) * 1024
cpu = sum(float(l.split(":")[1]) for l in open(rt) if l.strip().startswith(("User time", "System time")))
print(json.dumps({"run": name, "model_bytes": os.path.getsize(model), "seconds": r["seconds"], "pipeline_seconds": r.get("prune_seconds"),
                  "cpu_seconds": round(cpu, 1), "peak_rss_bytes": rss, "load_average": os.getloadavg()[0]}))
PY
  done
done | tee "$out/results.jsonl"
