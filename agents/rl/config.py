"""What defines an RL training run on an AANN formulation, and the envs it trains on.

Two formulations of :class:`aann_env.envs.search_env.AANNEnv` are learnable:

- ``"schedule"``: the policy picks the layer and neighbourhood size of the SENSE steps of each of
  ``decisions`` shares of an episode's budget of evaluation cost; the budget is drawn per episode
  from the ``budget`` range, so one policy learns cost-aware schedules for short and long searches;
- ``"proposal"``: the policy picks which of ``n_candidates`` swaps to try; an episode is
  ``episode_steps`` tries.

Every episode starts from a fresh random ``sparsity``-sparse network drawn from the env's
generator, so a policy trains across many starts; held-out evaluation uses start seeds that
training never draws (``eval_seeds``, far from the training seeds).
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import asdict, dataclass, field, fields
from typing import Any, Literal

import gymnasium as gym

from aann_env.envs.cost_model import cost_model
from aann_env.envs.proposal import layer_choice
from aann_env.envs.schedule import check_budget, size_table
from aann_env.tasks import get_task

Formulation = Literal["schedule", "proposal"]
Algo = Literal["ppo", "a2c", "dqn"]
FORMULATIONS: tuple[Formulation, ...] = ("schedule", "proposal")
ALGOS: tuple[Algo, ...] = ("ppo", "a2c", "dqn")
HELD_OUT_SEEDS = (900_000, 900_001, 900_002, 900_003, 900_004)
"""Start seeds of held-out evaluations: no training env draws them (training envs use the run's
seed plus their rank)."""
ENV_IDS = {"mnist": "aann_env:AANN-MNIST-v0", "car": "aann_env:AANN-CarRacing-v0"}
"""Ids with the module prefix, so that spawned vector-env workers import and register aann."""


@dataclass
class RLConfig:
    """Everything that defines an RL training run."""

    formulation: Formulation = "schedule"
    """``"schedule"`` or ``"proposal"``."""
    algo: Algo = "ppo"
    """Stable-Baselines3 algorithm: ``"ppo"``, ``"a2c"`` or ``"dqn"``."""
    timesteps: int = 20_000
    """Env steps to train for (summed over the vectorised envs)."""
    n_envs: int = 2
    """Vectorised envs (one process each when more than one)."""
    seed: int = 0
    """Seed of the policy and of the training envs (env ``i`` gets ``seed + i``)."""
    task: str = "mnist"
    """Task name."""
    sparsity: float = 0.8
    """Sparsity of the random starts."""
    eval_size: int = 1_000
    """Validation images the training envs score on (a fixed subset; small keeps steps cheap)."""
    reward: str = "loss"
    """``"loss"`` (dense: the decrease of validation loss) or ``"accuracy"``."""
    criterion: str = "loss"
    """How a SENSE step ranks its neighbours: ``"loss"`` or ``"accuracy"`` (see the env)."""
    score_on: str = "valid"
    """The split the training envs score on: ``"valid"`` (a fixed subset, the v1 policy's) or
    ``"train"`` (the proxy of :mod:`agents.rl.proxy`: rotating batches, held-out rewards)."""
    rotate_every: int | None = None
    """Move the scoring images to the next batch every this many SENSE steps (None: fixed)."""
    selection_size: int | None = 10_000
    """``score_on="train"``: the held-out validation images (``reward="held_out"``)."""
    observation_version: int = 1
    """``"schedule"``: the env's observation, 1 (the v1 policy's) or 2."""
    budget_end: str = "truncated"
    """``"schedule"``: what a spent budget sets; ``"terminated"`` keeps SB3 from bootstrapping
    the value where the search really ends."""
    gamma: float = 0.99
    """Discount (1.0 over budget-normalised episodes for ``reward="reference"``)."""
    snapshots: str | None = None
    """``"schedule"``: a folder of proxy snapshots (``aann rl proxy --snapshots``): episodes
    start from them, with ``budget`` as the long search's budget (:mod:`agents.rl.starts`)."""
    reference: str | None = None
    """``reward="reference"``: the proxy CSV whose hand-schedule curves are the references."""
    teacher: str | None = None
    """``"rule:RATE"``: behaviour-clone the policy from this hand rule (:mod:`agents.rl.rule`)
    before reinforcement learning (:mod:`agents.rl.clone`); needs observation v2 and one
    neighbourhood size per layer."""
    clone_episodes: int = 16
    """``teacher``: the teacher's episodes to clone from."""
    clone_epochs: int = 300
    """``teacher``: passes over the demonstrations."""
    cost_model: str = "neighbours"
    """What a SENSE step of the training envs costs, so what the budget counts
    (:mod:`aann_env.envs.cost_model`): ``"neighbours"`` or ``"calibrated"``."""
    budget: tuple[float, ...] = (250_000.0, 1_250_000.0)
    """``"schedule"``: evaluation cost of an episode (see :mod:`aann_env.envs.schedule`), or a
    ``(low, high)`` range each episode draws its budget from log-uniformly."""
    decisions: int = 50
    """``"schedule"``: actions per episode (each runs SENSE steps for its share of the budget)."""
    neighborhood_sizes: tuple[int, ...] | dict[str, tuple[int, ...]] | None = None
    """``"schedule"``: the neighbourhood sizes an action chooses from, for every layer or per
    layer name (None: the env's default, :data:`aann_env.envs.schedule.LAYER_SIZES`)."""
    n_candidates: int = 16
    """``"proposal"``: candidates per step."""
    proposal_layer: str = "last"
    """``"proposal"``: the layer candidates are drawn from (or ``"all"``)."""
    episode_steps: int = 256
    """``"proposal"``: tries per episode."""
    n_steps: int = 128
    """PPO / A2C: steps per env between updates."""
    batch_size: int = 64
    """PPO and DQN minibatch size."""
    learning_rate: float = 3e-4
    """Adam learning rate."""
    ent_coef: float = 0.01
    """PPO / A2C: entropy bonus (keeps the policy trying layers early in training)."""
    checkpoint_steps: int = 2_000
    """Checkpoint every this many timesteps."""
    eval_seeds: tuple[int, ...] = (900_000, 900_001)
    """Held-out start seeds of the evaluation callback (one episode each)."""
    eval_every: int = 5_000
    """Evaluate on the held-out seeds every this many timesteps."""
    device: str = "cpu"
    """Torch device of the policy (the envs score on the CPU)."""
    command: str = ""
    """The command line that started the run."""
    extra: dict[str, Any] = field(default_factory=dict)
    """Free-form notes."""

    def __post_init__(self) -> None:
        cost_model(self.cost_model)  # validates
        if self.formulation not in FORMULATIONS:
            raise ValueError(f"formulation must be one of {FORMULATIONS}, got {self.formulation!r}")
        if self.algo not in ALGOS:
            raise ValueError(f"algo must be one of {ALGOS}, got {self.algo!r}")
        if self.task not in ENV_IDS:
            raise ValueError(f"unknown task {self.task!r}; tasks: {sorted(ENV_IDS)}")
        for name in ("timesteps", "n_envs", "eval_size", "n_steps", "batch_size"):
            if int(getattr(self, name)) < 1:
                raise ValueError(f"{name} must be a positive integer, got {getattr(self, name)}")
        for name in (
            "checkpoint_steps",
            "eval_every",
            "episode_steps",
            "n_candidates",
            "decisions",
        ):
            if int(getattr(self, name)) < 1:
                raise ValueError(f"{name} must be a positive integer, got {getattr(self, name)}")
        if isinstance(self.neighborhood_sizes, Mapping):
            self.neighborhood_sizes = {
                str(k): tuple(int(v) for v in vs) for k, vs in self.neighborhood_sizes.items()
            }
        elif self.neighborhood_sizes is not None:
            self.neighborhood_sizes = tuple(int(k) for k in self.neighborhood_sizes)
        self.eval_seeds = tuple(int(s) for s in self.eval_seeds)
        if isinstance(self.budget, (int, float)):
            self.budget = (float(self.budget),)
        self.budget = tuple(float(b) for b in self.budget)
        if len(self.budget) not in (1, 2):
            raise ValueError(f"budget is one cost or a (low, high) range, got {self.budget}")
        check_budget(self.budget if len(self.budget) == 2 else self.budget[0])
        if self.criterion not in ("accuracy", "loss"):
            raise ValueError(f"criterion must be 'accuracy' or 'loss', got {self.criterion!r}")
        rewards = ("accuracy", "loss", "held_out", "reference")
        if self.reward not in rewards:
            raise ValueError(f"reward must be one of {rewards}, got {self.reward!r}")
        if self.reward == "reference" and (self.snapshots is None or self.reference is None):
            raise ValueError("reward='reference' needs snapshots and a reference (proxy CSV)")
        if self.snapshots is not None and (self.formulation != "schedule" or len(self.budget) > 1):
            raise ValueError("snapshot starts need the schedule formulation and one budget")
        if not 0.0 < self.gamma <= 1.0:
            raise ValueError(f"gamma must be in (0, 1], got {self.gamma}")
        arch = get_task(self.task).arch
        layer_choice(arch, self.proposal_layer)  # raises for unknown layers
        table = size_table(arch, self.neighborhood_sizes)  # raises for bad sizes
        if self.teacher is not None:
            self._check_teacher(table.shape[1])

    def _check_teacher(self, n_sizes: int) -> None:
        kind, _, rate = self.teacher.partition(":") if self.teacher else ("", "", "")
        try:
            ok = kind == "rule" and float(rate) > 0.0
        except ValueError:
            ok = False
        if not ok:
            raise ValueError(
                f"teacher is rule:RATE with RATE > 0 (e.g. rule:1e-7), got {self.teacher!r}"
            )
        if self.formulation != "schedule" or self.observation_version != 2 or n_sizes != 1:
            raise ValueError(
                "a teacher acts on observation v2 with one size per layer: use the schedule "
                "formulation, --observation-version 2 and --neighborhood-sizes "
                "fc=64,2.0=32,1.0=8"
            )
        for name in ("clone_episodes", "clone_epochs"):
            if int(getattr(self, name)) < 1:
                raise ValueError(f"{name} must be a positive integer, got {getattr(self, name)}")

    def to_dict(self) -> dict[str, Any]:
        d = asdict(self)
        sizes = self.neighborhood_sizes
        if isinstance(sizes, dict):
            d["neighborhood_sizes"] = {k: list(v) for k, v in sizes.items()}
        elif sizes is not None:
            d["neighborhood_sizes"] = list(sizes)
        d["eval_seeds"] = list(self.eval_seeds)
        d["budget"] = list(self.budget)
        return d

    @classmethod
    def from_dict(cls, data: Mapping[str, Any]) -> RLConfig:
        known = {f.name for f in fields(cls)}
        return cls(**{k: v for k, v in data.items() if k in known})

    def training_key(self) -> dict[str, Any]:
        """The fields the trained policy depends on (not the timesteps, device or command)."""
        d = self.to_dict()
        for k in ("timesteps", "device", "command", "extra", "checkpoint_steps", "eval_every"):
            d.pop(k)
        return d


