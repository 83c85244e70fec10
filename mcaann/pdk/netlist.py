"""VACASK netlists of many Monte Carlo copies of one cell, solved together in one DC sweep.

Every sample is its own copy of the cell (its own nodes and devices, suffixed ``_k``), with the
device mismatch drawn here the way the PDK's ``mos_tt_mismatch`` subcircuits draw it, so that
the draws are reproducible from a seed and known per sample. The copies share only the swept
input sources and the supplies, so one sweep solves every sample at every input point.
"""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np

from mcaann.pdk import sg13g2


@dataclass(frozen=True)
class Mos:
    """One lv MOSFET of a cell: terminals (drain, gate, source, bulk) and size [m]."""

    name: str
    kind: str  # "nmos" | "pmos"
    d: str
    g: str
    s: str
    b: str
    w: float
    l: float


@dataclass
class Draws:
    """Standard normal draws of every device's ``delvto``, ``factuo``, ``w``, ``l`` per sample."""

    z: np.ndarray  # (samples, devices, 4)

    @classmethod
    def make(cls, seed: int, samples: int, devices: int) -> Draws:
        """Independent draws for ``samples`` copies of a cell with ``devices`` MOSFETs."""
        rng = np.random.default_rng(seed)
        return cls(rng.standard_normal((samples, devices, 4)))


def _fmt(x: float) -> str:
    return f"{x:.10g}"


@dataclass
class Netlist:
    """A VACASK netlist under construction."""

    osdi: str
    title: str = "mcaann characterisation"
    lines: list[str] = field(default_factory=list)
    saves: list[str] = field(default_factory=list)
    models: dict[tuple[str, float, float], str] = field(default_factory=dict)

    def model(self, kind: str, w: float, l: float) -> str:
        """Name of the PSP model card of a device size, defined on first use."""
        key = (kind, round(w, 12), round(l, 12))
        if key not in self.models:
            self.models[key] = f"{kind[0]}lv{len(self.models)}"
        return self.models[key]

    def mos(self, dev: Mos, suffix: str, z: np.ndarray | None) -> None:
        """Add a device; ``z`` its four standard normals (``None``: nominal, no mismatch)."""
        sig = sg13g2.mos_mismatch(dev.kind, dev.w, dev.l)
        z = np.zeros(4) if z is None else z
        geo = sg13g2.geometry(dev.w)
        p = {
            "w": dev.w + sig.dw * z[2], "l": dev.l + sig.dl * z[3], "nf": 1, "mult": 1,
            **geo, "ngcon": 2, "delvto": sig.delvto * z[0], "factuo": 1.0 + sig.factuo * z[1],
        }
        nodes = " ".join(f"{n}{suffix}" if n not in ("0", "vdd") and not n.startswith("!") else n.lstrip("!")
                         for n in (dev.d, dev.g, dev.s, dev.b))
        pars = " ".join(f"{k}={_fmt(v)}" for k, v in p.items())
        self.lines.append(f"{dev.name}{suffix} ({nodes}) {self.model(dev.kind, dev.w, dev.l)} {pars}")

    def add(self, line: str) -> None:
        """Add a raw netlist line (sources, passive elements)."""
        self.lines.append(line)

    def save_op(self, instance: str, var: str) -> None:
        """Save an operating-point variable of a device (``instance.var`` in the raw file)."""
        self.saves.append(f"p({instance},{var})")

    def text(self, control: list[str]) -> str:
        """The full netlist with the given control-block lines."""
        out = [self.title, f'load "{self.osdi}"', "model vsource vsource", "model isource isource",
               "model vcvs vcvs"]
        for (kind, w, l), name in self.models.items():
            card = sg13g2.model_card(kind, w, l)
            out.append(f"model {name} psp103va (")
            out.extend(f"  {k}={_fmt(v)}" for k, v in card.items())
            out.append(")")
        out.extend(self.lines)
        out.append("control")
        saves = ["default", *self.saves]
        for i in range(0, len(saves), 200):
            out.append("  save " + " ".join(saves[i:i + 200]))
        out.extend("  " + c for c in control)
        out.append("endc")
        return "\n".join(out) + "\n"
