"""Loading of generated kernels: one module per ``KernelSpec``, cached on disk.

The generated source is written once (atomically) under the kernel cache folder,
``$MCAANN_KERNEL_CACHE`` or ``~/.cache/mcaann/kernels``, and imported from there; Numba's
``cache=True`` then keeps the machine code in that folder's ``__pycache__``, so a second
launch does not recompile.

Many processes may share one cache (an array job on a network file system): the source of
an entry is written under an exclusive ``fcntl`` lock of that entry (``k_<key>.lock``, dropped by
the kernel when a process dies, even by ``kill -9``), to a temporary name and renamed into
place, and rewritten only when it differs, so that no process reads half a file and an
unchanged source keeps its compiled code valid for every process. A kernel is compiled for the
types of its arguments under the same lock (``kernel_function``), so processes that start together
on an empty cache compile it once: the first compiles and saves, the others wait and load.
"""

from __future__ import annotations

import fcntl
import importlib.util
import os
import sys
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from pathlib import Path
from types import ModuleType

import numba

from mcaann.engine.codegen import KernelSpec, generate
from mcaann.fsutil import atomic_write_text, cache_folder

_LOADED: dict[str, ModuleType] = {}


def cache_dir() -> Path:
    """Folder of generated kernel sources and their compiled code (``$MCAANN_KERNEL_CACHE`` or
    ``~/.cache/mcaann/kernels``)."""
    return cache_folder("MCAANN_KERNEL_CACHE", "kernels")


def kernel_module(spec: KernelSpec) -> ModuleType:
    """The compiled kernels for ``spec`` (``train_block``, ``evaluate_block``: one block of instances each)."""
    key = spec.key()
    if key in _LOADED:
        return _LOADED[key]
    path = _entry(key)
    source = generate(spec)
    with _locked(key):  # one writer per entry; readers wait for a whole file
        if not path.exists() or path.read_text() != source:
            atomic_write_text(path, source)
        name = f"mcaann_kernel_{key}"
        mod_spec = importlib.util.spec_from_file_location(name, path)
        module = importlib.util.module_from_spec(mod_spec)
        sys.modules[name] = module
        mod_spec.loader.exec_module(module)
    _LOADED[key] = module
    return module


def kernel_function(spec: KernelSpec, name: str, args: Sequence) -> numba.core.dispatcher.Dispatcher:
    """Kernel ``name`` of ``spec``, compiled (or loaded from the cache) for the types of ``args``
    under the entry's lock, so that no two processes compile the same kernel."""
    function = getattr(kernel_module(spec), name)
    types = tuple(numba.typeof(a) for a in args)
    if types not in function.overloads:
        with _locked(spec.key()):
            function.compile(types)
    return function


def compiled_here() -> int:
    """How many kernels this process compiled rather than loaded from the cache."""
    return sum(sum(getattr(module, name).stats.cache_misses.values())
               for module in _LOADED.values() for name in ("train_block", "evaluate_block"))


def _entry(key: str) -> Path:
    return cache_dir() / f"k_{key}.py"


@contextmanager
def _locked(key: str) -> Iterator[None]:
    """Exclusive ``fcntl`` lock of a cache entry (released by the kernel if the process dies)."""
    lock = os.open(_entry(key).with_suffix(".lock"), os.O_RDWR | os.O_CREAT, 0o666)
    try:
        fcntl.flock(lock, fcntl.LOCK_EX)
        yield
    finally:
        os.close(lock)
