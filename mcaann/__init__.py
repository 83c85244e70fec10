"""mcaann: Monte Carlo simulation of self-training analogue neural-network circuits.

Thousands to millions of simulated chips, each with its own transistor mismatch, multiplier
offsets and saturation, capacitor leakage and thermal noise, train themselves by clockless
analogue backpropagation in lock-step; the result is the training yield and convergence
statistics as an xarray dataset.
"""

__version__ = "0.1.0"

from mcaann.io.netcdf import open_result, write_result  # noqa: E402
from mcaann.runner import run_study  # noqa: E402
from mcaann.stats.yield_ import wilson_interval  # noqa: E402
from mcaann.study.load import load_study  # noqa: E402
from mcaann.study.schema import Study  # noqa: E402

__all__ = ["Study", "load_study", "open_result", "run_study", "wilson_interval", "write_result"]
