"""Shared fixtures: where MNIST is, and one throw-away artifacts folder for the whole session."""

from __future__ import annotations

import os
from pathlib import Path

import pytest

from cae_lib import paths

REPO = paths.REPO_ROOT
CHAPTERS = ["intro", "architecture", "training", "reconstructions", "filters", "noise", "numbers"]


@pytest.fixture(scope="session")
def data_dir() -> Path:
    """MNIST's root: $CAE_DATA_DIR (CI points it at ../shared/data), else <repo>/data."""
    return paths.data_dir()


@pytest.fixture(scope="session")
def artifacts(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A session-wide artifacts folder, also exported for notebooks and subprocesses.

    Sharing it means the smoke models are trained once and every later chapter loads them,
    which is also what a real book build does.
    """
    folder = tmp_path_factory.mktemp("artifacts")
    os.environ[paths.ARTIFACTS_ENV] = str(folder)
    return folder
