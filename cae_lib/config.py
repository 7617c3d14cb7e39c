"""One run's configuration, the named profiles, and the single place they are validated.

Every way into a training run (the Python API, a notebook's ``parameters`` cell, a papermill
``-p`` override) ends in :func:`make_config`, so a typo or a wrong type fails here with a
message naming the field and what it accepts, before any data is read.
"""

from __future__ import annotations

import dataclasses
import hashlib
import json
import math
from dataclasses import dataclass
from typing import Any

MODELS = ("single", "two")
ACTIVATIONS = ("relu", "sigmoid", "tanh", "identity")
LOSSES = ("mse", "sse")
UPSAMPLING = ("nearest", "zeros")
CONV_IMPLS = ("gemm", "native")
COMPILE_MODES = ("auto", "none", "reduce-overhead", "default")
PRECISIONS = ("float32", "tf32", "bf16")
# Fields that change how fast a run is, not what it trains into: left out of the cache key.
SPEED_FIELDS = ("device", "conv_impl", "compile")
MNIST_TRAIN_SIZE = 60_000
MNIST_TEST_SIZE = 10_000
# Bump when a code change alters what a config trains into, so old cached runs are not reused.
CACHE_VERSION = 1


@dataclass(frozen=True)
class RunConfig:
    """Everything that determines one trained model (and nothing that does not).

    The defaults are the study's: batch 50, learning rate 0.005, momentum 0.9. What the
    study does not say (nonlinearities, loss) is our choice, explained in the book.
    """

    model: str = "single"  # "single": one conv layer; "two": two conv layers
    epochs: int = 1
    batch_size: int = 50
    lr: float = 0.005
    momentum: float = 0.9
    train_size: int = MNIST_TRAIN_SIZE  # the first N images of MNIST's training set
    test_size: int = MNIST_TEST_SIZE  # the first N images of MNIST's test set
    activation: str = "relu"  # after every hidden layer
    output_activation: str = "relu"  # as in the study's code; measured in the training chapter
    loss: str = "mse"  # "mse": mean over pixels; "sse": summed over an image's 784 pixels
    upsample: str = "nearest"  # "nearest": repeat pixels; "zeros": insert zeros (study's code)
    seed: int = 0
    device: str = "auto"  # "auto": CUDA when present, else CPU
    # Speed only (see SPEED_FIELDS): same maths, measured by `python -m cae_lib.bench`.
    conv_impl: str = "gemm"  # "gemm": cae_lib.fastconv's large matrix multiplies; "native": plain layers
    compile: str = "auto"  # torch.compile the training step; "auto": "reduce-overhead" on CUDA, off on CPU
    # CUDA only, and it changes the arithmetic: "tf32" matmuls or "bf16" autocast. Keep "float32"
    # unless the benchmark's regression check shows the test error within 1% of float32.
    precision: str = "float32"

    def __post_init__(self) -> None:
        _validate(self)

    def cache_key(self) -> str:
        """A short hash of the fields that change the trained weights.

        ``device`` and the other :data:`SPEED_FIELDS` are left out on purpose: a model trained on
        a GPU, or with another implementation of the same maths, is reused by a CPU build.
        ``precision`` counts only when it is not the default, so float32 keys stay as they were.
        """
        fields = {k: v for k, v in dataclasses.asdict(self).items() if k not in SPEED_FIELDS}
        if fields["precision"] == "float32":
            del fields["precision"]
        blob = json.dumps([CACHE_VERSION, fields], sort_keys=True).encode()
        return hashlib.sha256(blob).hexdigest()[:12]

    def to_dict(self) -> dict[str, Any]:
        """The fields as a plain, JSON-ready dict."""
        return dataclasses.asdict(self)


PROFILES: dict[str, dict[str, Any]] = {
    # Seconds: a slice of MNIST, one epoch. For tests, CI and checking a notebook runs.
    "smoke": {"epochs": 1, "train_size": 2_000, "test_size": 500},
    # The default book build on a 2-core CPU: full MNIST. A build trains 8 runs (3 seeds and the
    # "zeros" upsampling run, per model) at ~14 + ~18 s per epoch pair (python -m cae_lib.bench,
    # 2026-12-03): 10 epochs is ~21 minutes of training. One seed alone would get 28 epochs in 15.
    "standard": {"epochs": 10},
    # The study's schedule: 400 epochs. Meant for a GPU.
    "paper": {"epochs": 400},
}
DEFAULT_PROFILE = "standard"
# Seeds trained per model (seeds 0, 1, ...): headline numbers are a mean ± std over them. Kept
# apart from PROFILES because a seed count is not a RunConfig field (each run has one ``seed``).
PROFILE_SEEDS: dict[str, int] = {"smoke": 1, "standard": 3, "paper": 3}


