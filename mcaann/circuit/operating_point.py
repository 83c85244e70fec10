"""Where the chip's voltages sit inside its supply (``circuit.operating_point``).

Every voltage of the model (weights, inputs, targets, neuron outputs, the bias input, the rails) is counted
from a mid-rail reference ``V_dd / 2``: a weight of 0 V sits at mid-rail. Two operating points:

- ``seed004``: the levels as the study gives them, seed 004's numbers by default (rails at -1.5/1.5 V,
  1 V signals), with no check against a supply: the seed's circuit was simulated with ideal sources and
  does not fit a 1.8 V core (its weights span 3 V).
- ``supply``: the levels must fit the process's core supply (``process.V_dd``, else the preset's). A
  block's output swings to within ``V_dsat_out`` of each supply rail per output device it stacks: the
  charge pump's output (the weight node) stacks two when cascoded, one otherwise, so the weight rails
  default to ``+-(V_dd / 2 - n V_dsat_out)``; a neuron output (a single output device) spans
  ``[0, V_amp]`` above mid-rail, so ``V_amp`` and ``|V_bias|`` are at most ``V_dd / 2 - V_dsat_out``.
  Explicit rails outside the pump's swing, and initial weights beyond the rails, are refused with the field
  named; an infinite rail is an ideal block (no rail), not checked. The built-in tasks' inputs and targets
  are fractions of ``V_amp`` at either operating point (``mcaann.tasks``); a CSV task's voltages are checked
  against the signal swing when it is loaded.
"""

from __future__ import annotations

import math

#: seed 004's weight rails [V] (``operating_point = "seed004"``)
SEED004_RAILS = (-1.5, 1.5)


def pump_devices(study) -> int:
    """Output devices the charge pump stacks between the weight node and each supply rail."""
    return 2 if study.circuit.pump_output == "cascoded" else 1


def weight_swing(study) -> float:
    """Half the charge pump's output swing around mid-rail [V]: ``V_dd / 2 - n V_dsat_out``."""
    from mcaann.variability.process import supply_voltage

    return round(supply_voltage(study) / 2 - pump_devices(study) * study.circuit.V_dsat_out, 12)


def signal_swing(study) -> float:
    """Largest neuron output, input or bias voltage from mid-rail [V]: ``V_dd / 2 - V_dsat_out``."""
    from mcaann.variability.process import supply_voltage

    return round(supply_voltage(study) / 2 - study.circuit.V_dsat_out, 12)


def _where(study) -> str:
    from mcaann.variability.process import supply_voltage

    whose = "process.V_dd" if study.process.V_dd is not None else f"{study.process.preset}'s"
    return (f"{whose} {supply_voltage(study):g} V supply, V_dsat_out {study.circuit.V_dsat_out:g} V, "
            f"{study.circuit.pump_output} pump output")


def resolve_levels(study) -> None:
    """Fill the study's unset weight rails and, at ``operating_point = "supply"``, check every level fits.

    Raises ``ValueError("field: why")`` for a level outside the supply. The rails are written into the
    circuit section without marking them as set, so that a sweep over the preset or supply re-derives them.
    """
    c = study.circuit
    if c.operating_point == "seed004":
        lo, hi = SEED004_RAILS
    else:
        swing = weight_swing(study)
        if not swing > 0:
            raise ValueError(f"circuit.V_dsat_out: the pump's output devices leave no weight swing in {_where(study)}")
        lo, hi = -swing, swing
        for key, value in (("V_lo", c.V_lo), ("V_hi", c.V_hi)):
            if value is not None and math.isfinite(value) and not -swing <= value <= swing:
                raise ValueError(f"circuit.{key}: {value:g} V is outside the pump's output swing, "
                                 f"+-{swing:.3g} V around mid-rail ({_where(study)})")
        sig = signal_swing(study)
        for key, value in (("V_amp", c.V_amp), ("V_bias", c.V_bias)):
            if abs(value) > sig:
                raise ValueError(f"circuit.{key}: {value:g} V does not fit in the supply: a neuron output or input "
                                 f"reaches at most {sig:.3g} V from mid-rail ({_where(study)})")
    c.fill_unset(V_lo=lo, V_hi=hi)
    if not c.V_lo < c.V_hi:
        raise ValueError("circuit.V_lo: must be below V_hi")
    r = study.monte_carlo.w_init_range
    if c.operating_point == "supply" and r > max(-c.V_lo, c.V_hi):
        raise ValueError(f"monte_carlo.w_init_range: {r:g} V reaches beyond the weight rails "
                         f"[{c.V_lo:.3g}, {c.V_hi:.3g}] V")


def check_task_levels(study, x, t) -> None:
    """At ``operating_point = "supply"``: a task's inputs ``x`` and targets ``t`` [V] must fit the signal swing.

    Raises ``ValueError("task.dataset: why")``.
    """
    if study.circuit.operating_point != "supply":
        return
    sig = signal_swing(study)
    for what, v in (("inputs", x), ("targets", t)):
        peak = float(max(abs(v.min()), abs(v.max()))) if v.size else 0.0
        if not peak <= sig or not math.isfinite(peak):
            raise ValueError(f"task.dataset: its {what} reach {peak:g} V from mid-rail; the supply allows "
                             f"{sig:.3g} V ({_where(study)})")
