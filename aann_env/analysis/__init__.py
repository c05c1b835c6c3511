"""The paper's analyses: neighbourhoods, t-SNE maps, families and ensembles.

- :mod:`~aann_env.analysis.neighbours`: first neighbours per layer, scored exactly, and k-th
  neighbours along random walks (Figs. 3 and 9);
- :mod:`~aann_env.analysis.tsne`: t-SNE maps of first neighbours with accuracy as height
  (Figs. 4 and 10);
- :mod:`~aann_env.analysis.family`: members of one family compared by structure (Hamming
  distances) and function (accuracy, agreement of predictions);
- :mod:`~aann_env.analysis.ensemble`: ensembles of members by vote and by summed logits.

Each result has ``save(out_dir)`` (CSV and JSON); :mod:`aann_env.viz.analysis` draws them.
"""

from aann_env.analysis.ensemble import EnsembleCurve, ensemble_accuracy, ensemble_curve
from aann_env.analysis.family import (
    FamilyAnalysis,
    analyze_family,
    check_family,
    member_logits,
    random_pair_hamming,
)
from aann_env.analysis.neighbours import (
    DEFAULT_NEIGHBOURS,
    NeighbourAnalysis,
    analyze_neighbours,
    distinct_swaps,
)
from aann_env.analysis.tsne import NeighbourMap, tsne_neighbours

__all__ = [
    "DEFAULT_NEIGHBOURS",
    "EnsembleCurve",
    "FamilyAnalysis",
    "NeighbourAnalysis",
    "NeighbourMap",
    "analyze_family",
    "analyze_neighbours",
    "check_family",
    "distinct_swaps",
    "ensemble_accuracy",
    "ensemble_curve",
    "member_logits",
    "random_pair_hamming",
    "tsne_neighbours",
]
