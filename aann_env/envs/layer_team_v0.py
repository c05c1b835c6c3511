"""The layer team, version 0 (PettingZoo's layout: a versioned module that re-exports the env)."""

from aann_env.envs.layer_team import env, parallel_env, raw_env

__all__ = ["env", "parallel_env", "raw_env"]
