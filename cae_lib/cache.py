"""The trained-model cache: one folder per config, named from a hash of that config.

``<artifacts>/runs/<model>-<hash>/`` holds ``weights.pt`` (a state dict, loaded with
``weights_only=True``) and ``run.json`` (config, history, environment, the weights' SHA-256).
A folder is written under a temporary name and renamed into place, so a reader never sees half
a run. Beside it, while the run trains, ``<model>-<hash>.ckpt`` is its checkpoint (see
:mod:`cae_lib.checkpoint`) and ``<model>-<hash>.lock`` the lock that lets only one process
train it: a second build sharing the artifacts folder waits, then loads the finished run.
A damaged or mismatched folder is set aside (renamed ``*.corrupt-*``) and trained again.
"""

from __future__ import annotations

import contextlib
import dataclasses
import hashlib
import json
import os
import shutil
import sys
import tempfile
from collections.abc import Callable, Iterator
from pathlib import Path

import torch

from . import checkpoint as checkpoints
from . import paths
from .config import RunConfig
from .models import build_model
from .train import DivergedError, History, TrainedRun, resolve_device, train

try:
    import fcntl
except ImportError:  # Windows: no flock; concurrent builds then rely on the atomic renames alone
    fcntl = None

WEIGHTS, META = "weights.pt", "run.json"


def run_dir(cfg: RunConfig, artifacts_dir: str | os.PathLike | None = None) -> Path:
    """The folder where the run of ``cfg`` is (or would be) cached."""
    return paths.artifacts_dir(artifacts_dir) / "runs" / f"{cfg.model}-{cfg.cache_key()}"


def checkpoint_path(cfg: RunConfig, artifacts_dir: str | os.PathLike | None = None) -> Path:
    """The checkpoint file of ``cfg``'s run while it trains (removed once the run is cached)."""
    folder = run_dir(cfg, artifacts_dir)
    return folder.with_name(folder.name + ".ckpt")


def save_run(run: TrainedRun, artifacts_dir: str | os.PathLike | None = None) -> Path:
    """Write ``run`` to its cache folder atomically and return that folder."""
    final = run_dir(run.config, artifacts_dir)
    final.parent.mkdir(parents=True, exist_ok=True)
    tmp = Path(tempfile.mkdtemp(prefix=f".{final.name}-", dir=final.parent))
    torch.save(run.model.state_dict(), tmp / WEIGHTS)
    meta = {
        "config": run.config.to_dict(),
        "history": dataclasses.asdict(run.history),
        "env": run.env,
        "weights_sha256": _sha256(tmp / WEIGHTS),
    }
    (tmp / META).write_text(json.dumps(meta, indent=2))
    try:
        tmp.rename(final)
    except OSError:  # another process finished the same run first: keep theirs
        shutil.rmtree(tmp, ignore_errors=True)
    return final


def load_run(cfg: RunConfig, artifacts_dir: str | os.PathLike | None = None) -> TrainedRun | None:
    """The cached run of ``cfg``, on the CPU, or ``None`` if there is none.

    A folder that is incomplete, unreadable or holds another config's run is set aside with a
    :class:`cae_lib.checkpoint.CacheWarning` and ``None`` is returned, so the run is retrained;
    nothing is returned until every part of it has loaded and checked out.
    """
    folder = run_dir(cfg, artifacts_dir)
    if not folder.exists():
        return None
    try:
        meta = json.loads((folder / META).read_text())
        stored = RunConfig(**meta["config"])
        if stored.cache_key() != cfg.cache_key():
            raise ValueError(f"it holds the run of another config ({stored.cache_key()})")
        expected = meta.get("weights_sha256")  # absent in caches written before it was recorded
        if expected is not None and _sha256(folder / WEIGHTS) != expected:
            raise ValueError(f"{WEIGHTS} does not match the checksum in {META}")
        history = History(**meta["history"])
        if len(history.test_mse) != cfg.epochs + 1:
            raise ValueError(f"its history has {len(history.test_mse) - 1} epochs, not {cfg.epochs}")
        model = build_model(cfg)
        model.load_state_dict(torch.load(folder / WEIGHTS, map_location="cpu", weights_only=True))
        env = dict(meta["env"])
    except Exception as err:  # any damage at all: never use a run that did not load whole
        checkpoints.set_aside(folder, f"is not a usable cached run ({type(err).__name__}: {err})")
        return None
    return TrainedRun(cfg, model.eval(), history, env)


