"""A saved car network as a driving policy: one preprocessed frame in, one class out.

:class:`NetworkPolicy` runs the core's exact forward pass (:func:`aann_env.core.forward.forward`) on
one ``(96, 96)`` grey frame and returns the first class with the largest logit, the same rule the
evaluator scores imitation accuracy with; :func:`aann_env.tasks.car.drive.drive` feeds it frames.
"""

from __future__ import annotations

import numpy as np
import torch

from aann_env.core.architecture import CAR
from aann_env.core.forward import forward, to_input, weight_tensors
from aann_env.core.network import TernaryNetwork


class NetworkPolicy:
    """Drive with a ternary car network.

    Args:
        net: A network of the ``car`` architecture.
        device: Torch device of the forward pass.

    Example:
        >>> from aann_env.core.network import random_network
        >>> policy = NetworkPolicy(random_network("car", 0.8, 0, offset=0.5))
        >>> policy(np.zeros((96, 96), dtype=np.uint8)) in (0, 1, 2)
        True
    """

    def __init__(self, net: TernaryNetwork, device: torch.device | str = "cpu") -> None:
        if net.arch != CAR:
            raise ValueError(
                f"a driving policy needs a 'car' network, got a {net.arch.name!r} network"
            )
        self.net = net
        self.device = torch.device(device)
        self._weights = weight_tensors(net, self.device)
        self.counts = np.zeros(net.arch.n_classes, dtype=np.int64)
        """How often each class was chosen."""

    def __call__(self, frame: np.ndarray) -> int:
        with torch.inference_mode():
            x = to_input(np.asarray(frame, dtype=np.uint8)[None], self.net.offset, self.device)
            logits = forward(self.net, x, self._weights)
        choice = int(
            logits[0].argmax()
        )  # the first largest logit, as in aann_env.core.forward.correct
        self.counts[choice] += 1
        return choice
