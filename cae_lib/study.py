"""What every chapter starts from: both models of one profile, trained or loaded from the cache."""

from __future__ import annotations

import os
from dataclasses import dataclass
from pathlib import Path

import torch

from . import paths
from .cache import load_or_train
from .config import DEFAULT_PROFILE, MODELS, RunConfig, make_config
from .data import load_mnist
from .report import format_duration, plural
from .train import TrainedRun

PROFILE_ENV = "CAE_PROFILE"


@dataclass
class Study:
    """Both trained models of one profile, and where their data came from."""

    profile: str
    runs: dict[str, TrainedRun]
    data_dir: Path

    @property
    def config(self) -> RunConfig:
        """The shared settings (the first model's config; the two differ only in ``model``)."""
        return next(iter(self.runs.values())).config

    def test_set(self) -> tuple[torch.Tensor, torch.Tensor]:
        """The test images the models were scored on, and their labels, on the CPU."""
        return load_mnist(False, self.data_dir, self.config.test_size)

    def train_set(self) -> tuple[torch.Tensor, torch.Tensor]:
        """The training images the models were trained on, and their labels, on the CPU."""
        return load_mnist(True, self.data_dir, self.config.train_size)

    @property
    def caption(self) -> str:
        """What produced the results: profile, epochs, data, device and each model's training time."""
        run = next(iter(self.runs.values()))
        times = ", ".join(f"{k}-layer {format_duration(r.train_seconds)}" for k, r in self.runs.items())
        return (
            f"profile {self.profile} · {plural(self.config.epochs, 'epoch')} · "
            f"{self.config.train_size:,} training images · {run.env['device_name']} · {times}"
        )


def load_study(
    profile: str | None = None,
    data_dir: str | os.PathLike | None = None,
    artifacts_dir: str | os.PathLike | None = None,
    progress: bool = True,
    **overrides: object,
) -> Study:
    """Both models of ``profile`` (default ``$CAE_PROFILE``, else "standard"), from cache or trained now.

    ``overrides`` replace single config fields (``epochs=2``, ``device="cuda"``...); ``None``
    values keep the profile's, so a chapter passes its parameters straight through.
    """
    profile = resolve_profile(profile)
    configs = study_configs(profile, **overrides)
    runs = {m: load_or_train(cfg, artifacts_dir, data_dir, progress) for m, cfg in configs.items()}
    return Study(profile, runs, paths.data_dir(data_dir))


def resolve_profile(profile: str | None) -> str:
    """``profile`` itself, else ``$CAE_PROFILE`` (how a whole book build picks one), else "standard"."""
    return profile or os.environ.get(PROFILE_ENV) or DEFAULT_PROFILE


def study_configs(profile: str | None = None, **overrides: object) -> dict[str, RunConfig]:
    """The config of each model in :data:`cae_lib.config.MODELS`: the profile plus ``overrides``."""
    return {m: make_config(resolve_profile(profile), **{**overrides, "model": m}) for m in MODELS}
