"""RL search policies trained with Stable-Baselines3 on the env's learnable formulations
(``"schedule"`` and ``"proposal"``): configuration and envs (:mod:`agents.rl.config`), training
in a resumable run directory (:mod:`agents.rl.train`)."""

from agents.rl.config import RLConfig
from agents.rl.train import RLTraining

__all__ = ["RLConfig", "RLTraining"]
