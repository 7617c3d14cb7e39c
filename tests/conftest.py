"""Shared fixtures: where MNIST is, one throw-away artifacts folder and one smoke book build per session."""

from __future__ import annotations

import os
import subprocess
import sys
from dataclasses import dataclass
from pathlib import Path

import pytest

from cae_lib import paths

REPO = paths.REPO_ROOT
CHAPTERS = [
    "intro", "architecture", "training", "reconstructions", "filters", "noise", "numbers", "choices", "explorer",
]
PAGES = CHAPTERS + ["references"]  # every page of the site: the chapters, then the bibliography


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


def jupyter_book(source: Path, out: Path, **env: str) -> subprocess.CompletedProcess:
    """``jupyter-book build`` as ``make book`` runs it (warnings are errors), into ``out/_build``."""
    cmd = [
        str(Path(sys.executable).with_name("jupyter-book")), "build", str(source), "--path-output", str(out),
        "--warningiserror", "--nitpick", "--keep-going",
    ]
    return subprocess.run(cmd, capture_output=True, text=True, env={**os.environ, **env}, timeout=1800)


@dataclass
class BookBuild:
    """One finished ``jupyter-book build``: how it went, and where its site is."""

    result: subprocess.CompletedProcess
    html: Path

    def require_success(self) -> Path:
        """The site's folder; fails the calling test if the build did not succeed."""
        if self.result.returncode != 0:
            pytest.fail("the smoke book build failed:\n" + self.result.stdout[-3000:] + self.result.stderr[-3000:])
        return self.html


@pytest.fixture(scope="session")
def smoke_book(artifacts: Path, tmp_path_factory: pytest.TempPathFactory) -> BookBuild:
    """The whole book built once with the smoke profile, for every test that inspects the site."""
    out = tmp_path_factory.mktemp("book")
    return BookBuild(jupyter_book(REPO, out, CAE_PROFILE="smoke"), out / "_build" / "html")
