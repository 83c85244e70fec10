"""netCDF4 files of result datasets, written whole or not at all."""

from __future__ import annotations

import os
import tempfile
from pathlib import Path

import xarray as xr


def write_result(ds: xr.Dataset, path: str | Path) -> Path:
    """Write ``ds`` to ``path`` atomically: a temporary file in the same folder, then rename."""
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(dir=path.parent, prefix=f".{path.name}.", suffix=".tmp")
    os.close(fd)
    try:
        encoding = {name: {"zlib": True, "complevel": 1} for name in ds.data_vars
                    if ds[name].dtype.kind in "fiu" and ds[name].size > 1024}
        ds.to_netcdf(tmp, engine="netcdf4", encoding=encoding)
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
