#!/usr/bin/env bash
# SDS against its one-shot bases on stories260K (TinyStories perplexity): SparseGPT and Wanda at 2:4, 4:8 and 50%,
# each alone and as SDS's base, with SDS's settings from the environment (SDS_STEPS, SDS_LR, SDS_LAMBDA, SDS_ADJUST).
# Calibration: 128 windows × 256 tokens (seed 0) from the first half of the shared head slice; evaluation: windows of
# 256 over the second half (DESIGN.md's TinyStories protocol). Each row also records prune time and peak RSS.
# Usage: bench/sds-table.sh [OUTDIR]   (MAX_WINDOWS evaluates only the first N windows; CONFIGS="sparsegpt:2:4 ..." narrows)
set -euo pipefail
root="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
shared="${PARE_SHARED:-$root/../shared}"
model="$shared/models/stories260K/stories260K.bin"
tok="$shared/models/stories260K/tok512.bin"
data="$shared/data/tinystories/TinyStories-valid.head.txt"
out="${1:-$root/.build/bench-sds}"
pare="${PARE:-$root/pare}"
limit=()
[ -n "${MAX_WINDOWS:-}" ] && limit=(--max-windows "$MAX_WINDOWS")
sds=(--sds-steps "${SDS_STEPS:-200}" --sds-lr "${SDS_LR:-1e-3}" --sds-lambda "${SDS_LAMBDA:-0.1}" --sds-adjust-steps "${SDS_ADJUST:-0}")
mkdir -p "$out"
results="$out/results.jsonl"
touch "$results"
eval_ppl() { $pare eval ppl --model "$1" --tokenizer "$tok" --data "$data" --slice 0.5:1 --window 256 "${limit[@]}" --json 2>/dev/null | tr -d '\n'; }
for config in ${CONFIGS:-sparsegpt:2:4 wanda:2:4 sparsegpt:4:8 wanda:4:8 sparsegpt:0.5 wanda:0.5}; do
  base="${config%%:*}"; sparsity="${config#*:}"
  for method in "$base" sds; do
    name="$method-$base-${sparsity/:/of}"
    grep -q "\"name\":\"$name\"" "$results" && continue
    args=(--method "$method")
    [ "$method" = sds ] && args+=(--base "$base" "${sds[@]}")
    $pare prune --model "$model" --tokenizer "$tok" "${args[@]}" --sparsity "$sparsity" --calibration "$data" \
      --calibration-slice 0:0.5 --samples 128 --seqlen 256 --seed 0 --out "$out/$name.bin" --threads 1 --json 2>/dev/null > "$out/$name.prune.json"
    ppl=$(eval_ppl "$out/$name.bin")
    echo "{\"name\":\"$name\",\"method\":\"$method\",\"base\":\"$base\",\"sparsity\":\"$sparsity\",\"eval\":$ppl,\"prune\":$(tr -d '\n' < "$out/$name.prune.json")}" >> "$results"
    echo "$name: $(echo "$ppl" | python3 -c 'import json,sys; print(round(json.load(sys.stdin)["ppl"], 4))')" >&2
  done
done
python3 - "$results" <<'PY'
import json, sys
rows = [json.loads(l) for l in open(sys.argv[1]) if l.strip()]
print("| base | sparsity | one-shot ppl | SDS ppl | one-shot s | SDS s | one-shot peak RSS MiB | SDS peak RSS MiB |")
print("|---|---|---|---|---|---|---|---|")
by = {(r["method"], r["base"], r["sparsity"]): r for r in rows}
for (m, b, s), r in by.items():
    if m == "sds": continue
    d = by.get(("sds", b, s))
    f = lambda x, k: "" if x is None else x
    print(f"| {b} | {s} | {r['eval']['ppl']:.3f} | {d['eval']['ppl']:.3f} | {r['prune']['prune_seconds']:.1f} | {d['prune']['prune_seconds']:.1f} | "
          f"{r['prune']['peak_rss_bytes']/2**20:.0f} | {d['prune']['peak_rss_bytes']/2**20:.0f} |" if d else f"| {b} | {s} | {r['eval']['ppl']:.3f} | | | | | |")
PY
