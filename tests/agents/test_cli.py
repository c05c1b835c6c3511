from __future__ import annotations

import json
import subprocess
import sys

import gymnasium as gym
import pytest

from agents.cli import main

pytestmark = pytest.mark.usefixtures("mnist_ready")
TINY = [
    "--eval-size",
    "200",
    "--selection-size",
    "200",
    "--budget-evals",
    "200",
    "--no-progress",
    "--neighborhood-size",
    "16",
    "--schedule",
    "fc",
]


def test_search_eval_and_plot(tmp_path, capsys):
    run = tmp_path / "run"
    assert main(["search", *TINY, "--out", str(run)]) == 0
    out = capsys.readouterr().out
    assert "best network" in out and str(run / "best.npz") in out and "climb.png" in out
    assert json.loads((run / "summary.json").read_text())["evals"] >= 200
    env = gym.make("AANN-MNIST-v0", eval_size=200)
    _, info = env.reset(options={"init": str(run / "best.npz")})
    assert info["accuracy"] == json.loads((run / "summary.json").read_text())["best_val_accuracy"]

    # Resuming takes the run's own options; a budget given now extends it (what main.sh does).
    assert (
        main(
            [
                "search",
                "--out",
                str(run),
                "--resume",
                "--budget-evals",
                "400",
                "--no-progress",
                "--no-plot",
            ]
        )
        == 0
    )
    assert json.loads((run / "summary.json").read_text())["evals"] >= 400
    capsys.readouterr()

    assert main(["eval", str(run / "best.npz")]) == 0
    assert "test : accuracy" in capsys.readouterr().out.replace("test :", "test :")
    assert main(["plot", str(run), "--out", str(tmp_path / "plots")]) == 0
    assert (tmp_path / "plots" / "accuracy.png").stat().st_size > 0
    for agent in ("random", "annealing"):
        assert (
            main(
                [
                    "search",
                    "--agent",
                    agent,
                    "--eval-size",
                    "200",
                    "--selection-size",
                    "200",
                    "--budget-evals",
                    "64",
                    "--no-progress",
                    "--no-plot",
                    "--out",
                    str(tmp_path / agent),
                ]
            )
            == 0
        )


def test_defaults_are_the_best_configuration_and_presets_the_papers(tmp_path):
    small = ["--eval-size", "100", "--selection-size", "100", "--budget-evals", "1"]
    small += ["--no-progress", "--no-plot"]

    def config(*argv: str) -> dict:
        out = tmp_path / str(len(list(tmp_path.iterdir())))
        assert main(["search", *small, *argv, "--out", str(out)]) == 0
        return json.loads((out / "config.json").read_text())

    default = config()
    assert (default["score_on"], default["rotate_every"], default["init"]) == (
        "train",
        200,
        "random",
    )
    assert default["agent_kwargs"]["schedule"] == "adaptive"
    assert default["agent_kwargs"]["criterion"] == "loss"
    fig8 = config("--preset", "paper-fig8", "--block", "2")
    assert (fig8["score_on"], fig8["rotate_every"], fig8["sparsity"]) == ("valid", None, 0.8)
    kwargs = fig8["agent_kwargs"]
    assert (kwargs["schedule"], kwargs["criterion"], kwargs["block"]) == (
        "random-block",
        "accuracy",
        2,
    )
    fig7 = config("--preset", "paper-fig7")
    assert (fig7["init"], fig7["sparsity"], fig7["agent_kwargs"]["schedule"]) == (
        "psiren",
        0.9,
        "fc",
    )
    refused = ["search", "--preset", "paper-fig6", "--agent", "random", "--out", "x"]
    assert main(refused) == 2  # a preset is a SENSE protocol


