"""Plots of search runs and p-SIREN sweeps (matplotlib's Agg canvas, no pyplot)."""

from aann_env.viz.plots import plot_all, plot_climb, plot_runs, plot_sweep

__all__ = ["plot_all", "plot_climb", "plot_runs", "plot_sweep"]
