#!/usr/bin/env bash
# Decode speed at the TinyLlama-1.1B shape (dim 2048, hidden 5632, 22 layers, 32 heads, 4 kv heads, vocab 32000;
# 1.1B params, 4.4 GB in f32) for f32 and int8 at 2 threads, beside the read bandwidth probed in the same run.
# The synthetic model (seeded random weights, `pare synth`) is written once to /tmp and reused. Takes minutes and
# loads both cores: run it on a quiet machine.
# Usage: bench/tinyllama.sh [OUTDIR]   (MODEL overrides the model path; PARE the CLI command)
set -euo pipefail
root="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
out="${1:-$root/.build/bench-tinyllama}"
model="${MODEL:-/tmp/tinyllama.bin}"
pare="${PARE:-$root/pare}"
mkdir -p "$out"
[ -f "$model" ] || $pare synth --shape tinyllama-1.1b --seed 1 --out "$model" --json > /dev/null
uptime > "$out/uptime-before.txt"
$pare bench decode --model "$model" --weights f32,int8 --threads 2 --tokens 32 --runs 3 --json > "$out/decode-tinyllama.json"
uptime > "$out/uptime-after.txt"
python3 - "$out" <<'PY'
import json, sys, os
out = sys.argv[1]
d = json.load(open(os.path.join(out, "decode-tinyllama.json")))
print(f"{d['shape']}: bandwidth over the run (GB/s by threads) {json.dumps(d['bandwidth_gb_per_second'])}")
for r in d["results"]:
    print(f"  {r['format']:>6} {r['threads']} thr: median {r['tokens_per_second_median']:.2f} tok/s (min {r['tokens_per_second_min']:.2f}),"
          f" {r['bytes_per_token'] / 1e9:.2f} GB/token, {r['effective_gb_per_second']} GB/s = {r['fraction_of_bandwidth']:.0%}"
          f" of the {r['bandwidth_gb_per_second']} GB/s probed beside it")
for f in ("uptime-before.txt", "uptime-after.txt"):
    print(f"{f[:-4]}: {open(os.path.join(out, f)).read().strip()}")
PY
