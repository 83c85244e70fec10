"""Built-in tasks, the shipped classification data and a CSV loader. Inputs and targets are voltages [V].

Classification tasks decide per output by the midpoint of its two target levels (``threshold``, one or two
outputs, as XOR) or, with one-hot targets over three or more classes, by the largest output (``argmax``).
A task may hold out rows for testing (``TaskData.test``): a CSV's ``split`` column, or a seeded split of
``TEST_FRACTION`` of the rows (``split_rows``).
"""

from __future__ import annotations

import csv
import gzip
from dataclasses import dataclass, replace
from pathlib import Path

import numpy as np

#: folder of the shipped data files (provenance and licence in its README.md)
DATA_DIR = Path(__file__).resolve().parent / "data"
#: the chip's target levels for a class: low (other classes) and high (this class) [V], for a 1 V signal
#: swing (``load_task`` scales the built-in tasks by the study's ``circuit.V_amp``)
TARGET_LO, TARGET_HI = 0.1, 0.9
#: the circuit's input range for a 1 V signal swing: features are scaled linearly onto it [V]
INPUT_LO, INPUT_HI = 0.0, 1.0
#: share of the rows a seeded split holds out for testing
TEST_FRACTION = 0.3


class TaskDataError(ValueError):
    """A dataset that cannot be used; the message names the file and the reason, ``field`` the ``task`` field."""

    def __init__(self, message: str, field: str = "dataset"):
        super().__init__(message)
        self.field = field


@dataclass(frozen=True)
class TaskData:
    """Rows of a task: ``x`` (rows, inputs) and ``t`` (rows, outputs) in volts.

    ``thresholds`` holds, per output, the decision level of a classification task
    (the midpoint of its two target levels), or is ``None`` for regression. ``argmax``: the class is
    the largest output (one-hot targets, three or more classes). ``test``: per row, held out for
    testing (``None``: no split, every row trains).
    """

    name: str
    x: np.ndarray
    t: np.ndarray
    thresholds: np.ndarray | None
    argmax: bool = False
    test: np.ndarray | None = None

    @property
    def n_rows(self) -> int:
        return self.x.shape[0]

    @property
    def is_classification(self) -> bool:
        return self.thresholds is not None

    @property
    def decision(self) -> int:
        """The kernels' decision code: 0 regression, 1 per-output threshold, 2 argmax."""
        return 0 if not self.is_classification else 2 if self.argmax else 1

    @property
    def has_split(self) -> bool:
        return self.test is not None

    @property
    def train(self) -> tuple[np.ndarray, np.ndarray]:
        """Inputs and targets [V] of the training rows (every row without a split)."""
        if self.test is None:
            return self.x, self.t
        return self.x[~self.test], self.t[~self.test]

    @property
    def held_out(self) -> tuple[np.ndarray, np.ndarray]:
        """Inputs and targets [V] of the held-out rows (none without a split)."""
        if self.test is None:
            return self.x[:0], self.t[:0]
        return self.x[self.test], self.t[self.test]

    @property
    def n_train(self) -> int:
        return self.n_rows if self.test is None else int(np.count_nonzero(~self.test))


def _classify(t: np.ndarray) -> np.ndarray | None:
    """Midpoint thresholds when every output column takes exactly two values, else None."""
    levels = [np.unique(col) for col in t.T]
    if all(len(lv) == 2 for lv in levels):
        return np.array([0.5 * (lv[0] + lv[1]) for lv in levels])
    return None


def _is_one_hot(t: np.ndarray, thresholds: np.ndarray | None) -> bool:
    """Three or more outputs and exactly one high target per row."""
    if thresholds is None or t.shape[1] < 3:
        return False
    return bool(np.all(np.count_nonzero(t > thresholds, axis=1) == 1))


