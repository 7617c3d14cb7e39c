"""Checkpoints of a run in progress, so an interrupted run continues where it stopped.

A checkpoint is one ``torch.save`` file holding everything the next epoch depends on: the
model's and the optimiser's state, the state of the generator that shuffles the batches, the
history so far and the number of finished epochs. It is written to a temporary file in the same
folder, flushed to disk and moved into place with ``os.replace``, so a kill, a crash or Ctrl-C
at any moment leaves either the previous checkpoint or the new one, never half of one.

Anything in the artifacts folder that is damaged or belongs to another config is *set aside*
(renamed, never deleted, so nothing is lost) with a :class:`CacheWarning`, and trained again.
"""

from __future__ import annotations

import os
import time
import warnings
from pathlib import Path
from typing import Any

import torch

from .config import RunConfig

# Bump when the layout of the saved dict changes; an older checkpoint is then set aside.
FORMAT = 1
KEYS = ("format", "cache_key", "epoch", "model", "optimizer", "generator", "history")


class CacheWarning(UserWarning):
    """A cached run or checkpoint was unreadable or did not match its config; it was set aside."""


def save(path: str | os.PathLike, state: dict[str, Any]) -> None:
    """Write ``state`` to ``path`` atomically: a temporary file, fsync, then ``os.replace``."""
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_name(f".{path.name}.{os.getpid()}.tmp")
    try:
        torch.save(state, tmp)
        with open(tmp, "rb") as f:
            os.fsync(f.fileno())  # the bytes are on disk before the name points at them
        os.replace(tmp, path)
    finally:
        tmp.unlink(missing_ok=True)  # after an error or Ctrl-C mid-write: no debris


def load(path: str | os.PathLike, cfg: RunConfig) -> dict[str, Any] | None:
    """The checkpoint of ``cfg`` at ``path`` (tensors on the CPU), or ``None`` if there is none.

    A file that cannot be read (truncated, not a checkpoint) or that belongs to another config
    is set aside with a :class:`CacheWarning` and ``None`` is returned: training starts over.
    ``map_location="cpu"`` lets a checkpoint written on a GPU continue on a CPU.
    """
    path = Path(path)
    if not path.is_file():
        return None
    try:
        state = torch.load(path, map_location="cpu", weights_only=True)
    except Exception as err:  # truncated zip, random bytes, pickle that weights_only refuses
        set_aside(path, f"cannot be read ({type(err).__name__}: {err})")
        return None
    problem = _problem(state, cfg)
    if problem:
        set_aside(path, problem)
        return None
    return state


def set_aside(path: str | os.PathLike, reason: str) -> Path | None:
    """Rename a damaged file or folder to ``<name>.corrupt-<time>`` and warn; return the new path."""
    path = Path(path)
    aside = path.with_name(f"{path.name}.corrupt-{time.strftime('%Y%m%d-%H%M%S')}-{os.getpid()}")
    try:
        path.rename(aside)
    except FileNotFoundError:  # another process set it aside first
        return None
    except OSError as err:  # a read-only artifacts folder, say: better stop than use it
        raise RuntimeError(f"{path} {reason}, and it could not be moved aside ({err}): delete it") from err
    warnings.warn(
        f"{path} {reason}; it was moved to {aside.name} (delete it when you no longer need it) "
        "and the run is trained again",
        CacheWarning,
        stacklevel=2,
    )
    return aside


def _problem(state: Any, cfg: RunConfig) -> str | None:
    if not isinstance(state, dict) or not all(key in state for key in KEYS):
        return "is not a checkpoint of this version of cae_lib"
    if state["format"] != FORMAT:
        return f"has checkpoint format {state['format']}, not {FORMAT}"
    if state["cache_key"] != cfg.cache_key():
        return f"belongs to another config ({state['cache_key']}, not {cfg.cache_key()})"
    epoch, history = state["epoch"], state["history"]
    if not isinstance(epoch, int) or not 1 <= epoch <= cfg.epochs:
        return f"records epoch {epoch!r} of a {cfg.epochs}-epoch run"
    if (
        not isinstance(history, dict)
        or len(history.get("train_loss", ())) != epoch
        or len(history.get("test_mse", ())) != epoch + 1
    ):
        return f"has a history that does not match its epoch count ({epoch})"
    return None
