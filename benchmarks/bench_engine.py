"""Prints the benchmark table (the same as `mcaann bench`): figures, not pass/fail."""

from rich.console import Console
from rich.table import Table

from mcaann.bench.engine_bench import run_benchmark

if __name__ == "__main__":
    t = Table("what", "instance-steps/s or ratio", title="mcaann benchmark")
    for what, fig in run_benchmark():
        t.add_row(what, fig)
    Console().print(t)
