"""netCDF4 files of result datasets, written whole or not at all."""

from __future__ import annotations

import os
import tempfile
from pathlib import Path

import xarray as xr

from mcaann.errors import StudyError

#: instances per HDF5 chunk of a result file (a multiple of the kernels' block and the tasks' size)
INSTANCE_CHUNK = 1024


def nearest_folder(path: Path) -> Path:
    """The deepest existing ancestor of ``path`` (the folder that a write would create into)."""
    parent = path.absolute().parent
    while not parent.exists():
        parent = parent.parent
    return parent


def check_target(path: str | Path, option: str = "--out", protect: tuple[Path, ...] = ()) -> bool:
    """Refuse (``StudyError``) a target that a result could not or must not replace: an empty
    name, anything but a regular file (a folder, ``/dev/null``), one of ``protect`` (the study
    file), a folder that is not writable. Returns whether an earlier file would be overwritten."""
    if str(path) in ("", "."):
        raise StudyError(f"{option}: empty path; name a result file such as results/run.nc")
    path = Path(path)
    if path.exists() or path.is_symlink():
        if not path.is_file():
            raise StudyError(f"{option} {path}: not a regular file (a folder or device is never replaced)")
        for p in protect:
            if p.is_file() and path.samefile(p):
                raise StudyError(f"{option} {path}: is the study file; choose another result file")
    folder = nearest_folder(path)
    if not folder.is_dir():
        raise StudyError(f"{option} {path}: {folder} is not a folder")
    if not os.access(folder, os.W_OK | os.X_OK):
        raise StudyError(f"{option} {path}: folder {folder} is not writable")
    return path.is_file()


def write_result(ds: xr.Dataset, path: str | Path) -> Path:
    """Write ``ds`` to ``path`` atomically: a temporary file in the same folder, then rename."""
    path = Path(path)
    check_target(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(dir=path.parent, prefix=f".{path.name}.", suffix=".tmp")
    os.close(fd)
    try:
        encoding = {}
        for name, var in ds.data_vars.items():
            if var.dtype.kind in "fiu" and var.size > 1024:
                enc = {"zlib": True, "complevel": 1}
                if "instance" in var.dims:
                    # HDF5 chunks of whole instance blocks (as tasks write them), so that writing one
                    # task's slab never re-compresses a neighbour's chunk
                    enc["chunksizes"] = tuple(min(n, INSTANCE_CHUNK) if d == "instance" else (1 if d not in
                                              ("epoch", "weight", "neuron", "hold_time") else n)
                                              for d, n in var.sizes.items())
                encoding[name] = enc
        ds.to_netcdf(tmp, engine="netcdf4", encoding=encoding)
        with open(tmp, "rb+") as fh:
            os.fsync(fh.fileno())
        umask = os.umask(0)
        os.umask(umask)
        os.chmod(tmp, 0o666 & ~umask)  # mkstemp makes 0600; a result file gets the usual mode
        os.replace(tmp, path)
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise
    return path


def open_result(path: str | Path) -> xr.Dataset:
    """Load a result file fully into memory (the file is closed afterwards)."""
    with xr.open_dataset(path, engine="netcdf4") as ds:
        return ds.load()


def open_inputs(paths, command: str, what: str) -> list[tuple[Path, xr.Dataset]]:
    """``(path, dataset)`` of each input file of ``command`` (``merge``, ``merge-budget``), opened lazily;
    ``StudyError`` when none is given, or one is missing or not a netCDF file (``what``: the kind of file)."""
    if not paths:
        raise StudyError(f"{command}: no {what} files given")
    out = []
    for p in map(Path, paths):
        if not p.is_file():
            raise StudyError(f"{command}: {p}: no such file")
        try:
            out.append((p, open_result(p)))
        except Exception:  # noqa: BLE001 - an unreadable file is bad input
            raise StudyError(f"{command}: {p}: not a {what} file") from None
    return out
