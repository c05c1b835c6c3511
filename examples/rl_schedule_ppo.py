"""PPO on the schedule formulation, CleanRL style: the whole algorithm in one file.

The policy picks, for each of ``decisions`` shares of an episode's budget of evaluation cost, the
layer and neighbourhood size of the SENSE steps that spend it (``action_mode="schedule"``, see
``aann_env/envs/schedule.py``). Training uses a small scoring subset so that steps are cheap; the
comparison at the end runs the trained policy and the SENSE agent's ``fc`` and ``adaptive``
schedules from held-out starts at one equal budget, and prints their final accuracies.

Run it with ``python examples/rl_schedule_ppo.py`` (about 8 minutes of CPU time); every
field of :class:`Args` is a flag (``--total-steps 4096``). ``aann rl train`` trains with
Stable-Baselines3 instead, with checkpoints, resume and held-out evaluations.
"""

from __future__ import annotations

import argparse
import time
from dataclasses import dataclass, fields
from typing import Any

import gymnasium as gym
import numpy as np
import torch
from torch import nn
from torch.distributions import Categorical

import aann_env  # noqa: F401  (importing it registers AANN-MNIST-v0 with Gymnasium)
from agents.rl.evaluate import run_one


@dataclass
class Args:
    seed: int = 0
    total_steps: int = 1024
    """decisions to train on, summed over the envs"""
    num_envs: int = 2
    num_steps: int = 64
    """decisions per env between updates"""
    eval_size: int = 500
    """validation images the training envs score on"""
    budget_low: float = 50_000.0
    budget_high: float = 250_000.0
    """each training episode draws its evaluation-cost budget log-uniformly in [low, high]"""
    decisions: int = 20
    learning_rate: float = 3e-4
    gamma: float = 0.99
    gae_lambda: float = 0.95
    update_epochs: int = 4
    num_minibatches: int = 4
    clip_coef: float = 0.2
    ent_coef: float = 0.01
    vf_coef: float = 0.5
    max_grad_norm: float = 0.5
    eval_budget: float = 150_000.0
    eval_seeds: tuple[int, ...] = (900_000, 900_001)
    test_eval_size: int = 10_000
    """validation images of the final comparison"""


def make_env(args: Args, budget: float | tuple[float, float], eval_size: int) -> gym.Env:
    return gym.make(
        "AANN-MNIST-v0",
        action_mode="schedule",
        eval_size=eval_size,
        criterion="loss",
        reward="loss",
        budget=budget,
        decisions=args.decisions,
        max_episode_steps=-1,
        test_at_episode_end=False,
    )


def layer_init(layer: nn.Linear, std: float = np.sqrt(2), bias: float = 0.0) -> nn.Linear:
    nn.init.orthogonal_(layer.weight, std)
    nn.init.constant_(layer.bias, bias)
    return layer


class Agent(nn.Module):
    def __init__(self, n_obs: int, n_actions: int) -> None:
        super().__init__()
        self.critic = nn.Sequential(
            layer_init(nn.Linear(n_obs, 64)), nn.Tanh(),
            layer_init(nn.Linear(64, 64)), nn.Tanh(),
            layer_init(nn.Linear(64, 1), std=1.0),
        )  # fmt: skip
        self.actor = nn.Sequential(
            layer_init(nn.Linear(n_obs, 64)), nn.Tanh(),
            layer_init(nn.Linear(64, 64)), nn.Tanh(),
            layer_init(nn.Linear(64, n_actions), std=0.01),
        )  # fmt: skip

    def get_value(self, x: torch.Tensor) -> torch.Tensor:
        return self.critic(x)

    def get_action_and_value(
        self, x: torch.Tensor, action: torch.Tensor | None = None
    ) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor, torch.Tensor]:
        dist = Categorical(logits=self.actor(x))
        if action is None:
            action = dist.sample()
        return action, dist.log_prob(action), dist.entropy(), self.critic(x)


