"""Loading of generated kernels: one module per ``KernelSpec``, cached on disk.

The generated source is written once (atomically) under the kernel cache folder,
``$MCAANN_KERNEL_CACHE`` or ``~/.cache/mcaann/kernels``, and imported from there; Numba's
``cache=True`` then keeps the machine code in that folder's ``__pycache__``, so a second
launch does not recompile.
"""

from __future__ import annotations

import importlib.util
import os
import sys
import tempfile
from pathlib import Path
from types import ModuleType

from mcaann.engine.codegen import KernelSpec, generate

_LOADED: dict[str, ModuleType] = {}


def cache_dir() -> Path:
    """Folder of generated kernel sources and their compiled code."""
    env = os.environ.get("MCAANN_KERNEL_CACHE")
    base = Path(env) if env else Path.home() / ".cache" / "mcaann" / "kernels"
    base.mkdir(parents=True, exist_ok=True)
    return base


def kernel_module(spec: KernelSpec) -> ModuleType:
    """The compiled kernels for ``spec`` (``train_blocks``, ``evaluate_blocks``)."""
    key = spec.key()
    if key in _LOADED:
        return _LOADED[key]
    path = cache_dir() / f"k_{key}.py"
    source = generate(spec)
    if not path.exists() or path.read_text() != source:
        fd, tmp = tempfile.mkstemp(dir=path.parent, suffix=".tmp")
        with os.fdopen(fd, "w") as fh:
            fh.write(source)
        os.replace(tmp, path)
    name = f"mcaann_kernel_{key}"
    mod_spec = importlib.util.spec_from_file_location(name, path)
    module = importlib.util.module_from_spec(mod_spec)
    sys.modules[name] = module
    mod_spec.loader.exec_module(module)
    _LOADED[key] = module
    return module
