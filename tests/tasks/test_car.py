"""Tests of the car-racing imitation task: preprocessing, expert, data set and closed-loop driving."""

from __future__ import annotations

import hashlib
import importlib.util
import shutil
from pathlib import Path

import numpy as np
import pytest
from PIL import Image
from support.car import BOX2D_MISSING, HAS_BOX2D, needs_box2d

from aann_env.errors import DataError
from aann_env.tasks import SPLITS
from aann_env.tasks.car import dataset as car_data
from aann_env.tasks.car.dataset import CarData, CarDataConfig, cache_path, load_car, load_car_data
from aann_env.tasks.car.drive import VIDEO_EVERY, drive
from aann_env.tasks.car.expert import (
    CLASS_TO_ACTION,
    CLASSES,
    GAS,
    LEFT,
    RIGHT,
    Expert,
    expert_returns,
    make_env,
    preprocess,
)

TINY = CarDataConfig(train_tracks=1, valid_tracks=1, test_tracks=1, base_seed=7, max_steps=60)


# --------------------------------------------------------------------------------------------
# Preprocessing


def test_preprocess_matches_hand_computation() -> None:
    frame = np.zeros((96, 96, 3), dtype=np.uint8)
    frame[0, 0] = (255, 255, 255)  # (77 + 150 + 29) * 255 = 65280 -> 255
    frame[0, 1] = (10, 20, 30)  # 770 + 3000 + 870 = 4640 -> 18
    frame[0, 2] = (255, 0, 0)  # 19635 -> 76
    frame[0, 3] = (0, 255, 0)  # 38250 -> 149
    frame[0, 4] = (0, 0, 255)  # 7395 -> 28
    gray = preprocess(frame)
    assert gray.dtype == np.uint8
    assert gray.shape == (96, 96)
    assert gray[0, :6].tolist() == [255, 18, 76, 149, 28, 0]


