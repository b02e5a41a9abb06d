#!/usr/bin/env bash
# The table of docs/token-pruning.md: dense, ShortGPT, BlockPruner and FTP on stories260K at 20% and 40% sparsity of
# block compute. Calibration and router training on the first half of the TinyStories head slice; perplexity
# (TinyStories protocol, windows of 256) on the second half; the cloze tasks from the second half (--limit items).
# Usage: bench/token-pruning-table.sh [OUT_DIR] [LIMIT]   (prints one JSON object per row)
set -euo pipefail
cd "$(dirname "$0")/.."
out=${1:-/tmp/pare-token-pruning}
limit=${2:-400}
mkdir -p "$out"
M=../shared/models/stories260K/stories260K.bin
T=../shared/models/stories260K/tok512.bin
D=../shared/data/tinystories/TinyStories-valid.head.txt
row() { # name model [routers]
  local r=()
  [[ -n "${3:-}" ]] && r=(--routers "$3")
  local ppl zs
  ppl=$(./pare eval ppl --model "$2" --tokenizer "$T" --data "$D" --slice 0.5:1 --window 256 --threads 2 "${r[@]}" --json)
  zs=$(./pare eval zeroshot --model "$2" --tokenizer "$T" --tasks tinystories_cloze4,tinystories_cloze --limit "$limit" --threads 2 "${r[@]}" --json)
  jq -nc --arg name "$1" --argjson p "$ppl" --argjson z "$zs" \
    '{row: $name, ppl: $p.ppl, token_sparsity: $p.token_sparsity, cloze4_acc: $z.tasks.tinystories_cloze4.acc, cloze4_acc_per_token: $z.tasks.tinystories_cloze4.acc_per_token, cloze_exact: $z.tasks.tinystories_cloze.acc, cloze_ppl: $z.tasks.tinystories_cloze.ppl}'
}
row dense "$M"
for s in 0.2 0.4; do
  ./pare prune-blocks --model "$M" --method shortgpt --sparsity $s --calibration "$D" --out "$out/shortgpt-$s.bin" --json > "$out/shortgpt-$s.json"
  row "shortgpt $s" "$out/shortgpt-$s.bin"
  ./pare prune-blocks --model "$M" --method blockpruner --sparsity $s --calibration "$D" --threads 2 --out "$out/blockpruner-$s.bin" --json > "$out/blockpruner-$s.json"
  row "blockpruner $s" "$out/blockpruner-$s.bin"
  ./pare route --model "$M" --token-sparsity $s --data "$D" --threads 2 --out "$out/ftp-$s.safetensors" --json > "$out/ftp-$s.json"
  row "ftp $s" "$M" "$out/ftp-$s.safetensors"
done
