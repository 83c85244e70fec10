"""Result datasets (xarray) and their netCDF files."""

from mcaann.io.dataset import build_dataset
from mcaann.io.netcdf import open_result, write_result

__all__ = ["build_dataset", "open_result", "write_result"]
