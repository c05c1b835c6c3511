from __future__ import annotations

import csv
import json

import gymnasium as gym
import numpy as np
import pytest
import torch

from aann_env.core.architecture import CAR, MNIST
from aann_env.core.forward import evaluate, forward, to_input
from aann_env.core.network import TernaryNetwork, zeros_per_layer
from aann_env.errors import CheckpointError
from aann_env.nets import load_psiren, shipped_levels
from aann_env.runs.history import read_sweep
from aann_env.tasks import Task, get_task
from aann_env.training.config import (
    CAR_LEVELS,
    MNIST_LEVELS,
    PAPER_CAR_LEVELS,
    PAPER_MNIST_LEVELS,
    TrainConfig,
    parse_levels,
)
from aann_env.training.epoch import translate
from aann_env.training.latent import LatentNetwork, exact_exponents, ternarize
from aann_env.training.psiren import PSIRENRun
from agents.cli import main

TINY = dict(
    levels=(0.5, 0.9),
    dense_epochs=1,
    level_epochs=1,
    long_epochs=2,
    train_size=500,
    eval_size=500,
    batch_size=100,
)


@pytest.fixture
def small_test_split(monkeypatch: pytest.MonkeyPatch) -> None:
    """Sweeps measure their test accuracy on 1000 MNIST test images, not all 10 000: the tests
    using this compare runs with each other, not with recorded figures."""
    splits = Task.splits

    def smaller(self: Task, data_dir: str | None = None) -> dict:
        return {**splits(self, data_dir), "test": splits(self, data_dir)["test"].subset(1000)}

    monkeypatch.setattr(Task, "splits", smaller)


def test_paper_levels():
    assert len(PAPER_MNIST_LEVELS) == 15 and len(PAPER_CAR_LEVELS) == 19
    assert PAPER_MNIST_LEVELS[0] == 0.0 and PAPER_MNIST_LEVELS[-1] == 0.95
    assert 0.87 in PAPER_MNIST_LEVELS and 0.9 not in PAPER_MNIST_LEVELS
    assert PAPER_CAR_LEVELS[-4:] == (0.96, 0.97, 0.98, 0.99)
    # The default sweeps add 90%, where the paper's SENSE climb starts.
    assert tuple(sorted((*PAPER_MNIST_LEVELS, 0.9))) == MNIST_LEVELS
    assert len(CAR_LEVELS) == 20 and 0.9 in CAR_LEVELS


def test_parse_levels():
    assert parse_levels("0,50,90") == (0.0, 0.5, 0.9)
    assert parse_levels("87%, 95%") == (0.87, 0.95)
    for bad, match in [
        ("", "empty"),
        ("90,50", "increase"),
        ("50,50", "increase"),
        ("100", "outside"),
        ("-10", "outside"),
        ("ninety", "percents"),
        ("90.5", "whole percent"),
    ]:
        with pytest.raises(ValueError, match=match):
            parse_levels(bad)


def test_config_errors():
    with pytest.raises(ValueError, match="unknown task"):
        TrainConfig(task="cifar")
    with pytest.raises(ValueError, match="increase"):
        TrainConfig(levels=(0.9, 0.5))
    with pytest.raises(ValueError, match="distill"):
        TrainConfig(distill=1.5)
    assert TrainConfig(task="car").levels == CAR_LEVELS


def test_cli_rejects_bad_levels_and_task(tmp_path, capsys):
    with pytest.raises(SystemExit) as exc:
        main(["train", "--out", str(tmp_path / "r"), "--levels", "90,50"])
    assert exc.value.code == 2 and "increase strictly" in capsys.readouterr().err
    with pytest.raises(SystemExit) as exc:
        main(["train", "--out", str(tmp_path / "r"), "--task", "cifar"])
    assert exc.value.code == 2 and "invalid choice" in capsys.readouterr().err
    assert main(["train", "--out", str(tmp_path / "r"), "--distill", "2"]) == 2
    assert "distill" in capsys.readouterr().err
    assert not (tmp_path / "r").exists()


@pytest.mark.parametrize("sparsity", [0.0, 0.5, 0.87, 0.95])
def test_ternarize_has_exact_zero_count(sparsity):
    w = torch.randn(32, 16, 5, 5, generator=torch.Generator().manual_seed(1))
    w[0, 0, 0, :3] = 0.0  # exact zeros and ties are handled too
    t = ternarize(w, sparsity)
    assert int((t == 0).sum()) == zeros_per_layer(w.numel(), sparsity)
    kept = t != 0
    assert torch.equal(t[kept], torch.where(w[kept] < 0, -1.0, 1.0))
    if sparsity > 0:  # every kept weight is at least as large as every dropped one
        assert float(w.abs()[kept].min()) >= float(w.abs()[~kept].max())


