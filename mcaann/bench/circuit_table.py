"""The learning circuits side by side at several yield thresholds, from one result file of a sweep over
``network.learning`` and ``mismatch.scale`` (the tables of docs/model.md, equilibrium propagation).

``python -m mcaann.bench.circuit_table RESULT.nc --thresholds 0.005,0.02,0.03`` prints a markdown table: per
circuit and ``mismatch.scale`` the yield at each threshold (final MSE at most it, 95 % Wilson interval) and the
final MSE median (p10-p90); then per ``mismatch.scale`` and threshold the chips that only eqprop brings there
and those that only backprop does (paired by chip index).
"""

from __future__ import annotations

import argparse

import numpy as np
import xarray as xr

from mcaann.stats.yield_ import wilson_interval

LEARNING, SCALE = "network__learning", "mismatch__scale"


def _yield(ok: np.ndarray) -> str:
    p, lo, hi = wilson_interval(int(ok.sum()), ok.size)
    return f"{100 * p:.1f} % [{100 * lo:.1f}, {100 * hi:.1f}]"


def circuit_table(ds: xr.Dataset, thresholds: list[float]) -> str:
    """The markdown table and the paired counts of ``ds`` (dims ``network__learning``, ``mismatch__scale``)."""
    mse = ds["final_mse"]
    head = " | ".join(f"yield, MSE <= {t:g}" for t in thresholds)
    lines = [f"| circuit | `mismatch.scale` | {head} | final MSE median (p10-p90) [V^2] |",
             "|" + "---|" * (3 + len(thresholds))]
    for circuit in mse[LEARNING].values:
        for scale in mse[SCALE].values:
            m = mse.sel({LEARNING: circuit, SCALE: scale}).values
            m = m[np.isfinite(m)]
            p10, p50, p90 = np.quantile(m, [0.1, 0.5, 0.9])
            cells = " | ".join(_yield(m <= t) for t in thresholds)
            lines.append(f"| {circuit} | {scale:g} | {cells} | {p50:.3g} ({p10:.3g}-{p90:.3g}) |")
    circuits = list(mse[LEARNING].values)
    if {"backprop", "eqprop"} <= set(circuits):
        lines.append("")
        for t in thresholds:
            counts = []
            for scale in mse[SCALE].values:
                bp = mse.sel({LEARNING: "backprop", SCALE: scale}).values <= t
                ep = mse.sel({LEARNING: "eqprop", SCALE: scale}).values <= t
                counts.append(f"{int((ep & ~bp).sum())} / {int((bp & ~ep).sum())} ({scale:g})")
            lines.append(f"At MSE <= {t:g}: only eqprop / only backprop: " + ", ".join(counts))
    return "\n".join(lines)


def main(argv: list[str] | None = None) -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("result", help="result file (.nc) of a sweep over network.learning and mismatch.scale")
    ap.add_argument("--thresholds", default="0.005,0.02,0.03", help="yield thresholds [V^2], comma-separated")
    args = ap.parse_args(argv)
    with xr.open_dataset(args.result) as ds:
        print(circuit_table(ds, [float(t) for t in args.thresholds.split(",")]))


if __name__ == "__main__":
    main()
