"""Rendering of the env's state: a text summary (``"ansi"``) or an image (``"rgb_array"``)."""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np

from aann_env.core.network import TernaryNetwork


def render_text(
    task: str, step: int, accuracy: float, loss: float, net: TernaryNetwork, last: float | None
) -> str:
    """Per-layer counts of -1, 0 and +1 under a line with the step, accuracy and loss."""
    lines = [
        f"AANN-{task} step {step}: validation accuracy {accuracy:.4f}, loss {loss:.4f}",
    ]
    for name, (neg, zero, pos) in net.family_signature().items():
        lines.append(f"  layer {name:>4}: -1 x {neg:6d}   0 x {zero:6d}   +1 x {pos:6d}")
    if last is not None:
        lines.append(f"  last reward {last:+.4f}")
    return "\n".join(lines) + "\n"


def render_image(net: TernaryNetwork, curve: Sequence[float], accuracy: float) -> np.ndarray:
    """Each layer's weights as a unit-by-input image, then the accuracy curve: (H, W, 3) uint8."""
    from matplotlib.backends.backend_agg import FigureCanvasAgg
    from matplotlib.figure import Figure

    n_layers = net.n_layers
    fig = Figure(figsize=(3 * (n_layers + 1), 3), dpi=64)
    canvas = FigureCanvasAgg(fig)
    for i, spec in enumerate(net.arch.layers):
        ax = fig.add_subplot(1, n_layers + 1, i + 1)
        w = net.weights[spec.name].reshape(spec.out_features, -1)
        ax.imshow(w, cmap="coolwarm", vmin=-1, vmax=1, aspect="auto", interpolation="nearest")
        ax.set_title(f"layer {spec.name}", fontsize=9)
        ax.set_xticks([])
        ax.set_yticks([])
    ax = fig.add_subplot(1, n_layers + 1, n_layers + 1)
    ax.plot(list(curve), color="black")
    ax.set_title(f"accuracy {accuracy:.3f}", fontsize=9)
    ax.set_xlabel("step", fontsize=8)
    fig.tight_layout()
    canvas.draw()
    return np.asarray(canvas.buffer_rgba())[..., :3].copy()  # (H, W, 3) uint8
