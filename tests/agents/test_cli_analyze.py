"""``aann analyze`` and ``aann ensemble`` from the command line, with tiny budgets."""

from __future__ import annotations

import json

import numpy as np
import pytest

from aann_env.analysis.records import read_csv
from aann_env.core.forward import evaluate
from aann_env.core.network import random_network
from aann_env.nets import load_psiren
from aann_env.tasks import get_task
from agents.cli import main

pytestmark = pytest.mark.usefixtures("mnist_ready")


def test_neighbours_writes_exact_scores_and_figures(tmp_path, capsys):
    out = tmp_path / "nb"
    argv = ["analyze", "neighbours", "psiren:0.9", "--out", str(out), "--eval-size", "100"]
    argv += ["--neighbours", "1.0=3,2.0=4,fc=50", "--max-distance", "2", "--walks", "1"]
    assert main(argv) == 0
    assert "better" in capsys.readouterr().out
    for name in ("neighbours.csv", "distances.csv", "walks.csv", "summary.json"):
        assert (out / name).is_file(), name
    assert (out / "neighbours.png").stat().st_size > 0 and (out / "distances.png").is_file()
    summary = json.loads((out / "summary.json").read_text())
    assert summary["network"] == "mnist-psiren-90" and summary["split"] == "valid"
    net = load_psiren("mnist", 0.9)
    valid = get_task("mnist").split("valid").subset(100)
    rows = read_csv(out / "neighbours.csv")
    assert len(rows) == 57
    for r in rows[::8]:
        n = net.copy()
        n.apply_swap((n.layer_index(r["layer"]), int(r["src"]), int(r["dst"])))
        assert float(r["accuracy"]) == evaluate(n, valid.pixels, valid.labels).accuracy


def test_tsne_family_and_ensemble(tmp_path, capsys):
    nets = []
    for seed in range(3):
        net = random_network("mnist", 0.9, seed, balanced=True)
        net.save(tmp_path / f"m{seed}.npz")
        nets.append(net)
    tsne = ["analyze", "tsne", str(tmp_path / "m0.npz"), "--out", str(tmp_path / "ts")]
    assert main([*tsne, "--eval-size", "50", "--neighbours", "fc=10", "--layers", "fc"]) == 0
    assert (tmp_path / "ts" / "tsne-fc.png").is_file()
    assert len(read_csv(tmp_path / "ts" / "tsne-fc.csv")) == 10

    pattern = str(tmp_path / "m*.npz")
    fam = ["analyze", "family", pattern, "--out", str(tmp_path / "fam"), "--eval-size", "60"]
    assert main(fam) == 0
    summary = json.loads((tmp_path / "fam" / "family.json").read_text())
    assert summary["members"] == 3 and summary["hamming_min"] > 0
    assert (tmp_path / "fam" / "family.png").is_file()
    pairs = read_csv(tmp_path / "fam" / "pairs.csv")
    assert int(pairs[0]["hamming"]) == nets[0].hamming(nets[1])

    ens = ["ensemble", pattern, "--out", str(tmp_path / "ens"), "--max-subsets", "2"]
    assert main(ens) == 0
    rows = read_csv(tmp_path / "ens" / "ensemble.csv")
    assert sorted({int(r["size"]) for r in rows}) == [1, 2, 3]
    test = get_task("mnist").split("test")
    best = max(evaluate(n, test.pixels, test.labels).accuracy for n in nets)
    assert float(next(r for r in rows if r["size"] == "1")["max"]) == best
    assert "size  rule" in capsys.readouterr().out


def test_bad_input_exits_2_with_a_message(tmp_path, capsys):
    assert main(["analyze", "neighbours", str(tmp_path / "no.npz"), "--out", str(tmp_path)]) == 2
    assert "no network at" in capsys.readouterr().err
    assert main(["analyze", "family", str(tmp_path / "x*"), "--out", str(tmp_path)]) == 2
    assert "matches no file" in capsys.readouterr().err
    random_network("mnist", 0.8, 0).save(tmp_path / "a.npz")
    random_network("mnist", 0.8, 1).save(tmp_path / "b.npz")
    family = ["analyze", "family", str(tmp_path / "a.npz"), str(tmp_path / "b.npz")]
    assert main([*family, "--out", str(tmp_path / "f")]) == 2
    assert "not in the family" in capsys.readouterr().err
    ens = ["ensemble", str(tmp_path / "a.npz"), "--sizes", "1,4", "--out", str(tmp_path / "e")]
    assert main(ens) == 2
    assert "sizes must be in 1..1" in capsys.readouterr().err
    tsne = ["analyze", "tsne", "psiren:0.9", "--out", str(tmp_path), "--layers", "fc"]
    assert main([*tsne, "--neighbours", "2.0=10"]) == 2
    assert "not analysed" in capsys.readouterr().err
    bad = ["analyze", "neighbours", "psiren:0.9", "--out", str(tmp_path), "--layers", "fc7"]
    assert main(bad) == 2
    assert "no layer" in capsys.readouterr().err
    assert main(["analyze", "neighbours", "psiren:0.42", "--out", str(tmp_path)]) == 2
    assert "no p-SIREN network ships" in capsys.readouterr().err
    np.zeros(3).tofile(tmp_path / "broken.npz")
    assert main(["ensemble", str(tmp_path / "broken.npz"), "--out", str(tmp_path)]) == 2
    assert "not a readable network file" in capsys.readouterr().err
