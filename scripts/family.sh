#!/usr/bin/env bash
# The family of docs/analyses.md: SENSE searches from balanced random 80%-sparse MNIST starts (every
# seed starts in one family), one run directory per seed, an evaluation budget so that the networks
# found do not depend on how busy the machine is. Runs that finished are skipped, a killed one
# resumes. Usage: bash scripts/family.sh [SEEDS [EVALS [OUT]]], default 8 seeds (0..7), 1.5M
# evaluations, runs/family.
set -euo pipefail
cd "$(dirname "${BASH_SOURCE[0]}")/.."
seeds=${1:-8}
evals=${2:-1500000}
out=${3:-runs/family}
for ((s = 0; s < seeds; s++)); do
  run="$out/seed-$s"
  if [ -f "$run/summary.json" ] && .venv/bin/python -c \
    "import json, sys; sys.exit(json.load(open(sys.argv[1]))['evals'] < int(sys.argv[2]))" \
    "$run/summary.json" "$evals"; then
    echo "family: $run is done"
    continue
  fi
  resume=()
  if [ -f "$run/config.json" ]; then resume=(--resume); fi
  .venv/bin/aann search --init balanced --seed "$s" --budget-evals "$evals" --out "$run" \
    --no-progress "${resume[@]}"
done
