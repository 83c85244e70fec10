"""Merging lives in :mod:`mcaann.scale.merge`; this module keeps the old import path working."""

from mcaann.scale.merge import merge_parts

__all__ = ["merge_parts"]
