"""Area allocation: per-kind device areas (and the weight capacitor) that reach a target yield at the least area.

A sample-average optimisation: every candidate design is run on one fixed set of tuning chips (the study's seed
and instances), so that with common random numbers the yield of a design is a deterministic function of its
areas and two designs differ only where chips change fate. A design is feasible when the Wilson lower bound of
its yield on the tuning chips reaches the target. The chip area is :func:`mcaann.circuit.cost.chip_cost`.

The search (each step one batch of runs through the existing backends):

0. *reach*: the study with every area ``max_factor`` x its own (default ``MAX_FACTOR``; it keeps what area does
   not shrink: the die-to-die process spread, leakage, noise) must meet the target, else the search stops at once;
   the same batch runs every device exact (the limit of infinite area, process spread removed too), to say whether
   the rest is lost to training itself;
1. *uniform*: the reference, every area (capacitors included) times one factor, found by bisection in log between
   the study and ``max_factor`` (by halving when the study already meets the target) on the same chips;
2. *grow*: from the study's areas, try each kind's area x ``GROW``; take the move with the most chips gained per
   area added (none gains: every area x ``GROW``); until feasible. When already the first step finds no single
   kind whose growth gains a chip (the yield is lost to every kind together), the search starts from the uniform
   design instead, which growing every area alike would reach one doubling at a time;
3. *shrink*: kind by kind, largest saving first, the smallest area on a grid of ``SHRINK`` steps (down to
   ``MIN_FACTOR`` of the study's area) that keeps the design feasible, by bisection (a few runs per kind).

Both designs are then checked on fresh chips: another
seed (never the tuning seed) and their own count, with the yield's Wilson interval.

Areas (kinds): the device area field ``mismatch.area_<block>`` of every block with a sampled parameter, read
from the parameter specs, and ``circuit.C`` for the capacitor. A designer who enlarges the weight capacitor keeps
the learning rate ``eta = K_g / C``: the charge pump's ``K_g`` and ``I_max`` scale with ``C`` (more static power,
less noise per weight, smaller capacitor mismatch).
"""

from __future__ import annotations

import math
import time
from collections.abc import Callable
from dataclasses import dataclass, field

import numpy as np

from mcaann.circuit.blocks import FIXED, LEAK, NEURON_PARAMS, SYNAPSE_PARAMS, variation_kind
from mcaann.circuit.cost import chip_cost
from mcaann.errors import StudyError
from mcaann.scale.budget import run_points
from mcaann.stats.yield_ import wilson_interval

#: factor on one kind's area per growth move, and per shrink step
GROW = 2.0
SHRINK = math.sqrt(2.0)
#: smallest area factor against the study's own
MIN_FACTOR = 0.25
#: default largest area factor against the study's own (the search gives up beyond it)
MAX_FACTOR = 1024.0


#: fields scaled with the weight capacitor: the charge pump's gain and current, so that ``eta = K_g / C`` stays
CAPACITOR_KEYS = ("circuit.C", "circuit.K_g", "circuit.I_max")


def area_keys(study) -> dict[str, tuple[str, ...]]:
    """``{kind: study fields}`` an allocation scales per kind: ``mismatch.area_<block>`` of every block with a
    mismatch-sampled parameter that has such a field, ``mismatch.area_mirror`` for the current mirrors (tail
    currents, output offsets, pump imbalance), and for the capacitor ``CAPACITOR_KEYS``."""
    from mcaann.variability.mismatch import MIRROR_KINDS

    sampled = [p for p in SYNAPSE_PARAMS + NEURON_PARAMS if p.kind not in (FIXED, LEAK)]
    blocks = dict.fromkeys("mirror" if p.kind in MIRROR_KINDS else p.block for p in sampled)
    out = {}
    for b in blocks:
        if b == "capacitor":
            out[b] = CAPACITOR_KEYS
        elif f"area_{b}" in type(study.mismatch).model_fields:
            out[b] = (f"mismatch.area_{b}",)
    return out


