#!/usr/bin/env bash
# TinyStories perplexity of stories260K after one-shot pruning: dense, and magnitude / Wanda / SparseGPT / GBLM at
# 50%, 70%, 2:4, 4:8, each with uniform and OWL allocation. Calibration: 128 windows × 256 tokens (seed 0) drawn from
# the first half of the stories of the shared head slice (stories [0, 1331)); evaluation: windows of 256 over the
# second half (stories [1331, 2662)), Engine forward, DESIGN.md's TinyStories protocol.
# Usage: bench/pruning-table.sh [OUTDIR]   (PARE overrides the CLI command; THREADS the evaluation threads;
# MAX_WINDOWS evaluates only the first N windows of the second half — all 2,267 by default)
set -euo pipefail
root="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
shared="${PARE_SHARED:-$root/../shared}"
[ -f "$shared/MANIFEST.md" ] || shared="$root/../../shared"
model="$shared/models/stories260K/stories260K.bin"
tok="$shared/models/stories260K/tok512.bin"
data="$shared/data/tinystories/TinyStories-valid.head.txt"
out="${1:-$root/.build/bench-pruning}"
pare="${PARE:-$root/pare}"
threads="${THREADS:-2}"
limit=()
[ -n "${MAX_WINDOWS:-}" ] && limit=(--max-windows "$MAX_WINDOWS")
mkdir -p "$out"
results="$out/results.jsonl"
touch "$results" # configurations already in it are kept (a rerun resumes)
done_already() { grep -q "^{\"method\":\"$1\",\"sparsity\":\"$2\",\"allocation\":\"$3\"" "$results"; }

eval_ppl() { $pare eval ppl --model "$1" --tokenizer "$tok" --data "$data" --slice 0.5:1 --window 256 --threads "$threads" "${limit[@]}" --json 2>/dev/null | tr -d '\n'; }

if ! done_already dense 0 -; then
  dense=$(eval_ppl "$model")
  echo "{\"method\":\"dense\",\"sparsity\":\"0\",\"allocation\":\"-\",\"eval\":$dense}" >> "$results"
fi
for sparsity in 0.5 2:4 0.7 4:8; do
  for method in magnitude wanda sparsegpt gblm; do
    for allocation in uniform owl; do
      done_already "$method" "$sparsity" "$allocation" && continue
      name="$method-${sparsity/:/of}-$allocation"
      $pare prune --model "$model" --tokenizer "$tok" --method "$method" --sparsity "$sparsity" --allocation "$allocation" \
        --calibration "$data" --calibration-slice 0:0.5 --samples 128 --seqlen 256 --seed 0 \
        --out "$out/$name.gguf" --threads 1 --json 2>/dev/null > "$out/$name.prune.json"
      ppl=$(eval_ppl "$out/$name.gguf")
      echo "{\"method\":\"$method\",\"sparsity\":\"$sparsity\",\"allocation\":\"$allocation\",\"eval\":$ppl,\"prune\":$(tr -d '\n' < "$out/$name.prune.json")}" >> "$results"
      echo "$name: $(echo "$ppl" | python3 -c 'import json,sys; print(round(json.load(sys.stdin)["ppl"], 4))')" >&2
      rm -f "$out/$name.gguf"
    done
  done
done
python3 "$root/bench/pruning-table.py" "$results"
