#!/usr/bin/env bash
# Set up .venv (idempotent), then run the linter, the format check and the whole test suite.
#
# The tests run on every core (pytest-xdist, at most 4 workers; AANN_TEST_WORKERS overrides;
# tests/conftest.py keeps the modules with costly module fixtures on one worker each).
# Arguments go to pytest; one that picks the workers itself (-n 0, -p no:xdist, --pdb) wins,
# e.g. `bash scripts/test.sh -n 0 -x tests/envs` to debug in one process.
set -euo pipefail
cd "$(dirname "${BASH_SOURCE[0]}")/.."
bash scripts/setup.sh
.venv/bin/ruff check .
.venv/bin/ruff format --check .
cores=$(nproc 2>/dev/null || echo 1)
workers=(-n "${AANN_TEST_WORKERS:-$((cores < 4 ? cores : 4))}" --dist loadgroup)
for arg in "$@"; do
  case "$arg" in
    -n | -n* | --numprocesses* | no:xdist | -pno:xdist | --pdb | --trace) workers=() ;;
  esac
done
.venv/bin/python -m pytest ${workers[@]+"${workers[@]}"} "$@"