def _value(study, key: str) -> float:
    section, name = key.split(".")
    return float(getattr(getattr(study, section), name))


@dataclass
class Design:
    """Area factors per kind against the study's areas, the chip area [m^2] and the tuning chips converged."""

    factors: dict[str, float]
    area: float
    converged: int


@dataclass
class Allocation:
    """An allocation and its reference: designs, the criterion, the fresh-chip checks and the search's cost."""

    study: object  # the allocated study
    target: float
    base: Design
    allocated: Design
    uniform: Design
    tune_seed: int
    tune_instances: int
    check_seed: int
    check_instances: int
    check_allocated: np.ndarray  # per fresh chip: converged
    check_uniform: np.ndarray
    runs: int
    wall_time: float
    trace: list = field(default_factory=list)

    def check_yield(self, which: str = "allocated") -> tuple[float, float, float]:
        """Yield of a design on the fresh chips and its 95 % Wilson interval."""
        c = self.check_allocated if which == "allocated" else self.check_uniform
        p, lo, hi = wilson_interval(int(c.sum()), c.size)
        return float(p), float(lo), float(hi)


class _Tuner:
    """Runs designs on the tuning chips and counts the runs."""

    def __init__(self, study, keys: dict[str, tuple[str, ...]], target: float, run_kw: dict, max_factor: float):
        self.study, self.keys, self.target, self.run_kw = study, keys, target, run_kw
        self.max_factor = max_factor
        self.base = {key: _value(study, key) for fields in keys.values() for key in fields}
        self.n = study.monte_carlo.instances
        self.runs = 0

    def overrides(self, factors: dict[str, float]) -> dict:
        return {key: self.base[key] * factors[k] for k, fields in self.keys.items() for key in fields}

    def area(self, factors: dict[str, float]) -> float:
        return chip_cost(self.study.at(self.overrides(factors))).area

    def run(self, candidates: list[dict[str, float]]) -> list[Design]:
        conv = run_points(self.study, [self.overrides(f) for f in candidates], **self.run_kw)
        self.runs += len(candidates)
        return [Design(dict(f), self.area(f), int(c.sum())) for f, c in zip(candidates, conv, strict=True)]

    def feasible(self, d: Design) -> bool:
        return float(wilson_interval(d.converged, self.n)[1]) >= self.target


def _grow(t: _Tuner, d: Design, trace: list) -> Design | None:
    """Grow one kind at a time until feasible (a step where none gains grows every area); ``None`` when already
    the first step finds no single kind whose growth gains a chip."""
    first = True
    while not t.feasible(d):
        if max(d.factors.values()) >= t.max_factor:
            raise StudyError(f"--target-yield: {t.target:g} not reached on {t.n} tuning chips with areas up to "
                             f"{t.max_factor:g} x the study's (best {d.converged}/{t.n} converged)")
        cands = [{**d.factors, k: d.factors[k] * GROW} for k in t.keys]
        moves = t.run(cands)
        best = max(moves, key=lambda m: (m.converged - d.converged) / max(m.area - d.area, 1e-30))
        if best.converged <= d.converged:  # no single kind helps
            if first:
                return None
            best = t.run([{k: f * GROW for k, f in d.factors.items()}])[0]
        first = False
        trace.append(("grow", best))
        d = best
    return d


