"""Statistics over instances: yield with Wilson intervals, convergence, quantiles."""

from mcaann.stats.convergence import converged_mask, convergence_epochs
from mcaann.stats.yield_ import wilson_interval

__all__ = ["convergence_epochs", "converged_mask", "wilson_interval"]