def make_config(profile: str = DEFAULT_PROFILE, **overrides: Any) -> RunConfig:
    """The config of ``profile`` with any field replaced by ``overrides``.

    Overrides whose value is ``None`` are ignored, so a notebook can pass its parameters
    through unchanged ("None" meaning "the profile's value").
    """
    if profile not in PROFILES:
        raise ValueError(f"unknown profile {profile!r}: choose one of {', '.join(PROFILES)}")
    known = {f.name for f in dataclasses.fields(RunConfig)}
    unknown = sorted(set(overrides) - known)
    if unknown:
        raise ValueError(
            f"unknown run setting(s) {', '.join(map(repr, unknown))}: "
            f"the settings are {', '.join(sorted(known))}"
        )
    given = {k: v for k, v in overrides.items() if v is not None}
    return RunConfig(**{**PROFILES[profile], **given})


def profile_seeds(profile: str = DEFAULT_PROFILE, seeds: int | None = None, first: int = 0) -> tuple[int, ...]:
    """The seeds a study of ``profile`` trains: ``seeds`` of them (``None``: the profile's count) from ``first``."""
    if profile not in PROFILES:
        raise ValueError(f"unknown profile {profile!r}: choose one of {', '.join(PROFILES)}")
    count = PROFILE_SEEDS[profile] if seeds is None else seeds
    _check_int("seeds", count, 1, None)
    return tuple(range(first, first + count))


def _validate(cfg: RunConfig) -> None:
    _check_choice("model", cfg.model, MODELS)
    _check_choice("activation", cfg.activation, ACTIVATIONS)
    _check_choice("output_activation", cfg.output_activation, ACTIVATIONS)
    _check_choice("loss", cfg.loss, LOSSES)
    _check_choice("upsample", cfg.upsample, UPSAMPLING)
    _check_choice("conv_impl", cfg.conv_impl, CONV_IMPLS)
    _check_choice("compile", cfg.compile, COMPILE_MODES)
    _check_choice("precision", cfg.precision, PRECISIONS)
    _check_int("epochs", cfg.epochs, 1, None)
    _check_int("train_size", cfg.train_size, 1, MNIST_TRAIN_SIZE)
    _check_int("test_size", cfg.test_size, 1, MNIST_TEST_SIZE)
    _check_int("batch_size", cfg.batch_size, 1, cfg.train_size)
    _check_int("seed", cfg.seed, 0, None)
    _check_float("lr", cfg.lr, low_exclusive=0.0)
    _check_float("momentum", cfg.momentum, low_inclusive=0.0, high_exclusive=1.0)
    if not isinstance(cfg.device, str) or not (
        cfg.device in ("auto", "cpu") or cfg.device.startswith(("cuda", "mps"))
    ):
        raise ValueError(f"device={cfg.device!r}: use 'auto', 'cpu', 'cuda' or 'cuda:N'")


def _check_choice(name: str, value: Any, allowed: tuple[str, ...]) -> None:
    if value not in allowed:
        raise ValueError(f"{name}={value!r} is not allowed: choose one of {', '.join(allowed)}")


def _check_int(name: str, value: Any, low: int, high: int | None) -> None:
    # bool is an int subclass, and "3" or 3.5 from a papermill command line is a mistake.
    if isinstance(value, bool) or not isinstance(value, int):
        raise TypeError(
            f"{name}={value!r} ({type(value).__name__}): must be a whole number "
            f"(with papermill use -p {name} 3, not -r or a decimal)"
        )
    span = f"from {low}" + (f" to {high}" if high is not None else " upwards")
    if value < low or (high is not None and value > high):
        raise ValueError(f"{name}={value} is out of range: use a whole number {span}")


def _check_float(
    name: str,
    value: Any,
    low_exclusive: float | None = None,
    low_inclusive: float | None = None,
    high_exclusive: float | None = None,
) -> None:
    if isinstance(value, bool) or not isinstance(value, (int, float)) or not math.isfinite(value):
        raise TypeError(f"{name}={value!r}: must be a finite number, such as 0.005")
    if low_exclusive is not None and value <= low_exclusive:
        raise ValueError(f"{name}={value} must be greater than {low_exclusive}")
    if low_inclusive is not None and value < low_inclusive:
        raise ValueError(f"{name}={value} must be at least {low_inclusive}")
    if high_exclusive is not None and value >= high_exclusive:
        raise ValueError(f"{name}={value} must be below {high_exclusive}")
