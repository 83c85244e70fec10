"""mcaann: Monte Carlo simulation of self-training analogue neural-network circuits.

Thousands to millions of simulated chips, each with its own transistor mismatch, multiplier
offsets and saturation, capacitor leakage and thermal noise, train themselves by clockless
analogue backpropagation in lock-step; the result is the training yield and convergence
statistics as an xarray dataset.
"""

__version__ = "0.1.0"

from mcaann.cpu import prefer_512_bit_vectors  # noqa: E402  (before anything compiles)

prefer_512_bit_vectors()

from mcaann.io.netcdf import open_result, write_result  # noqa: E402
from mcaann.scale import run_study  # noqa: E402
from mcaann.stats import wilson_interval  # noqa: E402
from mcaann.study.load import load_study  # noqa: E402
from mcaann.study.schema import Study  # noqa: E402

__all__ = [
    "Study",
    "allocate",
    "attribution_table",
    "convergence_stats",
    "learning_curve_bands",
    "load_study",
    "open_result",
    "paired_difference",
    "run_budget",
    "run_study",
    "separating_parameters",
    "spearman_attribution",
    "wilson_interval",
    "write_figures",
    "write_result",
]


def __getattr__(name: str):
    # figures import matplotlib: loaded on first use, so that the command line starts fast
    if name in ("attribution_table", "write_figures"):
        from mcaann.report import figures

        return getattr(figures, name)
    if name in ("convergence_stats", "learning_curve_bands", "separating_parameters", "spearman_attribution"):
        from mcaann import stats

        return getattr(stats, name)
    if name == "run_budget":
        from mcaann.scale.budget import run_budget

        return run_budget
    if name == "allocate":
        from mcaann.scale.allocate import allocate

        return allocate
    if name == "paired_difference":
        from mcaann.stats.paired import paired_difference

        return paired_difference
    raise AttributeError(f"module 'mcaann' has no attribute {name!r}")
