"""Named search configurations: the best known one (the default) and the paper's figures.

``aann search`` starts from :data:`DEFAULT` and, with ``--preset NAME``, from ``PRESETS[NAME]``;
any flag given explicitly wins over both. A preset sets fields of
:class:`agents.run.config.SearchConfig` and SENSE's keyword arguments.

| preset | start | scoring | SENSE | paper |
|---|---|---|---|---|
| (default) | random 80% | training split, rotating batches; best network by validation | adaptive schedule, loss, task sizes | - |
| ``paper-fig6`` | p-SIREN 90% | validation split (selection too) | ``alternate``, 10 neighbourhoods per layer, accuracy | Fig. 6 |
| ``paper-fig7`` | p-SIREN 90% | validation split | ``fc``, accuracy | Fig. 7 |
| ``paper-fig8`` | random 80% | validation split | ``random-block`` of 3 neighbourhoods, accuracy | Fig. 8 |

The paper does not give its neighbourhood sizes; its presets use the task's default sizes
(:data:`agents.sense.TASK_NEIGHBORHOODS`).
"""

from __future__ import annotations

from typing import Any

DEFAULT: dict[str, Any] = {
    "init": "random",
    "sparsity": 0.8,
    "score_on": "train",
    "eval_size": 10_000,
    "rotate_every": 200,
    "selection_size": 10_000,
    "sense": {"schedule": "adaptive", "criterion": "loss"},
}
"""The best known configuration (README, "Search that generalises"): what ``aann search`` runs
without flags."""

_PAPER: dict[str, Any] = {
    "score_on": "valid",
    "eval_size": 10_000,
    "rotate_every": None,
    "selection_size": 10_000,
}

PRESETS: dict[str, dict[str, Any]] = {
    "paper-fig6": {
        **_PAPER,
        "init": "psiren",
        "sparsity": 0.9,
        "sense": {"schedule": "alternate", "block": 10, "criterion": "accuracy"},
    },
    "paper-fig7": {
        **_PAPER,
        "init": "psiren",
        "sparsity": 0.9,
        "sense": {"schedule": "fc", "criterion": "accuracy"},
    },
    "paper-fig8": {
        **_PAPER,
        "init": "random",
        "sparsity": 0.8,
        "sense": {"schedule": "random-block", "block": 3, "criterion": "accuracy"},
    },
}
"""The paper's protocols by figure: validation-scored SENSE with the figure's schedule."""


def preset(name: str | None) -> dict[str, Any]:
    """The configuration named ``name`` (None: :data:`DEFAULT`).

    Raises:
        ValueError: No preset has that name.
    """
    if name is None:
        return DEFAULT
    if name not in PRESETS:
        raise ValueError(f"unknown preset {name!r}; presets: {', '.join(PRESETS)}")
    return PRESETS[name]


__all__ = ["DEFAULT", "PRESETS", "preset"]
