"""``aann analyze neighbours|tsne|family``: the paper's analyses of saved networks.

Each writes CSV/JSON data and PNG figures into ``--out``:

- ``aann analyze neighbours NET``: first neighbours per layer relative to NET (Figs. 3/9:
  ``neighbours.png``), the fractions better / equal / worse, and k-th neighbours along random
  walks (``distances.png``);
- ``aann analyze tsne NET``: t-SNE maps of first neighbours with accuracy as height (Figs. 4/10:
  ``tsne-LAYER.png``);
- ``aann analyze family NETS...``: accuracies, pairwise Hamming distances and agreement of
  predictions of one family's members (``family.png``).

NET is a network file, a run directory (its best network), ``psiren:LEVEL`` or a glob pattern
(:mod:`agents.cli.networks`). Every accuracy written is exact: it equals a from-scratch
evaluation of that network.
"""

from __future__ import annotations

import argparse
import time
from pathlib import Path
from typing import Any

from aann_env.analysis import analyze_family, analyze_neighbours, tsne_neighbours
from aann_env.analysis.neighbours import per_layer
from aann_env.analysis.tsne import REPRESENTATIONS
from aann_env.core.network import TernaryNetwork
from aann_env.tasks import Split, get_task
from agents.cli.args import (
    add_data_args,
    fail,
    layer_counts,
    non_negative_int,
    positive_float,
    positive_int,
)
from agents.cli.networks import load_networks, task_of


def add_parser(subparsers: argparse._SubParsersAction) -> argparse.ArgumentParser:
    """Add ``analyze`` and its three sub-commands to the ``aann`` sub-commands."""
    p = subparsers.add_parser(
        "analyze", help="neighbourhood histograms, t-SNE maps and families of saved networks"
    )
    sub = p.add_subparsers(dest="analysis", required=True, metavar="ANALYSIS")
    n = sub.add_parser("neighbours", help="first and k-th neighbours per layer (Figs. 3 and 9)")
    n.add_argument("net", help="network file, run directory, psiren:LEVEL")
    _common(n)
    n.add_argument(
        "--neighbours",
        type=layer_counts,
        default=None,
        help="first neighbours per layer: a number or LAYER=N pairs (default MNIST "
        "1.0=500,2.0=2000,fc=10000; car 1.0=200,2.0=2000,fc1=5000,fc2=10000)",
    )
    n.add_argument("--layers", nargs="+", default=None, help="layers to analyse (default all)")
    n.add_argument(
        "--max-distance",
        type=non_negative_int,
        default=8,
        help="k-th neighbours for k = 1..K (default 8; 0 skips the walks)",
    )
    n.add_argument("--walks", type=positive_int, default=4, help="random walks per layer (4)")
    n.add_argument(
        "--distance-neighbours",
        type=layer_counts,
        default=None,
        help="swaps scored per walk step: a number or LAYER=N pairs (default neighbours/40)",
    )
    n.set_defaults(func=run_neighbours)
    t = sub.add_parser("tsne", help="t-SNE maps of first neighbours (Figs. 4 and 10)")
    t.add_argument("net", help="network file, run directory, psiren:LEVEL")
    _common(t)
    t.add_argument("--layers", nargs="+", default=None, help="one map per layer (default all)")
    t.add_argument(
        "--neighbours",
        type=layer_counts,
        default=2000,
        help="neighbours per map: a number or LAYER=N pairs (default 2000 in every layer)",
    )
    t.add_argument(
        "--representation",
        choices=REPRESENTATIONS,
        default="weights",
        help="weights: the swapped layer's weights (the paper's); logits: the change of the "
        "logits on --probe images (aann_env/analysis/tsne.py)",
    )
    t.add_argument("--probe", type=positive_int, default=500, help="probe images for logits")
    t.add_argument("--perplexity", type=positive_float, default=30.0, help="t-SNE (30)")
    t.set_defaults(func=run_tsne)
    f = sub.add_parser("family", help="structure and function of one family's members")
    f.add_argument("nets", nargs="+", help="networks (files, run directories, globs)")
    add_data_args(f)
    f.add_argument("--out", required=True, help="output folder")
    f.add_argument(
        "--splits", nargs="+", choices=["train", "valid", "test"], default=["valid", "test"]
    )
    f.add_argument("--eval-size", type=positive_int, default=None, help="images per split (all)")
    f.add_argument("--device", default="cpu", help="torch device (default cpu)")
    f.add_argument(
        "--allow-mixed",
        action="store_true",
        help="compare networks of different families too (default: refuse)",
    )
    f.set_defaults(func=run_family)
    return p


def _common(p: argparse.ArgumentParser) -> None:
    add_data_args(p)
    p.add_argument("--out", required=True, help="output folder")
    p.add_argument(
        "--split",
        choices=["train", "valid", "test"],
        default="valid",
        help="images the neighbours are scored on (default valid; the paper used test)",
    )
    p.add_argument("--eval-size", type=positive_int, default=None, help="images (default all)")
    p.add_argument("--seed", type=int, default=0, help="seed of every draw (default 0)")
    p.add_argument("--device", default="cpu", help="torch device (default cpu)")


