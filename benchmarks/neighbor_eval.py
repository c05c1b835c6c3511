"""Neighbour evaluation throughput: a naive full forward per neighbour vs the incremental evaluator.

Usage::

    .venv/bin/python benchmarks/neighbor_eval.py            # MNIST, 10,000 validation images
    .venv/bin/python benchmarks/neighbor_eval.py --task car # the car net, its validation frames
    .venv/bin/python benchmarks/neighbor_eval.py --split train --eval-size 50000 --naive-batch 1000
    .venv/bin/python benchmarks/neighbor_eval.py --quick    # a smoke run on 500 images

Everything is measured in one run, side by side, on the same random 80%-sparse net of the task:

* **naive**: each neighbour is scored by a full forward pass of the swapped network over the
  evaluation set (:func:`aann_env.core.forward.evaluate`), at the batch size that runs fastest here
  (chosen by trying several in this run).
* **incremental**: :class:`aann_env.evaluation.incremental.IncrementalEvaluator` scoring a batch of
  swaps in one layer, on the CPU with its numba kernels: the tiled output-layer kernel for the
  output layer, the sparse conv kernels (:mod:`aann_env.evaluation.sparse_kernels`) for pooled
  conv layers, the torch code for anything else (the car net's hidden ``fc1``).

Each measurement runs in a child process of its own, so the reported peak memory (the child's
peak resident set, data and caches included) belongs to that measurement alone. When the car
data cache is absent, random frames and labels of the right shape stand in (the speed does not
depend on the values); the table says so.

Where the time goes in a conv ``1.0`` swap (MNIST, random 80%-sparse net). A naive forward pass
costs 0.31e9 (conv 1.0) + 24.6e9 (conv 2.0) + 0.16e9 (fc) = 25.1e9 multiply-adds on 10,000
images, at some 30e9 a second with torch's dense convolutions. The swap changes two of conv
``1.0``'s 16 channels, but only where the moved weight's tap input is nonzero, and after
HardTanh and pooling about 55 of those two channels' 392 pooled outputs per image (14%) change.
The sparse kernel scatters each of them through the 32 x 25 conv ``2.0`` weights that read it
(about 44,000 multiply-adds, in vectors over output channels), re-pools conv ``2.0``'s 1,568
cells and sends the ~500 that change to the fc logits: some 60,000 operations per image, 400
times fewer than the naive pass, but scalar and cache-bound rather than dense, so the measured
ratio is far smaller. A conv ``2.0`` swap changes about 17 pooled outputs per image, which
update 10 logits each.
"""

from __future__ import annotations

import argparse
import dataclasses
import multiprocessing as mp
import queue as queue_module
import resource
import sys
import time
from dataclasses import dataclass

import numpy as np


@dataclass(frozen=True)
class Config:
    task: str = "mnist"
    """Task whose architecture and data are used (``mnist`` or ``car``)."""
    split: str = "valid"
    """Split the evaluation images come from."""
    eval_size: int = 10_000
    """Images to evaluate on (at most the split's size)."""
    sparsity: float = 0.8
    """Sparsity of the random network."""
    seed: int = 0
    """Seed of the network and of the sampled swaps."""
    naive_neighbours: int = 2
    """Neighbours scored by full forward passes per layer."""
    incremental: tuple[tuple[str, int], ...] = (("1.0", 12), ("2.0", 128), ("fc", 4096))
    """(layer, number of swaps) scored incrementally; ``fc`` names the output layer."""
    naive_batches: tuple[int, ...] = (50, 100, 1000)
    """Batch sizes tried for the naive pass; the fastest is used."""
    device: str = "cpu"
    """Torch device."""


def _peak_rss_mib() -> float:
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024  # Linux: KiB


def _car_cache_present() -> bool:
    from aann_env.tasks.cache import default_cache_dir
    from aann_env.tasks.car.dataset import CACHE_SUBDIR

    return any((default_cache_dir() / CACHE_SUBDIR).glob("car-v*.npz"))


def _setup(cfg: Config):
    """The evaluation set (pixels, labels, whether random), the network and the layer names."""
    from aann_env.core.network import random_network
    from aann_env.tasks import get_task

    task = get_task(cfg.task)
    net = random_network(task.arch, cfg.sparsity, cfg.seed, offset=task.offset)
    if cfg.task == "car" and not _car_cache_present():  # never record the data just for this
        rng = np.random.default_rng(cfg.seed)
        pixels = rng.integers(0, 256, (cfg.eval_size, *task.arch.input_shape[1:]), dtype=np.uint8)
        labels = rng.integers(0, task.arch.n_classes, cfg.eval_size)
        return pixels, labels, True, net
    data = task.split(cfg.split).subset(cfg.eval_size)
    return data.pixels, data.labels, False, net


def _layer(net, name: str) -> str:
    """``fc`` stands for the output layer of either architecture."""
    return net.layer_names[-1] if name == "fc" else name