def _shrink(t: _Tuner, d: Design, trace: list) -> Design:
    """Kind by kind (the biggest saving first), the smallest area on the grid ``d.factors[k] / SHRINK^j`` (down to
    ``MIN_FACTOR``) that keeps the design feasible, by bisection over ``j`` (feasibility taken as monotone in one
    kind's area): one step first, then the smallest, then about ``log2`` of the grid's length runs."""
    shares = {k: t.area({**d.factors, k: d.factors[k] / SHRINK}) for k in t.keys}
    for k in sorted(t.keys, key=lambda k: shares[k]):
        top = d.factors[k]
        steps = int(math.floor(math.log(top / MIN_FACTOR) / math.log(SHRINK) + 1e-9))
        ok, bad = 0, steps + 1  # grid indices: ``ok`` feasible (the design itself), ``bad`` not (or off the grid)
        probes = [1, steps]  # one step (a kind that cannot shrink costs one run), then the whole way
        while bad - ok > 1:
            j = probes.pop(0) if probes else (ok + bad) // 2
            if not ok < j < bad:
                continue
            cand = t.run([{**d.factors, k: top / SHRINK**j}])[0]
            if t.feasible(cand):
                ok = j
                trace.append(("shrink", cand))
                d = cand
            else:
                bad = j
    return d


def _uniform(t: _Tuner, start: Design, largest: Design) -> Design:
    """The smallest common factor that is feasible: halving from the study when it is, else bisection over powers of
    two between the study and ``largest`` (every area ``max_factor`` x, feasible); then three bisection steps in
    log."""
    def at(u: float) -> Design:
        return t.run([{k: u for k in t.keys}])[0]

    if t.feasible(start):
        hi, lo = start, None
        while lo is None and min(hi.factors.values()) / GROW >= MIN_FACTOR - 1e-12:
            d = at(min(hi.factors.values()) / GROW)
            hi, lo = (d, None) if t.feasible(d) else (hi, d)
        if lo is None:
            return hi
    else:
        lo, hi = start, largest

        def exponent(d: Design) -> float:
            return math.log2(max(d.factors.values()))

        while exponent(hi) - exponent(lo) > 1:  # powers of two first
            mid = math.floor((exponent(lo) + exponent(hi)) / 2)
            d = at(2.0 ** (mid if mid > exponent(lo) else (exponent(lo) + exponent(hi)) / 2))
            lo, hi = (lo, d) if t.feasible(d) else (d, hi)
    for _ in range(3):
        u = math.sqrt(max(lo.factors.values()) * max(hi.factors.values()))
        d = at(u)
        lo, hi = (lo, d) if t.feasible(d) else (d, hi)
    return hi


