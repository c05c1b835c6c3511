"""Exact incremental evaluation of bit-swap neighbours: the evaluator, its CPU kernels, and the
score type every caller gets back."""