def _one_net(args: argparse.Namespace) -> tuple[TernaryNetwork, str, str]:
    nets, names = load_networks([args.net], args.task)
    if len(nets) != 1:
        raise ValueError(f"{args.net!r} names {len(nets)} networks; give one")
    return nets[0], names[0], task_of(nets[0], args.task)


def _split(task: str, args: argparse.Namespace, name: str) -> Split:
    return get_task(task).split(name, args.data_dir).subset(args.eval_size)


def _meta(args: argparse.Namespace, label: str, task: str, split: str) -> dict[str, Any]:
    return {"network": label, "task": task, "split": split, "seed": getattr(args, "seed", None)}


def run_neighbours(args: argparse.Namespace) -> int:
    """Score first and k-th neighbours; write data and figures into ``--out``."""
    from aann_env.viz.analysis import plot_distances, plot_neighbours

    try:
        net, label, task = _one_net(args)
        data = _split(task, args, args.split)
        t0 = time.perf_counter()
        result = analyze_neighbours(
            net, data.pixels, data.labels,
            neighbours=args.neighbours, layers=args.layers, max_distance=args.max_distance,
            walks=args.walks, distance_neighbours=args.distance_neighbours, seed=args.seed,
            device=args.device, log=print,
        )  # fmt: skip
    except (ValueError, KeyError) as exc:
        return fail("analyze neighbours", str(exc).strip("'\""))
    result.meta = _meta(args, label, task, args.split)
    result.meta["seconds"] = time.perf_counter() - t0
    paths = result.save(args.out)
    title = f"{label}: {task} {args.split}, original {result.base_accuracy:.2%}"
    paths.append(plot_neighbours(result, Path(args.out) / "neighbours.png", title))
    if result.distances:
        paths.append(plot_distances(result, Path(args.out) / "distances.png", title))
    for s in result.layers:
        row = result.layer_summary(s)
        print(
            f"  {s.layer:>4}: better {row['better']:.1%}  equal {row['equal']:.1%}  "
            f"worse {row['worse']:.1%}  ({row['neighbours']} neighbours, {s.seconds:.1f} s)"
        )
    print("wrote " + ", ".join(str(p) for p in paths))
    return 0


def run_tsne(args: argparse.Namespace) -> int:
    """t-SNE maps of first neighbours, one per layer."""
    from aann_env.viz.analysis import plot_tsne

    try:
        net, label, task = _one_net(args)
        data = _split(task, args, args.split)
        layers = args.layers or list(net.layer_names)
        for layer in layers:
            net.layer_index(layer)
        counts = per_layer(args.neighbours, layers, {}, 2000)
        paths = []
        for layer in layers:
            t0 = time.perf_counter()
            nmap = tsne_neighbours(
                net, data.pixels, data.labels, layer,
                neighbours=counts[layer], representation=args.representation,
                probe=args.probe, perplexity=args.perplexity, seed=args.seed, device=args.device,
            )  # fmt: skip
            nmap.meta.update(_meta(args, label, task, args.split))
            nmap.meta["seconds"] = time.perf_counter() - t0
            paths += nmap.save(args.out)
            paths.append(plot_tsne(nmap, Path(args.out) / f"tsne-{layer}.png"))
            print(
                f"layer {layer}: map of {len(nmap.swaps)} neighbours in {time.perf_counter() - t0:.1f} s"
            )
    except (ValueError, KeyError) as exc:
        return fail("analyze tsne", str(exc).strip("'\""))
    print("wrote " + ", ".join(str(p) for p in paths))
    return 0


def run_family(args: argparse.Namespace) -> int:
    """Accuracies, pairwise Hamming distances and prediction agreement of family members."""
    from aann_env.viz.analysis import plot_family

    try:
        nets, names = load_networks(args.nets, args.task)
        task = task_of(nets[0], args.task)
        splits = {s: _split(task, args, s) for s in args.splits}
        family = analyze_family(
            nets,
            names,
            {s: (d.pixels, d.labels) for s, d in splits.items()},
            device=args.device,
            require_family=not args.allow_mixed,
        )
    except ValueError as exc:
        return fail("analyze family", str(exc))
    family.meta = {"task": task, "splits": args.splits, "eval_size": args.eval_size}
    paths = family.save(args.out)
    paths.append(plot_family(family, Path(args.out) / "family.png", args.splits[-1]))
    s = family.summary()
    print(
        f"{len(nets)} members: Hamming distance {s['hamming_mean']:.0f} on average "
        f"({s['hamming_over_random']:.2f} x two random members of the family)"
    )
    for split in args.splits:
        r = s[split]
        print(
            f"  {split}: accuracy {r['accuracy_mean']:.4f} +- {r['accuracy_std']:.4f} "
            f"(min {r['accuracy_min']:.4f}, max {r['accuracy_max']:.4f}); predictions agree on "
            f"{r['agreement_mean']:.2%} of images on average"
        )
    print("wrote " + ", ".join(str(p) for p in paths))
    return 0
