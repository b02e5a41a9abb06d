#!/usr/bin/env bash
# Makes the llama.cpp reference for ZeroShotLlamaCppTests: 40 four-choice TinyStories cloze items (second half of the
# head slice, one line each) as an llm-foundry JSONL file and in llama-perplexity's six-lines-per-task hellaswag
# format, then asks llama.cpp which ending it picks for each item. llama-perplexity --hellaswag scores each ending by
# its mean token log-probability and prints only the running accuracy (of tasks it shuffles), so each item runs
# alone four times, with each ending marked gold in turn: the run that scores 100% names the ending it picked.
# Usage: make-llama-cpp-hellaswag.sh PATH/TO/llama-perplexity   (run from the repository root, ../shared beside it)
set -euo pipefail
perplexity=${1:?path to llama-perplexity}
here=tests/Pare.Eval.Tests/data
model=../shared/models/stories260K/stories260K.f32.gguf
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT
./pare eval cloze --data ../shared/data/tinystories/TinyStories-valid.head.txt --slice 0.5:1 --choices 4 --limit 200 --seed 0 --out "$tmp/cloze.jsonl" --json > /dev/null
# One line per context (the format is line-based); short enough that the four endings fit one 512-token context.
jq -c -s '[.[] | select((.query | length) < 1000) | .query |= gsub("\\s+"; " ")] | .[:40][]' "$tmp/cloze.jsonl" > "$here/hellaswag-cloze.jsonl"
jq -r '.query, (.gold | tostring), .choices[]' "$here/hellaswag-cloze.jsonl" > "$here/hellaswag-cloze.txt"
: > "$here/hellaswag-cloze.llama-cpp.txt"
i=0
while IFS= read -r item; do
  picked=-1
  for k in 0 1 2 3; do
    echo "$item" | jq -r --argjson k "$k" '.query, ($k | tostring), .choices[]' > "$tmp/task.txt"
    # On a loaded machine a run now and then ends without its result line; run it again.
    acc=""
    for try in 1 2 3 4 5; do
      acc=$("$perplexity" -m "$model" -f "$tmp/task.txt" --hellaswag --hellaswag-tasks 1 -c 512 -b 512 -t 1 2>&1 | awk -F'\t' '$1 == "1" { print $2 }')
      [[ -n "$acc" ]] && break
    done
    if [[ "$acc" == 100.* ]]; then picked=$k; fi
  done
  echo "$i $picked" >> "$here/hellaswag-cloze.llama-cpp.txt"
  i=$((i + 1))
done < "$here/hellaswag-cloze.jsonl"
echo "wrote $i items"
