#!/usr/bin/env bash
# Decode and prefill speed of the Engine, each beside the read bandwidth measured in the same run:
# stories260K (the real model) at 1 and 2 threads, then a seeded synthetic model of stories110M shape in every
# weight format. Usage: bench/decode.sh [OUTDIR]   (JSON results are written to OUTDIR)
set -euo pipefail
root="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
shared="${PARE_SHARED:-$root/../shared}"
out="${1:-$root/.build/bench-decode}"
pare="$root/pare"
mkdir -p "$out"
$pare bench decode --model "$shared/models/stories260K/stories260K.bin" --weights f32,int8 --threads 1,2 --tokens 64 --runs 7 --json > "$out/decode-stories260k.json"
$pare bench prefill --model "$shared/models/stories260K/stories260K.bin" --weights f32 --threads 1,2 --tokens 128 --runs 5 --json > "$out/prefill-stories260k.json"
[ -f "$out/s110m.bin" ] || $pare synth --shape stories110m --seed 1 --out "$out/s110m.bin" --json > /dev/null
$pare bench decode --model "$out/s110m.bin" --weights f32,f16,int8,int4,2:4-int8,sparse-int8 --threads 1,2 --tokens 64 --runs 5 --json > "$out/decode-stories110m.json"
python3 - "$out" <<'PY'
import json, sys, os
for name in ("decode-stories260k", "prefill-stories260k", "decode-stories110m"):
    d = json.load(open(os.path.join(sys.argv[1], name + ".json")))
    print(f"{name}: bandwidth over the run, GB/s by threads: {json.dumps(d.get('bandwidth_gb_per_second', '-'))}")
    for r in d["results"]:
        frac = r.get("fraction_of_bandwidth")
        print(f"  {r['format']:>12} {r['threads']} thr: median {r['tokens_per_second_median']:>10.1f} tok/s, min {r['tokens_per_second_min']:>10.1f}"
              + (f", {frac:.0%} of the {r['bandwidth_gb_per_second']} GB/s probed beside it"
                 f" ({r['fraction_of_run_bandwidth']:.0%} of the run's median)" if frac is not None else ""))
PY
