"""Benchmarks: figures, not pass/fail (``mcaann bench``, ``benchmarks/``)."""