@pytest.mark.parametrize("arch", [MNIST, CAR])
def test_exact_exponents_pass_the_exactness_check(arch):
    exps = exact_exponents(arch, [-12] * len(arch.layers), 0.0)
    arch.check_scales({n: 2.0**e for n, e in zip(arch.layer_names, exps, strict=True)}, 0.0)
    assert exact_exponents(arch, [0] * len(arch.layers), 0.0) == [0] * len(arch.layers)


@pytest.mark.parametrize("arch", [MNIST, CAR])
@pytest.mark.parametrize("sparsity", [0.0, 0.9])
def test_ternary_mode_is_the_exported_network_bit_for_bit(arch, sparsity):
    """What training computes in ternary mode is exactly the core forward pass of the export."""
    model = LatentNetwork(arch, 0.0, torch.Generator().manual_seed(0))
    model.fit_scales(sparsity)
    with torch.no_grad():
        model.log2_scales += torch.tensor([0.3, -1.2, 0.4, 0.1][: len(arch.layers)])
    net = model.to_network(sparsity)
    assert isinstance(net, TernaryNetwork) and net.sparsity == sparsity
    pixels = np.random.default_rng(0).integers(0, 256, (20, *arch.input_shape), dtype=np.uint8)
    x = to_input(pixels, net.offset)
    with torch.no_grad():
        assert torch.equal(model(x, sparsity), forward(net, x))


def test_translate_moves_images_and_fills_with_zero():
    x = torch.arange(40, dtype=torch.uint8).reshape(2, 1, 4, 5)
    y = translate(x, torch.tensor([[1, 0], [0, -2]]), 2)
    assert y.dtype == torch.uint8 and y.shape == x.shape
    assert torch.equal(y[0, 0, 1:], x[0, 0, :-1]) and not y[0, 0, 0].any()
    assert torch.equal(y[1, 0, :, :3], x[1, 0, :, 2:]) and not y[1, 0, :, 3:].any()


# ----------------------------------------------------------------------------- end to end
def _rows(path):
    with open(path, newline="") as fh:
        return list(csv.DictReader(fh))


@pytest.mark.usefixtures("mnist_ready")
def test_aann_train_end_to_end(tmp_path, capsys):
    """A reduced sweep through the CLI: nets saved, exact figures recorded, env loads them."""
    out = tmp_path / "sweep"
    args = ["train", "--out", str(out), "--levels", "50,90", "--dense-epochs", "1"]
    args += ["--level-epochs", "1", "--long-epochs", "2", "--train-size", "2000"]
    args += ["--eval-size", "1000", "--no-progress", "--seed", "3"]
    assert main(args) == 0
    printed = capsys.readouterr().out
    assert "sweep of 2 levels done" in printed and "sweep.png" in printed
    assert (out / "sweep.png").stat().st_size > 0
    rows = read_sweep(out)
    assert [r["sparsity"] for r in rows] == [0.5, 0.9]
    task = get_task("mnist")
    valid = task.split("valid").subset(1000)
    test = task.split("test")
    for row in rows:
        net = TernaryNetwork.load(out / row["path"], arch="mnist")
        assert net.sparsity == row["sparsity"] and net.seed == 3
        assert net.provenance["command"].startswith("aann train --out")
        assert net.provenance["seed"] == 3 and net.provenance["init"] == "psiren"
        # Recorded figures are the exact evaluator's, on the same images.
        assert evaluate(net, valid.pixels, valid.labels).accuracy == row["val_accuracy"]
        assert evaluate(net, test.pixels, test.labels).accuracy == row["test_accuracy"]
        assert row["test_accuracy"] > 0.5  # trained, far above chance (0.1)
        env = gym.make("AANN-MNIST-v0", sparsity=row["sparsity"], eval_size=1000)
        _, info = env.reset(options={"init": str(out / row["path"])})
        assert info["accuracy"] == row["val_accuracy"]
    history = _rows(out / "history.csv")
    assert [int(r["stage"]) for r in history] == [0, 1, 2, 2]
    assert main(["plot", str(out), "--out", str(tmp_path / "plots")]) == 0
    assert (tmp_path / "plots" / "sweep.png").stat().st_size > 0


@pytest.mark.usefixtures("mnist_ready", "small_test_split")
def test_resume_continues_the_same_sweep(tmp_path):
    cfg = TrainConfig(**TINY)
    whole = PSIRENRun(tmp_path / "whole", cfg).run(progress=False)
    assert whole["finished"]

    part = PSIRENRun(tmp_path / "part", TrainConfig(**TINY))
    assert part.run(progress=False, max_epochs=2) == {"finished": False, "stage": 2, "epoch": 0}
    # A torn write of the newest checkpoint falls back to the previous one.
    (tmp_path / "part" / "checkpoint.pt").write_bytes(b"garbage")
    resumed = PSIRENRun(tmp_path / "part", None, resume=True).run(progress=False)
    assert resumed["finished"]
    for a, b in zip(whole["levels"], resumed["levels"], strict=True):
        assert a["val_accuracy"] == b["val_accuracy"] and a["test_accuracy"] == b["test_accuracy"]
        assert TernaryNetwork.load(tmp_path / "whole" / a["path"]) == TernaryNetwork.load(
            tmp_path / "part" / b["path"]
        )
    assert len(_rows(tmp_path / "part" / "history.csv")) == len(
        _rows(tmp_path / "whole" / "history.csv")
    )