def _measure_naive(cfg: Config, layer: str, queue: mp.Queue) -> None:
    from aann_env.core.forward import evaluate

    pixels, labels, _, net = _setup(cfg)
    layer = _layer(net, layer)
    swaps = net.sample_swaps(cfg.naive_neighbours, np.random.default_rng(cfg.seed + 1), layer=layer)
    best = float("inf")
    best_batch = 0
    for batch in cfg.naive_batches:
        evaluate(
            net, pixels[:batch], labels[:batch], batch_size=batch, device=cfg.device
        )  # warm-up
        start = time.perf_counter()
        for swap in swaps:
            other = net.copy()
            other.apply_swap(swap)
            evaluate(other, pixels, labels, batch_size=batch, device=cfg.device)
        per = (time.perf_counter() - start) / len(swaps)
        if per < best:
            best, best_batch = per, batch
    queue.put((1.0 / best, _peak_rss_mib(), best_batch, len(labels)))


def _measure_incremental(cfg: Config, layer: str, count: int, queue: mp.Queue) -> None:
    from aann_env.evaluation.incremental import IncrementalEvaluator

    pixels, labels, random_data, net = _setup(cfg)
    layer = _layer(net, layer)
    ev = IncrementalEvaluator(net, pixels, labels, device=cfg.device)
    rng = np.random.default_rng(cfg.seed + 2)
    ev.score(net.sample_swaps(2, rng, layer=layer))  # warm-up (kernel compilation, allocator)
    swaps = net.sample_swaps(count, rng, layer=layer)
    start = time.perf_counter()
    ev.score(swaps)
    elapsed = time.perf_counter() - start
    queue.put((count / elapsed, _peak_rss_mib(), random_data))


def _in_child(target, *args, timeout: float = 3600.0) -> tuple:
    """Run one measurement in a fresh process and return what it reports."""
    ctx = mp.get_context("spawn")
    queue = ctx.Queue()
    proc = ctx.Process(target=target, args=(*args, queue))
    proc.start()
    deadline = time.monotonic() + timeout
    while True:
        try:
            result = queue.get(timeout=1.0)
            break
        except queue_module.Empty:
            if not proc.is_alive() or time.monotonic() > deadline:
                proc.terminate()
                raise RuntimeError(
                    f"measurement {target.__name__} failed (exit code {proc.exitcode}); see its traceback above"
                ) from None
    proc.join()
    return result


def run_benchmark(cfg: Config) -> list[dict[str, object]]:
    """Measure every layer; return one row per layer (also printed as a table)."""
    rows = []
    for layer, count in cfg.incremental:
        naive_rate, naive_mem, batch, n = _in_child(_measure_naive, cfg, layer)
        inc_rate, inc_mem, random_data = _in_child(_measure_incremental, cfg, layer, count)
        rows.append(
            {
                "layer": layer,
                "images": n,
                "random_data": random_data,
                "naive_per_s": naive_rate,
                "naive_batch": batch,
                "incremental_per_s": inc_rate,
                "swaps_scored": count,
                "ratio": inc_rate / naive_rate,
                "naive_peak_mib": naive_mem,
                "incremental_peak_mib": inc_mem,
            }
        )
    return rows


def format_table(rows: list[dict[str, object]], cfg: Config) -> str:
    data = "random frames (no car data cache)" if rows and rows[0]["random_data"] else cfg.split
    n = rows[0]["images"] if rows else cfg.eval_size
    lines = [
        f"{cfg.task}, {n} {data} images, random {cfg.sparsity:.0%}-sparse net, device {cfg.device}",
        "",
        "| layer | naive evals/s | incremental evals/s | ratio | peak memory naive / incremental |",
        "|---|---:|---:|---:|---:|",
    ]
    for r in rows:
        lines.append(
            f"| {r['layer']} | {r['naive_per_s']:.2f} (batch {r['naive_batch']}) "
            f"| {r['incremental_per_s']:.1f} ({r['swaps_scored']} swaps) | {r['ratio']:.0f}x "
            f"| {r['naive_peak_mib']:.0f} MiB / {r['incremental_peak_mib']:.0f} MiB |"
        )
    return "\n".join(lines)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--quick", action="store_true", help="a smoke run on 500 images")
    parser.add_argument("--device", default="cpu")
    parser.add_argument("--task", default="mnist", choices=("mnist", "car"))
    parser.add_argument("--split", default="valid", choices=("train", "valid", "test"))
    parser.add_argument("--eval-size", type=int, default=10_000, help="images to evaluate on")
    parser.add_argument(
        "--naive-batch", type=int, help="one batch size for the naive pass (default: the fastest)"
    )
    args = parser.parse_args(argv)
    common = {"task": args.task, "split": args.split, "device": args.device}
    cfg = Config(eval_size=args.eval_size, **common)
    if args.naive_batch:
        cfg = dataclasses.replace(cfg, naive_batches=(args.naive_batch,))
    if args.task == "car":  # its hidden linear layer too
        cfg = dataclasses.replace(
            cfg, incremental=(*cfg.incremental[:2], ("fc1", 128), ("fc", 4096))
        )
    if args.quick:
        cfg = Config(
            eval_size=500,
            naive_neighbours=1,
            incremental=(("1.0", 2), ("2.0", 4), ("fc", 64)),
            naive_batches=(100,),
            **common,
        )
    print(format_table(run_benchmark(cfg), cfg))
    return 0


if __name__ == "__main__":
    sys.exit(main())
