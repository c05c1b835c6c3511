"""RL search policies trained with Stable-Baselines3 on the env's learnable formulations
(``"schedule"`` and ``"proposal"``): configuration and envs (:mod:`agents.rl.config`), training
in a resumable run directory (:mod:`agents.rl.train`), policy files with their provenance and the
shipped policy (:mod:`agents.rl.policy`), a schedule policy as a search agent
(:mod:`agents.rl.agent`) and the comparison with SENSE's schedules (:mod:`agents.rl.evaluate`)."""

from agents.rl.agent import RLSchedule
from agents.rl.config import RLConfig
from agents.rl.policy import Policy, PolicyError, load_policy
from agents.rl.train import RLTraining

__all__ = ["Policy", "PolicyError", "RLConfig", "RLSchedule", "RLTraining", "load_policy"]
