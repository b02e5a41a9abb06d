#!/usr/bin/env bash
# MGPP against GMP (same cubic schedule, steps and training tokens, no prior) and against one-shot magnitude and
# SparseGPT at 80% and 90% on stories260K (TinyStories perplexity). Training / calibration text: the first half of the
# shared head slice; evaluation: windows of 256 over the second half (DESIGN.md's TinyStories protocol).
# Rows: magnitude, sparsegpt (one-shot, 128 × 256 calibration windows), gmp, mgpp (the authors' prior: σ₀² = 1e-12,
# σ₁² = 0.05, λ = 1e-7) and mgpp-s0=1e-3 (a spike wide enough to reach the weights near the pruning threshold).
# Usage: bench/mgpp-table.sh [OUTDIR]   (STEPS, LR, BATCH, MAX_WINDOWS, SPARSITIES="0.8 0.9" from the environment)
set -euo pipefail
root="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
shared="${PARE_SHARED:-$root/../shared}"
model="$shared/models/stories260K/stories260K.bin"
tok="$shared/models/stories260K/tok512.bin"
data="$shared/data/tinystories/TinyStories-valid.head.txt"
out="${1:-$root/.build/bench-mgpp}"
pare="${PARE:-$root/pare}"
limit=()
[ -n "${MAX_WINDOWS:-}" ] && limit=(--max-windows "$MAX_WINDOWS")
train=(--train "$data" --train-slice 0:0.5 --steps "${STEPS:-600}" --lr "${LR:-5e-4}" --batch "${BATCH:-8}" --seqlen 256 --seed 0)
mkdir -p "$out"
results="$out/results.jsonl"
touch "$results"
eval_ppl() { $pare eval ppl --model "$1" --tokenizer "$tok" --data "$data" --slice 0.5:1 --window 256 "${limit[@]}" --json 2>/dev/null | tr -d '\n'; }
for sparsity in ${SPARSITIES:-0.8 0.9}; do
  for row in magnitude sparsegpt gmp mgpp mgpp-s0=1e-3; do
    name="$row-$sparsity"
    grep -q "\"name\":\"$name\"" "$results" && continue
    case "$row" in
      magnitude|sparsegpt) args=(--method "$row" --calibration "$data" --calibration-slice 0:0.5 --samples 128 --seqlen 256 --seed 0) ;;
      gmp|mgpp) args=(--method "$row" "${train[@]}") ;;
      mgpp-s0=*) args=(--method mgpp --sigma0 "${row#mgpp-s0=}" "${train[@]}") ;;
    esac
    $pare prune --model "$model" --tokenizer "$tok" "${args[@]}" --sparsity "$sparsity" --out "$out/$name.bin" --threads 1 --json 2>/dev/null > "$out/$name.prune.json"
    ppl=$(eval_ppl "$out/$name.bin")
    echo "{\"name\":\"$name\",\"row\":\"$row\",\"sparsity\":\"$sparsity\",\"eval\":$ppl,\"prune\":$(python3 -c 'import json,sys; r=json.load(open(sys.argv[1])); r.pop("losses",None); r.pop("layers",None); print(json.dumps(r))' "$out/$name.prune.json")}" >> "$results"
    echo "$name: $(echo "$ppl" | python3 -c 'import json,sys; print(round(json.load(sys.stdin)["ppl"], 4))')" >&2
  done
done
python3 - "$results" <<'PY'
import json, sys
rows = [json.loads(l) for l in open(sys.argv[1]) if l.strip()]
sps = sorted({r["sparsity"] for r in rows})
names = list(dict.fromkeys(r["row"] for r in rows))
by = {(r["row"], r["sparsity"]): r for r in rows}
print("| method | " + " | ".join(f"{s} ppl | {s} s" for s in sps) + " |")
print("|---|" + "---|---|" * len(sps))
for n in names:
    cells = []
    for s in sps:
        r = by.get((n, s))
        t = r["prune"].get("train_seconds", r["prune"].get("prune_seconds")) if r else None
        cells += [f"{r['eval']['ppl']:.3f}" if r else "", f"{t:.0f}" if t is not None else ""]
    print(f"| {n} | " + " | ".join(cells) + " |")
PY
