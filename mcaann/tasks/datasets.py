"""Built-in tasks and a CSV loader. Inputs and targets are voltages [V]."""

from __future__ import annotations

import csv
from dataclasses import dataclass
from pathlib import Path

import numpy as np


class TaskDataError(ValueError):
    """A dataset that cannot be used; the message names the file and the reason."""


@dataclass(frozen=True)
class TaskData:
    """Rows of a task: ``x`` (rows, inputs) and ``t`` (rows, outputs) in volts.

    ``thresholds`` holds, per output, the decision level of a classification task
    (the midpoint of its two target levels), or is ``None`` for regression.
    """

    name: str
    x: np.ndarray
    t: np.ndarray
    thresholds: np.ndarray | None

    @property
    def n_rows(self) -> int:
        return self.x.shape[0]

    @property
    def is_classification(self) -> bool:
        return self.thresholds is not None


def _classify(t: np.ndarray) -> np.ndarray | None:
    """Midpoint thresholds when every output column takes exactly two values, else None."""
    levels = [np.unique(col) for col in t.T]
    if all(len(lv) == 2 for lv in levels):
        return np.array([0.5 * (lv[0] + lv[1]) for lv in levels])
    return None


def _make(name: str, x, t) -> TaskData:
    x = np.asarray(x, dtype=np.float64)
    t = np.asarray(t, dtype=np.float64)
    return TaskData(name, x, t, _classify(t))


def xor() -> TaskData:
    """XOR of two 0/1 V inputs, targets 0.1 V and 0.9 V (seed 004, section 4.2)."""
    x = [[0.0, 0.0], [0.0, 1.0], [1.0, 0.0], [1.0, 1.0]]
    t = [[0.1], [0.9], [0.9], [0.1]]
    return _make("xor", x, t)


def two_rows() -> TaskData:
    """One input, two rows with opposite targets (seed 004, section 4.1)."""
    return _make("two_rows", [[0.2], [0.8]], [[0.8], [0.2]])


def xor_232() -> TaskData:
    """XOR with two complementary outputs, for a 2-3-2 network (seed 000)."""
    x = [[0.0, 0.0], [0.0, 1.0], [1.0, 0.0], [1.0, 1.0]]
    t = [[0.1, 0.9], [0.9, 0.1], [0.9, 0.1], [0.1, 0.9]]
    return _make("xor_232", x, t)


def sine() -> TaskData:
    """Regression of one period of a sine: x in [0, 1] V, t = 0.5 + 0.35 sin(2 pi x) V (seed 002)."""
    x = np.linspace(0.0, 1.0, 16)
    t = 0.5 + 0.35 * np.sin(2 * np.pi * x)
    return _make("sine", x[:, None], t[:, None])


BUILTIN_TASKS = {"xor": xor, "two_rows": two_rows, "xor_232": xor_232, "sine": sine}


def load_csv(path: Path) -> TaskData:
    """Read a CSV whose header names input columns ``x*`` and target columns ``t*`` [V]."""
    try:
        with open(path, newline="") as fh:
            rows = list(csv.reader(fh))
    except OSError as exc:
        raise TaskDataError(f"cannot read {path}: {exc.strerror}") from None
    rows = [r for r in rows if r and any(c.strip() for c in r)]
    if len(rows) < 2:
        raise TaskDataError(f"{path}: needs a header row and at least one data row")
    header = [h.strip() for h in rows[0]]
    xcols = [i for i, h in enumerate(header) if h.lower().startswith("x")]
    tcols = [i for i, h in enumerate(header) if h.lower().startswith("t")]
    other = [h for h in header if not h.lower().startswith(("x", "t"))]
    if other:
        raise TaskDataError(f"{path}: column {other[0]!r} is neither an input (x*) nor a target (t*)")
    if not xcols or not tcols:
        raise TaskDataError(f"{path}: needs at least one x* column and one t* column")
    data = np.empty((len(rows) - 1, len(header)))
    for r, row in enumerate(rows[1:], start=2):
        if len(row) != len(header):
            raise TaskDataError(f"{path}: line {r} has {len(row)} fields, the header has {len(header)}")
        for c, cell in enumerate(row):
            try:
                data[r - 2, c] = float(cell)
            except ValueError:
                raise TaskDataError(f"{path}: line {r}, column {header[c]!r}: {cell!r} is not a number") from None
    if not np.all(np.isfinite(data)):
        raise TaskDataError(f"{path}: contains a non-finite value")
    return _make(path.stem, data[:, xcols], data[:, tcols])


def load_task(name: str, base_dir: Path | None = None) -> TaskData:
    """A built-in task by name, or a CSV file (relative paths against ``base_dir``)."""
    if name in BUILTIN_TASKS:
        return BUILTIN_TASKS[name]()
    path = Path(name)
    if not path.is_absolute() and base_dir is not None:
        path = base_dir / path
    if path.suffix.lower() == ".csv" or path.exists():
        return load_csv(path)
    raise TaskDataError(f"unknown dataset {name!r} (built-in: {', '.join(BUILTIN_TASKS)}; or a CSV path)")
