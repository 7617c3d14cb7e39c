"""Where data and artifacts live: a parameter, then an environment variable, then the repo.

Resolving every path from here (never from the working directory) is what lets a chapter
run the same from the repo root, from ``book/``, under ``papermill --cwd`` or inside
Jupyter Book's own execution.
"""

from __future__ import annotations

import os
from pathlib import Path

REPO_ROOT = Path(__file__).resolve().parents[1]
DATA_ENV = "CAE_DATA_DIR"
ARTIFACTS_ENV = "CAE_ARTIFACTS_DIR"


def data_dir(explicit: str | os.PathLike | None = None) -> Path:
    """The MNIST root (the folder holding ``MNIST/raw``): argument, ``$CAE_DATA_DIR``, ``<repo>/data``."""
    return _resolve(explicit, DATA_ENV, "data")


def artifacts_dir(explicit: str | os.PathLike | None = None) -> Path:
    """Trained models and other results: argument, ``$CAE_ARTIFACTS_DIR``, ``<repo>/artifacts``."""
    return _resolve(explicit, ARTIFACTS_ENV, "artifacts")


def _resolve(explicit: str | os.PathLike | None, env: str, default: str) -> Path:
    chosen = explicit or os.environ.get(env) or REPO_ROOT / default
    path = Path(chosen).expanduser()
    # A relative path means relative to the repo, wherever the notebook happens to run.
    return path if path.is_absolute() else (REPO_ROOT / path).resolve()
