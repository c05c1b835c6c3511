"""Exact incremental evaluation of bit-swap neighbours: the evaluator, its CPU kernels, and the
score type every caller gets back."""

from aann_env.evaluation.incremental import IncrementalEvaluator
from aann_env.evaluation.scores import SwapScores

__all__ = ["IncrementalEvaluator", "SwapScores"]
