"""Run an exported netlist in ngspice (batch mode) and compare it with the engine.

The exported netlist has no ``.control`` block; a small wrapper file ``.include``s it and
holds the ``save``/``run``/``wrdata`` commands, so that the netlist stays plain.
"""

from __future__ import annotations

import re
import shutil
import subprocess
import tempfile
from pathlib import Path

import numpy as np

#: Nodes per ``wrdata`` file (keeps control lines short for large networks).
_CHUNK = 40


class NgspiceError(RuntimeError):
    """ngspice is missing, failed, or wrote no data; ``str()`` ends with its last output lines."""


def ngspice_available() -> bool:
    """Whether an ``ngspice`` executable is on the PATH."""
    return shutil.which("ngspice") is not None


def _wrapper(nodes: list[str]) -> str:
    chunks = [nodes[k:k + _CHUNK] for k in range(0, len(nodes), _CHUNK)]
    lines = [
        "* mcaann ngspice wrapper: runs the included netlist's .tran and writes the node voltages",
        ".include net.cir",
        ".control",
        "set wr_singlescale",
        "set wr_vecnames",
        "option numdgt=16",
        "save " + " ".join(f"v({n})" for n in nodes),
        "run",
    ]
    lines += [f"wrdata out{k}.txt " + " ".join(f"v({n})" for n in ch) for k, ch in enumerate(chunks)]
    lines += ["quit", ".endc", ".end"]
    return "\n".join(lines) + "\n"


def run_ngspice(netlist_text: str, nodes: list[str], times: np.ndarray | None = None,
                timeout: float | None = None) -> dict[str, np.ndarray]:
    """Run ``ngspice -b`` on a netlist; node voltages [V] at ``times`` [s] (linear interpolation).

    With ``times=None`` the raw time points are returned too, under the key ``"time"``.
    The last raw point is the end of the ``.tran`` interval, so ``times=[t_stop]`` is exact.
    ngspice stores no ``t = 0`` point with ``uic``: earlier times take the node's ``.ic`` value
    (NaN for a node without one).
    Raises ``NgspiceError`` if ngspice is missing, fails, or writes no data.
    """
    exe = shutil.which("ngspice")
    if exe is None:
        raise NgspiceError("ngspice: not found on the PATH (Debian/Ubuntu: apt-get install ngspice)")
    nodes = [n.lower() for n in nodes]
    with tempfile.TemporaryDirectory(prefix="mcaann-spice-") as tmp:
        d = Path(tmp)
        (d / "net.cir").write_text(netlist_text)
        (d / "run.cir").write_text(_wrapper(nodes))
        try:
            proc = subprocess.run([exe, "-b", "run.cir"], cwd=d, capture_output=True, text=True,
                                  timeout=timeout, check=False)
        except subprocess.TimeoutExpired:
            raise NgspiceError(f"ngspice: no result within {timeout} s") from None
        log = (proc.stdout + proc.stderr).strip().splitlines()
        tail = "\n".join(log[-15:])
        n_chunks = -(-len(nodes) // _CHUNK)
        files = [d / f"out{k}.txt" for k in range(n_chunks)]
        if proc.returncode != 0 or not all(f.is_file() for f in files):
            raise NgspiceError(f"ngspice: failed (exit {proc.returncode})\n{tail}")
        t_raw, data = None, {}
        for f, chunk in zip(files, [nodes[k:k + _CHUNK] for k in range(0, len(nodes), _CHUNK)], strict=True):
            a = np.loadtxt(f, skiprows=1, ndmin=2)
            if a.shape[1] != len(chunk) + 1:
                raise NgspiceError(f"ngspice: {f.name} has {a.shape[1]} columns, expected {len(chunk) + 1}\n{tail}")
            t_raw = a[:, 0]
            for c, n in enumerate(chunk):
                data[n] = a[:, c + 1]
    if times is None:
        return {"time": t_raw, **data}
    times = np.asarray(times, dtype=float)
    ics = _initial_conditions(netlist_text)
    out = {}
    for n, v in data.items():
        y = np.interp(times, t_raw, v)
        # with `uic` ngspice stores no t = 0 point: before its first point use the node's .ic value
        y[times < t_raw[0]] = ics.get(n, np.nan)
        out[n] = y
    return out


def _initial_conditions(netlist_text: str) -> dict[str, float]:
    """``.ic V(node)=value`` cards of a netlist, node names in lower case."""
    found = re.findall(r"^\.ic\s+v\((\w+)\)\s*=\s*(\S+)", netlist_text, flags=re.IGNORECASE | re.MULTILINE)
    return {n.lower(): float(v) for n, v in found}


def weight_nodes(layers) -> list[str]:
    """Weight node names ``w_<layer>_<post>_<pre>`` in the engine's flat weight order."""
    from mcaann.circuit.network import Topology

    c = Topology(tuple(layers)).weight_coords()
    return [f"w_{a}_{b}_{e}" for a, b, e in zip(c["layer"], c["post"], c["pre"], strict=True)]


def spice_final_weights(study, instance: int, epochs: int | None = None,
                        timeout: float | None = None) -> np.ndarray:
    """The weights [V] at the end of training of ``instance`` as ngspice computes them."""
    from mcaann.spice.netlist import netlist

    text = netlist(study, instance, epochs)
    nodes = weight_nodes(study.network.layers)
    out = run_ngspice(text, nodes, None, timeout)
    return np.array([out[n][-1] for n in nodes])


def check_instance(study, instance: int, epochs: int | None = None, timeout: float | None = None) -> float:
    """Largest |w_ngspice - w_engine| [V] at the end of training of ``instance``.

    The engine runs the instance with noise turned off (the netlist has none) and otherwise as
    the study says (integrator, dt; ``epochs`` overrides the study's): use
    ``integrator.method = "rk4"`` for a tight check, forward Euler's own error at 1 ns (about
    1 mV after 50 xor epochs) is far larger than ngspice's (a few uV).
    """
    from mcaann.engine.driver import run_instances
    from mcaann.spice.netlist import netlist
    from mcaann.study.load import load_study

    ov: dict = {}
    if study.noise.enabled:
        ov["noise.enabled"] = False
    if epochs is not None and epochs != study.task.epochs:
        ov["task.epochs"] = int(epochs)
    if ov:
        study = load_study(study, ov)
    text = netlist(study, instance)  # validates before the (longer) engine run
    eng = run_instances(study, instance, instance + 1).w_final[0]
    nodes = weight_nodes(study.network.layers)
    out = run_ngspice(text, nodes, None, timeout)
    spi = np.array([out[n][-1] for n in nodes])
    return float(np.max(np.abs(spi - eng)))