def train(args: Args) -> tuple[Agent, list[float]]:
    """PPO with GAE on ``num_envs`` synchronous schedule envs; returns the agent and the returns
    of the finished training episodes."""
    torch.manual_seed(args.seed)
    envs = gym.vector.SyncVectorEnv(
        [
            lambda: make_env(args, (args.budget_low, args.budget_high), args.eval_size)
            for _ in range(args.num_envs)
        ],
        autoreset_mode=gym.vector.AutoresetMode.SAME_STEP,  # a done env returns its reset obs
    )
    n_obs = envs.single_observation_space.shape[0]
    agent = Agent(n_obs, int(envs.single_action_space.n))
    optimizer = torch.optim.Adam(agent.parameters(), lr=args.learning_rate, eps=1e-5)
    shape = (args.num_steps, args.num_envs)
    obs_buf = torch.zeros((*shape, n_obs))
    actions, logprobs, rewards, dones, values = (torch.zeros(shape) for _ in range(5))
    episode_returns: list[float] = []
    running = np.zeros(args.num_envs)

    next_obs = torch.as_tensor(envs.reset(seed=args.seed)[0])
    next_done = torch.zeros(args.num_envs)
    batch_size = args.num_envs * args.num_steps
    for update in range(max(1, args.total_steps // batch_size)):
        frac = 1.0 - update / max(1, args.total_steps // batch_size)
        optimizer.param_groups[0]["lr"] = frac * args.learning_rate
        for step in range(args.num_steps):
            obs_buf[step], dones[step] = next_obs, next_done
            with torch.no_grad():
                action, logprob, _, value = agent.get_action_and_value(next_obs)
            values[step], actions[step], logprobs[step] = value.flatten(), action, logprob
            obs, reward, term, trunc, _ = envs.step(action.numpy())
            rewards[step] = torch.as_tensor(reward, dtype=torch.float32)
            running += reward
            for i in np.flatnonzero(term | trunc):  # the vector env resets them next step
                episode_returns.append(float(running[i]))
                running[i] = 0.0
            next_obs = torch.as_tensor(obs)
            next_done = torch.as_tensor(term | trunc, dtype=torch.float32)
        advantages, returns = gae(agent, args, next_obs, next_done, rewards, dones, values)
        batch = (obs_buf, actions, logprobs, advantages, returns)
        update_policy(agent, optimizer, args, batch)
    envs.close()
    return agent, episode_returns


def gae(
    agent: Agent,
    args: Args,
    next_obs: torch.Tensor,
    next_done: torch.Tensor,
    rewards: torch.Tensor,
    dones: torch.Tensor,
    values: torch.Tensor,
) -> tuple[torch.Tensor, torch.Tensor]:
    """Generalised advantage estimates and returns of one rollout."""
    with torch.no_grad():
        next_value = agent.get_value(next_obs).flatten()
    advantages = torch.zeros_like(rewards)
    last = torch.zeros(args.num_envs)
    for t in reversed(range(args.num_steps)):
        not_done = 1.0 - (next_done if t == args.num_steps - 1 else dones[t + 1])
        following = next_value if t == args.num_steps - 1 else values[t + 1]
        delta = rewards[t] + args.gamma * following * not_done - values[t]
        last = delta + args.gamma * args.gae_lambda * not_done * last
        advantages[t] = last
    return advantages, advantages + values


def update_policy(
    agent: Agent,
    optimizer: torch.optim.Optimizer,
    args: Args,
    rollout: tuple[torch.Tensor, ...],
) -> None:
    """The clipped PPO objective, ``update_epochs`` passes over shuffled minibatches."""
    obs, actions, logprobs, advantages, returns = rollout
    b_obs = obs.reshape(-1, obs.shape[-1])
    b_actions, b_logprobs = actions.reshape(-1), logprobs.reshape(-1)
    b_adv, b_returns = advantages.reshape(-1), returns.reshape(-1)
    batch = b_obs.shape[0]
    minibatch = max(1, batch // args.num_minibatches)
    for _ in range(args.update_epochs):
        order = torch.randperm(batch)
        for start in range(0, batch, minibatch):
            idx = order[start : start + minibatch]
            _, newlogprob, entropy, newvalue = agent.get_action_and_value(
                b_obs[idx], b_actions[idx].long()
            )
            ratio = (newlogprob - b_logprobs[idx]).exp()
            adv = b_adv[idx]
            adv = (adv - adv.mean()) / (adv.std() + 1e-8) if len(idx) > 1 else adv
            pg_loss = torch.max(
                -adv * ratio, -adv * ratio.clamp(1 - args.clip_coef, 1 + args.clip_coef)
            ).mean()
            v_loss = 0.5 * ((newvalue.flatten() - b_returns[idx]) ** 2).mean()
            loss = pg_loss - args.ent_coef * entropy.mean() + args.vf_coef * v_loss
            optimizer.zero_grad()
            loss.backward()
            nn.utils.clip_grad_norm_(agent.parameters(), args.max_grad_norm)
            optimizer.step()


def evaluate_policy(agent: Agent, args: Args, seed: int) -> tuple[float, float]:
    """The trained policy's greedy schedule from start ``seed``: (validation, test) accuracy."""
    env = make_env(args, args.eval_budget, args.test_eval_size)
    obs, _ = env.reset(seed=seed)
    done = False
    while not done:
        with torch.no_grad():
            logits = agent.actor(torch.as_tensor(obs).unsqueeze(0))
        obs, _, term, trunc, _ = env.step(int(logits.argmax()))
        done = term or trunc
    u = env.unwrapped
    return u.accuracy, u.test_accuracy()


def run_schedule_ppo(**overrides: Any) -> dict[str, Any]:
    """Train (fields of :class:`Args` as keywords) and compare; returns the figures."""
    args = Args(**overrides)
    start = time.perf_counter()
    agent, episode_returns = train(args)
    train_seconds = time.perf_counter() - start
    results: dict[str, list[tuple[float, float]]] = {"ppo": [], "fc": [], "adaptive": []}
    search_env = gym.make("AANN-MNIST-v0", eval_size=args.test_eval_size, max_episode_steps=-1)
    for seed in args.eval_seeds:
        results["ppo"].append(evaluate_policy(agent, args, seed))
        for name in ("fc", "adaptive"):  # the SENSE agent at the same budget and start
            r = run_one(search_env, name, seed, args.eval_budget)
            results[name].append((r.val_accuracy, r.test_accuracy))
    return {
        "train_seconds": train_seconds,
        "episode_returns": episode_returns,
        "results": results,
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    for f in fields(Args):
        default = getattr(Args, f.name)
        kind = type(default[0]) if isinstance(default, tuple) else type(default)
        parser.add_argument(
            "--" + f.name.replace("_", "-"),
            type=kind,
            nargs="+" if isinstance(default, tuple) else None,
            default=default,
        )
    out = run_schedule_ppo(**vars(parser.parse_args()))
    returns = out["episode_returns"]
    print(
        f"trained in {out['train_seconds']:.0f} s on {len(returns)} episodes; mean return of the "
        f"first and last ten: {np.mean(returns[:10]):.3f} -> {np.mean(returns[-10:]):.3f}"
    )
    for name, rows in out["results"].items():
        val, test = np.mean(rows, axis=0)
        print(f"{name:>9}: validation {val:.2%}  test {test:.2%}  ({len(rows)} starts)")


if __name__ == "__main__":
    main()
