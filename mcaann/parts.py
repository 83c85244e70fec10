"""The resume folder lives in :mod:`mcaann.scale.store`; this module keeps the old import path working."""

from mcaann.scale.store import PartStore, parts_dir

__all__ = ["PartStore", "parts_dir"]
