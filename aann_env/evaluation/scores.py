"""The one score type: what scoring K candidate swaps returns, to the evaluator's and the env's
callers alike."""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import torch


@dataclass(frozen=True)
class SwapScores:
    """Scores of K candidate swaps on the evaluation set.

    Attributes:
        accuracy: (K,) float64 accuracy of each swapped network.
        loss: (K,) float64 mean cross-entropy of each swapped network.
        n_correct: (K,) int64 number of correctly classified samples.
        logits: (K, N, C) float32 logits, only when asked for.
    """

    accuracy: np.ndarray
    loss: np.ndarray
    n_correct: np.ndarray
    logits: torch.Tensor | None = None