def _make(name: str, x, t, test=None) -> TaskData:
    x = np.asarray(x, dtype=np.float64)
    t = np.asarray(t, dtype=np.float64)
    thr = _classify(t)
    return TaskData(name, x, t, thr, _is_one_hot(t, thr), None if test is None else np.asarray(test, bool))


def correct(y: np.ndarray, t: np.ndarray, thresholds: np.ndarray, argmax: bool) -> bool:
    """Whether outputs ``y`` [V] classify a row with targets ``t`` [V] right: the largest output is the
    high target (``argmax``; the first of equal outputs), else every output on its target's side of
    its threshold."""
    if argmax:
        j = int(np.argmax(y))
        return bool(t[j] > thresholds[j])
    return bool(np.all((y > thresholds) == (t > thresholds)))


def split_rows(n_rows: int, seed: int, fraction: float = TEST_FRACTION) -> np.ndarray:
    """Held-out mask of ``n_rows`` rows: ``round(fraction * n_rows)`` rows (at least one, and at least one
    row left to train on) chosen by a permutation that is a pure function of ``seed``."""
    from mcaann.variability.rng import stream_id, uniforms

    n_test = min(max(1, int(round(fraction * n_rows))), n_rows - 1)
    u = uniforms(seed, stream_id("task_split"), [0], np.arange(n_rows))[0]
    test = np.zeros(n_rows, bool)
    test[np.argsort(u, kind="stable")[:n_test]] = True
    return test


def one_hot(labels: np.ndarray, n_classes: int) -> np.ndarray:
    """Targets [V]: ``TARGET_HI`` at each row's class, ``TARGET_LO`` elsewhere."""
    t = np.full((labels.size, n_classes), TARGET_LO)
    t[np.arange(labels.size), labels] = TARGET_HI
    return t


def scale_inputs(features: np.ndarray) -> np.ndarray:
    """Each feature scaled linearly from its range over the rows onto ``[INPUT_LO, INPUT_HI]`` [V] (a constant
    feature sits at ``INPUT_LO``)."""
    lo, hi = features.min(axis=0), features.max(axis=0)
    span = np.where(hi > lo, hi - lo, 1.0)
    return INPUT_LO + (features - lo) / span * (INPUT_HI - INPUT_LO)


def _classes(name: str, features: np.ndarray, labels: np.ndarray, n_classes: int) -> TaskData:
    return _make(name, scale_inputs(features), one_hot(labels.astype(np.int64), n_classes))


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


def iris() -> TaskData:
    """Fisher's Iris (150 rows, 4 features, 3 classes; ``data/README.md``), features scaled to [0, 1] V."""
    rows = np.loadtxt(DATA_DIR / "iris.csv", delimiter=",", skiprows=1)
    return _classes("iris", rows[:, :4], rows[:, 4], 3)


def digits() -> TaskData:
    """8x8 handwritten digits (1797 rows, 64 pixel counts 0..16, 10 classes; ``data/README.md``), scaled to
    [0, 1] V by the fixed pixel range."""
    with gzip.open(DATA_DIR / "digits.csv.gz", "rt") as fh:
        rows = np.loadtxt(fh, delimiter=",")
    x = INPUT_LO + rows[:, :64] / 16.0 * (INPUT_HI - INPUT_LO)
    return _make("digits", x, one_hot(rows[:, 64].astype(np.int64), 10))


BUILTIN_TASKS = {"xor": xor, "two_rows": two_rows, "xor_232": xor_232, "sine": sine, "iris": iris,
                 "digits": digits}
#: built-in tasks that hold out rows by default (``task.split = "auto"``)
SPLIT_TASKS = ("iris", "digits")


