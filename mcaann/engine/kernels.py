"""Loading of generated kernels: one module per ``KernelSpec``, cached on disk.

The generated source is written once (atomically) under the kernel cache folder,
``$MCAANN_KERNEL_CACHE`` or ``~/.cache/mcaann/kernels``, and imported from there; Numba's
``cache=True`` then keeps the machine code in that folder's ``__pycache__``, so a second
launch does not recompile.

Many processes may share one cache (an array job on a network file system): the source of
an entry is written under an exclusive ``fcntl`` lock of that entry (``k_<key>.lock``, dropped by
the kernel when a process dies, even by ``kill -9``), to a temporary name and renamed into
place, and rewritten only when it differs, so that no process reads half a file and an
unchanged source keeps its compiled code valid for every process.
"""

from __future__ import annotations

import fcntl
import importlib.util
import os
import sys
from pathlib import Path
from types import ModuleType

from mcaann.engine.codegen import KernelSpec, generate
from mcaann.fsutil import atomic_write_text, cache_folder

_LOADED: dict[str, ModuleType] = {}


def cache_dir() -> Path:
    """Folder of generated kernel sources and their compiled code (``$MCAANN_KERNEL_CACHE`` or
    ``~/.cache/mcaann/kernels``)."""
    return cache_folder("MCAANN_KERNEL_CACHE", "kernels")


def kernel_module(spec: KernelSpec) -> ModuleType:
    """The compiled kernels for ``spec`` (``train_blocks``, ``evaluate_blocks``)."""
    key = spec.key()
    if key in _LOADED:
        return _LOADED[key]
    path = cache_dir() / f"k_{key}.py"
    source = generate(spec)
    lock = os.open(path.with_suffix(".lock"), os.O_RDWR | os.O_CREAT, 0o666)
    try:
        fcntl.flock(lock, fcntl.LOCK_EX)  # one writer per entry; readers wait for a whole file
        if not path.exists() or path.read_text() != source:
            atomic_write_text(path, source)
        name = f"mcaann_kernel_{key}"
        mod_spec = importlib.util.spec_from_file_location(name, path)
        module = importlib.util.module_from_spec(mod_spec)
        sys.modules[name] = module
        mod_spec.loader.exec_module(module)
    finally:
        os.close(lock)
    _LOADED[key] = module
    return module
