"""Family statistics and ensembles on tiny hand-made families and hand-made logits."""

from __future__ import annotations

import numpy as np
import pytest
import torch

from aann_env.analysis import (
    analyze_family,
    check_family,
    ensemble_accuracy,
    ensemble_curve,
    random_pair_hamming,
)
from aann_env.analysis.ensemble import ensemble_predictions
from aann_env.analysis.family import prediction_agreement
from aann_env.core.architecture import MNIST
from aann_env.core.forward import evaluate
from aann_env.core.network import random_network


def _family():
    """A balanced network and two relatives: 2 swaps (Hamming 4) and 3 more (Hamming 6 from b)."""
    a = random_network(MNIST, 0.8, 0, balanced=True)
    rng = np.random.default_rng(1)
    b = a.copy()
    for swap in b.sample_swaps(1, rng, layer="fc"):
        b.apply_swap(swap)
    for swap in b.sample_swaps(1, rng, layer="1.0"):
        b.apply_swap(swap)
    c = b.copy()
    for swap in c.sample_swaps(3, rng, layer="2.0"):
        c.apply_swap(swap)
    return [a, b, c]


def test_balanced_random_networks_of_any_seed_share_one_family():
    nets = [random_network(MNIST, 0.8, s, balanced=True) for s in range(3)]
    check_family(nets, ["0", "1", "2"])
    with pytest.raises(ValueError, match="not in the family"):
        check_family([nets[0], random_network(MNIST, 0.8, 9)], ["balanced", "unbalanced"])


def test_random_pair_hamming_is_the_closed_form():
    net = random_network(MNIST, 0.8, 0, balanced=True)
    expected = sum(
        n * (1 - ((c[0] / n) ** 2 + (c[1] / n) ** 2 + (c[2] / n) ** 2))
        for c in net.family_signature().values()
        for n in [sum(c)]
    )
    assert random_pair_hamming(net) == pytest.approx(expected)
    # Layer fc of a balanced 80%-sparse net: counts (1568, 12544, 1568) of 15680.
    assert net.family_signature()["fc"] == (1568, 12544, 1568)


def test_family_statistics_of_a_hand_made_family():
    nets = _family()
    rng = np.random.default_rng(2)
    pixels = rng.integers(0, 256, size=(20, 28, 28), dtype=np.uint8)
    labels = rng.integers(0, 10, size=20)
    fam = analyze_family(nets, ["a", "b", "c"], {"test": (pixels, labels)})
    # b is 2 swaps from a in two layers; c is 3 swaps (in 2.0) further; swaps touch new positions
    # only if they do not undo each other, so count the differences directly.
    expected = np.array([[n.hamming(o) for o in nets] for n in nets])
    assert (fam.hamming == expected).all()
    assert fam.hamming[0, 1] == 4 and fam.hamming_by_layer["fc"][0, 1] == 2
    assert fam.hamming_by_layer["2.0"][0, 1] == 0
    for i, n in enumerate(nets):
        ev = evaluate(n, pixels, labels)
        assert (fam.accuracy["test"][i], fam.loss["test"][i]) == (ev.accuracy, ev.loss)
    assert (np.diag(fam.agreement["test"]) == 1.0).all()
    s = fam.summary()
    assert s["members"] == 3 and s["hamming_min"] == 4
    with pytest.raises(ValueError, match="at least 2"):
        analyze_family(nets[:1], ["a"], {"test": (pixels, labels)})


def test_prediction_agreement_counts_equal_argmaxes():
    # members x samples x classes; predictions: m0 = [0, 1, 2, 0], m1 = [0, 1, 0, 0], m2 = [1, 1, 2, 2]
    preds = torch.tensor([[0, 1, 2, 0], [0, 1, 0, 0], [1, 1, 2, 2]])
    logits = torch.nn.functional.one_hot(preds, 3).float()
    agree = prediction_agreement(logits)
    assert agree[0, 1] == 0.75 and agree[0, 2] == 0.5 and agree[1, 2] == 0.25


def test_vote_ties_go_to_the_largest_summed_logit():
    # Sample 0: votes 0, 1 (tie) -> summed logits decide class 1. Sample 1: 2 votes for class 2.
    logits = torch.tensor(
        [
            [[3.0, 2.0, 0.0], [0.0, 0.0, 1.0]],
            [[0.0, 4.0, 0.0], [0.0, 0.0, 1.0]],
            [[1.0, 0.0, 0.0], [9.0, 0.0, 0.0]],
        ]
    )
    assert ensemble_predictions(logits[:2], "vote").tolist() == [1, 2]
    # Three members: sample 0 votes 0, 1, 0 -> class 0 although class 1 has the larger sum.
    assert ensemble_predictions(logits, "vote").tolist() == [0, 2]
    assert ensemble_predictions(logits, "logits").tolist() == [1, 0]
    assert ensemble_accuracy(logits, torch.tensor([0, 2]), "vote") == 1.0


def test_ensemble_curve_scores_subsets_and_the_ranked_ensemble():
    rng = np.random.default_rng(3)
    logits = torch.as_tensor(rng.normal(size=(5, 40, 4)), dtype=torch.float32)
    labels = rng.integers(0, 4, size=40)
    curve = ensemble_curve(
        logits, labels, list("abcde"), sizes=(1, 2, 5), ranking=[4, 3, 2, 1, 0], max_subsets=6
    )
    rows = {(r["size"], r["rule"]): r for r in curve.rows}
    member = (logits.argmax(-1) == torch.as_tensor(labels)).double().mean(-1).numpy()
    assert rows[1, "vote"]["subsets"] == 5 and rows[1, "vote"]["mean"] == pytest.approx(
        member.mean()
    )
    assert rows[1, "vote"]["ranked"] == member[4]
    assert rows[2, "logits"]["subsets"] == 6  # C(5, 2) = 10 > 6: random distinct subsets
    assert rows[5, "vote"]["subsets"] == 1
    assert rows[5, "vote"]["mean"] == ensemble_accuracy(logits, torch.as_tensor(labels), "vote")
    with pytest.raises(ValueError, match="sizes must be in 1..5"):
        ensemble_curve(logits, labels, list("abcde"), sizes=(8,))
    with pytest.raises(ValueError, match="permutation"):
        ensemble_curve(logits, labels, list("abcde"), ranking=[0, 0, 1, 2, 3])
