"""The hand rule on observation v2, and behaviour cloning from it in `aann rl train --teacher`."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

from aann_env.envs.schedule_v2 import age_feature, rate_feature
from agents.cli import main
from agents.rl.clone import Demonstrations, returns_to_go
from agents.rl.config import RLConfig
from agents.rl.policy import load_policy
from agents.rl.rule import HandRule, parse_rule


def _obs(rates: list[float], ages: list[int | None]) -> np.ndarray:
    feats: list[float] = []
    for rate, age in zip(rates, ages, strict=True):
        feats += [rate_feature(rate), 1.0 if age is None else age_feature(age), 0.0]
    return np.asarray(feats + [0.0] * 5, np.float32)


def test_the_rule_climbs_the_output_layer_then_tries_the_others_then_follows_the_gain() -> None:
    rule = HandRule(1e-7, stale=8)
    fc, conv2, conv1 = 2, 1, 0
    assert rule.act(_obs([0, 0, 0], [None, None, None])) == fc  # nothing tried: the output layer
    assert rule.act(_obs([0, 0, 5e-7], [None, None, 0])) == fc  # fc still above the rate
    assert rule.act(_obs([0, 0, 5e-8], [None, None, 0])) == conv2  # stalled: untried, from the top
    assert rule.act(_obs([0, 3e-8, 5e-8], [None, 0, 1])) == conv1
    assert rule.act(_obs([2e-8, 3e-8, 5e-8], [0, 1, 2])) == fc  # the best gain per cost
    assert rule.act(_obs([9e-8, 3e-8, 5e-8], [2, 9, 0])) == conv2  # stale: tried again
    batch = np.stack([_obs([0, 0, 0], [None] * 3), _obs([0, 0, 5e-8], [None, None, 0])])
    assert rule.predict(batch)[0].tolist() == [fc, conv2]


@pytest.mark.parametrize("name", ["rule", "rule:", "rule:x", "rule:-1", "handoff:1e-7"])
def test_bad_rule_names_are_refused(name: str) -> None:
    with pytest.raises(ValueError, match="rule:RATE"):
        parse_rule(name)


def test_a_teacher_needs_observation_v2_and_one_size_per_layer() -> None:
    one = {"fc": (64,), "2.0": (32,), "1.0": (8,)}
    RLConfig(teacher="rule:1e-7", observation_version=2, neighborhood_sizes=one)
    with pytest.raises(ValueError, match="observation v2 with one size per layer"):
        RLConfig(teacher="rule:1e-7", observation_version=2)
    with pytest.raises(ValueError, match="observation v2"):
        RLConfig(teacher="rule:1e-7", neighborhood_sizes=one)
    with pytest.raises(ValueError, match="rule:RATE"):
        RLConfig(teacher="fc", observation_version=2, neighborhood_sizes=one)


def test_returns_to_go_and_a_corrupted_demonstrations_file(tmp_path: Path) -> None:
    assert returns_to_go([1.0, 2.0, 3.0], 1.0) == [6.0, 5.0, 3.0]
    assert returns_to_go([1.0, 1.0], 0.5) == [1.5, 1.0]
    bad = tmp_path / "clone.npz"
    bad.write_bytes(b"not a zip")
    with pytest.raises(ValueError, match="remove it"):
        Demonstrations.load(bad)


@pytest.mark.usefixtures("mnist_ready")
def test_train_clones_the_rule_then_learns_and_resumes_its_collection(tmp_path: Path) -> None:
    proxy = ["rl", "proxy", "--seeds", "5", "--step", "1000", "--marks", "2"]
    assert main([*proxy, "--out", str(tmp_path / "proxy"), "--snapshots", str(tmp_path / "s")]) == 0
    args = ["rl", "train", "--neighborhood-sizes", "fc=16,2.0=2,1.0=1", "--budget", "3000"]
    args += ["--decisions", "4", "--n-envs", "1", "--n-steps", "8", "--batch-size", "8"]
    args += ["--eval-size", "200", "--timesteps", "8", "--eval-every", "100", "--no-progress"]
    args += ["--score-on", "train", "--rotate-every", "3", "--selection-size", "300"]
    args += ["--observation-version", "2", "--budget-end", "terminated", "--gamma", "1"]
    args += ["--reward", "reference", "--snapshots", str(tmp_path / "s")]
    args += ["--reference", str(tmp_path / "proxy.csv"), "--teacher", "rule:1e-7"]
    args += ["--clone-episodes", "3", "--clone-epochs", "100"]
    run = tmp_path / "run"
    assert main([*args, "--out", str(run)]) == 0
    policy = load_policy(run / "policy.zip")
    record = policy.provenance["clone"]
    assert record["teacher"] == "rule:1e-7" and record["episodes"] == 3
    assert record["agreement"] == 1.0  # a few decisions, fitted exactly
    # Stopped during the collection: two episodes saved, no checkpoint yet. Resuming keeps them.
    full = Demonstrations.load(run / "clone.npz")
    keep = full.episodes < 2
    two = Demonstrations(
        full.obs[keep], full.actions[keep], full.returns[keep], full.episodes[keep]
    )
    two.save(run / "clone.npz")
    for name in ("checkpoint.zip", "checkpoint.prev.zip", "clone.json", "policy.zip"):
        (run / name).unlink(missing_ok=True)
    assert main(["rl", "train", "--resume", "--out", str(run), "--no-progress"]) == 0
    again = Demonstrations.load(run / "clone.npz")
    assert again.n_episodes == 3
    np.testing.assert_array_equal(again.obs[: len(two.obs)], two.obs)
    assert load_policy(run / "policy.zip").provenance["clone"]["episodes"] == 3
