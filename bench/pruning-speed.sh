#!/usr/bin/env bash
# Time and peak RSS of SparseGPT 2:4 on a seeded synthetic model of stories110M shape (dim 768, hidden 2048,
# 12 layers, vocab 32000; `pare synth`), 128 × 256 calibration tokens from the first half of the TinyStories head
# slice tokenized with the Llama-2 vocabulary. Target (issue 4): under 5 minutes and 3 GB on 2 cores.
# Usage: bench/pruning-speed.sh [OUTDIR]   (PARE overrides the CLI command; THREADS the torch threads, default 2)
set -euo pipefail
root="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
shared="${PARE_SHARED:-$root/../shared}"
[ -f "$shared/MANIFEST.md" ] || shared="$root/../../shared"
out="${1:-$root/.build/bench-pruning}"
pare="${PARE:-$root/pare}"
mkdir -p "$out"
[ -f "$out/synth110m.bin" ] || $pare synth --shape stories110m --seed 1 --out "$out/synth110m.bin" --json > /dev/null
/usr/bin/time -v $pare prune --model "$out/synth110m.bin" --tokenizer "$shared/tokenizers/llama2/tokenizer.bin" \
  --method sparsegpt --sparsity 2:4 --calibration "$shared/data/tinystories/TinyStories-valid.head.txt" --calibration-slice 0:0.5 \
  --samples 128 --seqlen 256 --seed 0 --threads "${THREADS:-2}" --out "$out/synth110m-sparsegpt-2of4.gguf" --json \
  2> "$out/speed.time" > "$out/speed.json"
python3 - "$out/speed.json" "$out/speed.time" <<'PY'
import json, sys
r = json.load(open(sys.argv[1]))
rss = next(l for l in open(sys.argv[2]) if "Maximum resident set size" in l).split(":")[1].strip()
print(f"SparseGPT 2:4, synthetic stories110M shape, {r['samples']}x{r['seqlen']} calibration: total {r['seconds']:.1f} s "
      f"(pruning pipeline {r['prune_seconds']:.1f} s), peak RSS {int(rss) / 1024:.0f} MiB (process report: {r['peak_rss_bytes'] / 2**20:.0f} MiB)")
PY
