#!/usr/bin/env bash
# The compression trade-off: TinyStories perplexity against bytes per parameter for every method × pattern × bit
# width — RTN and GPTQ at 8/4/3 bits (groups of 32; 4 bits also in groups of 128 and with act-order), SparseGPT
# pruning alone, prune-then-quantize (SparseGPT, then GPTQ or RTN of the pruned model) and joint SparseGPT + GPTQ
# at 50%, 70%, 80% and 2:4 with 4 bits, and the layer-wise allocations (uniform, OWL, APTC) at 70% and 80% + 4
# bits. Calibration: 128 windows × 256 tokens (seed 0) from the first half of the stories; evaluation: windows of
# 256 over the second half, Engine forward. Every model is written as GGUF (q8_0/q4_0 blocks where the grid is
# GGML's) and kept in OUTDIR for llama.cpp. Writes docs/quantization-pareto.md (table, Pareto front marked) and
# docs/quantization-pareto.png / -bitmask.png (`pare plot pareto`).
# Usage: bench/pareto.sh [OUTDIR]. MODEL, TOKENIZER, DATA point it at another model / text (DATA in TinyStories
# format: stories separated by <|endoftext|>); THREADS evaluation threads; MAX_WINDOWS limits the evaluation.
set -euo pipefail
root="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
shared="${PARE_SHARED:-$root/../shared}"
[ -f "$shared/MANIFEST.md" ] || shared="$root/../../shared"
model="${MODEL:-$shared/models/stories260K/stories260K.bin}"
tok="${TOKENIZER:-$shared/models/stories260K/tok512.bin}"
data="${DATA:-$shared/data/tinystories/TinyStories-valid.head.txt}"
out="${1:-$root/.build/bench-pareto}"
pare="${PARE:-$root/pare}"
threads="${THREADS:-2}"
limit=()
[ -n "${MAX_WINDOWS:-}" ] && limit=(--max-windows "$MAX_WINDOWS")
mkdir -p "$out"
results="$out/results.jsonl"
touch "$results" # configurations already in it are kept (a rerun resumes)
cal=(--tokenizer "$tok" --calibration "$data" --calibration-slice 0:0.5 --samples 128 --seqlen 256 --seed 0 --threads "$threads")

eval_ppl() { $pare eval ppl --model "$1" --tokenizer "$tok" --data "$data" --slice 0.5:1 --window 256 --threads "$threads" "${limit[@]}" --json 2>/dev/null | tr -d '\n'; }
record() { # name family bits sparsity allocation model-file compress-json
  local ppl; ppl=$(eval_ppl "$6")
  echo "{\"name\":\"$1\",\"family\":\"$2\",\"bits\":$3,\"sparsity\":\"$4\",\"allocation\":\"$5\",\"eval\":$ppl,\"compress\":$(python3 -c 'import json,sys; d=json.load(open(sys.argv[1])); d.pop("layers",None); print(json.dumps(d))' "$7")}" >> "$results"
  echo "$1: $(echo "$ppl" | python3 -c 'import json,sys; print(round(json.load(sys.stdin)["ppl"], 4))')" >&2
}
have() { grep -q "^{\"name\":\"$1\"" "$results"; }

if ! have dense; then
  $pare info --model "$model" --json > "$out/dense.info.json"
  python3 -c 'import json,sys,os; i=json.load(open(sys.argv[1])); print(json.dumps({"parameters":i["parameters"],"file_bytes":os.path.getsize(sys.argv[2]),"bytes_per_parameter":os.path.getsize(sys.argv[2])/i["parameters"]}))' "$out/dense.info.json" "$model" > "$out/dense.json"
  record dense dense 32 0 - "$model" "$out/dense.json"
fi
for m in rtn gptq; do
  for spec in "8 32" "4 32" "3 32" "4 128" "4 128 act"; do
    set -- $spec
    [ "$m" = rtn ] && [ "${3:-}" = act ] && continue
    name="$m-w$1g$2${3:+-act}"
    have "$name" && continue
    args=(--method "$m" --bits "$1" --group "$2")
    [ -n "${3:-}" ] && args+=(--act-order)
    if [ "$m" = rtn ]; then $pare quantize --model "$model" --tokenizer "$tok" "${args[@]}" --out "$out/$name.gguf" --json 2>/dev/null > "$out/$name.json"
    else $pare quantize --model "$model" "${args[@]}" "${cal[@]}" --out "$out/$name.gguf" --json 2>/dev/null > "$out/$name.json"; fi
    record "$name" "$m" "$1" 0 uniform "$out/$name.gguf" "$out/$name.json"
  done
done
for s in 0.5 2:4 0.7 0.8; do
  tag="${s/:/of}"
  if ! have "sparsegpt-$tag"; then
    $pare prune --model "$model" --method sparsegpt --sparsity "$s" "${cal[@]}" --out "$out/sparsegpt-$tag.gguf" --json 2>/dev/null > "$out/sparsegpt-$tag.json"
    record "sparsegpt-$tag" sparsegpt 32 "$s" uniform "$out/sparsegpt-$tag.gguf" "$out/sparsegpt-$tag.json"
  fi
  for q in gptq rtn; do
    name="prune-then-$q-$tag-w4"
    have "$name" && continue
    if [ "$q" = rtn ]; then $pare quantize --model "$out/sparsegpt-$tag.gguf" --tokenizer "$tok" --method rtn --bits 4 --group 32 --out "$out/$name.gguf" --json 2>/dev/null > "$out/$name.json"
    else $pare quantize --model "$out/sparsegpt-$tag.gguf" --method gptq --bits 4 --group 32 "${cal[@]}" --out "$out/$name.gguf" --json 2>/dev/null > "$out/$name.json"; fi
    record "$name" "prune-then-$q" 4 "$s" uniform "$out/$name.gguf" "$out/$name.json"
  done
  for alloc in uniform owl aptc; do
    [ "$alloc" != uniform ] && [ "$s" != 0.7 ] && [ "$s" != 0.8 ] && continue
    name="joint-$tag-w4-$alloc"
    have "$name" && continue
    $pare quantize --model "$model" --method gptq --bits 4 --group 32 --sparsity "$s" --allocation "$alloc" "${cal[@]}" --out "$out/$name.gguf" --json 2>/dev/null > "$out/$name.json"
    record "$name" joint 4 "$s" "$alloc" "$out/$name.gguf" "$out/$name.json"
  done
done
python3 "$root/bench/pareto.py" "$results" "$out/points" > "$root/docs/quantization-pareto.md"
$pare plot pareto --points "$out/points-file.jsonl" --out "$root/docs/quantization-pareto.png" --title "$(basename "$model"): perplexity against GGUF file size" \
  --x-label "bytes per parameter (GGUF file)" --json > /dev/null
$pare plot pareto --points "$out/points-bitmask.jsonl" --out "$root/docs/quantization-pareto-bitmask.png" --title "$(basename "$model"): perplexity against decoder-linear bits (bitmask layout)" \
  --x-label "bits per decoder-linear weight, kept codes + 1-bit mask + scales" --json > /dev/null
cat "$root/docs/quantization-pareto.md"