def test_preprocess_batch_equals_frames() -> None:
    rng = np.random.default_rng(0)
    batch = rng.integers(0, 256, size=(4, 96, 96, 3), dtype=np.uint8)
    out = preprocess(batch)
    assert out.dtype == np.uint8
    assert out.shape == (4, 96, 96)
    np.testing.assert_array_equal(out, np.stack([preprocess(f) for f in batch]))
    weights = np.array([77, 150, 29], dtype=np.int64)
    np.testing.assert_array_equal(out, (batch.astype(np.int64) @ weights) // 256)


@pytest.mark.parametrize(
    "bad",
    [np.zeros((96, 96, 3), dtype=np.float32), np.zeros((96, 96, 4), dtype=np.uint8)],
)
def test_preprocess_rejects_bad_frames(bad: np.ndarray) -> None:
    with pytest.raises(ValueError, match="uint8 RGB"):
        preprocess(bad)


# --------------------------------------------------------------------------------------------
# The expert


def test_class_table() -> None:
    assert CLASSES == ("left", "right", "gas")
    assert CLASS_TO_ACTION == (2, 1, 3)
    assert (LEFT, RIGHT, GAS) == (0, 1, 2)


@needs_box2d
def test_classes_do_what_their_names_say() -> None:
    env = make_env(100)
    try:
        env.reset(seed=0)
        car = env.unwrapped.car  # type: ignore[attr-defined]
        for _ in range(8):
            env.step(CLASS_TO_ACTION[LEFT])
        assert car.wheels[0].joint.angle > 0.3  # positive wheel angle is left
        for _ in range(16):
            env.step(CLASS_TO_ACTION[RIGHT])
        assert car.wheels[0].joint.angle < -0.3
        for _ in range(20):
            env.step(CLASS_TO_ACTION[GAS])
        assert abs(car.wheels[0].joint.angle) < 0.01
        assert car.wheels[2].gas == pytest.approx(0.2)
        assert np.hypot(*car.hull.linearVelocity) > 5.0
    finally:
        env.close()


def _expert_rollout(seed: int, steps: int) -> tuple[list[int], list[np.ndarray]]:
    """The expert's classes and the preprocessed observations they were picked on."""
    env = make_env(steps)
    expert = Expert()
    classes: list[int] = []
    frames: list[np.ndarray] = []
    try:
        obs, _ = env.reset(seed=seed)
        for _ in range(steps):
            choice = expert.act(env)
            classes.append(choice)
            frames.append(preprocess(obs))
            obs, _, terminated, truncated, _ = env.step(CLASS_TO_ACTION[choice])
            if terminated or truncated:
                break
    finally:
        env.close()
    return classes, frames


@needs_box2d
def test_expert_is_deterministic_and_in_range() -> None:
    first, _ = _expert_rollout(3, 120)
    second, _ = _expert_rollout(3, 120)
    assert first == second
    assert set(first) <= {LEFT, RIGHT, GAS}
    assert first[0] == GAS  # it starts on the track, aligned and slow


@needs_box2d
@pytest.mark.slow
def test_expert_drives_a_lap() -> None:
    (ret,) = expert_returns([0])
    assert ret > 850.0  # a full lap: about 906 on this track


# --------------------------------------------------------------------------------------------
# The data set


@pytest.fixture(scope="module")
def tiny_dir(tmp_path_factory: pytest.TempPathFactory) -> Path:
    if not HAS_BOX2D:
        pytest.skip(BOX2D_MISSING)
    folder = tmp_path_factory.mktemp("car")
    load_car_data(folder, TINY, progress=False)
    return folder


def test_config_seeds_and_cache_name() -> None:
    seeds = CarDataConfig(train_tracks=3, valid_tracks=2, test_tracks=1, base_seed=10).seeds()
    assert seeds == {"train": (10, 11, 12), "valid": (13, 14), "test": (15,)}
    small = CarDataConfig.small(frames=4, base_seed=3, skip_frames=2)
    assert small.seeds() == {"train": (3,), "valid": (4,), "test": (5,)}
    assert (small.max_steps, small.skip_frames) == (6, 2)
    assert CarDataConfig().digest() != CarDataConfig(base_seed=1).digest()
    name = cache_path(TINY, "/x").name
    assert name == f"car-v{car_data.VERSION}-{TINY.digest()}.npz"
    with pytest.raises(ValueError, match="train_tracks"):
        CarDataConfig(train_tracks=0)
    with pytest.raises(ValueError, match="skip_frames"):
        CarDataConfig(max_steps=50, skip_frames=50)


def test_tiny_data_set(tiny_dir: Path) -> None:
    data = load_car_data(tiny_dir, TINY, build=False)
    assert isinstance(data, CarData)
    all_seeds = [s for split in SPLITS for s in data.seeds[split]]
    assert len(set(all_seeds)) == len(all_seeds) == 3
    for split in SPLITS:
        pixels, labels = data.splits[split].pixels, data.splits[split].labels
        n = TINY.max_steps - TINY.skip_frames  # no lap ends in 60 steps
        assert pixels.dtype == np.uint8
        assert pixels.shape == (n, 96, 96)
        assert labels.dtype == np.int64
        assert labels.shape == (n,)
        assert set(np.unique(labels).tolist()) <= {0, 1, 2}
        assert data.frame_seeds[split].tolist() == [data.seeds[split][0]] * n


@needs_box2d
def test_frames_and_labels_are_aligned(tiny_dir: Path) -> None:
    data = load_car_data(tiny_dir, TINY, build=False)
    classes, frames = _expert_rollout(data.seeds["train"][0], TINY.max_steps)
    skip = TINY.skip_frames
    np.testing.assert_array_equal(data.splits["train"].labels, classes[skip:])
    np.testing.assert_array_equal(data.splits["train"].pixels, np.stack(frames[skip:]))


def test_second_load_reads_the_cache(tiny_dir: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    def no_recording(*args: object, **kwargs: object) -> None:
        raise AssertionError("the cache should have been read, not recorded again")

    monkeypatch.setattr(car_data, "record_splits", no_recording)
    splits = load_car(str(tiny_dir), TINY)
    assert sorted(splits) == sorted(SPLITS)
    assert len(splits["test"]) == TINY.max_steps - TINY.skip_frames


def test_missing_cache_without_build_raises(tmp_path: Path) -> None:
    with pytest.raises(DataError, match="does not exist"):
        load_car(str(tmp_path), TINY, build=False)


def test_truncated_cache_raises_naming_the_file(tiny_dir: Path, tmp_path: Path) -> None:
    path = cache_path(TINY, tmp_path)
    blob = cache_path(TINY, tiny_dir).read_bytes()
    path.write_bytes(blob[: len(blob) // 2])
    with pytest.raises(DataError, match=path.name) as info:
        load_car(str(tmp_path), TINY, build=False)
    assert "delete" in str(info.value)


def test_tampered_cache_fails_its_hash(tiny_dir: Path, tmp_path: Path) -> None:
    path = cache_path(TINY, tmp_path)
    with np.load(cache_path(TINY, tiny_dir)) as npz:
        arrays = {key: npz[key] for key in npz.files}
    arrays["valid_y"] = (arrays["valid_y"] + 1) % 3
    np.savez_compressed(path, **arrays)
    with pytest.raises(DataError, match="SHA-256") as info:
        load_car(str(tmp_path), TINY, build=False)
    assert str(path) in str(info.value)


def test_cache_of_another_config_is_refused(tiny_dir: Path, tmp_path: Path) -> None:
    other = CarDataConfig(train_tracks=1, valid_tracks=1, test_tracks=1, base_seed=8, max_steps=60)
    shutil.copy(cache_path(TINY, tiny_dir), cache_path(other, tmp_path))
    with pytest.raises(DataError, match="not the requested"):
        load_car(str(tmp_path), other, build=False)


def test_failed_write_leaves_no_file(
    tiny_dir: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    with np.load(cache_path(TINY, tiny_dir)) as npz:
        recorded = {key: npz[key] for key in car_data.ARRAY_KEYS}

    def killed(fh: object, **kwargs: object) -> None:
        fh.write(b"PK half a zip")  # type: ignore[attr-defined]
        raise KeyboardInterrupt

    monkeypatch.setattr(car_data, "record_splits", lambda config, progress: recorded)
    monkeypatch.setattr(car_data.np, "savez_compressed", killed)
    with pytest.raises(KeyboardInterrupt):
        car_data.build_car(TINY, tmp_path, progress=False)
    assert list(tmp_path.iterdir()) == []


def _v1_sha256(arrays: dict[str, np.ndarray]) -> str:
    """The car cache's hash as written before the cache format was shared (a frozen copy)."""
    digest = hashlib.sha256()
    for key in car_data.ARRAY_KEYS:
        arr = np.ascontiguousarray(arrays[key])
        digest.update(f"{key}:{arr.dtype.str}:{arr.shape};".encode())
        digest.update(arr.tobytes())
    return digest.hexdigest()


def test_cache_written_by_the_v1_writer_still_loads(tiny_dir: Path, tmp_path: Path) -> None:
    with np.load(cache_path(TINY, tiny_dir)) as npz:
        recorded = {key: npz[key] for key in car_data.ARRAY_KEYS}
    path = cache_path(TINY, tmp_path)
    np.savez_compressed(  # exactly what build_car wrote before aann_env.tasks.cache held it
        path,
        version=np.array(1, dtype=np.int64),
        config=np.array(TINY.to_json()),
        sha256=np.array(_v1_sha256(recorded)),
        **recorded,
    )
    data = car_data.read_cache(path, TINY)
    assert data.config == TINY
    for split in SPLITS:
        np.testing.assert_array_equal(data.splits[split].pixels, recorded[f"{split}_x"])
        np.testing.assert_array_equal(data.splits[split].labels, recorded[f"{split}_y"])
        np.testing.assert_array_equal(data.frame_seeds[split], recorded[f"{split}_seed"])


def test_errors_say_how_to_record_again(tiny_dir: Path, tmp_path: Path) -> None:
    tiny = cache_path(TINY, tmp_path)
    tiny.write_bytes(b"garbage")
    with pytest.raises(DataError) as info:
        car_data.read_cache(tiny, TINY)
    assert f"build_car({TINY!r}, {str(tmp_path)!r}, force=True)" in str(info.value)
    default = cache_path(CarDataConfig(), tmp_path)
    default.write_bytes(b"garbage")
    with pytest.raises(DataError) as info:
        car_data.read_cache(default, CarDataConfig())
    assert f"`python -m aann_env.tasks.car --rebuild --data-dir {tmp_path}`" in str(info.value)


# --------------------------------------------------------------------------------------------
# Closed-loop driving


@needs_box2d
def test_drive_feeds_frames_and_writes_a_gif(tmp_path: Path) -> None:
    seen: list[tuple[tuple[int, ...], np.dtype]] = []

    def always_gas(frame: np.ndarray) -> int:
        seen.append((frame.shape, frame.dtype))
        return GAS

    steps = 30
    video = tmp_path / "drive.gif"
    returns = drive(always_gas, [0], max_steps=steps, video=video, progress=False)
    assert len(returns) == 1
    assert isinstance(returns[0], float)
    assert len(seen) == steps
    assert set(seen) == {((96, 96), np.dtype(np.uint8))}
    with Image.open(video) as gif:
        assert gif.size == (600, 400)
        assert gif.n_frames == 1 + steps // VIDEO_EVERY  # the reset frame, then every 2nd


@needs_box2d
def test_drive_return_is_the_env_return() -> None:
    steps = 40
    env = make_env(steps)
    try:
        env.reset(seed=5)
        expected = sum(float(env.step(CLASS_TO_ACTION[GAS])[1]) for _ in range(steps))
    finally:
        env.close()
    assert drive(lambda frame: GAS, [5], max_steps=steps, progress=False) == [expected]
    assert expected > 0.0  # the car has reached some tiles


def test_drive_rejects_unknown_video_suffix_before_driving(tmp_path: Path) -> None:
    def never(frame: np.ndarray) -> int:
        raise AssertionError("the video name should be checked before driving")

    with pytest.raises(ValueError, match="suffix"):
        drive(never, [0], video=tmp_path / "drive.avi", progress=False)


@pytest.mark.skipif(importlib.util.find_spec("imageio_ffmpeg") is not None, reason="has ffmpeg")
def test_drive_mp4_without_ffmpeg_says_what_to_do(tmp_path: Path) -> None:
    with pytest.raises(ValueError, match=r"\.gif|imageio"):
        drive(lambda frame: GAS, [0], video=tmp_path / "drive.mp4", progress=False)


@needs_box2d
@pytest.mark.parametrize(("choice", "error"), [(3, ValueError), (1.5, TypeError)])
def test_drive_rejects_bad_policy_outputs(choice: object, error: type[Exception]) -> None:
    with pytest.raises(error, match="class"):
        drive(lambda frame: choice, [0], max_steps=5, progress=False)  # type: ignore[arg-type, return-value]
