"""Renders bench/pruning-table.sh's results.jsonl as the Markdown perplexity table of docs/pruning.md."""
import json
import sys

rows = [json.loads(line) for line in open(sys.argv[1]) if line.strip()]
dense = next(r for r in rows if r["method"] == "dense")["eval"]["ppl"]
patterns = ["0.5", "0.7", "2:4", "4:8"]
head = {"0.5": "50%", "0.7": "70%", "2:4": "2:4", "4:8": "4:8"}
print(f"dense: {dense:.4f}\n")
print("| method | allocation | " + " | ".join(head[p] for p in patterns) + " |")
print("|---|---|" + "---|" * len(patterns))
for method in ["magnitude", "wanda", "sparsegpt", "gblm"]:
    for allocation in ["uniform", "owl"]:
        cells = []
        for p in patterns:
            r = next((r for r in rows if r["method"] == method and r["sparsity"] == p and r["allocation"] == allocation), None)
            cells.append(f"{r['eval']['ppl']:.3f}" if r else "–")
        print(f"| {method} | {allocation} | " + " | ".join(cells) + " |")
