"""``python -m aann_env.evaluation``: compile the CPU kernels into numba's cache once.

numba compiles each kernel on its first call (about 30 s for all of them on a 2-core machine)
and caches the machine code beside the sources. Every process that starts before the cache
exists compiles them again, so ``scripts/setup.sh`` runs this once, and the first search, the
test workers and the processes they start all load the kernels from the cache.
"""

from __future__ import annotations

import sys
import time

import numpy as np


def warm() -> float:
    """Score and commit a swap of every layer of each architecture's net on a few random
    inputs, so that every kernel and signature the searches use is compiled; return the seconds
    taken."""
    from aann_env.core.architecture import ARCHITECTURES
    from aann_env.core.network import random_network
    from aann_env.evaluation.incremental import IncrementalEvaluator

    start = time.perf_counter()
    rng = np.random.default_rng(0)
    for arch in ARCHITECTURES.values():
        pixels = rng.integers(0, 256, (8, *arch.input_shape[1:]), dtype=np.uint8)  # (N, H, W)
        labels = rng.integers(0, arch.n_classes, 8)
        net = random_network(arch, 0.8, 0)
        evaluator = IncrementalEvaluator(net, pixels, labels)
        for layer in net.layer_names:
            swaps = net.sample_swaps(3, rng, layer=layer)
            evaluator.score(swaps)
            evaluator.commit(swaps[0])
    return time.perf_counter() - start


def main() -> int:
    seconds = warm()
    print(f"numba kernels compiled or loaded from the cache ({seconds:.1f} s)")
    return 0


if __name__ == "__main__":
    sys.exit(main())