@contextlib.contextmanager
def run_lock(cfg: RunConfig, artifacts_dir: str | os.PathLike | None = None) -> Iterator[None]:
    """Hold ``<run>.lock`` exclusively, waiting (with a message) while another process holds it."""
    folder = run_dir(cfg, artifacts_dir)
    folder.parent.mkdir(parents=True, exist_ok=True)
    with open(folder.with_name(folder.name + ".lock"), "a") as lock:
        if fcntl is not None:
            try:
                fcntl.flock(lock, fcntl.LOCK_EX | fcntl.LOCK_NB)
            except BlockingIOError:
                print(f"{folder.name}: another process is training this run; waiting for it", file=sys.stderr)
                fcntl.flock(lock, fcntl.LOCK_EX)
        try:
            yield
        finally:
            if fcntl is not None:
                fcntl.flock(lock, fcntl.LOCK_UN)


def load_or_train(
    cfg: RunConfig,
    artifacts_dir: str | os.PathLike | None = None,
    data_dir: str | os.PathLike | None = None,
    progress: bool = True,
) -> TrainedRun:
    """The cached run of ``cfg`` if there is one, else a freshly trained (and cached) one.

    Training checkpoints every epoch and continues from the checkpoint an interrupted run left.
    A diverging run raises :class:`cae_lib.train.DivergedError` and leaves nothing behind.
    """
    resolve_device(cfg.device)  # device="cuda" on a machine without CUDA fails even if cached
    run = load_run(cfg, artifacts_dir)  # no lock needed: finished runs appear by one rename
    if run is not None:
        return run
    with run_lock(cfg, artifacts_dir):
        run = load_run(cfg, artifacts_dir)  # finished by another process while this one waited?
        if run is not None:
            return run
        ckpt = checkpoint_path(cfg, artifacts_dir)
        try:
            run = train(cfg, data_dir, progress, checkpoint=ckpt)
        except DivergedError:
            ckpt.unlink(missing_ok=True)  # resuming would only diverge again
            raise
        save_run(run, artifacts_dir)
        ckpt.unlink(missing_ok=True)
    return run


def load_or_compute(
    cfg: RunConfig,
    name: str,
    params: dict[str, object],
    compute: Callable[[], dict[str, float]],
    artifacts_dir: str | os.PathLike | None = None,
) -> dict[str, float]:
    """Numbers derived from the cached run of ``cfg``, computed once and kept beside its weights.

    They are stored as ``<run folder>/<name>-<hash of params>.json`` (written atomically), so
    chapters of one build that report the same numbers of the same run (the introduction and
    the numbers chapter) compute them once. ``params`` must hold everything besides the run that
    ``compute`` depends on. Without a cached run folder, or with an unreadable file, the numbers
    are simply computed again.
    """
    folder = run_dir(cfg, artifacts_dir)
    key = hashlib.sha256(json.dumps(params, sort_keys=True).encode()).hexdigest()[:12]
    path = folder / f"{name}-{key}.json"
    with contextlib.suppress(OSError, ValueError):
        return dict(json.loads(path.read_text())["values"])
    values = compute()
    if folder.is_dir():
        tmp = folder / f".{path.name}.{os.getpid()}.tmp"
        tmp.write_text(json.dumps({"params": params, "values": values}, indent=2))
        tmp.replace(path)
    return values


def _sha256(path: Path) -> str:
    return hashlib.sha256(path.read_bytes()).hexdigest()
