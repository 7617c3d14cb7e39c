"""The book's figures: matplotlib, with torchvision's ``make_grid`` for tiling images.

Each model keeps one colour throughout the book, so a reader can follow it across chapters.
"""

from __future__ import annotations

import matplotlib.pyplot as plt
import torch
from matplotlib.axes import Axes
from matplotlib.figure import Figure
from torchvision.utils import make_grid

from .train import TrainedRun

COLORS = {"single": "tab:blue", "two": "tab:orange"}
NAMES = {"single": "single-layer CAE", "two": "two-layer CAE"}
UPSAMPLING_NAMES = {"nearest": "repeat pixels", "zeros": "insert zeros"}  # RunConfig.upsample


def show_grid(ax: Axes, images: torch.Tensor, nrow: int, normalize: bool = False) -> None:
    """Tile ``images`` (``(N, 1, H, W)``) into ``ax`` as one grey image, ``nrow`` images per row.

    ``normalize`` stretches each image to its own min-max range (for filters, whose weights
    have no natural scale); otherwise pixels are shown on the fixed [0, 1] scale.
    """
    grid = make_grid(
        images.detach().cpu(), nrow=nrow, padding=1, pad_value=1.0, normalize=normalize, scale_each=normalize
    )
    ax.imshow(grid[0].numpy(), cmap="gray", vmin=0.0, vmax=1.0, interpolation="nearest")
    ax.set_xticks([])
    ax.set_yticks([])


def loss_curves(seed_runs: dict[str, list[TrainedRun]], caption: str) -> Figure:
    """Training loss and test MSE per epoch of every model, on one log-scaled plot.

    With several seeds per model each line is their mean and the shaded band spans their
    minimum to maximum, so the spread between seeds shows at every epoch.
    """
    fig, ax = plt.subplots(figsize=(7, 4))
    for key, runs in seed_runs.items():
        color, name = COLORS[key], NAMES[key]
        spread = f" (mean of {len(runs)} seeds, band min–max)" if len(runs) > 1 else ""
        test = torch.tensor([r.history.test_mse for r in runs])
        train = torch.tensor([r.history.train_loss for r in runs])
        for curve, start, style, what in ((test, 0, "-o", "test MSE"), (train, 1, "--", "train loss")):
            x = range(start, start + curve.shape[1])
            ax.plot(x, curve.mean(0), style, color=color, label=f"{name}: {what}{spread}")
            if len(runs) > 1:
                ax.fill_between(x, curve.min(0).values, curve.max(0).values, color=color, alpha=0.2, linewidth=0)
    ax.set_yscale("log")
    ax.set_xlabel("epoch (0 = untrained)")
    ax.set_ylabel("loss (mean squared error per pixel)")
    ax.set_title(f"Learning curves\n{caption}", fontsize=10)
    ax.grid(True, which="both", alpha=0.3)
    ax.legend(fontsize=8)
    fig.tight_layout()
    return fig


def image_rows(rows: dict[str, torch.Tensor], title: str, nrow: int | None = None) -> Figure:
    """One labelled row per entry of ``rows`` (e.g. inputs, then each model's outputs)."""
    n = len(next(iter(rows.values())))
    nrow = nrow or n
    fig, axes = plt.subplots(len(rows), 1, figsize=(min(1.0 * nrow, 12), 1.25 * len(rows) * n / nrow + 0.6))
    for ax, (label, images) in zip(axes, rows.items(), strict=True):
        show_grid(ax, images.clamp(0, 1), nrow)
        ax.set_ylabel(label, rotation=0, ha="right", va="center", fontsize=9)
    fig.suptitle(title, fontsize=10)
    fig.tight_layout()
    return fig


def filter_grids(filters: dict[str, torch.Tensor], title: str, subtitle: str = "") -> Figure:
    """Each model's first-layer filters (``(100, 1, 17, 17)``) side by side, each scaled to its own range."""
    fig, axes = plt.subplots(1, len(filters), figsize=(6 * len(filters), 6.4))
    for ax, (key, f) in zip(axes, filters.items(), strict=True):
        show_grid(ax, f, nrow=10, normalize=True)
        ax.set_title(f"{NAMES[key]}{subtitle}", color=COLORS[key])
    fig.suptitle(title, fontsize=10)
    fig.tight_layout()
    return fig


def per_model_bars(values: dict[str, torch.Tensor], labels: list[str], ylabel: str, title: str) -> Figure:
    """Grouped bars: one group per entry of ``labels``, one bar per model in its colour."""
    fig, ax = plt.subplots(figsize=(8, 3.5))
    width = 0.8 / len(values)
    for i, (key, v) in enumerate(values.items()):
        x = torch.arange(len(labels)) + (i - (len(values) - 1) / 2) * width
        ax.bar(x.numpy(), v.numpy(), width, color=COLORS.get(key, "tab:gray"), label=NAMES.get(key, key))
    ax.set_xticks(range(len(labels)), labels)
    ax.set_ylabel(ylabel)
    ax.set_title(title, fontsize=10)
    ax.legend(fontsize=8)
    fig.tight_layout()
    return fig


def per_model_lines(
    x: list[float], values: dict[str, list[float]], xlabel: str, ylabel: str, title: str
) -> Figure:
    """One line per entry of ``values``; models in their colours, anything else (baselines) dashed grey."""
    fig, ax = plt.subplots(figsize=(7, 3.8))
    for key, v in values.items():
        style = {"color": COLORS[key], "marker": "o"} if key in COLORS else {"color": "gray", "linestyle": "--"}
        ax.plot(x, v, label=NAMES.get(key, key), **style)
    ax.set_xlabel(xlabel)
    ax.set_ylabel(ylabel)
    ax.set_title(title, fontsize=10)
    ax.grid(True, alpha=0.3)
    ax.legend(fontsize=8)
    fig.tight_layout()
    return fig
