"""Statistics over instances: yield with Wilson intervals, paired yields, convergence, curves, attribution.

``curves`` and ``attribution`` (which load scipy.stats) are imported on first use, so that the
command line starts fast.
"""

from mcaann.stats.convergence import converged_mask, convergence_epochs
from mcaann.stats.paired import mcnemar_exact, paired_difference
from mcaann.stats.yield_ import wilson_interval

_LAZY = {
    "convergence_stats": "mcaann.stats.curves",
    "learning_curve_bands": "mcaann.stats.curves",
    "separating_parameters": "mcaann.stats.attribution",
    "spearman_attribution": "mcaann.stats.attribution",
}

__all__ = ["converged_mask", "convergence_epochs", "mcnemar_exact", "paired_difference", "wilson_interval", *_LAZY]


def __getattr__(name: str):
    if name in _LAZY:
        import importlib

        return getattr(importlib.import_module(_LAZY[name]), name)
    raise AttributeError(f"module 'mcaann.stats' has no attribute {name!r}")
