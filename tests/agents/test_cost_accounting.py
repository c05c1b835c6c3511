"""Agents count their cost under their cost model (aann_env.envs.cost_model)."""

from __future__ import annotations

import gymnasium as gym
import pytest

import aann_env  # noqa: F401
from aann_env.envs.cost_model import NEIGHBOURS, CostModel
from agents.base import BaseCallback
from agents.budget import Budget, StepInfo
from agents.sense import SENSE

pytestmark = pytest.mark.usefixtures("mnist_ready")


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


def test_rl_training_envs_take_the_cost_model() -> None:
    from agents.rl.config import RLConfig, env_kwargs

    assert "cost_model" not in env_kwargs(RLConfig())  # earlier configs' envs as they were
    assert env_kwargs(RLConfig(cost_model="calibrated"))["cost_model"] == "calibrated"
    with pytest.raises(ValueError, match="unknown cost model"):
        RLConfig(cost_model="seconds")


def test_an_agent_left_at_the_default_counts_what_its_env_counts() -> None:
    env = gym.make("AANN-MNIST-v0", eval_size=100, max_episode_steps=-1, cost_model="calibrated")
    env.reset(seed=0)
    agent = SENSE(seed=1, neighborhood_size={"fc": 16, "2.0": 2, "1.0": 2}, schedule="fc")
    agent.run(env, Budget(cost=2_000))
    assert agent.cost_model is env.unwrapped.search.cost_model
    assert agent.state_dict()["cost_model"] == "calibrated"


def test_a_search_config_keeps_sense_own_neighbour_costs_under_the_default_model() -> None:
    from agents.run.config import SearchConfig
    from agents.run.session import make_agent

    costs = {"fc": 1.0, "2.0": 10.0, "1.0": 100.0}
    agent = make_agent(SearchConfig(budget_evals=10, agent_kwargs={"layer_costs": costs}))
    assert agent.layer_costs == costs and agent.cost_model.name == "custom"
    calibrated = make_agent(SearchConfig(budget_evals=10, cost_model="calibrated"))
    assert calibrated.cost_model.name == "calibrated"
