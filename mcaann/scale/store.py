"""The resume folder ``OUT.parts/``: every finished task's results, written as it completes.

A task file is written whole or not at all (temporary name, then rename), so that a crash,
``kill -9`` or Ctrl-C leaves only whole tasks; the same command then runs the missing ones.
``study.toml`` in the folder pins the study, so a folder of another study is never mixed in.
"""

from __future__ import annotations

import fcntl
import os
import shutil
import tempfile
import threading
import warnings
import zipfile
from pathlib import Path

import numpy as np

from mcaann.engine.driver import InstanceResults
from mcaann.errors import McaannWarning, StudyError
from mcaann.fsutil import atomic_write_text
from mcaann.scale.backend import RESULT_FIELDS


def parts_dir(out: Path) -> Path:
    """The resume folder of result file ``out``."""
    return out.with_name(out.name + ".parts")


class PartStore:
    """Finished tasks of one run, keyed by ``(point, start, stop)``."""

    def __init__(self, folder: Path, study_text: str):
        self.folder = Path(folder)
        self.folder.mkdir(parents=True, exist_ok=True)
        self._lock = _lock(self.folder)
        pinned = self.folder / "study.toml"
        if pinned.exists():
            if pinned.read_text() != study_text:
                raise StudyError(f"--out: {self.folder} holds the unfinished run of another study; "
                                 "remove it or choose another --out")
        else:
            atomic_write_text(pinned, study_text)

    def _path(self, key) -> Path:
        return self.folder / f"task_p{key.point}_{key.start}_{key.stop}.npz"

    def finished(self, keys) -> set:
        """Those ``keys`` whose task file is there and reads whole; a damaged one (truncated by a
        full disk or a copy) is named in a warning and removed, so that its task runs again."""
        done = set()
        for k in keys:
            path = self._path(k)
            if not path.exists():
                continue
            try:
                with zipfile.ZipFile(path) as z:
                    bad = z.testzip()
            except (OSError, zipfile.BadZipFile):
                bad = path.name
            if bad is None:
                done.add(k)
            else:
                warnings.warn(f"{path}: damaged part file, its task runs again", McaannWarning, stacklevel=2)
                path.unlink()
        return done

    def lazy(self, keys) -> InstanceResults:
        """The results of ``keys`` (one sweep point, in instance order) as dask arrays read from
        the task files on demand, so that a result is written with bounded memory."""
        import dask
        import dask.array as da

        keys = sorted(keys, key=lambda k: k.start)
        with np.load(self._path(keys[0])) as z:
            meta = {name: (z[name].shape[1:], z[name].dtype) for name in z.files}
        cols = {}
        for name, (tail, dtype) in meta.items():
            parts = [da.from_delayed(dask.delayed(_load_member)(self._path(k), name), (k.stop - k.start, *tail),
                                     dtype=dtype) for k in keys]
            cols[name] = da.concatenate(parts) if len(parts) > 1 else parts[0]
        kw = {f: cols.get(f) for f in RESULT_FIELDS}
        params = {k[len("param__"):]: v for k, v in cols.items() if k.startswith("param__")}
        return InstanceResults(start=keys[0].start, stop=keys[-1].stop, params=params, **kw)

    def save(self, key, res: InstanceResults) -> None:
        """Keep task ``key``'s results."""
        arrays = {f: getattr(res, f) for f in RESULT_FIELDS if getattr(res, f) is not None}
        arrays.update({f"param__{k}": v for k, v in res.params.items()})
        self.save_arrays(key, arrays)

    def save_arrays(self, key, arrays: dict[str, np.ndarray]) -> None:
        """Keep named arrays as task ``key``'s results, whole or not at all."""
        fd, tmp = tempfile.mkstemp(dir=self.folder, suffix=".tmp")
        os.close(fd)
        try:
            with open(tmp, "wb") as fh:
                np.savez(fh, **arrays)
                fh.flush()
                os.fsync(fh.fileno())
            os.replace(tmp, self._path(key))
        except BaseException:
            Path(tmp).unlink(missing_ok=True)
            raise

    def load(self, key, name: str) -> np.ndarray:
        """Array ``name`` of finished task ``key``."""
        return _load_member(self._path(key), name)

    def remove(self) -> None:
        """Remove the folder (the result is written) and release the lock."""
        shutil.rmtree(self.folder, ignore_errors=True)
        self.close()

    def close(self) -> None:
        """Release the lock (finished tasks stay for a resume)."""
        if self._lock is not None:
            os.close(self._lock)
            self._lock = None


def _lock(folder: Path) -> int:
    """An exclusive ``fcntl`` lock on ``folder/lock``, held while this process lives (the kernel
    drops it when the process ends, even by ``kill -9``); ``StudyError`` if another run holds it."""
    fd = os.open(folder / "lock", os.O_RDWR | os.O_CREAT, 0o666)
    try:
        fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
    except BlockingIOError:
        os.close(fd)
        raise StudyError(f"--out: another run is writing to {folder.name.removesuffix('.parts')} "
                         "(its resume folder is locked); wait for it or choose another --out") from None
    return fd


# Dask reads members in several threads while the result is written; NumPy parses each member's
# header with ``ast.literal_eval``, and CPython 3.11's parser is not safe in concurrent threads
# ("SystemError: AST constructor recursion depth mismatch", seen under load): one read at a time.
_READ = threading.Lock()


def _load_member(path: Path, name: str) -> np.ndarray:
    with _READ, np.load(path) as z:
        return z[name]