def load_csv(path: Path) -> TaskData:
    """Read a CSV whose header names input columns ``x*`` and target columns ``t*`` [V], and optionally a
    ``split`` column (``train`` or ``test`` per row) that holds rows out for testing."""
    try:
        with open(path, newline="") as fh:
            rows = list(csv.reader(fh))
    except OSError as exc:
        raise TaskDataError(f"cannot read {path}: {exc.strerror}") from None
    rows = [r for r in rows if r and any(c.strip() for c in r)]
    if len(rows) < 2:
        raise TaskDataError(f"{path}: needs a header row and at least one data row")
    header = [h.strip() for h in rows[0]]
    test = None
    if "split" in (h.lower() for h in header):
        test, rows, header = _split_column(path, rows, header)
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
    return _make(path.stem, data[:, xcols], data[:, tcols], test)


def _split_column(path: Path, rows: list, header: list) -> tuple[np.ndarray, list, list]:
    """The held-out mask from a CSV's ``split`` column, and the rows and header without it."""
    c = [h.lower() for h in header].index("split")
    test = []
    for r, row in enumerate(rows[1:], start=2):
        v = row[c].strip().lower() if c < len(row) else ""
        if v not in ("train", "test"):
            raise TaskDataError(f"{path}: line {r}, column 'split': {v!r} is neither train nor test")
        test.append(v == "test")
    test = np.array(test)
    if test.all() or not test.any():
        raise TaskDataError(f"{path}: the split column needs at least one train and one test row")
    drop = [[cell for k, cell in enumerate(row) if k != c] for row in rows]
    return test, drop, [h for k, h in enumerate(header) if k != c]


#: ways a task's rows split into training and held-out rows (``task.split``)
SPLITS = ("auto", "seeded", "column", "none")


def load_task(name: str, base_dir: Path | None = None, split: str = "auto", split_seed: int = 0,
              full_scale: float = 1.0, target_scale: float = 1.0) -> TaskData:
    """A built-in task by name, or a CSV file (relative paths against ``base_dir``), with its rows split.

    ``full_scale`` [V]: a built-in task's inputs and targets are given for a 1 V signal swing (seed 004's) and
    scaled by it (the study passes its ``circuit.V_amp``); a CSV's voltages are taken as they are.
    ``target_scale``: a built-in task's targets moved towards mid-scale, ``full_scale (1/2 + s (t - 1/2))``
    (its decision thresholds, at mid-scale between classes, stay); a CSV refuses any other value than 1.

    ``split``: ``"auto"`` holds out rows of the built-in ``iris`` and ``digits`` by ``split_seed`` and of a
    CSV by its ``split`` column (other tasks train on every row); ``"seeded"`` holds out ``TEST_FRACTION``
    of any task's rows by ``split_seed``; ``"column"`` requires the CSV's ``split`` column; ``"none"``
    trains on every row.
    """
    if name in BUILTIN_TASKS:
        task = BUILTIN_TASKS[name]()
        if target_scale != 1.0:
            task = replace(task, t=0.5 + target_scale * (task.t - 0.5))
        if full_scale != 1.0:
            thr = None if task.thresholds is None else task.thresholds * full_scale
            task = replace(task, x=task.x * full_scale, t=task.t * full_scale, thresholds=thr)
    else:
        path = Path(name)
        if not path.is_absolute() and base_dir is not None:
            path = base_dir / path
        if not (path.suffix.lower() == ".csv" or path.exists()):
            raise TaskDataError(f"unknown dataset {name!r} (built-in: {', '.join(BUILTIN_TASKS)}; or a CSV path)")
        if target_scale != 1.0:
            raise TaskDataError("applies to the built-in tasks (a CSV gives its targets in volts)", "target_scale")
        task = load_csv(path)
    if split == "none":
        return replace(task, test=None)
    if split == "column":
        if task.test is None:
            raise TaskDataError(f"{task.name!r} has no split column (task.split = \"column\")")
        return task
    if split == "seeded" or (split == "auto" and name in SPLIT_TASKS):
        if task.n_rows < 2:
            raise TaskDataError(f"{task.name!r} has {task.n_rows} row: a split needs at least two")
        return replace(task, test=split_rows(task.n_rows, split_seed))
    return task
