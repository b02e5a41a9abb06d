#!/usr/bin/env bash
# Seeded mutation fuzzing of every reader at scale: the suite's ReaderFuzzTests with TOTAL mutants split evenly
# over the readers (default 100,000, seed 20261207). Prints one JSON line per reader and the totals; exits non-zero
# on any crash, hang or oversized allocation. Usage: bench/fuzz.sh [TOTAL] [SEED] [REPORT.jsonl]
# (the report, kept when named, gets each reader's line as soon as that reader is done).
set -euo pipefail
cd "$(dirname "$0")/.."
total=${1:-100000}
seed=${2:-20261207}
dotnet build tests/Pare.Core.Tests -c Release --nologo -clp:ErrorsOnly >&2
if [ -n "${3:-}" ]; then report=$3; : > "$report"; else report=$(mktemp); trap 'rm -f "$report"' EXIT; fi
# Fixtures are rewritten for every mutant: in memory when the machine has a tmpfs.
[ -d /dev/shm ] && [ -w /dev/shm ] && export TMPDIR=/dev/shm
targets=$(dotnet test tests/Pare.Core.Tests -c Release --no-build --nologo --list-tests 2>/dev/null | grep -c 'MutantsLoadOrFailWithAFormatError' || true)
[ "$targets" -gt 0 ] || { echo "no fuzz targets found" >&2; exit 1; }
per=$(( (total + targets - 1) / targets ))
echo "fuzz: $targets readers x $per mutants, seed $seed" >&2
status=0
PARE_FUZZ_CASES=$per PARE_FUZZ_SEED=$seed PARE_FUZZ_REPORT=$report \
  dotnet test tests/Pare.Core.Tests -c Release --no-build --nologo --filter "FullyQualifiedName~ReaderFuzzTests.MutantsLoadOrFailWithAFormatError" >&2 || status=$?
cat "$report"
awk -F'[:,}]' '{ for (i = 1; i < NF; i++) { gsub(/[ "{]/, "", $i); if ($i ~ /^(cases|loaded|format_errors|crashes|hangs|oversized)$/) sum[$i] += $(i + 1) } }
  END { printf "{\"total\": {\"cases\": %d, \"loaded\": %d, \"format_errors\": %d, \"crashes\": %d, \"hangs\": %d, \"oversized\": %d}}\n",
        sum["cases"], sum["loaded"], sum["format_errors"], sum["crashes"], sum["hangs"], sum["oversized"] }' "$report"
exit "$status"
