#!/usr/bin/env bash
# Set up .venv (idempotent), then run the main job: a SENSE search from a random 80%-sparse MNIST
# net for three minutes. It prints where the best network and the plots went; a second run of
# this script continues the same search (--resume) with the budget raised by another 3 minutes.
set -euo pipefail
cd "$(dirname "${BASH_SOURCE[0]}")/.."
bash scripts/setup.sh
out=${AANN_MAIN_OUT:-runs/main-sense}
if [ -f "$out/config.json" ]; then
  spent=$(.venv/bin/python -c "import json,sys; print(json.load(open(sys.argv[1]))['wall_time'])" "$out/summary.json" 2>/dev/null || echo 0)
  budget=$(.venv/bin/python -c "import sys; print(float(sys.argv[1]) + 180)" "$spent")
  exec .venv/bin/aann search --out "$out" --resume --budget-seconds "$budget" "$@"
fi
# The defaults are the best known configuration: SENSE from a random 80%-sparse MNIST net, scored
# on rotating batches of the training split, the best network selected by validation accuracy.
exec .venv/bin/aann search --budget-seconds 180 --seed 0 --out "$out" "$@"