def env_kwargs(cfg: RLConfig) -> dict[str, Any]:
    """Keyword arguments of ``gym.make`` for one training env of ``cfg``."""
    kwargs: dict[str, Any] = {
        "action_mode": cfg.formulation,
        "sparsity": cfg.sparsity,
        "eval_size": cfg.eval_size,
        "reward": cfg.reward,
        "criterion": cfg.criterion,
        "score_on": cfg.score_on,
        "rotate_every": cfg.rotate_every,
        "selection_size": cfg.selection_size,
        "test_at_episode_end": False,  # a test pass per episode would cost more than the episode
    }
    if cfg.cost_model != "neighbours":  # the envs of earlier configs exactly as they were
        kwargs["cost_model"] = cfg.cost_model
    if cfg.formulation == "schedule":
        kwargs |= {
            "budget": cfg.budget if len(cfg.budget) == 2 else cfg.budget[0],
            "decisions": cfg.decisions,
            "neighborhood_sizes": cfg.neighborhood_sizes,
            "max_episode_steps": -1,  # the budget ends an episode
        }
        if cfg.observation_version != 1 or cfg.budget_end != "truncated":  # v1 envs as before
            kwargs |= {"observation_version": cfg.observation_version, "budget_end": cfg.budget_end}
    else:
        kwargs |= {
            "n_candidates": cfg.n_candidates,
            "proposal_layer": cfg.proposal_layer,
            "max_episode_steps": cfg.episode_steps,
        }
    return kwargs