@pytest.mark.parametrize(
    ("argv", "message"),
    [
        (["search", "--out", "x", "--sparsity", "1.5"], "sparsity must be in"),
        (["search", "--out", "x", "--budget-evals", "-3"], "positive integer"),
        (["search", "--out", "x", "--neighborhood-size", "fc=abc"], "LAYER=COUNT"),
        (["search", "--out", "x", "--agent", "hillclimb"], "invalid choice"),
        (["search", "--budget-evals", "5"], "--out"),
    ],
)
def test_bad_flags_exit_2_with_a_message(argv, message, capsys):
    with pytest.raises(SystemExit) as exc:
        main(argv)
    assert exc.value.code == 2
    assert message in capsys.readouterr().err


def test_bad_paths_exit_2_with_a_message(tmp_path, capsys):
    assert main(["search", "--out", str(tmp_path / "a"), "--no-progress"]) == 2
    assert "a budget needs" in capsys.readouterr().err
    assert (
        main(
            [
                "search",
                "--out",
                str(tmp_path / "b"),
                "--budget-evals",
                "5",
                "--init",
                str(tmp_path / "nope.npz"),
            ]
        )
        == 2
    )
    assert "neither 'random', 'balanced', 'psiren' nor a network file" in capsys.readouterr().err
    assert main(["search", "--out", str(tmp_path / "c"), "--resume"]) == 2
    assert "nothing to resume" in capsys.readouterr().err
    assert main(["eval", str(tmp_path / "missing.npz")]) == 2
    assert "no network file" in capsys.readouterr().err
    assert main(["plot", str(tmp_path)]) == 2
    assert "not a run directory" in capsys.readouterr().err


def test_help_reads(capsys):
    with pytest.raises(SystemExit) as exc:
        main(["search", "--help"])
    assert exc.value.code == 0
    text = " ".join(capsys.readouterr().out.split())
    assert "--budget-evals" in text and "--resume" in text and "Fig. 6" in text


SUBCOMMANDS = ("search", "train", "analyze", "ensemble", "drive", "plot", "walk", "eval")


def test_top_help_lists_every_subcommand():
    # As `python -m agents.cli` runs it, so that __main__ is covered too.
    done = subprocess.run(
        [sys.executable, "-m", "agents.cli", "--help"], capture_output=True, text=True, check=False
    )
    assert done.returncode == 0, done.stderr
    for command in SUBCOMMANDS:
        assert f"\n    {command} " in done.stdout, command


@pytest.mark.parametrize("command", SUBCOMMANDS)
def test_each_subcommand_help_exits_0(command, capsys):
    with pytest.raises(SystemExit) as exc:
        main([command, "--help"])
    assert exc.value.code == 0
    assert capsys.readouterr().out.startswith(f"usage: aann {command} ")


def test_search_counts_cost_under_the_calibrated_model_and_resumes_under_it(tmp_path):
    from aann_env.envs.cost_model import cost_model

    run = tmp_path / "run"
    at = TINY.index("--budget-evals")
    tiny = TINY[:at] + TINY[at + 2 :]
    argv = ["search", *tiny, "--no-plot", "--budget-cost", "3000", "--cost-model", "calibrated"]
    assert main([*argv, "--out", str(run)]) == 0
    summary = json.loads((run / "summary.json").read_text())
    model = cost_model("calibrated")
    steps = summary["steps"]
    assert summary["cost_model"] == "calibrated" and summary["evals"] == 16 * steps
    # Every step pays its 16 neighbours, its fixed cost and, when it commits, the commit.
    low = steps * model.step_cost("fc", 16)
    high = steps * model.step_cost("fc", 16, committed=True)
    assert low - 1e-6 <= summary["cost"] <= high + 1e-6  # sums of decimals: a rounding slack
    assert summary["cost"] >= 3000 > summary["cost"] - model.step_cost("fc", 16, committed=True)
    assert json.loads((run / "config.json").read_text())["cost_model"] == "calibrated"
    resume = ["search", "--out", str(run), "--resume", "--no-progress", "--no-plot"]
    assert main([*resume, "--budget-cost", "6000"]) == 0
    assert json.loads((run / "summary.json").read_text())["cost"] >= 6000
    with pytest.raises(SystemExit) as exc:  # argparse refuses an unknown model by name
        main(["search", "--cost-model", "seconds", "--out", str(tmp_path / "x")])
    assert exc.value.code == 2
