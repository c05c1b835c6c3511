"""Writing figures: matplotlib's Agg canvas straight to PNG, no pyplot, no global backend."""

from __future__ import annotations

from pathlib import Path

from matplotlib.figure import Figure


def save_png(figure: Figure, out_path: str | Path) -> Path:
    """Write ``figure`` as a PNG, creating parent folders."""
    out = Path(out_path)
    out.parent.mkdir(parents=True, exist_ok=True)
    figure.savefig(out, format="png", dpi=120)
    return out
