"""Plots of search runs and p-SIREN sweeps (matplotlib's Agg canvas, no pyplot)."""