def test_run_directory_errors(tmp_path):
    with pytest.raises(CheckpointError, match="no config.json"):
        PSIRENRun(tmp_path / "none", None, resume=True)
    run_dir = tmp_path / "r"
    PSIRENRun(run_dir, TrainConfig(**TINY)).run(progress=False, max_epochs=1)
    with pytest.raises(CheckpointError, match="already holds a run"):
        PSIRENRun(run_dir, TrainConfig(**TINY))
    with pytest.raises(CheckpointError, match="another configuration"):
        PSIRENRun(run_dir, TrainConfig(**{**TINY, "seed": 1}), resume=True)
    (run_dir / "checkpoint.pt").write_bytes(b"not a checkpoint")
    with pytest.raises(CheckpointError, match="not a readable p-SIREN checkpoint"):
        PSIRENRun(run_dir, None, resume=True).load_checkpoint()


# ---------------------------------------------------------------------------- shipped nets
def test_all_mnist_levels_ship():
    assert shipped_levels("mnist") == MNIST_LEVELS  # the paper's 15 and 90%
    for level in MNIST_LEVELS:
        net = load_psiren("mnist", level)
        assert net.sparsity == level and net.arch == MNIST
        prov = net.provenance
        assert prov["init"] == "psiren" and prov["command"].startswith("aann train")
        assert prov["seed"] == net.seed and prov["sparsity"] == level
        assert 0.9 < prov["test_accuracy"] <= 1.0


def test_all_car_levels_ship():
    assert shipped_levels("car") == CAR_LEVELS  # the paper's 19 and 90%
    for level in CAR_LEVELS:
        net = load_psiren("car", level)
        assert net.sparsity == level and net.offset == 0.5
        assert net.provenance["task"] == "car" and net.provenance["command"].startswith(
            "aann train"
        )


@pytest.mark.usefixtures("mnist_ready")
def test_shipped_figures_are_the_exact_evaluators():
    test = get_task("mnist").split("test")
    valid = get_task("mnist").split("valid")
    for level in (0.0, 0.9, 0.95):
        net = load_psiren("mnist", level)
        assert evaluate(net, test.pixels, test.labels).accuracy == net.provenance["test_accuracy"]
        if net.provenance["val_size"] == len(valid):
            assert (
                evaluate(net, valid.pixels, valid.labels).accuracy == net.provenance["val_accuracy"]
            )


def test_no_shipped_net_for_other_levels():
    with pytest.raises(
        ValueError, match="no p-SIREN network ships.*0.88.*shipped sparsities: 0, 0.1"
    ):
        load_psiren("mnist", 0.88)


@pytest.mark.usefixtures("mnist_ready")
def test_env_starts_from_the_shipped_net():
    env = gym.make("AANN-MNIST-v0", sparsity=0.9, eval_size=500)
    _, info = env.reset(seed=0, options={"init": "psiren"})
    assert env.unwrapped.network == load_psiren("mnist", 0.9)
    assert info["accuracy"] > 0.9
    env = gym.make("AANN-MNIST-v0", sparsity=0.88, eval_size=500)
    with pytest.raises(ValueError, match="aann train"):
        env.reset(options={"init": "psiren"})


@pytest.mark.usefixtures("mnist_ready")
def test_search_from_psiren_via_cli(tmp_path, capsys):
    run = tmp_path / "climb"
    args = ["search", "--init", "psiren", "--sparsity", "0.9", "--eval-size", "300"]
    args += ["--selection-size", "300"]
    args += ["--budget-evals", "96", "--neighborhood-size", "16", "--schedule", "fc"]
    args += ["--checkpoint-steps", "1", "--no-progress", "--out", str(run)]
    assert main(args) == 0
    summary = json.loads((run / "summary.json").read_text())
    rows = _rows(run / "history.csv")
    start = load_psiren("mnist", 0.9)
    valid = get_task("mnist").split("valid").subset(300)
    assert float(rows[0]["val_accuracy"]) == evaluate(start, valid.pixels, valid.labels).accuracy
    assert summary["best_val_accuracy"] >= float(rows[0]["val_accuracy"])
    assert all(r["test_accuracy"] != "" for r in rows)  # test measured at every neighbourhood
    assert (
        main(
            [
                "search",
                "--init",
                "psiren",
                "--sparsity",
                "0.88",
                "--budget-evals",
                "9",
                "--out",
                str(tmp_path / "x"),
            ]
        )
        == 2
    )
    assert "no p-SIREN network ships" in capsys.readouterr().err
