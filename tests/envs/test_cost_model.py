"""The cost models: neighbours (the old count, bit for bit) and the calibrated one."""

from __future__ import annotations

import json
from pathlib import Path

import gymnasium as gym
import pytest

import aann_env.envs.cost_model as cm
from aann_env.envs.cost_model import NEIGHBOURS, CostModel, cost_model
from aann_env.envs.schedule import LAYER_COSTS
from agents.base import BaseCallback
from agents.budget import Budget, StepInfo
from agents.sense import SENSE

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


class _Steps(BaseCallback):
    def __init__(self) -> None:
        super().__init__()
        self.rows: list[StepInfo] = []

    def _on_step(self, info: StepInfo) -> bool:
        self.rows.append(info)
        return True


def test_an_agent_spends_its_budget_under_its_model() -> None:
    env = gym.make("AANN-MNIST-v0", eval_size=100, max_episode_steps=-1)
    model = CostModel("m", {"fc": 1.0}, {"fc": 100.0}, {"fc": 1000.0})
    spent = {}
    for m in (NEIGHBOURS, model):
        env.reset(seed=0)
        agent = SENSE(seed=1, neighborhood_size={"fc": 16, "2.0": 2, "1.0": 2}, schedule="fc")
        agent.cost_model = m
        steps = _Steps()
        agent.run(env, Budget(cost=5_000), steps)
        commits = sum(s.committed for s in steps.rows)
        assert agent.cost == pytest.approx(
            sum(m.step_cost("fc", 16, s.committed) for s in steps.rows)
        )
        assert agent.cost == len(steps.rows) * (16 + m.step.get("fc", 0)) + commits * m.commit.get(
            "fc", 0
        )
        spent[m.name] = len(steps.rows)
        state = agent.state_dict()
        assert state.get("cost_model", "neighbours") == m.name
    assert spent["m"] < spent["neighbours"] / 5  # the fixed costs end the search sooner
    other = SENSE(seed=1, schedule="fc")
    with pytest.raises(ValueError, match="--cost-model m"):
        other.load_state_dict(state, None)
