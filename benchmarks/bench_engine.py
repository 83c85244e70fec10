"""Prints the benchmark table: a thin entry to `mcaann bench`, whose one home is `mcaann/bench/`.

Figures, not pass/fail. Arguments are passed on (`python benchmarks/bench_engine.py --quick`).
"""

import sys

from mcaann.cli import app

if __name__ == "__main__":
    app(["bench", *sys.argv[1:]])
