"""Training strategies: how each chip gets its weights, on the same sampled chips (paired, MODEL.md 3a).

- ``in_situ``: the chip trains itself (the kernels of ``engine``).
- ``transfer``: one software training on the nominal model, written into every chip with a write error.
- ``transfer_per_chip``: each chip's blocks measured and fitted, a software training per chip, written.
- ``transfer_then_tune``: ``transfer``, then the chip trains itself for ``task.epochs``.
- ``rram``: the software weights programmed as RRAM conductance pairs (``strategies.rram``).

The software model is the chip's own description (``circuit.blocks`` wired by the learning circuit): the same
generated kernels, run with nominal (or fitted) parameters, no leakage or noise, and one Euler step of length
``T_row`` per row, so that a software epoch is one pass of per-row gradient steps of size ``eta T_row``.
"""

from __future__ import annotations

from mcaann.strategies.transfer import give_weights

__all__ = ["give_weights"]
