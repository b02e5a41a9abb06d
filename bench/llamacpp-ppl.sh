#!/usr/bin/env bash
# llama.cpp's own llama-perplexity beside `pare eval ppl --format llama.cpp` (the same protocol on Pare's Engine:
# the file tokenized once with BOS, windows of 256 each starting with BOS, second half of each window scored) for
# every GGUF in a folder (bench/pareto.sh's output; files without an embedded vocabulary are skipped). The text is
# the second half of the TinyStories head slice's stories, one story per line.
# Usage: bench/llamacpp-ppl.sh [GGUF_DIR]   (LLAMA_BIN: llama.cpp's build/bin, default /work/llama.cpp/build/bin;
# PARE the CLI command; THREADS threads for both; ONLY="name1 name2" restricts the run to those GGUF names)
set -euo pipefail
root="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
shared="${PARE_SHARED:-$root/../shared}"
[ -f "$shared/MANIFEST.md" ] || shared="$root/../../shared"
dir="${1:-$root/.build/bench-pareto}"
bin="${LLAMA_BIN:-/work/llama.cpp/build/bin}"
pare="${PARE:-$root/pare}"
threads="${THREADS:-2}"
text="$dir/second-half.txt"
python3 - "$shared/data/tinystories/TinyStories-valid.head.txt" "$text" <<'PY'
import sys
stories = [s.strip() for s in open(sys.argv[1], encoding="utf-8").read().split("<|endoftext|>")]
stories = [s for s in stories if s]
half = stories[int(len(stories) * 0.5):]  # the same split as --slice 0.5:1
open(sys.argv[2], "w", encoding="utf-8").write("\n".join(s.replace("\n", " ") for s in half))
PY
out="$dir/llamacpp-ppl.jsonl"
: > "$out"
for f in "$dir"/*.gguf; do
  name="$(basename "$f" .gguf)"
  [ -n "${ONLY:-}" ] && [[ " $ONLY " != *" $name "* ]] && continue
  ours=$($pare eval ppl --model "$f" --data "$text" --format llama.cpp --window 256 --threads "$threads" --json 2>/dev/null | tr -d '\n') || continue
  theirs=$("$bin/llama-perplexity" -m "$f" -f "$text" -c 256 -b 256 -t "$threads" 2>&1 | grep -o 'Final estimate: PPL = [0-9.]*' | awk '{print $5}') || true
  [ -z "$theirs" ] && { echo "$name: llama.cpp gave no estimate (no vocabulary?)" >&2; continue; }
  echo "{\"name\":\"$name\",\"llama_cpp\":$theirs,\"pare\":$ours}" >> "$out"
  echo "$name: llama.cpp $theirs, pare $(echo "$ours" | python3 -c 'import json,sys; print(round(json.load(sys.stdin)["ppl"], 4))')" >&2
done
python3 - "$out" <<'PY'
import json, sys
rows = [json.loads(l) for l in open(sys.argv[1]) if l.strip()]
print("| model | llama-perplexity | pare eval ppl --format llama.cpp | difference |")
print("|---|---|---|---|")
for r in rows:
    p = r["pare"]["ppl"]
    print(f"| {r['name']} | {r['llama_cpp']:.4f} | {p:.4f} | {100 * (p / r['llama_cpp'] - 1):+.2f}% |")
if rows:
    print(f"\n{rows[0]['pare']['windows']} windows of {rows[0]['pare']['window']} tokens, {rows[0]['pare']['tokens_scored']} scored tokens.")
PY