def allocate(study, target: float, *, check_seed: int | None = None, check_instances: int | None = None,
             max_factor: float = MAX_FACTOR, threads: int | None = None, dask: str | None = None,
             chunk: int | None = None, progress: Callable[[str], None] | None = None) -> Allocation:
    """Areas per kind that reach ``target`` (the Wilson lower bound of the yield on the study's chips) at the least
    chip area, the uniform scaling that reaches it too, and both checked on fresh chips (``check_seed``, default
    the study's seed + 1, never the study's; ``check_instances``, default the study's count)."""
    if study.sweep:
        raise StudyError("sweep: an allocation is of one study point; set the swept field with --set")
    if not 0 < target < 1:
        raise StudyError(f"--target-yield: must be between 0 and 1 (got {target:g})")
    seed = study.monte_carlo.seed
    check_seed = (seed + 1) % 2**32 if check_seed is None else check_seed
    if check_seed == seed:
        raise StudyError(f"--check-seed: {check_seed} is the tuning seed; the check needs fresh chips")
    n_check = check_instances or study.monte_carlo.instances
    if not max_factor > 1:
        raise StudyError(f"--max-area-factor: must be above 1 (got {max_factor:g})")
    best_lo = float(wilson_interval(study.monte_carlo.instances, study.monte_carlo.instances)[1])
    if best_lo < target:
        raise StudyError(f"--target-yield: {target:g} is above the best Wilson lower bound {best_lo:.4f} of "
                         f"{study.monte_carlo.instances} chips; use more --instances")
    keys = area_keys(study)
    t0 = time.perf_counter()
    t = _Tuner(study, keys, target, {"threads": threads, "dask": dask, "chunk": chunk}, max_factor)
    trace: list = []
    say = progress or (lambda _msg: None)
    exact = {f"mismatch.kind_scale.{k}": 0.0 for k in dict.fromkeys(
        variation_kind(p) for p in SYNAPSE_PARAMS + NEURON_PARAMS if p.block in keys and p.kind not in (FIXED, LEAK))}
    largest = {k: max_factor for k in keys}
    limits = run_points(study, [exact, t.overrides(largest)], **t.run_kw)
    t.runs += 2
    limit, at_largest = int(limits[0].sum()), Design(largest, t.area(largest), int(limits[1].sum()))
    if float(wilson_interval(limit, t.n)[1]) < target:
        raise StudyError(f"--target-yield: {target:g} is out of reach by area: with every device exact (infinite "
                         f"area) {limit}/{t.n} tuning chips converge (Wilson lower bound "
                         f"{float(wilson_interval(limit, t.n)[1]):.4f})")
    if not t.feasible(at_largest):
        raise StudyError(
            f"--target-yield: {target:g} is out of reach within {max_factor:g} x the study's areas: "
            f"{at_largest.converged}/{t.n} tuning chips converge with every area (capacitor included) "
            f"{max_factor:g} x (Wilson lower bound {float(wilson_interval(at_largest.converged, t.n)[1]):.4f}), "
            f"{limit}/{t.n} with every device exact; what area does not shrink (the process spread, leakage, "
            f"noise) and what is left of the mismatch fail the rest")
    say(f"every device exact: {limit}/{t.n} converge; every area {max_factor:g} x: {at_largest.converged}/{t.n}")
    base = t.run([{k: 1.0 for k in keys}])[0]
    say(f"study: {base.converged}/{t.n} converge")
    uniform = _uniform(t, base, at_largest)
    say(f"uniform: {uniform.converged}/{t.n}, area x{uniform.area / base.area:.3g} ({t.runs} runs)")
    grown = _grow(t, base, trace)
    if grown is None:
        say("no single kind's growth gains a chip: shrinking from the uniform design")
        trace.append(("from uniform", uniform))
        grown = uniform
    else:
        say(f"grown: {grown.converged}/{t.n}, area x{grown.area / base.area:.3g} ({t.runs} runs)")
    allocated = _shrink(t, grown, trace)
    say(f"allocated: {allocated.converged}/{t.n}, area x{allocated.area / base.area:.3g} ({t.runs} runs)")
    fresh = study.at({"monte_carlo.seed": check_seed, "monte_carlo.instances": n_check})
    check = run_points(fresh, [t.overrides(allocated.factors), t.overrides(uniform.factors)], **t.run_kw)
    allocated_study = study.at(t.overrides(allocated.factors))
    allocated_study.name = f"{study.name}_allocated"
    return Allocation(allocated_study, target, base, allocated, uniform, seed, t.n, check_seed, n_check,
                      check[0], check[1], t.runs + 2, time.perf_counter() - t0, trace)


def allocation_toml(a: Allocation) -> str:
    """The allocated study as TOML (every field resolved), headed by comments with the allocation's figures."""
    from mcaann.study.load import study_to_toml

    p, lo, hi = a.check_yield("allocated")
    up, ulo, uhi = a.check_yield("uniform")
    head = [f"# mcaann allocate: areas per kind for a yield of at least {a.target:g} (Wilson lower bound on "
            f"{a.tune_instances} tuning chips, seed {a.tune_seed})",
            f"# chip area {a.allocated.area * 1e12:.6g} um^2 (study {a.base.area * 1e12:.6g} um^2, uniform scaling "
            f"{a.uniform.area * 1e12:.6g} um^2)",
            f"# fresh chips (seed {a.check_seed}, {a.check_instances}): yield {p:.4f} [{lo:.4f}, {hi:.4f}]; "
            f"uniform scaling {up:.4f} [{ulo:.4f}, {uhi:.4f}]",
            "# area factors against the study: " + ", ".join(f"{k} x{f:.3g}" for k, f in a.allocated.factors.items())]
    return "\n".join(head) + "\n" + study_to_toml(a.study)
