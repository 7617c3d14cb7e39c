"""Training and evaluation: SGD with momentum on whole-tensor MNIST, one model per config.

The loop keeps the data on the training device, draws one seeded permutation per epoch and
slices batches from it, and reads the loss back to the host once per epoch, not per step.
"""

from __future__ import annotations

import contextlib
import dataclasses
import math
import os
import platform
import sys
import time
import warnings
from collections.abc import Iterator
from dataclasses import dataclass, field
from typing import Any

import torch
from torch import nn
from tqdm.auto import tqdm

from . import checkpoint as checkpoints
from .config import RunConfig
from .data import load_mnist
from .models import CAE, build_model

EVAL_BATCH = 1_000


class DivergedError(RuntimeError):
    """The training loss became NaN or infinite."""


@dataclass
class History:
    """Per-epoch record; index 0 of ``test_mse`` is the untrained model."""

    train_loss: list[float] = field(default_factory=list)  # mean objective over the epoch
    test_mse: list[float] = field(default_factory=list)  # per-pixel MSE on the test images
    epoch_seconds: list[float] = field(default_factory=list)  # wall time of each epoch's training


@dataclass
class TrainedRun:
    """A trained model with what produced it: config, history and environment."""

    config: RunConfig
    model: CAE
    history: History
    env: dict[str, Any]

    @property
    def test_mse(self) -> float:
        return self.history.test_mse[-1]

    @property
    def train_seconds(self) -> float:
        return sum(self.history.epoch_seconds)


def resolve_device(name: str) -> torch.device:
    """``"auto"`` is CUDA when available, else CPU; asking for CUDA without it is an error."""
    if name == "auto":
        return torch.device("cuda" if torch.cuda.is_available() else "cpu")
    if name.startswith("cuda") and not torch.cuda.is_available():
        raise RuntimeError(
            f"device={name!r} but this machine has no usable CUDA GPU: use device='auto' or 'cpu'"
        )
    return torch.device(name)


def loss_function(name: str) -> nn.Module:
    """``"mse"``: mean squared error per pixel; ``"sse"``: squared error summed per image."""
    if name == "mse":
        return nn.MSELoss()
    return _SummedSquaredError()


class _SummedSquaredError(nn.Module):
    def forward(self, output: torch.Tensor, target: torch.Tensor) -> torch.Tensor:
        return (output - target).pow(2).flatten(1).sum(1).mean()


@torch.no_grad()
def reconstruct(model: nn.Module, images: torch.Tensor, batch_size: int = EVAL_BATCH) -> torch.Tensor:
    """The model's output for ``images``, computed in batches without gradients."""
    model.eval()
    return torch.cat([model(images[i : i + batch_size]) for i in range(0, len(images), batch_size)])


def per_image_mse(model: nn.Module, images: torch.Tensor) -> torch.Tensor:
    """Mean squared error per pixel of each image's reconstruction, shape ``(N,)``."""
    return (reconstruct(model, images) - images).pow(2).flatten(1).mean(1)


def initial_model(cfg: RunConfig) -> CAE:
    """The untrained model that :func:`train` starts from: PyTorch's default init, seeded."""
    torch.manual_seed(cfg.seed)
    return build_model(cfg)


