"""Figures of the analyses in :mod:`aann_env.analysis` (the paper's Figs. 3, 4, 9 and 10, family
and ensemble plots)."""

from __future__ import annotations

from pathlib import Path

import numpy as np
from matplotlib.figure import Figure
from matplotlib.ticker import MaxNLocator

from aann_env.analysis.ensemble import RULES, EnsembleCurve
from aann_env.analysis.family import FamilyAnalysis
from aann_env.analysis.neighbours import NeighbourAnalysis
from aann_env.analysis.tsne import NeighbourMap
from aann_env.viz.figure import save_png


def plot_neighbours(analysis: NeighbourAnalysis, out_path: str | Path, title: str = "") -> Path:
    """Histograms of first neighbours' accuracy relative to the original, one panel per layer.

    The original network is the red line at 0 (the paper's Figs. 3 and 9).
    """
    layers = analysis.layers
    fig = Figure(figsize=(4.2 * len(layers), 3.6))
    for i, scores in enumerate(layers):
        ax = fig.add_subplot(1, len(layers), i + 1)
        delta = 100 * (scores.accuracy - analysis.base_accuracy)
        step = 100 / analysis.n_samples  # one image
        lo, hi = min(delta.min(), 0.0), max(delta.max(), 0.0)
        bins = np.arange(lo - step / 2, hi + step, step) if (hi - lo) / step <= 60 else 40
        ax.hist(delta, bins=bins, color="tab:blue", alpha=0.8)
        ax.axvline(0.0, color="red", lw=1.5, label="original")
        s = analysis.layer_summary(scores)
        ax.set_title(
            f"layer {scores.layer}: {len(delta)} neighbours\n"
            f"better {s['better']:.0%}, equal {s['equal']:.0%}, worse {s['worse']:.0%}",
            fontsize=9,
        )
        ax.set_xlabel("accuracy - original (points)")
        ax.xaxis.set_major_locator(MaxNLocator(5))
        if i == 0:
            ax.set_ylabel("first neighbours")
            ax.legend(fontsize=8)
    if title:
        fig.suptitle(title, fontsize=10)
    fig.tight_layout()
    return save_png(fig, out_path)


def plot_distances(analysis: NeighbourAnalysis, out_path: str | Path, title: str = "") -> Path:
    """Accuracy of k-th neighbours against k, relative to the original: mean and 10-90% band.

    One panel per layer, each with its own scale: a conv ``1.0`` walk loses points where an fc
    walk loses hundredths of a point.
    """
    n = len(analysis.distances)
    fig = Figure(figsize=(3.6 * n, 3.4))
    for i, d in enumerate(analysis.distances):
        ax = fig.add_subplot(1, n, i + 1)
        rows = analysis.distance_summary(d)
        k = [r["k"] for r in rows]
        base = analysis.base_accuracy
        ax.plot(k, [100 * (r["mean_accuracy"] - base) for r in rows], marker="o", label="mean")
        ax.fill_between(
            k,
            [100 * (r["q10_accuracy"] - base) for r in rows],
            [100 * (r["q90_accuracy"] - base) for r in rows],
            alpha=0.2,
            label="10-90%",
        )
        ax.axhline(0.0, color="red", lw=1, label="original")
        ax.set_title(f"layer {d.layer}", fontsize=9)
        ax.set_xlabel("k (Hamming distance 2k)")
        if i == 0:
            ax.set_ylabel("accuracy - original (points)")
            ax.legend(fontsize=8)
    fig.suptitle(title or "k-th neighbours along random walks", fontsize=10)
    fig.tight_layout()
    return save_png(fig, out_path)


