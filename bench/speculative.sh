#!/usr/bin/env bash
# Speculative decoding: measured on stories260K (1 thread, every drafter, with the oracle ceiling), then the cost
# model at the stories110M shape (seeded synthetic weights) on 1 and 2 threads, predicting the speed-up of each
# drafter from the τ measured on stories260K. Usage: bench/speculative.sh [OUTDIR]
set -euo pipefail
root="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
shared="${PARE_SHARED:-$root/../shared}"
out="${1:-$root/.build/bench-speculative}"
pare="$root/pare"
mkdir -p "$out"
$pare bench speculative --model "$shared/models/stories260K/stories260K.bin" --prompts "$shared/data/prompts/story-openings.jsonl" \
  --drafters oracle,lookup,layers=4,int8,int4,2:4 --k 1,2,3,4,5,6,7,8 --repeats 3 --threads 1 --json > "$out/stories260k.json"
$pare bench speculative-cost --model "$shared/models/stories260K/stories260K.bin" --position 128 --drafters int8,layers=4 \
  --tau "$out/stories260k.json" --json > "$out/cost-stories260k.json"
for t in 1 2; do
  $pare bench speculative-cost --synthetic stories110m --threads $t --position 128 --max-k 8 --drafters int8,int4,2:4,layers=4 \
    --repeats 7 --tau "$out/stories260k.json" --json > "$out/cost-stories110m-${t}t.json"
done
python3 - "$out" <<'PY'
import json, sys, os
out = sys.argv[1]
d = json.load(open(os.path.join(out, "stories260k.json")))
print(f"stories260K measured, plain {d['plain']['tokens_per_second']} tok/s")
for r in d["drafters"]:
    print(f"  {r['drafter']:>9} k={r['k']}: tau {r['tau']:.2f} acceptance {r['acceptance']:.3f} speed-up {r['speedup']:.2f}x identical={r['identical_to_plain']}")
for name in ("cost-stories260k", "cost-stories110m-1t", "cost-stories110m-2t"):
    c = json.load(open(os.path.join(out, name + ".json")))
    print(f"{name}: step {c['step_seconds']*1000:.2f} ms; c(n)/c(1) {c['forward_cost']}; drafts {c['draft_cost']}")
    best = max(c.get("predicted", []), key=lambda r: r["predicted_speedup"] if r["drafter"] != "oracle" else 0, default=None)
    if best: print(f"  best predicted (real drafter): {best}")
PY
