"""The trained-model cache: one folder per config, named from a hash of that config.

``<artifacts>/runs/<model>-<hash>/`` holds ``weights.pt`` (a state dict, loaded with
``weights_only=True``) and ``run.json`` (config, history, environment). A folder is written
under a temporary name and renamed into place, so a reader never sees half a run.
"""

from __future__ import annotations

import dataclasses
import json
import os
import shutil
import tempfile
from pathlib import Path

import torch

from . import paths
from .config import RunConfig
from .models import build_model
from .train import History, TrainedRun, train

WEIGHTS, META = "weights.pt", "run.json"


def run_dir(cfg: RunConfig, artifacts_dir: str | os.PathLike | None = None) -> Path:
    """The folder where the run of ``cfg`` is (or would be) cached."""
    return paths.artifacts_dir(artifacts_dir) / "runs" / f"{cfg.model}-{cfg.cache_key()}"


def save_run(run: TrainedRun, artifacts_dir: str | os.PathLike | None = None) -> Path:
    """Write ``run`` to its cache folder atomically and return that folder."""
    final = run_dir(run.config, artifacts_dir)
    final.parent.mkdir(parents=True, exist_ok=True)
    tmp = Path(tempfile.mkdtemp(prefix=f".{final.name}-", dir=final.parent))
    torch.save(run.model.state_dict(), tmp / WEIGHTS)
    meta = {"config": run.config.to_dict(), "history": dataclasses.asdict(run.history), "env": run.env}
    (tmp / META).write_text(json.dumps(meta, indent=2))
    try:
        tmp.rename(final)
    except OSError:  # another process finished the same run first: keep theirs
        shutil.rmtree(tmp, ignore_errors=True)
    return final


def load_run(cfg: RunConfig, artifacts_dir: str | os.PathLike | None = None) -> TrainedRun | None:
    """The cached run of ``cfg``, on the CPU, or ``None`` if there is none."""
    folder = run_dir(cfg, artifacts_dir)
    if not (folder / META).is_file():
        return None
    meta = json.loads((folder / META).read_text())
    model = build_model(cfg)
    model.load_state_dict(torch.load(folder / WEIGHTS, map_location="cpu", weights_only=True))
    return TrainedRun(cfg, model.eval(), History(**meta["history"]), meta["env"])


def load_or_train(
    cfg: RunConfig,
    artifacts_dir: str | os.PathLike | None = None,
    data_dir: str | os.PathLike | None = None,
    progress: bool = True,
) -> TrainedRun:
    """The cached run of ``cfg`` if there is one, else a freshly trained (and cached) one."""
    run = load_run(cfg, artifacts_dir)
    if run is None:
        run = train(cfg, data_dir, progress)
        save_run(run, artifacts_dir)
    return run
