"""Numbers that the chapters report: baselines, noise inputs and how well a model copies them."""

from __future__ import annotations

import torch
from torch import nn

from .train import reconstruct

NOISE_KINDS = ("uniform", "gaussian", "shuffled")


def mean_image_mse(train_images: torch.Tensor, test_images: torch.Tensor) -> float:
    """Test MSE per pixel of predicting the mean training image for every test image."""
    mean = train_images.mean(0, keepdim=True)
    return (test_images - mean).pow(2).mean().item()


def pca_mse(train_images: torch.Tensor, test_images: torch.Tensor, components: int) -> float:
    """Test MSE per pixel of the best linear code of ``components`` dimensions (PCA on train)."""
    x = train_images.flatten(1).double()
    mean = x.mean(0, keepdim=True)
    # Eigenvectors of the 784x784 covariance: cheaper than an SVD of the 60,000x784 data.
    _, vectors = torch.linalg.eigh((x - mean).T @ (x - mean))
    basis = vectors[:, -components:]
    centred = test_images.flatten(1).double() - mean
    return (centred - centred @ basis @ basis.T).pow(2).mean().item()


def noise_images(kind: str, like: torch.Tensor, seed: int = 0) -> torch.Tensor:
    """Inputs with no digit in them, shaped and scaled like ``like`` (a batch of digits in [0, 1]).

    ``uniform``: every pixel uniform in [0, 1]. ``gaussian``: pixels with the digits' own mean
    and standard deviation, clipped to [0, 1]. ``shuffled``: each digit with its pixels permuted,
    so the histogram is a digit's and only the spatial structure is gone.
    """
    g = torch.Generator().manual_seed(seed)
    flat = like.flatten(1).cpu()
    if kind == "uniform":
        out = torch.rand(flat.shape, generator=g)
    elif kind == "gaussian":
        out = (flat.mean() + flat.std() * torch.randn(flat.shape, generator=g)).clamp(0, 1)
    elif kind == "shuffled":
        order = torch.argsort(torch.rand(flat.shape, generator=g), dim=1)
        out = flat.gather(1, order)
    else:
        raise ValueError(f"unknown noise kind {kind!r}: choose one of {', '.join(NOISE_KINDS)}")
    return out.view_as(like).to(like.device)


def correlation(a: torch.Tensor, b: torch.Tensor) -> torch.Tensor:
    """Pearson correlation between the pixels of each pair of images, shape ``(N,)``."""
    a = a.flatten(1) - a.flatten(1).mean(1, keepdim=True)
    b = b.flatten(1) - b.flatten(1).mean(1, keepdim=True)
    return (a * b).sum(1) / (a.norm(dim=1) * b.norm(dim=1)).clamp_min(1e-12)


def filter_smoothness(filters: torch.Tensor) -> torch.Tensor:
    """Correlation between horizontally adjacent weights of each filter: ~0 for noise, ~1 for smooth."""
    return correlation(filters[..., :-1], filters[..., 1:])


def copy_quality(model: nn.Module, inputs: torch.Tensor) -> dict[str, float]:
    """How closely the model's outputs copy its inputs: MSE per pixel and input-output correlation."""
    outputs = reconstruct(model, inputs)
    return {
        "mse": (outputs - inputs).pow(2).mean().item(),
        "correlation": correlation(inputs, outputs).mean().item(),
    }
