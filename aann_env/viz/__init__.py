"""Plots of search runs and p-SIREN sweeps (matplotlib's Agg canvas, no pyplot)."""

from aann_env.viz.compare import plot_comparison
from aann_env.viz.search import plot_all, plot_climb, plot_runs
from aann_env.viz.sweep import plot_sweep

__all__ = ["plot_all", "plot_comparison", "plot_climb", "plot_runs", "plot_sweep"]