def train(
    cfg: RunConfig,
    data_dir: str | os.PathLike | None = None,
    progress: bool = True,
    checkpoint: str | os.PathLike | None = None,
) -> TrainedRun:
    """Train the model ``cfg`` describes; deterministic on CPU for a given seed.

    With ``checkpoint`` (a file path) the state after every epoch is saved there atomically,
    and a run that finds a checkpoint of the same config there continues after its last epoch
    instead of starting over: on the CPU the result is identical to an uninterrupted run.
    """
    device = resolve_device(cfg.device)
    train_x, _ = load_mnist(True, data_dir, cfg.train_size, device)
    test_x, _ = load_mnist(False, data_dir, cfg.test_size, device)

    state = _resume(cfg, checkpoint, device) if checkpoint is not None else None
    if state is None:
        model = initial_model(cfg).to(device)
        optimizer = _optimizer(model, cfg)
        order = torch.Generator().manual_seed(cfg.seed)  # CPU generator: same batches on any device
        state = _Progress(model, optimizer, order, History(test_mse=[per_image_mse(model, test_x).mean().item()]))
    elif progress:
        print(f"{cfg.model}-layer CAE: continuing after epoch {state.epoch} from {checkpoint}", file=sys.stderr)
    model, optimizer, order, history, resumed = state.model, state.optimizer, state.order, state.history, state.epoch
    objective = loss_function(cfg.loss)
    step_model = training_forward(model, cfg, device)

    bar = tqdm(range(resumed, cfg.epochs), desc=f"{cfg.model}-layer CAE", unit="epoch", disable=not progress,
               initial=resumed, total=cfg.epochs)
    for epoch in bar:
        start = time.perf_counter()
        with matmul_precision(cfg.precision, device):
            loss = _train_epoch(step_model, optimizer, objective, train_x, cfg.batch_size, order)
        if device.type == "cuda":
            torch.cuda.synchronize()
        history.epoch_seconds.append(time.perf_counter() - start)
        if not math.isfinite(loss):
            raise DivergedError(
                f"the training loss became {loss} in epoch {epoch + 1}: lower the learning rate "
                f"(lr={cfg.lr}) or use loss='mse', whose gradients are 784 times smaller than 'sse'"
            )
        history.train_loss.append(loss)
        history.test_mse.append(per_image_mse(model, test_x).mean().item())
        bar.set_postfix(train_loss=f"{loss:.4f}", test_mse=f"{history.test_mse[-1]:.4f}")
        if checkpoint is not None:
            checkpoints.save(checkpoint, _snapshot(cfg, state, epoch + 1))
    env = environment(device)
    if resumed:
        env["resumed_after_epoch"] = resumed  # an interrupted run, continued from its checkpoint
    return TrainedRun(cfg, model.cpu().eval(), history, env)


@dataclass
class _Progress:
    """What the next epoch starts from; ``epoch`` counts the epochs already done."""

    model: CAE
    optimizer: torch.optim.Optimizer
    order: torch.Generator
    history: History
    epoch: int = 0


def _optimizer(model: nn.Module, cfg: RunConfig) -> torch.optim.Optimizer:
    return torch.optim.SGD(model.parameters(), lr=cfg.lr, momentum=cfg.momentum)


def _snapshot(cfg: RunConfig, state: _Progress, epoch: int) -> dict[str, Any]:
    return {
        "format": checkpoints.FORMAT,
        "cache_key": cfg.cache_key(),
        "epoch": epoch,
        "model": state.model.state_dict(),
        "optimizer": state.optimizer.state_dict(),
        "generator": state.order.get_state(),
        "history": dataclasses.asdict(state.history),
    }


def _resume(cfg: RunConfig, path: str | os.PathLike, device: torch.device) -> _Progress | None:
    """The state saved at ``path`` rebuilt into fresh objects, or ``None`` to start from scratch.

    Everything is restored into new objects and only returned once all of it fits, so a
    checkpoint that fails half-way (a tensor of the wrong shape, say) is never half-used.
    """
    saved = checkpoints.load(path, cfg)
    if saved is None:
        return None
    try:
        model = build_model(cfg)
        model.load_state_dict(saved["model"])
        model.to(device)
        optimizer = _optimizer(model, cfg)
        optimizer.load_state_dict(saved["optimizer"])  # moves the momentum buffers to the device
        order = torch.Generator()
        order.set_state(saved["generator"])
        history = History(**saved["history"])
    except (RuntimeError, ValueError, KeyError, TypeError) as err:
        checkpoints.set_aside(path, f"does not fit this model ({type(err).__name__}: {err})")
        return None
    return _Progress(model, optimizer, order, history, saved["epoch"])


