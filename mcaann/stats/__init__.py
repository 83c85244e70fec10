"""Statistics over instances: yield with Wilson intervals, convergence, curves, attribution."""

from mcaann.stats.attribution import separating_parameters, spearman_attribution
from mcaann.stats.convergence import converged_mask, convergence_epochs
from mcaann.stats.curves import convergence_stats, learning_curve_bands
from mcaann.stats.yield_ import wilson_interval

__all__ = [
    "convergence_epochs",
    "convergence_stats",
    "converged_mask",
    "learning_curve_bands",
    "separating_parameters",
    "spearman_attribution",
    "wilson_interval",
]
