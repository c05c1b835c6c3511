"""Bar charts of contenders compared at several budgets (``aann rl eval``'s plot)."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from pathlib import Path

import numpy as np
from matplotlib.figure import Figure

from aann_env.viz.figure import save_png


def plot_comparison(
    groups: Mapping[str, Mapping[str, Sequence[float]]],
    out_path: str | Path,
    ylabel: str = "final test accuracy",
) -> Path:
    """One group of bars per budget: each contender's mean with its standard deviation.

    Args:
        groups: ``{group label: {contender: values over starts}}``.
        out_path: The PNG to write.
        ylabel: The value's name.
    """
    names = list(dict.fromkeys(n for g in groups.values() for n in g))
    fig = Figure(figsize=(max(6.0, 1.6 * len(groups) * len(names) / 3), 4.0))
    ax = fig.add_subplot()
    width = 0.8 / max(len(names), 1)
    for i, name in enumerate(names):
        means = [np.mean(g[name]) if name in g else np.nan for g in groups.values()]
        stds = [np.std(g[name]) if name in g else 0.0 for g in groups.values()]
        xs = np.arange(len(groups)) + (i - (len(names) - 1) / 2) * width
        ax.bar(xs, means, width, yerr=stds, capsize=3, label=name)
    ax.set_xticks(np.arange(len(groups)), list(groups))
    values = [v for g in groups.values() for vs in g.values() for v in vs]
    if values:
        low = min(values)
        ax.set_ylim(max(0.0, low - 0.05 * (1 - low) - 0.01), 1.0)
    ax.set_ylabel(ylabel)
    ax.legend(fontsize="small", ncol=2)
    ax.grid(axis="y", alpha=0.3)
    fig.tight_layout()
    return save_png(fig, out_path)
