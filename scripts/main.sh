#!/usr/bin/env bash
# Set up .venv (idempotent), then run the main job.
set -euo pipefail
cd "$(dirname "${BASH_SOURCE[0]}")/.."
bash scripts/setup.sh
exec .venv/bin/aann walk --sparsity 0.8 --steps 10 --seed 0 "$@"
