"""Trained RL policies as files: their provenance, loading them, and the policy that ships.

A policy file is a Stable-Baselines3 zip. Next to it, ``<name>.json`` records its provenance: the
:class:`~agents.rl.config.RLConfig` it was trained with (so it can be run in the env it learned
in), the command, the seed, the timesteps, the SB3, torch and Python versions and the zip's
SHA-256. A training run's ``checkpoint.zip`` has no such file; its run's ``config.json`` serves.

**Security.** SB3 unpickles Python objects when it loads a zip, so loading a policy file runs code
from it. The shipped policy is checked against the SHA-256 recorded here before it is loaded; a
policy file from elsewhere is code to be trusted like any script you run.
"""

from __future__ import annotations

import hashlib
import json
import os
import zipfile
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
from stable_baselines3 import A2C, DQN, PPO
from stable_baselines3.common.base_class import BaseAlgorithm

from aann_env.errors import CheckpointError
from agents.rl.config import RLConfig

ALGORITHMS: dict[str, type[BaseAlgorithm]] = {"ppo": PPO, "a2c": A2C, "dqn": DQN}
SHIPPED_DIR = Path(__file__).resolve().parent / "policies"
SHIPPED = SHIPPED_DIR / "schedule-mnist.zip"
"""The schedule policy that ships with aann (``aann search --agent rl --policy shipped``)."""
SHIPPED_SHA256 = "1dac725c7c18a167ddad4f58142484fba1106620af913c3797469041bcf05c4b"
"""SHA-256 of :data:`SHIPPED`; the file is refused unless it matches."""


class PolicyError(CheckpointError):
    """A policy file that cannot be used: missing, corrupted, without provenance, or not matching."""


def sha256(path: Path) -> str:
    return hashlib.sha256(path.read_bytes()).hexdigest()


def provenance_path(policy: Path) -> Path:
    """Where the provenance of ``policy`` lives: ``<name>.json`` beside it."""
    return policy.with_suffix(".json")


def write_provenance(policy: Path, config: RLConfig, extra: dict[str, Any]) -> Path:
    """Write ``policy``'s provenance (its config, ``extra`` and its SHA-256) beside it."""
    record = {"config": config.to_dict(), **extra, "sha256": sha256(policy)}
    out = provenance_path(policy)
    out.write_text(json.dumps(record, indent=2) + "\n")
    return out


def check_model_file(path: Path) -> Path:
    """Check that ``path`` is a readable SB3 zip before SB3 opens it.

    Raises:
        PolicyError: It is not (a :class:`CheckpointError`, so a run falls back to its previous
            checkpoint).
    """
    try:
        with zipfile.ZipFile(path) as zf:
            if "data" not in zf.namelist():
                raise PolicyError(f"{path} is not a Stable-Baselines3 model (no 'data' entry)")
    except (OSError, zipfile.BadZipFile) as exc:
        raise PolicyError(f"{path} is not a readable model file ({exc})") from exc
    return path


@dataclass(frozen=True)
class Policy:
    """A trained policy with the configuration it was trained in."""

    model: BaseAlgorithm
    config: RLConfig
    path: Path
    provenance: dict[str, Any]

    @property
    def observation_shape(self) -> tuple[int, ...]:
        """The shape of the observations the policy was trained on."""
        return tuple(self.model.observation_space.shape or ())

    def act(self, obs: np.ndarray) -> int:
        """The policy's deterministic action for one observation."""
        action, _ = self.model.predict(obs, deterministic=True)
        return int(action)


def _provenance(path: Path) -> dict[str, Any]:
    for candidate in (provenance_path(path), path.parent / "config.json"):
        if candidate.is_file():
            try:
                record = json.loads(candidate.read_text())
            except (OSError, ValueError) as exc:
                raise PolicyError(f"{candidate} is not readable JSON ({exc})") from exc
            if candidate.name == "config.json":
                record = {"config": record}
            if not isinstance(record, dict) or not isinstance(record.get("config"), dict):
                raise PolicyError(f"{candidate} has no training config")
            return record
    raise PolicyError(
        f"{path} has no provenance: expected {provenance_path(path).name} beside it, or the "
        "config.json of the training run it comes from"
    )


def load_policy(spec: str | os.PathLike[str]) -> Policy:
    """Load ``"shipped"`` (hash-checked) or a policy file, with the config it was trained in.

    Loading unpickles code from the file: load only files you trust (see the module docstring).

    Raises:
        PolicyError: The file is missing, corrupted, has no provenance, or is not the model its
            provenance describes.
    """
    if str(spec) == "shipped":
        path = SHIPPED
        if not path.is_file():
            raise PolicyError(f"the shipped policy {path} is missing: reinstall aann")
        if sha256(path) != SHIPPED_SHA256:
            raise PolicyError(
                f"the shipped policy {path} does not match its recorded SHA-256: the file was "
                "changed or corrupted; reinstall aann (it is not loaded)"
            )
    else:
        path = Path(spec)
        if not path.is_file():
            raise PolicyError(f"no policy file {path}; pass a policy.zip or 'shipped'")
    check_model_file(path)
    record = _provenance(path)
    try:
        config = RLConfig.from_dict(record["config"])
    except (TypeError, ValueError) as exc:
        raise PolicyError(f"the training config of {path} is not valid ({exc})") from exc
    try:
        model = ALGORITHMS[config.algo].load(path, device="cpu")
    except (KeyError, ValueError, TypeError, RuntimeError, OSError) as exc:
        raise PolicyError(f"{path} is not a {config.algo.upper()} model ({exc})") from exc
    return Policy(model, config, path, record)