def plot_tsne(nmap: NeighbourMap, out_path: str | Path, title: str = "") -> Path:
    """The map in 3-D with accuracy as height (Figs. 4 and 10), and seen from above."""
    fig = Figure(figsize=(10.5, 4.4))
    acc = 100 * nmap.accuracy
    # A few ruinous neighbours (conv 1.0) would take the whole colour range: clip to 2-100%.
    low, high = np.percentile(acc, 2), acc.max()
    ax3 = fig.add_subplot(1, 2, 1, projection="3d")
    ax3.scatter(nmap.xy[:, 0], nmap.xy[:, 1], acc, c=acc, cmap="viridis", s=4, vmin=low, vmax=high)  # type: ignore[misc]
    ax3.set_xlabel("t-SNE 1")
    ax3.set_ylabel("t-SNE 2")
    ax3.set_zlabel("accuracy (%)")  # type: ignore[attr-defined]
    ax = fig.add_subplot(1, 2, 2)
    sc = ax.scatter(nmap.xy[:, 0], nmap.xy[:, 1], c=acc, cmap="viridis", s=5, vmin=low, vmax=high)
    fig.colorbar(
        sc,
        ax=ax,
        label=f"accuracy (%), original {100 * nmap.base_accuracy:.2f}\n(colours clipped below the 2nd percentile)",
    )
    ax.set_xlabel("t-SNE 1")
    ax.set_ylabel("t-SNE 2")
    fig.suptitle(
        title
        or f"layer {nmap.layer}: {len(acc)} first neighbours ({nmap.representation} representation)",
        fontsize=10,
    )
    fig.tight_layout()
    return save_png(fig, out_path)


def plot_family(family: FamilyAnalysis, out_path: str | Path, split: str = "test") -> Path:
    """Architecturally distinct, functionally similar: accuracies, Hamming distances, agreement."""
    split = split if split in family.accuracy else next(iter(family.accuracy))
    m = len(family.names)
    labels = [str(i) for i in range(m)]
    fig = Figure(figsize=(14.0, 4.2))
    ax = fig.add_subplot(1, 3, 1)
    width = 0.8 / len(family.accuracy)
    for j, (name, acc) in enumerate(family.accuracy.items()):
        ax.bar(
            np.arange(m) + (j - (len(family.accuracy) - 1) / 2) * width,
            100 * acc,
            width,
            label=name,
        )
    low = min(float(a.min()) for a in family.accuracy.values())
    ax.set_ylim(100 * max(0.0, low - 0.02), 100)
    ax.set_xticks(np.arange(m), labels)
    ax.set_xlabel("member")
    ax.set_ylabel("accuracy (%)")
    ax.legend(fontsize=8)
    ax.set_title("functionally similar: accuracy", fontsize=10)
    panels = (
        (100 * family.hamming / family.n_weights, "% of weights that differ", "architecturally distinct: Hamming distance\n"
         f"(two random members: {100 * family.random_hamming / family.n_weights:.1f}%)"),
        (100 * family.agreement[split], f"% of {split} images with the same prediction",
         "functionally similar: agreement"),
    )  # fmt: skip
    for i, (matrix, label, title) in enumerate(panels):
        ax = fig.add_subplot(1, 3, i + 2)
        im = ax.imshow(matrix, cmap="viridis")
        fig.colorbar(im, ax=ax, label=label)
        ax.set_xticks(np.arange(m), labels)
        ax.set_yticks(np.arange(m), labels)
        ax.set_title(title, fontsize=10)
        if m <= 12:
            for a in range(m):
                for b in range(m):
                    ax.text(
                        b, a, f"{matrix[a, b]:.1f}", ha="center", va="center", fontsize=6, color="w"
                    )
    fig.tight_layout()
    return save_png(fig, out_path)


def plot_ensemble(curve: EnsembleCurve, out_path: str | Path, split: str = "test") -> Path:
    """Ensemble accuracy against size: mean over subsets with min-max band, and the ranked one."""
    fig = Figure(figsize=(5.8, 4.0))
    ax = fig.add_subplot()
    for rule, colour in zip(RULES, ("tab:blue", "tab:orange"), strict=True):
        rows = [r for r in curve.rows if r["rule"] == rule]
        sizes = [r["size"] for r in rows]
        ax.plot(
            sizes, [100 * r["mean"] for r in rows], marker="o", color=colour, label=f"{rule}: mean"
        )
        ax.fill_between(sizes, [100 * r["min"] for r in rows], [100 * r["max"] for r in rows],
                        color=colour, alpha=0.15)  # fmt: skip
        ax.plot(sizes, [100 * r["ranked"] for r in rows], ls="--", marker="x", color=colour,
                label=f"{rule}: best by validation")  # fmt: skip
    ax.axhline(100 * curve.member_accuracy.max(), color="grey", lw=1, label="best single member")
    ax.set_xscale("log", base=2)
    ax.set_xlabel("ensemble size")
    ax.set_ylabel(f"{split} accuracy (%)")
    ax.legend(fontsize=8)
    ax.set_title(f"ensembles of {len(curve.names)} members", fontsize=10)
    fig.tight_layout()
    return save_png(fig, out_path)