def training_forward(model: CAE, cfg: RunConfig, device: torch.device) -> nn.Module:
    """What the training step calls: ``model`` itself, or wrapped in bf16 autocast and/or compiled.

    Every wrapper shares ``model``'s parameters. Compilation that fails (no compiler, an
    unsupported op) falls back to eager with a warning instead of stopping the run.
    """
    net: nn.Module = model
    if cfg.precision == "bf16" and device.type == "cuda":
        net = _Autocast(net)
    mode = cfg.compile
    if mode == "auto":  # measured slower than eager on CPU; CUDA graphs pay off for batch 50 on a GPU
        mode = "reduce-overhead" if device.type == "cuda" else "none"
    if mode != "none":
        net = _CompiledOrEager(net, mode)
    return net


@contextlib.contextmanager
def matmul_precision(precision: str, device: torch.device) -> Iterator[None]:
    """TF32 matmuls inside the block when ``precision == "tf32"`` on CUDA; float32 otherwise."""
    if precision != "tf32" or device.type != "cuda":
        yield
        return
    before = torch.get_float32_matmul_precision()
    cudnn_before = torch.backends.cudnn.allow_tf32
    torch.set_float32_matmul_precision("high")
    torch.backends.cudnn.allow_tf32 = True
    try:
        yield
    finally:
        torch.set_float32_matmul_precision(before)
        torch.backends.cudnn.allow_tf32 = cudnn_before


class _Autocast(nn.Module):
    def __init__(self, model: nn.Module) -> None:
        super().__init__()
        self.model = model

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        with torch.autocast(x.device.type, dtype=torch.bfloat16):
            out = self.model(x)
        return out.float()  # the loss, and its gradient's scale, stay in float32


class _CompiledOrEager(nn.Module):
    """``torch.compile(model, mode=mode)``; on the first call's failure, ``model`` itself from then on."""

    def __init__(self, model: nn.Module, mode: str) -> None:
        super().__init__()
        self.model = model
        self.mode = mode
        self.compiled: Any = None
        self.state = "untried"  # then "compiled" or "eager"

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        if self.state == "eager":
            return self.model(x)
        if self.state == "compiled":
            return self.compiled(x)
        try:
            self.compiled = torch.compile(self.model, mode=self.mode)
            out = self.compiled(x)
        except Exception as err:  # no C compiler, no Triton, an op inductor cannot lower...
            warnings.warn(f"torch.compile(mode={self.mode!r}) failed, training eagerly: {err}", stacklevel=2)
            self.state = "eager"
            return self.model(x)
        self.state = "compiled"
        return out


def _train_epoch(
    model: nn.Module,
    optimizer: torch.optim.Optimizer,
    objective: nn.Module,
    images: torch.Tensor,
    batch_size: int,
    generator: torch.Generator,
) -> float:
    model.train()
    perm = torch.randperm(len(images), generator=generator).to(images.device)
    n_batches = len(images) // batch_size  # drop the ragged last batch, as the study's code did
    total = torch.zeros((), device=images.device)
    for i in range(n_batches):
        batch = images[perm[i * batch_size : (i + 1) * batch_size]]
        loss = objective(model(batch), batch)
        optimizer.zero_grad(set_to_none=True)
        loss.backward()
        optimizer.step()
        total += loss.detach()
    return total.item() / n_batches


def environment(device: torch.device) -> dict[str, Any]:
    """The software and hardware a run used, stored beside its weights."""
    name = torch.cuda.get_device_name(device) if device.type == "cuda" else f"CPU ({os.cpu_count()} cores)"
    return {
        "device": str(device),
        "device_name": name,
        "torch": torch.__version__,
        "python": platform.python_version(),
        "platform": platform.platform(),
        "threads": torch.get_num_threads(),
        "finished": time.strftime("%Y-%m-%d %H:%M:%S %Z"),
    }
