"""Whole-or-nothing file writes shared by the resume folder and the kernel cache; the cache folders."""

from __future__ import annotations

import os
import tempfile
from pathlib import Path


def atomic_write_text(path: Path, text: str) -> None:
    """Write ``text`` to ``path`` whole or not at all: a temporary file in the same folder, synced
    to disk, then renamed over ``path`` (readers see the old file or the new one, never half)."""
    fd, tmp = tempfile.mkstemp(dir=path.parent, suffix=".tmp")
    try:
        with os.fdopen(fd, "w") as fh:
            fh.write(text)
            fh.flush()
            os.fsync(fh.fileno())
        os.replace(tmp, path)
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise


def cache_folder(env: str, name: str) -> Path:
    """A cache folder of mcaann's, created if missing: ``$env`` if set, else ``~/.cache/mcaann/<name>``."""
    value = os.environ.get(env)
    base = Path(value) if value else Path.home() / ".cache" / "mcaann" / name
    base.mkdir(parents=True, exist_ok=True)
    return base