def make_env(cfg: RLConfig, rank: int, starts: bool = True) -> gym.Env:
    """Training env ``rank`` of ``cfg`` (its seed is ``cfg.seed + rank``, set by the VecEnv),
    wrapped in SB3's ``Monitor`` so that the log has episode returns (``rollout/ep_rew_mean``).
    With ``starts=False`` (held-out evaluation) episodes start fresh, not from snapshots, and a
    reference reward is replaced by the held-out one."""
    from stable_baselines3.common.monitor import Monitor

    kwargs = env_kwargs(cfg)
    if cfg.snapshots is None or not starts:
        if kwargs["reward"] == "reference":
            kwargs["reward"] = "held_out"
        return Monitor(gym.make(ENV_IDS[cfg.task], **kwargs))
    from agents.rl.points import read
    from agents.rl.starts import SnapshotStarts, load_snapshots

    env = gym.make(ENV_IDS[cfg.task], **kwargs)
    points = None if cfg.reference is None else read(cfg.reference)
    return Monitor(SnapshotStarts(env, load_snapshots(cfg.snapshots), cfg.budget[0], points))


def env_factory(cfg: RLConfig, rank: int) -> Callable[[], gym.Env]:
    """A picklable factory of env ``rank`` (for SubprocVecEnv)."""
    return _Factory(cfg.to_dict(), rank)


class _Factory:
    def __init__(self, cfg: dict[str, Any], rank: int) -> None:
        self.cfg = cfg
        self.rank = rank

    def __call__(self) -> gym.Env:
        import numba
        import torch

        torch.set_num_threads(1)  # a worker process: n_envs of them share the cores
        numba.set_num_threads(1)  # the evaluator's kernels would start a thread per core
        return make_env(RLConfig.from_dict(self.cfg), self.rank)
