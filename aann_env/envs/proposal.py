"""The proposal formulation: a policy chooses which of K candidate swaps to try.

After every step (and at reset) the env draws K legal swaps from its generator: uniformly over
the first neighbours of one layer (``proposal_layer``: a layer name, or ``"last"``, the output
layer) or of the whole network (``"all"``). The action is the index of the candidate to try; the
env scores only that swap (one evaluation) and commits it unless the accept rule refuses. The
baseline is a uniform choice among the same candidates.

Each candidate is described by ``L + 8`` features that cost no evaluation (``L`` layers), all in
[-1, 1], for a swap that moves the weight ``v`` (+1 or -1) from unit ``o1``, input ``i1`` to unit
``o2``, input ``i2`` (an input is a feature of a linear layer, a channel of a conv):

| index | feature |
|---|---|
| ``0 .. L-1`` | the layer, one-hot |
| ``L + 0`` | the sign ``v`` |
| ``L + 1`` | 1 if both weights feed the same unit, else -1 |
| ``L + 2``, ``L + 3`` | ``o1`` and ``o2`` scaled to [-1, 1] |
| ``L + 4``, ``L + 5`` | tanh(2 * mean of input ``i1``), the same for ``i2`` (over the evaluation set) |
| ``L + 6`` | output layer only: tanh(SIGNAL_SCALE * v * (mean of input ``i2`` over class ``o2``'s samples - its mean)): how much the moved weight adds to the right class's logit |
| ``L + 7`` | output layer only: the same for what the move takes from class ``o1`` (with ``-v``, ``i1``) |

The input statistics come from the evaluator's caches
(:meth:`aann_env.evaluation.incremental.IncrementalEvaluator.input_statistics`) and are
recomputed only for the layers a commit changed.
"""

from __future__ import annotations

import numpy as np
from gymnasium import spaces

from aann_env.core.architecture import Architecture

SIGNAL_SCALE = 4.0
"""Class-signal features are multiplied by this before the tanh."""


def n_features(n_layers: int) -> int:
    return n_layers + 8


def observation_space(summary_size: int, n_layers: int, k: int) -> spaces.Box:
    return spaces.Box(-1.0, 1.0, (summary_size + k * n_features(n_layers),), np.float32)


def layer_choice(arch: Architecture, proposal_layer: str) -> int | None:
    """The layer index candidates are drawn from (None: all layers)."""
    if proposal_layer == "all":
        return None
    if proposal_layer == "last":
        return len(arch.layers) - 1
    if proposal_layer not in arch.layer_names:
        raise ValueError(
            f"proposal_layer must be 'last', 'all' or a layer of {arch.layer_names}, got "
            f"{proposal_layer!r}"
        )
    return arch.layer_names.index(proposal_layer)


def candidate_features(
    arch: Architecture,
    swaps: np.ndarray,
    signs: np.ndarray,
    stats: dict[int, tuple[np.ndarray, np.ndarray]],
) -> np.ndarray:
    """The (K, L + 8) float32 features of K candidate swaps (see the module docstring).

    Args:
        arch: The architecture.
        swaps: (K, 3) rows ``(layer, src, dst)``.
        signs: (K,) the sign of the weight each swap moves.
        stats: Per layer index in ``swaps``: ``(mean, class_offset)`` of its inputs.
    """
    n_layers = len(arch.layers)
    out = np.zeros((len(swaps), n_features(n_layers)), dtype=np.float32)
    for row, ((layer, src, dst), v) in enumerate(zip(swaps, signs, strict=True)):
        spec = arch.layers[int(layer)]
        o1, i1 = np.unravel_index(int(src), spec.weight_shape)[:2]
        o2, i2 = np.unravel_index(int(dst), spec.weight_shape)[:2]
        mean, offset = stats[int(layer)]
        top = max(spec.out_features - 1, 1)
        feats = [
            float(v),
            1.0 if o1 == o2 else -1.0,
            2.0 * o1 / top - 1.0,
            2.0 * o2 / top - 1.0,
            np.tanh(2.0 * mean[i1]),
            np.tanh(2.0 * mean[i2]),
        ]
        if int(layer) == n_layers - 1:
            feats += [
                np.tanh(SIGNAL_SCALE * v * offset[o2, i2]),
                np.tanh(-SIGNAL_SCALE * v * offset[o1, i1]),
            ]
        else:
            feats += [0.0, 0.0]
        out[row, int(layer)] = 1.0
        out[row, n_layers:] = feats
    return out
