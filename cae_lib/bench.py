"""How fast training runs here, against a typical tutorial loop and the machine's own GEMM peak.

``python -m cae_lib.bench`` (``--quick`` for a run under a minute, ``--json PATH`` to keep the
figures) prints one table. For each model it times, in the same process and alternately:

* **ours**: :func:`cae_lib.train.train`'s epoch loop (data already on the device, batches sliced
  from one tensor, no per-step host sync) with the config's defaults (``conv_impl="gemm"``...);
* **tutorial**: ``torchvision.datasets.MNIST`` with ``transforms.ToTensor()``, a
  ``DataLoader(batch_size=50, shuffle=True)``, the plain layers, ``.item()`` on every step's loss.

The loops take turns every few batches, from fresh models, so that load from other jobs on a
shared machine hits them alike; images/s come from the lower quartile of those chunks' times
(:func:`steady_rate`), and the first chunk's time (warm-up, compilation included) is reported apart.
GFLOP/s count only the convolutions' multiply-adds (forward and backward, :func:`training_flops`);
``peak_fraction`` divides the FLOPs a loop actually performs per second by a
large float32 ``torch.mm`` timed in the same run.
"""

from __future__ import annotations

import argparse
import dataclasses
import json
import resource
import sys
import time
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import torch
from torch.utils.data import DataLoader, Subset
from torchvision import datasets, transforms

from . import paths
from .config import MODELS, RunConfig, make_config
from .data import load_mnist
from .models import build_model
from .train import (
    _train_epoch,
    initial_model,
    loss_function,
    matmul_precision,
    per_image_mse,
    resolve_device,
    train,
    training_forward,
)

BATCH = 50
CHUNK_BATCHES = 4  # ours and the tutorial loop take turns every this many batches


def conv_layers(model: str, upsample: str, conv_impl: str) -> list[tuple[int, int, int, int, bool]]:
    """Each convolution of one image's training step as the GEMM it is.

    ``(positions, in_channels, out_channels, kernel_side, input_needs_grad)``: a kernel applied at
    ``positions`` places (for a transposed conv: the positions of its input). The first conv's
    input is the image, which needs no gradient. ``conv_impl="gemm"`` runs each decoder layer at
    stride 2 on the pooled map (:mod:`cae_lib.fastconv`): a quarter of the positions, with a
    (k+1)x(k+1) kernel for "nearest" upsampling.
    """
    fast = conv_impl == "gemm"
    grow = 1 if (fast and upsample == "nearest") else 0

    def deconv(side: int, cin: int, cout: int, k: int) -> tuple[int, int, int, int, bool]:
        # side: the pooled map's side; the plain layer sees it upsampled to 2*side.
        return ((side * side, cin, cout, k + grow, True) if fast else ((2 * side) ** 2, cin, cout, k, True))

    layers = [(12 * 12, 1, 100, 17, False), deconv(6, 100, 1, 17)]
    if model == "two":
        layers += [(4 * 4, 100, 36, 3, True), deconv(2, 36, 100, 3)]
    return layers


def training_flops(model: str, upsample: str = "nearest", conv_impl: str = "native") -> int:
    """Convolution FLOPs (2 per multiply-add) of one image's forward and backward pass.

    Forward, weight gradient and (where the layer's input needs one) input gradient are each one
    GEMM of the same size. Biases, pooling, nonlinearities and the loss are not counted.
    """
    total = 0
    for positions, cin, cout, k, needs_dgrad in conv_layers(model, upsample, conv_impl):
        gemms = 3 if needs_dgrad else 2
        total += 2 * positions * cin * cout * k * k * gemms
    return total


def matmul_peak(device: torch.device, size: int = 2048, repeats: int = 10) -> float:
    """Float32 GFLOP/s of a ``size``x``size`` matrix multiply on ``device`` (best of ``repeats``)."""
    a = torch.randn(size, size, device=device)
    b = torch.randn(size, size, device=device)
    best = float("inf")
    for _ in range(repeats + 2):
        start = time.perf_counter()
        a @ b
        _sync(device)
        best = min(best, time.perf_counter() - start)
    return 2 * size**3 / best / 1e9


def _sync(device: torch.device) -> None:
    if device.type == "cuda":
        torch.cuda.synchronize(device)


def _time_loops(
    cfg: RunConfig, images: torch.Tensor, dataset: Subset, device: torch.device
) -> list[list[float]]:
    """Seconds of each chunk of :data:`CHUNK_BATCHES` batches for: ours, ours with the plain layers,
    the tutorial loop (three lists), over one pass of the same images from fresh models.

    The three take turns chunk by chunk, so a neighbour's load on a shared machine hits all alike.
    Ours runs :func:`cae_lib.train._train_epoch` itself.
    """
    loops = [_our_chunks(cfg, device), _our_chunks(dataclasses.replace(cfg, conv_impl="native"), device)]
    tutorial = _tutorial_steps(cfg, dataset, device)
    chunk = CHUNK_BATCHES * cfg.batch_size
    seconds: list[list[float]] = [[], [], []]
    for start in range(0, len(images) - chunk + 1, chunk):
        part = images[start : start + chunk]
        for i, loop in enumerate(loops):
            begin = time.perf_counter()
            loop(part)
            seconds[i].append(time.perf_counter() - begin)
        begin = time.perf_counter()
        for _ in range(CHUNK_BATCHES):
            next(tutorial)
        _sync(device)
        seconds[2].append(time.perf_counter() - begin)
    return seconds


