"""The neighbourhood of a shipped p-SIREN network, and a family (and ensemble) made of its best neighbours.

The paper's Fig. 3: first neighbours (one bit-swap away) of a backprop-trained network, scored
layer by layer; many in the upper layers beat the original. Here every score is exact (the
incremental evaluator gives what a from-scratch forward pass gives, bit for bit), so the best
neighbours *by validation accuracy* are real networks we can keep. They all belong to the
original's family (same counts of -1, 0 and +1 in every layer), differ from it at 2 positions and
from each other at 2 or 4: architecturally distinct, functionally almost the same. Their
ensemble shows how little that diversity buys; ``docs/analyses.md`` compares it with a family
of independent searches.

Run it with ``python examples/analysis.py`` (about a minute on a laptop CPU).
"""

from __future__ import annotations

from typing import Any

import numpy as np

from aann_env.analysis import analyze_family, analyze_neighbours, ensemble_curve, member_logits
from aann_env.nets import load_psiren
from aann_env.tasks import get_task


def run_analysis(
    *,
    sparsity: float = 0.9,
    neighbours: dict[str, int] | None = None,
    members: int = 8,
    eval_size: int | None = None,
    seed: int = 0,
) -> dict[str, Any]:
    """Score first neighbours of the shipped MNIST p-SIREN net; ensemble the best of them.

    Args:
        sparsity: A level with a shipped network.
        neighbours: First neighbours scored per layer (default 1.0: 100, 2.0: 500, fc: 5000).
        members: How many of the best neighbours form the family.
        eval_size: Validation and test images used (default all 10,000 of each).
        seed: Seed of the neighbours drawn.

    Returns:
        The neighbour analysis, the family (its networks and analysis) and the ensemble curve.
    """
    net = load_psiren("mnist", sparsity)
    task = get_task("mnist")
    valid = task.split("valid").subset(eval_size)
    test = task.split("test").subset(eval_size)
    counts = neighbours or {"1.0": 100, "2.0": 500, "fc": 5000}

    # 1. First neighbours of every layer, scored on the validation images (Fig. 3).
    hood = analyze_neighbours(
        net, valid.pixels, valid.labels, neighbours=counts, layers=list(counts), max_distance=0,
        seed=seed,
    )  # fmt: skip
    print(f"p-SIREN {sparsity:.0%}: validation accuracy {hood.base_accuracy:.4f}")
    for scores in hood.layers:
        s = hood.layer_summary(scores)
        print(
            f"  layer {s['layer']:>3}: {s['neighbours']:5d} of {s['first_neighbours_in_layer']:.2e} "
            f"first neighbours; better {s['better']:6.1%}, equal {s['equal']:6.1%}, "
            f"worse {s['worse']:6.1%}; best {s['max_delta_accuracy']:+.4f}"
        )

    # 2. The best neighbours by validation accuracy (then loss) of all layers form a family.
    swaps = np.concatenate([s.swaps for s in hood.layers])
    acc = np.concatenate([s.accuracy for s in hood.layers])
    loss = np.concatenate([s.loss for s in hood.layers])
    best = np.lexsort((loss, -acc))[:members]
    family = []
    for i in best:
        member = net.copy()
        member.apply_swap(swaps[i])
        family.append(member)
    names = [f"{net.arch.layer_names[swaps[i][0]]}:{swaps[i][1]}->{swaps[i][2]}" for i in best]
    logits = member_logits(family, test.pixels, test.labels)  # (M, N, C)
    fam = analyze_family(
        family, names, {"test": (test.pixels, test.labels)}, logits={"test": logits}
    )
    summary = fam.summary()["test"]
    print(
        f"family of the {members} best neighbours: test accuracy {summary['accuracy_min']:.4f} .. "
        f"{summary['accuracy_max']:.4f}; Hamming distance {fam.summary()['hamming_min']} .. "
        f"{fam.summary()['hamming_max']}; predictions agree on {summary['agreement_mean']:.2%}"
    )

    # 3. Their ensembles on the test images: vote and summed logits against size.
    curve = ensemble_curve(logits, test.labels, names, ranking=list(range(members)), seed=seed)
    for row in curve.rows:
        print(f"  ensemble of {row['size']}, {row['rule']:6s}: test accuracy {row['ranked']:.4f}")
    return {"network": net, "neighbours": hood, "family": family, "analysis": fam, "curve": curve}


if __name__ == "__main__":
    run_analysis()
