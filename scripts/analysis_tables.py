"""Print the Markdown tables of docs/analyses.md from the output folders of ``aann analyze``.

Usage::

    .venv/bin/python scripts/analysis_tables.py neighbours NAME=DIR [NAME=DIR ...]
    .venv/bin/python scripts/analysis_tables.py distances NAME=DIR [NAME=DIR ...]
    .venv/bin/python scripts/analysis_tables.py tsne NAME=DIR [NAME=DIR ...]
    .venv/bin/python scripts/analysis_tables.py family DIR
    .venv/bin/python scripts/analysis_tables.py ensemble DIR

Each DIR is an ``--out`` folder of ``aann analyze neighbours|tsne|family`` or ``aann ensemble``;
NAME labels its rows. Every figure of the analyses in the docs comes from this script.
"""

from __future__ import annotations

import argparse
import json
from pathlib import Path

import numpy as np

from aann_env.analysis.records import read_csv


def _pts(x: float) -> str:
    return f"{100 * x:+.2f}"


def _named(items: list[str]) -> list[tuple[str, Path]]:
    out = []
    for item in items:
        name, sep, path = item.partition("=")
        if not sep:
            raise SystemExit(f"expected NAME=DIR, got {item!r}")
        out.append((name, Path(path)))
    return out


def neighbours(items: list[str]) -> None:
    print(
        "| network | original | layer | scored | of | better | equal | worse | mean | best | worst |"
    )
    print("|---|---:|---|---:|---:|---:|---:|---:|---:|---:|---:|")
    for name, path in _named(items):
        s = json.loads((path / "summary.json").read_text())
        for r in s["layers"]:
            print(
                f"| {name} | {100 * s['base_accuracy']:.2f}% | {r['layer']} | {r['neighbours']:,} "
                f"| {r['first_neighbours_in_layer']:.2e} | {r['better']:.1%} | {r['equal']:.1%} "
                f"| {r['worse']:.1%} | {_pts(r['mean_delta_accuracy'])} "
                f"| {_pts(r['max_delta_accuracy'])} | {_pts(r['min_delta_accuracy'])} |"
            )


def distances(items: list[str]) -> None:
    named = _named(items)
    ks: list[int] = []
    rows = []
    for name, path in named:
        s = json.loads((path / "summary.json").read_text())
        by_layer: dict[str, dict[int, float]] = {}
        for r in s["distances"]:
            by_layer.setdefault(r["layer"], {})[r["k"]] = r["mean_accuracy"] - s["base_accuracy"]
            ks = sorted({*ks, r["k"]})
        rows += [(name, layer, d) for layer, d in by_layer.items()]
    print("| network | layer | " + " | ".join(f"k={k}" for k in ks) + " |")
    print("|---|---|" + "---:|" * len(ks))
    for name, layer, d in rows:
        cells = " | ".join(_pts(d[k]) if k in d else "" for k in ks)
        print(f"| {name} | {layer} | {cells} |")


def tsne(items: list[str]) -> None:
    print(
        "| network | layer | neighbours | moved weights | accuracy range (points) | better "
        "| variance explained by the moved weight |"
    )
    print("|---|---|---:|---:|---|---:|---:|")
    for name, path in _named(items):
        for f in sorted(path.glob("tsne-*.json")):
            s = json.loads(f.read_text())
            rows = read_csv(f.with_suffix(".csv"))
            acc = [float(r["accuracy"]) for r in rows]
            base = s["base_accuracy"]
            better = sum(a > base for a in acc) / len(acc)
            # The map's clusters are swaps that move one weight: how much of the accuracy's
            # variance is between those groups (eta squared; only where a group averages at
            # least 3 swaps, since groups of one explain everything trivially)?
            src = np.array([int(r["src"]) for r in rows])
            a = np.array(acc)
            groups = [a[src == v] for v in np.unique(src)]
            between = sum(len(g) * (g.mean() - a.mean()) ** 2 for g in groups)
            total = ((a - a.mean()) ** 2).sum()
            print(
                f"| {name} | {s['layer']} | {len(acc):,} | {len(groups):,} | "
                f"{_pts(min(acc) - base)} .. {_pts(max(acc) - base)} | {better:.1%} "
                f"| {f'{between / total:.0%}' if len(a) >= 3 * len(groups) else '-'} |"
            )


def family(path: Path) -> None:
    s = json.loads((path / "family.json").read_text())
    members = read_csv(path / "members.csv")
    splits = [k for k in ("valid", "test") if k in s]
    print("| member | " + " | ".join(splits) + " |")
    print("|---|" + "---:|" * len(splits))
    for m in members:
        print(
            f"| {m['member']} | "
            + " | ".join(f"{100 * float(m[f'{k}_accuracy']):.2f}%" for k in splits)
            + " |"
        )
    for k in splits:
        r = s[k]
        print(
            f"\n{k}: accuracy {100 * r['accuracy_mean']:.2f}% +- {100 * r['accuracy_std']:.2f} "
            f"(min {100 * r['accuracy_min']:.2f}%, max {100 * r['accuracy_max']:.2f}%); "
            f"predictions agree on {r['agreement_mean']:.2%} of images on average "
            f"(least: {r['agreement_min']:.2%})"
        )
    print(
        f"\nHamming distance: mean {s['hamming_mean']:,.0f}, min {s['hamming_min']:,}, max "
        f"{s['hamming_max']:,} of {s['n_weights']:,} weights; two random members of the family: "
        f"{s['random_pair_hamming']:,.0f} (ratio {s['hamming_over_random']:.3f}); per layer: "
        + ", ".join(f"{k} {v:,.0f}" for k, v in s["hamming_by_layer_mean"].items())
    )


def ensemble(path: Path) -> None:
    s = json.loads((path / "ensemble.json").read_text())
    print("| size | rule | subsets | mean | min | max | best by validation |")
    print("|---:|---|---:|---:|---:|---:|---:|")
    for r in s["rows"]:
        print(
            f"| {r['size']} | {r['rule']} | {r['subsets']} | {100 * r['mean']:.2f}% "
            f"| {100 * r['min']:.2f}% | {100 * r['max']:.2f}% | {100 * r['ranked']:.2f}% |"
        )


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("table", choices=["neighbours", "distances", "tsne", "family", "ensemble"])
    p.add_argument("items", nargs="+")
    args = p.parse_args()
    if args.table in ("family", "ensemble"):
        globals()[args.table](Path(args.items[0]))
    else:
        globals()[args.table](args.items)


if __name__ == "__main__":
    main()