def steady_rate(chunk_seconds: list[float], chunk_images: int) -> float:
    """Images per second from the lower quartile of chunk times, the first (warm-up) chunk left out.

    On a shared 2-core machine a neighbour's burst can slow a multi-threaded chunk tenfold; the
    lower quartile of many interleaved chunks estimates the speed without that noise.
    """
    steady = sorted(chunk_seconds[1:] or chunk_seconds)
    return chunk_images / steady[len(steady) // 4]


def _our_chunks(cfg: RunConfig, device: torch.device) -> Callable[[torch.Tensor], None]:
    """A fresh model and optimiser; the returned function trains them on one chunk of images."""
    model = initial_model(cfg).to(device)
    optimizer = torch.optim.SGD(model.parameters(), lr=cfg.lr, momentum=cfg.momentum)
    net, objective = training_forward(model, cfg, device), loss_function(cfg.loss)
    order = torch.Generator().manual_seed(cfg.seed)

    def train_on(images: torch.Tensor) -> None:
        with matmul_precision(cfg.precision, device):
            _train_epoch(net, optimizer, objective, images, cfg.batch_size, order)
        _sync(device)

    return train_on


def _tutorial_steps(cfg: RunConfig, dataset: Subset, device: torch.device) -> Iterator[None]:
    """The tutorial loop, one training step per ``next()``."""
    torch.manual_seed(cfg.seed)
    model = build_model(dataclasses.replace(cfg, conv_impl="native")).to(device)
    optimizer = torch.optim.SGD(model.parameters(), lr=cfg.lr, momentum=cfg.momentum)
    criterion = torch.nn.MSELoss()
    loader = DataLoader(dataset, batch_size=cfg.batch_size, shuffle=True)
    for x, _ in loader:
        x = x.to(device)
        loss = criterion(model(x), x)
        optimizer.zero_grad()
        loss.backward()
        optimizer.step()
        loss.item()
        yield


def _eval_rate(cfg: RunConfig, images: torch.Tensor, device: torch.device, repeats: int) -> float:
    model = initial_model(cfg).to(device)
    best = float("inf")
    for _ in range(repeats):
        start = time.perf_counter()
        per_image_mse(model, images).mean().item()
        best = min(best, time.perf_counter() - start)
    return len(images) / best


def _peak_memory_mib(device: torch.device) -> float:
    if device.type == "cuda":
        return torch.cuda.max_memory_allocated(device) / 2**20
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024  # Linux reports KiB


def bench_model(
    model: str, device: torch.device, peak: float, train_images: int, test_images: int, repeats: int
) -> dict[str, Any]:
    """Training and evaluation speed of one model, ours and the tutorial loop's, alternately."""
    cfg = make_config("standard", model=model, device=str(device))
    n = train_images - train_images % BATCH
    images = load_mnist(True, None, n, device)[0]
    test = load_mnist(False, None, test_images, device)[0]
    tutorial_data = Subset(
        datasets.MNIST(str(paths.data_dir()), train=True, transform=transforms.ToTensor()), range(n)
    )
    if device.type == "cuda":
        torch.cuda.reset_peak_memory_stats(device)
    chunks: list[list[float]] = [[], [], []]
    for _ in range(repeats):
        for i, times in enumerate(_time_loops(cfg, images, tutorial_data, device)):
            chunks[i] += times
    ours_rate, plain_rate, tutorial_rate = (steady_rate(c, CHUNK_BATCHES * BATCH) for c in chunks)
    ours_flops = training_flops(model, cfg.upsample, cfg.conv_impl)
    plain_flops = training_flops(model, cfg.upsample, "native")
    return {
        "images_per_s": ours_rate,
        "tutorial_images_per_s": tutorial_rate,
        "speedup": ours_rate / tutorial_rate,
        # The same loop with the plain layers (conv_impl="native"): cae_lib before fastconv.
        "plain_layers_images_per_s": plain_rate,
        "speedup_over_plain_layers": ours_rate / plain_rate,
        "gflops": ours_rate * ours_flops / 1e9,
        "peak_fraction": ours_rate * ours_flops / 1e9 / peak,
        # The plain layers' FLOP count over our time: what our speed is "worth" in their arithmetic.
        "effective_gflops": ours_rate * plain_flops / 1e9,
        "tutorial_gflops": tutorial_rate * plain_flops / 1e9,
        "tutorial_peak_fraction": tutorial_rate * plain_flops / 1e9 / peak,
        "flops_per_image": ours_flops,
        "plain_flops_per_image": plain_flops,
        "first_chunk_seconds": chunks[0][0],  # warm-up, compilation included
        "tutorial_first_chunk_seconds": chunks[2][0],
        "eval_images_per_s": _eval_rate(cfg, test, device, 3),
        "peak_memory_mib": _peak_memory_mib(device),
    }


def regression_check(model: str, device: torch.device, train_size: int, test_size: int, epochs: int) -> dict:
    """Final test MSE of our loop and of the same loop with the plain layers: same seed, same batches."""
    cfg = make_config(
        "standard", model=model, device=str(device), train_size=train_size, test_size=test_size, epochs=epochs
    )
    ours = train(cfg, progress=False).test_mse
    plain = train(dataclasses.replace(cfg, conv_impl="native", compile="none"), progress=False).test_mse
    return {
        "test_mse": ours,
        "plain_test_mse": plain,
        "relative_difference": abs(ours - plain) / plain,
        "within_1_percent": abs(ours - plain) <= 0.01 * plain,
        "regression_setup": f"{train_size} images, {epochs} epochs, {test_size} test images",
    }


def run(quick: bool = False, device: str = "auto") -> dict[str, Any]:
    """All the figures, as a JSON-ready dict."""
    dev = resolve_device(device)
    train_n, test_n, repeats = (1_500, 1_000, 1) if quick else (6_000, 10_000, 2)
    reg = (1_000, 500, 1) if quick else (5_000, 2_000, 2)
    result: dict[str, Any] = {
        "date": time.strftime("%Y-%m-%d %H:%M %Z"),
        "command": "python -m cae_lib.bench" + (" --quick" if quick else ""),
        "device": str(dev),
        "threads": torch.get_num_threads(),
        "torch": torch.__version__,
        "train_images_timed": train_n,
        "repeats": repeats,
    }
    for model in MODELS:
        # Measured again just before each model: on a shared machine the load drifts.
        peak = matmul_peak(dev, repeats=3 if quick else 10)
        result[model] = {
            "matmul_peak_gflops": peak,
            **bench_model(model, dev, peak, train_n, test_n, repeats),
            **regression_check(model, dev, *reg),
        }
    return result


def format_table(result: dict[str, Any]) -> str:
    """The figures as one plain-text table."""
    rows = [
        ("float32 matmul peak GFLOP/s (this run)", "matmul_peak_gflops", "{:.1f}"),
        ("training images/s, ours", "images_per_s", "{:,.0f}"),
        ("training images/s, tutorial loop", "tutorial_images_per_s", "{:,.0f}"),
        ("speedup (ours / tutorial)", "speedup", "{:.2f}x"),
        ("training images/s, our loop, plain layers", "plain_layers_images_per_s", "{:,.0f}"),
        ("speedup (ours / plain layers)", "speedup_over_plain_layers", "{:.2f}x"),
        ("GFLOP/s performed, ours", "gflops", "{:.1f}"),
        ("fraction of matmul peak, ours", "peak_fraction", "{:.0%}"),
        ("fraction of matmul peak, tutorial", "tutorial_peak_fraction", "{:.0%}"),
        ("effective GFLOP/s (plain layers' count)", "effective_gflops", "{:.1f}"),
        ("evaluation images/s (no grad)", "eval_images_per_s", "{:,.0f}"),
        ("peak memory MiB (CPU: process max RSS)", "peak_memory_mib", "{:,.0f}"),
        ("test MSE, ours", "test_mse", "{:.5f}"),
        ("test MSE, plain layers", "plain_test_mse", "{:.5f}"),
        ("within 1% of plain", "within_1_percent", "{}"),
    ]
    width = max(len(label) for label, _, _ in rows)
    lines = [
        f"device {result['device']} ({result['threads']} threads), torch {result['torch']}, "
        f"{result['date']}",
        f"{'':{width}}  {'single':>12}  {'two':>12}",
    ]
    for label, key, fmt in rows:
        lines.append(f"{label:{width}}  " + "  ".join(f"{fmt.format(result[m][key]):>12}" for m in MODELS))
    lines.append(f"(regression check: {result['single']['regression_setup']}, same seed and batches)")
    return "\n".join(lines)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m cae_lib.bench", description=__doc__.split("\n")[0])
    parser.add_argument("--quick", action="store_true", help="fewer images and repeats: under a minute")
    parser.add_argument("--json", type=Path, help="also write the figures to this JSON file")
    parser.add_argument("--device", default="auto", help="auto (CUDA when present), cpu or cuda")
    args = parser.parse_args(argv)
    result = run(args.quick, args.device)
    print(format_table(result))
    if args.json:
        args.json.write_text(json.dumps(result, indent=2))
    return 0


if __name__ == "__main__":
    sys.exit(main())
