"""The car-racing imitation task: its classes, frame preprocessing and the expert driver.

The task imitates a driver on Gymnasium's ``CarRacing-v3`` with discrete actions
(``continuous=False``). The paper's car network has three outputs, so the task has three
classes, each mapped to one discrete env action:

=====  =========  ==========  ====================================================
class  name       env action  effect in ``CarRacing-v3``
=====  =========  ==========  ====================================================
0      ``left``   2           steer left (wheel target +0.6), gas released at once
1      ``right``  1           steer right (wheel target -0.6), gas released at once
2      ``gas``    3           wheels straight, gas 0.2 (ramped up by 0.1 per step)
=====  =========  ==========  ====================================================

The expert and the networks never use the env's no-op (action 0) or brake (action 4): a
steering action already gives no gas, so the car coasts whenever it steers, and the expert slows
down for a curve by coasting into it rather than by braking.

A frame is turned into network input by :func:`preprocess`: the (96, 96, 3) RGB observation
becomes (96, 96) ``uint8`` grey codes ``k`` computed with integer arithmetic only, so the
network's input ``k / 256`` is dyadic and exact.

The :class:`Expert` drives from privileged state (the track polyline and the car's pose, speed
and wheel angle), not from pixels. Measured with :func:`expert_returns` on tracks 0..9 it scores
a mean return of about 909 (min about 852); Gymnasium counts 900 as solved.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

import gymnasium as gym
import numpy as np

from aann_env.errors import DataError
from aann_env.progress import progress_bar

__all__ = [
    "CLASSES",
    "CLASS_TO_ACTION",
    "ENV_ID",
    "FRAME_SHAPE",
    "GRAY_WEIGHTS",
    "GAS",
    "LEFT",
    "N_CLASSES",
    "RIGHT",
    "ZOOM_FRAMES",
    "Expert",
    "expert_returns",
    "make_env",
    "preprocess",
]

ENV_ID = "CarRacing-v3"
"""The Gymnasium id of the driving env (always made with ``continuous=False``)."""

CLASSES: tuple[str, ...] = ("left", "right", "gas")
"""Class names, indexed by class (the network's output unit)."""

CLASS_TO_ACTION: tuple[int, ...] = (2, 1, 3)
"""Discrete ``CarRacing-v3`` action of each class: steer left, steer right, gas."""

LEFT, RIGHT, GAS = 0, 1, 2
N_CLASSES = len(CLASSES)

FRAME_SHAPE = (96, 96)
"""Shape of a preprocessed frame: the env's observation without its colour axis."""

GRAY_WEIGHTS = (77, 150, 29)
"""Integer luma weights of R, G, B; they sum to 256 so ``(w . rgb) >> 8`` lies in 0..255."""

ZOOM_FRAMES = 49
"""Observations drawn during the zoom-in animation of an episode's first second.

The env draws observation ``k`` (``k = 0`` from ``reset``) at time ``t = 0.02 (k + 1)`` and
zooms the camera in until ``t = 1``, so observations 0..48 are zoomed out.
"""

# Front-wheel joint limit of the Box2D car (rad): a steering target beyond it is never reached.
_MAX_WHEEL_ANGLE = 0.4

_INSTALL_HINT = 'install Box2D and pygame with `pip install "gymnasium[box2d]"`'


def make_env(max_steps: int = 1000, render_mode: str | None = None) -> gym.Env:
    """Make ``CarRacing-v3`` with discrete actions and a step limit.

    Args:
        max_steps: Steps before the episode is truncated (Gymnasium's default is 1000).
        render_mode: ``None`` or ``"rgb_array"`` (for videos).

    Returns:
        The env, wrapped in Gymnasium's usual wrappers.

    Raises:
        DataError: If Box2D or pygame are not installed.
        ValueError: If ``max_steps`` is not positive.
    """
    if max_steps <= 0:
        raise ValueError(f"max_steps must be positive, got {max_steps}")
    try:
        return gym.make(
            ENV_ID, continuous=False, max_episode_steps=max_steps, render_mode=render_mode
        )
    except (ImportError, gym.error.DependencyNotInstalled) as exc:
        raise DataError(f"cannot make {ENV_ID} ({exc}); {_INSTALL_HINT}") from exc


def preprocess(frame: np.ndarray) -> np.ndarray:
    """Convert RGB frames to grey codes with integer arithmetic only.

    Each pixel becomes ``(77 R + 150 G + 29 B) >> 8``, so the network input ``code / 256`` is a
    dyadic rational computed exactly on every machine.

    Args:
        frame: ``uint8`` RGB, one frame ``(H, W, 3)`` or a batch ``(N, H, W, 3)``; env
            observations are ``(96, 96, 3)``.

    Returns:
        ``uint8`` grey codes, ``(H, W)`` or ``(N, H, W)``.

    Raises:
        ValueError: If the array is not ``uint8`` with 3 or 4 axes and 3 channels last.
    """
    frame = np.asarray(frame)
    if frame.dtype != np.uint8 or frame.ndim not in (3, 4) or frame.shape[-1] != 3:
        raise ValueError(
            "preprocess expects uint8 RGB frames of shape (H, W, 3) or (N, H, W, 3), "
            f"got {frame.dtype} {frame.shape}"
        )
    rgb = frame.astype(np.uint16)  # 255 * 256 fits in 16 bits
    r, g, b = GRAY_WEIGHTS
    gray = (r * rgb[..., 0] + g * rgb[..., 1] + b * rgb[..., 2]) >> 8
    return gray.astype(np.uint8)


@dataclass(frozen=True, eq=False)
class _Track:
    """Geometry of one track polyline, precomputed once per episode.

    Attributes:
        xy: Centre-line points ``(M, 2)`` in metres, in driving order (a closed loop).
        seg: Length of the segment from point ``i`` to ``i + 1`` ``(M,)``.
        v_allowed: Highest speed through point ``i`` at the expert's lateral acceleration
            ``(M,)``.
    """

    xy: np.ndarray
    seg: np.ndarray
    v_allowed: np.ndarray


class Expert:
    """A deterministic driver that picks one of the three classes from privileged state.

    Steering is pure pursuit: the target is the centre-line point ``lookahead +
    lookahead_per_speed * speed`` metres ahead of the point nearest to the car, and the wanted
    front-wheel angle is ``atan(2 steer_gain sin(alpha) / distance)`` with ``alpha`` the target's
    bearing. The expert steers left or right while the actual wheel angle is more than
    ``steer_tolerance`` away from the wanted one (a steering action moves the wheels by at most
    0.06 rad per step; gas recentres them).

    Speed: every track point gets an allowed speed ``sqrt(lateral_accel / curvature)``; the
    target speed is the least over the next ``horizon`` points of ``sqrt(v_allowed**2 + 2 decel
    s)``, ``s`` the distance to the point, and at least ``min_speed``. When aligned and slower
    than the target the expert gives gas; when too fast it steers towards the wanted angle
    (which gives no gas), so it never brakes and never idles.

    The defaults were tuned by random search on tracks 100..115 and 1000..1031, with the
    physics only. The expert keeps no state between steps except the geometry of the current
    track, so its choice depends only on the env's state.

    Args:
        lookahead: Pure-pursuit look-ahead at standstill (m).
        lookahead_per_speed: Extra look-ahead per m/s of speed (s).
        steer_gain: Pure-pursuit gain (a wheelbase in m; larger steers harder).
        steer_tolerance: Wheel-angle error (rad) tolerated before steering.
        lateral_accel: Lateral acceleration (m/s^2) that sets the allowed speed in curves.
        decel: Deceleration (m/s^2) assumed when coasting towards a slower point.
        horizon: Track points (3.5 m apart) looked at for the speed target.
        min_speed: The target speed is never below this (m/s).
    """

    def __init__(
        self,
        *,
        lookahead: float = 6.6,
        lookahead_per_speed: float = 0.22,
        steer_gain: float = 8.6,
        steer_tolerance: float = 0.07,
        lateral_accel: float = 170.0,
        decel: float = 10.0,
        horizon: int = 70,
        min_speed: float = 25.0,
    ) -> None:
        if horizon < 2:
            raise ValueError(f"horizon must be at least 2 track points, got {horizon}")
        self.lookahead = lookahead
        self.lookahead_per_speed = lookahead_per_speed
        self.steer_gain = steer_gain
        self.steer_tolerance = steer_tolerance
        self.lateral_accel = lateral_accel
        self.decel = decel
        self.horizon = horizon
        self.min_speed = min_speed
        # The track list of the last episode seen, kept (not its id) so `is` cannot be fooled.
        self._track_list: Any = None
        self._track: _Track | None = None

    def _geometry(self, track: Sequence[Sequence[float]]) -> _Track:
        """Return the geometry of ``track``, recomputing it when a new episode started."""
        if self._track is None or track is not self._track_list:
            xy = np.asarray(track, dtype=np.float64)[:, 2:4]  # (M, 2); rows are (alpha, beta, x, y)
            step = np.roll(xy, -1, axis=0) - xy  # segment i: point i -> i + 1
            seg = np.linalg.norm(step, axis=1)
            heading = np.arctan2(step[:, 1], step[:, 0])
            turn = np.angle(np.exp(1j * (np.roll(heading, -1) - heading)))  # wrapped to (-pi, pi]
            curvature = np.abs(turn) / seg
            curvature = (np.roll(curvature, 1) + curvature + np.roll(curvature, -1)) / 3
            v_allowed = np.sqrt(self.lateral_accel / np.maximum(curvature, 1e-9))
            self._track = _Track(xy=xy, seg=seg, v_allowed=v_allowed)
            self._track_list = track
        return self._track

    def act(self, env: gym.Env) -> int:
        """Pick the class for the env's current state.

        Args:
            env: A ``CarRacing-v3`` env (wrapped or not) after ``reset``.

        Returns:
            The class index: 0 left, 1 right, 2 gas (see :data:`CLASS_TO_ACTION`).
        """
        car_env: Any = env.unwrapped
        geo = self._geometry(car_env.track)
        hull = car_env.car.hull
        x, y = hull.position
        vx, vy = hull.linearVelocity
        speed = math.hypot(vx, vy)
        forward = (-math.sin(hull.angle), math.cos(hull.angle))  # the car's local +y axis
        wheel = float(car_env.car.wheels[0].joint.angle)  # positive = left

        n = len(geo.xy)
        nearest = int(np.argmin((geo.xy[:, 0] - x) ** 2 + (geo.xy[:, 1] - y) ** 2))
        ahead = (nearest + np.arange(self.horizon)) % n
        dist = np.concatenate(([0.0], np.cumsum(geo.seg[ahead[:-1]])))  # metres to each point

        look = self.lookahead + self.lookahead_per_speed * speed
        target = ahead[min(int(np.searchsorted(dist, look)), self.horizon - 1)]
        tx, ty = geo.xy[target] - (x, y)
        bearing = math.atan2(forward[0] * ty - forward[1] * tx, forward[0] * tx + forward[1] * ty)
        want = math.atan2(2.0 * self.steer_gain * math.sin(bearing), math.hypot(tx, ty))
        # Beyond the joint limit the wheels never get there, and the car would never get gas.
        want = min(max(want, -_MAX_WHEEL_ANGLE), _MAX_WHEEL_ANGLE)

        v_target = float(np.min(np.sqrt(geo.v_allowed[ahead] ** 2 + 2.0 * self.decel * dist)))
        v_target = max(v_target, self.min_speed)

        if want > wheel + self.steer_tolerance:
            return LEFT
        if want < wheel - self.steer_tolerance:
            return RIGHT
        if speed > v_target:
            return LEFT if want > wheel else RIGHT
        return GAS


def expert_returns(
    seeds: Sequence[int],
    max_steps: int = 1000,
    *,
    expert: Expert | None = None,
    progress: bool = False,
) -> list[float]:
    """Drive each seeded track with the expert and return the episode returns.

    Args:
        seeds: Track seeds, passed to ``env.reset(seed=...)``.
        max_steps: Steps before an episode is truncated.
        expert: The driver; a default :class:`Expert` when ``None``.
        progress: Show a tqdm bar over the tracks.

    Returns:
        The return of each track, in the order of ``seeds``.

    Raises:
        DataError: If Box2D or pygame are not installed.
    """
    expert = Expert() if expert is None else expert
    env = make_env(max_steps)
    returns: list[float] = []
    try:
        for seed in progress_bar(seeds, desc="expert", unit="track", disable=not progress):
            env.reset(seed=int(seed))
            total, done = 0.0, False
            while not done:
                action = CLASS_TO_ACTION[expert.act(env)]
                _, reward, terminated, truncated, _ = env.step(action)
                total += float(reward)
                done = terminated or truncated
            returns.append(total)
    finally:
        env.close()
    return returns
