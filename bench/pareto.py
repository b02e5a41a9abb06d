#!/usr/bin/env python3
"""Markdown table of bench/pareto.sh's results: perplexity against bytes per parameter, Pareto front marked.
With a second argument PREFIX, also writes PREFIX-file.jsonl and PREFIX-bitmask.jsonl, the points for `pare plot pareto`."""
import json
import os
import sys

rows = [json.loads(line) for line in open(sys.argv[1]) if line.strip()]


def front(points):
    """Indices of points not dominated in (size, ppl): no other point is at most as large and at most as perplexed, one strictly."""
    keep = []
    for i, (s, p) in enumerate(points):
        if not any((s2 <= s and p2 <= p) and (s2 < s or p2 < p) for j, (s2, p2) in enumerate(points) if j != i):
            keep.append(i)
    return set(keep)


params = next(r["compress"]["parameters"] for r in rows if r["family"] == "dense")
for r in rows:
    c = r["compress"]
    r["bpp"] = c.get("bytes_per_parameter")
    if r["bpp"] is None:  # pare prune's report has no size: the file's
        r["bpp"] = os.path.getsize(c["out"]) / params
    r["sparse_bits"] = c.get("sparse_linear_bits_per_weight")
    if r["family"] == "dense":
        r["sparse_bits"] = 32.0
    if r["family"] == "sparsegpt":  # f32 kept values beside a one-bit mask (compressed-tensors sparse-bitmask)
        r["sparse_bits"] = 32.0 * (1 - c["sparsity"]) + 1
    r["ppl"] = r["eval"]["ppl"]
front_file = front([(r["bpp"], r["ppl"]) for r in rows])
front_sparse = front([(r["sparse_bits"] if r["sparse_bits"] is not None else 32.0, r["ppl"]) for r in rows])
print(f"Evaluation: {rows[0]['eval']['windows']} windows of {rows[0]['eval']['window']} tokens ({rows[0]['eval']['tokens_scored']} scored) of {rows[0]['eval']['data']} slice {rows[0]['eval']['slice']}.")
print()
print("| model | method | bits | sparsity | allocation | ppl | GGUF bytes/param | linear bits/weight (bitmask layout) | front (file) | front (bitmask) |")
print("|---|---|---|---|---|---|---|---|---|---|")
for i, r in enumerate(rows):
    sb = r["sparse_bits"]
    print(f"| {r['name']} | {r['family']} | {r['bits']} | {r['sparsity']} | {r['allocation']} | {r['ppl']:.4f} | {r['bpp']:.4f} | "
          f"{'' if sb is None else f'{sb:.3f}'} | {'★' if i in front_file else ''} | {'★' if i in front_sparse else ''} |")

if len(sys.argv) > 2:
    with open(sys.argv[2] + "-file.jsonl", "w") as f:
        for r in rows:
            f.write(json.dumps({"label": r["name"], "series": r["family"], "x": r["bpp"], "y": r["ppl"]}) + "\n")
    with open(sys.argv[2] + "-bitmask.jsonl", "w") as f:
        for r in rows:
            f.write(json.dumps({"label": r["name"], "series": r["family"], "x": r["sparse_bits"], "y": r["ppl"]}) + "\n")
