"""Atomic checkpoints for long runs (design, auction training, sweeps, simulations).

A run that may take minutes or hours saves its whole state (a pytree of arrays plus plain Python
values) every few steps and, started again with the same arguments after a crash or a ``kill -9``,
continues from the last checkpoint. A checkpoint is written to a temporary file in the same folder,
flushed to disk and renamed over the old one (``os.replace`` is atomic on POSIX and Windows), so a
kill at any instant leaves either the old checkpoint or the new one, never a torn file.

Every checkpoint records a ``config``: a JSON-able description of the run (step budget, seed,
optimizer, a fingerprint of the initial parameters). Resuming under a different config is an error
that names the difference, never a silent mix of two runs.

The file is a Python pickle of numpy arrays (typed PRNG keys are stored as their key data): load
checkpoints you wrote yourself only.
"""

from __future__ import annotations

import hashlib
import json
import os
import pickle
import tempfile
from typing import Any, Callable

import jax
import numpy as np

__all__ = ["Checkpointer", "atomic_write", "config_difference", "fingerprint"]

_FORMAT = "nashgrid-checkpoint-1"


def atomic_write(path: str, write: Callable[[Any], None], *, binary: bool = True) -> None:
    """Call ``write(file)`` on a temporary file beside ``path``, fsync it and rename it onto ``path``."""
    folder = os.path.dirname(os.path.abspath(path))
    os.makedirs(folder, exist_ok=True)
    # A hidden name ("." first): readers that list the folder (pyarrow datasets) never see a half-written file.
    fd, tmp = tempfile.mkstemp(prefix="." + os.path.basename(path) + ".", suffix=".tmp", dir=folder)
    try:
        with os.fdopen(fd, "wb" if binary else "w") as f:
            write(f)
            f.flush()
            os.fsync(f.fileno())
        os.replace(tmp, path)
    except BaseException:
        if os.path.exists(tmp):
            os.unlink(tmp)
        raise
    try:  # make the rename itself durable
        dir_fd = os.open(folder, os.O_RDONLY)
    except OSError:
        return
    try:
        os.fsync(dir_fd)
    except OSError:
        pass
    finally:
        os.close(dir_fd)


class _Key:
    """A typed PRNG key array as its raw key data (picklable)."""

    def __init__(self, data, impl):
        self.data, self.impl = data, impl


def _is_key(x) -> bool:
    return isinstance(x, jax.Array) and jax.dtypes.issubdtype(x.dtype, jax.dtypes.prng_key)


def _to_host(tree):
    def leaf(x):
        if _is_key(x):
            return _Key(np.asarray(jax.random.key_data(x)), str(jax.random.key_impl(x)))
        if isinstance(x, jax.Array):
            return np.asarray(x)
        return x

    return jax.tree_util.tree_map(leaf, tree)


def _to_device(tree):
    def leaf(x):
        if isinstance(x, _Key):
            return jax.random.wrap_key_data(x.data, impl=x.impl)
        if isinstance(x, np.ndarray):
            return jax.numpy.asarray(x)
        return x

    return jax.tree_util.tree_map(leaf, tree, is_leaf=lambda x: isinstance(x, _Key))


def fingerprint(tree) -> str:
    """A short SHA-256 of a pytree's structure, shapes, dtypes and values (to tell runs apart)."""
    digest = hashlib.sha256()
    leaves, treedef = jax.tree_util.tree_flatten(_to_host(tree), is_leaf=lambda x: isinstance(x, _Key))
    digest.update(str(treedef).encode())
    for x in leaves:
        if isinstance(x, _Key):
            x = x.data
        array = np.asarray(x)
        digest.update(f"{array.dtype}{array.shape}".encode())
        digest.update(np.ascontiguousarray(array).tobytes())
    return digest.hexdigest()[:16]


def config_difference(old: dict, new: dict) -> list[str]:
    """Human-readable differences between two run descriptions (empty when they agree)."""
    old, new = json.loads(json.dumps(old, default=str)), json.loads(json.dumps(new, default=str))
    lines = []
    for key in sorted(set(old) | set(new)):
        if key not in new:
            lines.append(f"{key}: {old[key]!r} before, absent now")
        elif key not in old:
            lines.append(f"{key}: absent before, {new[key]!r} now")
        elif old[key] != new[key]:
            lines.append(f"{key}: {old[key]!r} before, {new[key]!r} now")
    return lines


class Checkpointer:
    """Save a run's state every ``every`` steps to ``path`` and restore it on a restart.

    Args:
      path: the checkpoint file (``None``: checkpointing off; every method is then a no-op).
      config: a JSON-able description of the run; a restart with a different one raises
        ``ValueError`` naming the differences.
      every: save when ``step % every == 0`` (and whenever ``force=True``).

    Example:
      >>> ckpt = Checkpointer(None, config={"steps": 10})
      >>> ckpt.restore() is None
      True
    """

    def __init__(self, path: str | os.PathLike | None, *, config: dict, every: int = 50):
        if isinstance(every, bool) or not isinstance(every, int) or every < 1:
            raise ValueError(f"checkpoint interval must be a positive integer; got {every!r}")
        self.path = None if path is None else os.fspath(path)
        self.config = json.loads(json.dumps(config, default=str))
        self.every = every

    def restore(self):
        """``(step, state)`` from the file, or ``None`` when there is none (or checkpointing is off)."""
        if self.path is None or not os.path.exists(self.path):
            return None
        try:
            with open(self.path, "rb") as f:
                saved = pickle.load(f)
        except Exception as error:  # a file that is not ours, or damaged outside this writer
            raise ValueError(f"checkpoint {self.path!r} cannot be read ({error}); delete it to start over") from None
        if not isinstance(saved, dict) or saved.get("format") != _FORMAT:
            raise ValueError(f"{self.path!r} is not a nashgrid checkpoint; delete it or choose another path")
        difference = config_difference(saved["config"], self.config)
        if difference:
            raise ValueError(f"checkpoint {self.path!r} belongs to a different run: " + "; ".join(difference)
                             + ". Use another path, or delete the file to start over.")
        return saved["step"], _to_device(saved["state"])

    def save(self, step: int, state, *, force: bool = False) -> bool:
        """Write ``state`` reached after ``step`` steps if due (or ``force``); returns whether it wrote."""
        if self.path is None or not (force or step % self.every == 0):
            return False
        payload = {"format": _FORMAT, "config": self.config, "step": int(step), "state": _to_host(state)}
        atomic_write(self.path, lambda f: pickle.dump(payload, f, protocol=pickle.HIGHEST_PROTOCOL))
        return True
