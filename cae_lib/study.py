"""What every chapter starts from: both models of one profile, trained or loaded from the cache.

A study holds, for each model, the run the figures show (``runs``: the first seed), the runs of
every seed of the profile (``seed_runs``: headline numbers are their mean ± std) and the runs of
each upsampling mode at the first seed (``upsample_runs``: the ablation of the study's choice).
:func:`load_study` and ``python -m cae_lib.train_all`` load or train exactly these.
"""

from __future__ import annotations

import dataclasses
import os
import statistics
from dataclasses import dataclass, field
from pathlib import Path

import torch

from . import analysis, paths
from .cache import load_or_compute, load_or_train
from .config import DEFAULT_PROFILE, MODELS, UPSAMPLING, RunConfig, make_config, profile_seeds
from .data import load_mnist
from .report import format_duration, plural
from .train import TrainedRun

PROFILE_ENV = "CAE_PROFILE"


@dataclass
class Study:
    """Both trained models of one profile, every seed of them, and where their data came from."""

    profile: str
    runs: dict[str, TrainedRun]  # model -> the run of the first seed, which the figures show
    data_dir: Path
    seed_runs: dict[str, list[TrainedRun]] = field(default_factory=dict)  # model -> one run per seed
    upsample_runs: dict[str, dict[str, TrainedRun]] = field(default_factory=dict)  # mode -> model -> run
    artifacts_dir: Path | None = None  # where the runs are cached (None: the default folder)

    @property
    def config(self) -> RunConfig:
        """The shared settings (the first model's config; the two differ only in ``model``)."""
        return next(iter(self.runs.values())).config

    def __post_init__(self) -> None:
        # A study built by hand from single runs (as tests do) counts them as its only seed.
        if not self.seed_runs:
            self.seed_runs = {m: [r] for m, r in self.runs.items()}

    @property
    def seeds(self) -> tuple[int, ...]:
        """The seeds of ``seed_runs``, the first being the one the figures show."""
        return tuple(r.config.seed for r in next(iter(self.seed_runs.values())))

    def test_set(self) -> tuple[torch.Tensor, torch.Tensor]:
        """The test images the models were scored on, and their labels, on the CPU."""
        return load_mnist(False, self.data_dir, self.config.test_size)

    def train_set(self) -> tuple[torch.Tensor, torch.Tensor]:
        """The training images the models were trained on, and their labels, on the CPU."""
        return load_mnist(True, self.data_dir, self.config.train_size)

    @property
    def caption(self) -> str:
        """What produced the figures: profile, seed, epochs, data, device and each model's training time."""
        times = ", ".join(f"{k}-layer {format_duration(r.train_seconds)}" for k, r in self.runs.items())
        return f"{self._label(f'seed {self.config.seed}')} · {times}"

    @property
    def seeds_caption(self) -> str:
        """What produced a mean ± std over seeds: as :attr:`caption`, with every seed and the mean time per seed."""
        seeds = self.seeds
        which = f"seed {seeds[0]}" if len(seeds) == 1 else f"{len(seeds)} seeds ({', '.join(map(str, seeds))})"
        times = ", ".join(
            f"{k}-layer {format_duration(statistics.fmean(r.train_seconds for r in rs))}"
            for k, rs in self.seed_runs.items()
        )
        return f"{self._label(which)} · training time per seed: {times}"

    def _label(self, seeds: str) -> str:
        run = next(iter(self.runs.values()))
        return (
            f"profile {self.profile} · {seeds} · {plural(self.config.epochs, 'epoch')} · "
            f"{self.config.train_size:,} training images · {run.env['device_name']}"
        )

    def headline(self, probe_epochs: int = 20) -> dict[str, list[dict[str, float]]]:
        """:func:`cae_lib.analysis.headline_numbers` of every seed of each model: model -> one dict per seed.

        Each run is scored with its own seed (noise images, probe initialisation), so the spread
        includes the evaluation's randomness. The numbers are cached beside the run
        (:func:`cae_lib.cache.load_or_compute`): the linear probe on 3,600-number codes takes about
        a minute per run on a 2-core CPU, and two chapters report it.
        """
        data: list[torch.Tensor] = []
        result: dict[str, list[dict[str, float]]] = {}
        for model, runs in self.seed_runs.items():
            result[model] = []
            for run in runs:

                def compute(run: TrainedRun = run) -> dict[str, float]:
                    if not data:  # MNIST is read only when something has to be computed
                        data.extend(self.train_set() + self.test_set())
                    return analysis.headline_numbers(run.model, *data, probe_epochs, run.config.seed)

                params = {"version": analysis.HEADLINE_VERSION, "probe_epochs": probe_epochs}
                result[model].append(load_or_compute(run.config, "headline", params, compute, self.artifacts_dir))
        return result

    def all_runs(self) -> list[TrainedRun]:
        """Every distinct run of the study (each seed, each upsampling mode), once each."""
        runs = [r for rs in self.seed_runs.values() for r in rs]
        runs += [r for by_model in self.upsample_runs.values() for r in by_model.values()]
        unique: dict[str, TrainedRun] = {}
        for r in list(self.runs.values()) + runs:
            unique.setdefault(f"{r.config.model}-{r.config.cache_key()}", r)
        return list(unique.values())


def load_study(
    profile: str | None = None,
    data_dir: str | os.PathLike | None = None,
    artifacts_dir: str | os.PathLike | None = None,
    progress: bool = True,
    seeds: int | None = None,
    **overrides: object,
) -> Study:
    """Every run of ``profile`` (default ``$CAE_PROFILE``, else "standard"), from cache or trained now.

    For each model: ``seeds`` seeds (``None``: the profile's count, see
    :data:`cae_lib.config.PROFILE_SEEDS`) starting at the config's ``seed``, and the first seed
    once more with each other upsampling mode. ``overrides`` replace single config fields
    (``epochs=2``, ``device="cuda"``...); ``None`` values keep the profile's, so a chapter passes
    its parameters straight through.
    """
    profile = resolve_profile(profile)
    configs = study_configs(profile, **overrides)
    first = next(iter(configs.values())).seed
    seed_list = profile_seeds(profile, seeds, first)

    def load(cfg: RunConfig) -> TrainedRun:
        return load_or_train(cfg, artifacts_dir, data_dir, progress)

    seed_runs = {m: [load(dataclasses.replace(cfg, seed=s)) for s in seed_list] for m, cfg in configs.items()}
    runs = {m: rs[0] for m, rs in seed_runs.items()}
    upsample_runs = {
        mode: {
            m: runs[m] if mode == cfg.upsample else load(dataclasses.replace(cfg, upsample=mode))
            for m, cfg in configs.items()
        }
        for mode in UPSAMPLING
    }
    return Study(profile, runs, paths.data_dir(data_dir), seed_runs, upsample_runs, paths.artifacts_dir(artifacts_dir))


def resolve_profile(profile: str | None) -> str:
    """``profile`` itself, else ``$CAE_PROFILE`` (how a whole book build picks one), else "standard"."""
    return profile or os.environ.get(PROFILE_ENV) or DEFAULT_PROFILE


def study_configs(profile: str | None = None, **overrides: object) -> dict[str, RunConfig]:
    """The config of each model in :data:`cae_lib.config.MODELS`: the profile plus ``overrides``."""
    return {m: make_config(resolve_profile(profile), **{**overrides, "model": m}) for m in MODELS}
