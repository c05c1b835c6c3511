"""The cost models: neighbours (the old count, bit for bit) and the calibrated one."""

from __future__ import annotations

import json
from pathlib import Path

import gymnasium as gym
import pytest

import aann_env.envs.cost_model as cm
from aann_env.envs.cost_model import NEIGHBOURS, CostModel, cost_model
from aann_env.envs.schedule import LAYER_COSTS

pytestmark = pytest.mark.usefixtures("mnist_ready")


def test_the_neighbour_model_counts_exactly_what_budgets_counted_before() -> None:
    for layer, unit in LAYER_COSTS.items():
        for evals in (1, 7, 256):
            for committed in (False, True):
                assert NEIGHBOURS.step_cost(layer, evals, committed) == evals * unit
    assert NEIGHBOURS.step_cost("other", 5) == 5.0  # layers not named cost 1


def test_a_model_adds_its_step_and_commit_costs() -> None:
    model = CostModel("m", {"fc": 1.0, "1.0": 900.0}, {"fc": 300.0}, {"fc": 50.0, "1.0": 10.0})
    assert model.step_cost("fc", 64) == 64 + 300
    assert model.step_cost("fc", 64, committed=True) == 64 + 300 + 50
    assert model.step_cost("1.0", 2, committed=True) == 1800 + 10
    assert model.overhead("fc", committed=True) == 350 and NEIGHBOURS.overhead("fc", True) == 0
    assert CostModel.from_dict(model.to_dict()) == model


def test_the_shipped_calibration_is_a_model_of_time() -> None:
    model = cost_model("calibrated")
    assert model.name == "calibrated" and model.unit_seconds is not None
    assert model.neighbour["fc"] == 1.0 and set(model.step) >= {"fc", "2.0", "1.0"}
    assert "benchmarks/step_cost.py" in model.source
    # Small neighbourhoods pay for their fixed cost: 64 fc neighbours cost more than 64 units.
    assert model.step_cost("fc", 64) > 64


@pytest.mark.parametrize(
    "record, message",
    [
        ({"name": "calibrated"}, "not a cost model record"),
        ({"name": "calibrated", "neighbour": {"fc": 0.0}}, "positive"),
        ({"name": "calibrated", "neighbour": {"fc": 1.0}, "step": {"fc": -1.0}}, "non-negative"),
        ({"name": "neighbours", "neighbour": {"fc": 1.0}}, "not 'calibrated'"),
    ],
)
def test_a_bad_calibration_file_says_what_to_do(tmp_path: Path, record, message) -> None:
    path = tmp_path / "calibration.json"
    path.write_text(json.dumps(record))
    with pytest.raises(ValueError, match=message):
        cm._calibrated(path)
    path.write_text("{not json")
    with pytest.raises(ValueError, match="step_cost.py --write"):
        cm._calibrated(path)
    with pytest.raises(ValueError, match="step_cost.py --write"):
        cm._calibrated(tmp_path / "missing.json")
    with pytest.raises(ValueError, match="cost models: neighbours, calibrated"):
        cost_model("seconds")


def test_the_schedule_env_costs_its_steps_under_the_calibrated_model() -> None:
    model = cost_model("calibrated")
    env = gym.make(
        "AANN-MNIST-v0",
        eval_size=100,
        action_mode="schedule",
        neighborhood_sizes=(4, 16),
        budget=1e6,
        cost_model="calibrated",
    )
    env.reset(seed=0)
    names = env.unwrapped.network.layer_names
    spent = 0.0
    for action in (0, 3, 5):  # 1.0 x4, 2.0 x16, fc x16
        _, _, _, _, info = env.step(action)
        layer, k = names[info["layer"]], (4, 16)[action % 2]
        assert info["cost"] == model.step_cost(layer, k, info["committed"])
        spent += info["cost"]
    assert info["spent"] == pytest.approx(spent)
    assert env.unwrapped.layer_costs.tolist() == [model.neighbour[n] for n in names]
    with pytest.raises(ValueError, match="give one of them"):
        gym.make("AANN-MNIST-v0", eval_size=100, layer_costs={"fc": 2.0}, cost_model="calibrated")
