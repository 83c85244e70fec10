"""What a chip costs: silicon area and static power from the study's device sizes, capacitors and bias currents.

A first-order budget a designer can rerun, not a layout:

- **area** [m^2]: every block's matched devices at the study's device area per kind (``mismatch.area_*``
  times ``area_scale``), ``DEVICES`` of them per block (a Gilbert multiplier: its six-transistor core and an
  output mirror pair; a differential-pair sigmoid: pair, tail and load; ...), of which ``MIRROR_DEVICES`` are
  current-mirror devices at ``mismatch.area_mirror`` (times ``area_scale``), plus every weight capacitor at
  ``C / C_density``. Wiring, routing and spacing are left out, so that the figure is a floor;
- **static power** [W]: the supply (``process.V_dd``, else the preset's) times the bias currents that flow all
  the time in a clockless chip: each multiplier's tail current ``K_I`` (its saturation current), each charge pump's
  ``I_max``, each neuron's activation, derivative and error circuits at ``I_ref`` and its delta circuit (a
  multiplier) at ``K_I``. Ideal blocks (``K_I`` or ``I_max`` infinite) draw no defined current: the power is
  then ``inf``.

The energy to converge of one chip is its static power times the time it trains until it converges
(``energy_to_converge``).
"""

from __future__ import annotations

import math
from dataclasses import dataclass

from mcaann.circuit.network import Topology

#: matched devices per block, for the area (see the module docstring)
DEVICES = {"multiplier": 8, "activation": 4, "derivative": 6, "error": 4, "delta": 8, "pump": 6}
#: of these, the current-mirror devices (a multiplier's output mirror pair; the pump's mirror and its up and down
#: sources), at ``mismatch.area_mirror``
MIRROR_DEVICES = {"multiplier": 2, "pump": 4}
#: blocks per synapse and per neuron
PER_SYNAPSE = {"multiplier": 3, "pump": 1}
PER_NEURON = {"activation": 1, "derivative": 1, "error": 1, "delta": 1}


@dataclass(frozen=True)
class ChipCost:
    """Area [m^2] (devices by block kind, capacitors, total) and static power [W] of one chip design."""

    device_area: dict[str, float]
    capacitor_area: float
    static_power: float

    @property
    def area(self) -> float:
        return sum(self.device_area.values()) + self.capacitor_area


def chip_cost(study) -> ChipCost:
    """The area and static power of the study's chip at its nominal values."""
    from mcaann.variability.process import resolve_process, supply_voltage

    topo = Topology(tuple(study.network.layers))
    mm, c = study.mismatch, study.circuit
    counts = {k: n * topo.n_weights for k, n in PER_SYNAPSE.items()}
    counts.update({k: n * topo.n_neurons for k, n in PER_NEURON.items()})
    device_area = {k: counts[k] * mm.area_scale * ((DEVICES[k] - MIRROR_DEVICES.get(k, 0)) * getattr(mm, f"area_{k}")
                                                   + MIRROR_DEVICES.get(k, 0) * mm.area_mirror) for k in DEVICES}
    capacitor_area = topo.n_weights * c.C / resolve_process(study).C_density
    currents = (topo.n_weights * (3 * c.K_I + c.I_max)
                + topo.n_neurons * (3 * c.I_ref + c.K_I))
    v_dd = supply_voltage(study)
    power = v_dd * currents if math.isfinite(currents) else math.inf
    return ChipCost(device_area, capacitor_area, power)


def energy_to_converge(study, epochs_to_converge):
    """Energy [J] a chip spends training until it converges: static power times ``epochs x rows x T_row``
    (NaN where it did not converge); the rows are the training rows."""
    from mcaann.engine.driver import study_task

    t_epoch = study_task(study).n_train * study.task.T_row
    return chip_cost(study).static_power * t_epoch * epochs_to_converge
