"""Numbers that the chapters report: baselines, noise inputs and how well a model copies them."""

from __future__ import annotations

import torch
from torch import nn

from .report import mean_std
from .train import per_image_mse, reconstruct

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


def psnr(mse: torch.Tensor | float, peak: float = 1.0) -> torch.Tensor:
    """Peak signal-to-noise ratio in dB for a per-pixel MSE of images whose pixels span [0, ``peak``]."""
    return 10 * torch.log10(peak**2 / torch.as_tensor(mse, dtype=torch.float64))


def per_class_mean(values: torch.Tensor, labels: torch.Tensor, classes: int = 10) -> torch.Tensor:
    """Mean of ``values`` (one per image) within each class, shape ``(classes,)``."""
    sums = torch.zeros(classes, dtype=values.dtype).index_add_(0, labels, values)
    return sums / torch.bincount(labels, minlength=classes).clamp_min(1)


def pca_components_for_parameters(parameters: int, pixels: int = 784) -> int:
    """PCA components whose basis (``pixels`` weights each) plus the mean image fit in ``parameters``."""
    return max(0, (parameters - pixels) // pixels)


def gaussian_corruption(images: torch.Tensor, sigma: float, seed: int = 0) -> torch.Tensor:
    """``images`` plus Gaussian noise of standard deviation ``sigma``, clipped back to [0, 1]."""
    g = torch.Generator().manual_seed(seed)
    noise = torch.randn(images.shape, generator=g).to(images.device)
    return (images + sigma * noise).clamp(0, 1)


def epochs_to_converge(test_mse: list[float], tolerance: float = 0.01) -> int:
    """First epoch whose test error is within ``tolerance`` (relative) of the final one."""
    final = test_mse[-1]
    return next(i for i, v in enumerate(test_mse) if v <= final * (1 + tolerance))


@torch.no_grad()
def codes(model: nn.Module, images: torch.Tensor, batch_size: int = 1_000) -> torch.Tensor:
    """The flattened code (encoder output) of each image, shape ``(N, code size)``."""
    model.eval()
    return torch.cat([model.encode(images[i : i + batch_size]).flatten(1) for i in range(0, len(images), batch_size)])


def linear_probe_accuracy(
    train_features: torch.Tensor,
    train_labels: torch.Tensor,
    test_features: torch.Tensor,
    test_labels: torch.Tensor,
    epochs: int = 20,
    seed: int = 0,
) -> float:
    """Test accuracy of a logistic-regression classifier trained on frozen features.

    Features are standardised with the training set's statistics; the classifier is trained
    with Adam on mini-batches of 256, so every representation gets the same optimiser budget.
    """
    mean, std = train_features.mean(0), train_features.std(0).clamp_min(1e-6)
    x_train, x_test = (train_features - mean) / std, (test_features - mean) / std
    classes = int(train_labels.max()) + 1
    torch.manual_seed(seed)
    classifier = nn.Linear(x_train.shape[1], classes)
    optimizer = torch.optim.Adam(classifier.parameters(), lr=1e-3, weight_decay=1e-4)
    g = torch.Generator().manual_seed(seed)
    for _ in range(epochs):
        for batch in torch.randperm(len(x_train), generator=g).split(256):
            loss = nn.functional.cross_entropy(classifier(x_train[batch]), train_labels[batch])
            optimizer.zero_grad()
            loss.backward()
            optimizer.step()
    with torch.no_grad():
        return (classifier(x_test).argmax(1) == test_labels).float().mean().item()


@torch.no_grad()
def filter_activity(model: nn.Module, images: torch.Tensor, batch_size: int = 1_000) -> torch.Tensor:
    """Mean activation of each first-layer unit over ``images`` (after its nonlinearity), shape ``(100,)``."""
    model.eval()
    first = model.encoder[:2]  # conv1 and its nonlinearity
    total = sum(first(images[i : i + batch_size]).sum((0, 2, 3)) for i in range(0, len(images), batch_size))
    return total / (len(images) * 12 * 12)


def near_duplicate_pairs(filters: torch.Tensor, threshold: float = 0.95) -> int:
    """Number of filter pairs whose weights have a cosine similarity above ``threshold``."""
    flat = nn.functional.normalize(filters.detach().flatten(1), dim=1)
    similarity = flat @ flat.T
    return int((similarity.triu(diagonal=1) > threshold).sum())


# Above this |neighbour correlation| a filter has spatial structure. Freshly initialised 17×17
# filters (i.i.d. uniform weights) score about 0 ± 0.06 (1/√272 over 272 neighbour pairs), so
# 0.25 is four of their standard deviations: the book checks that it calls ~all of them unstructured.
UNSTRUCTURED_THRESHOLD = 0.25


def filter_structure(filters: torch.Tensor) -> torch.Tensor:
    """How structured each filter (``(N, 1, H, W)``) is: shape ``(N,)``, about 0 for noise, up to 1.

    The larger, in absolute value, of :func:`filter_smoothness` along rows and along columns
    (that of the transposed filter). The absolute value counts a filter alternating in sign from
    pixel to pixel (a checkerboard, correlation near -1) as structured, as it is.
    """
    filters = filters.detach()
    return torch.maximum(filter_smoothness(filters).abs(), filter_smoothness(filters.transpose(-1, -2)).abs())


def unstructured_filters(filters: torch.Tensor, threshold: float = UNSTRUCTURED_THRESHOLD) -> torch.Tensor:
    """Which filters look like noise (:func:`filter_structure` below ``threshold``): boolean ``(N,)``."""
    return filter_structure(filters) < threshold


def relative_change(trained: torch.Tensor, initial: torch.Tensor) -> torch.Tensor:
    """Size of each filter's change in training relative to its initial weights: ``|trained - initial| / |initial|``."""
    change = (trained.detach() - initial.detach()).flatten(1).norm(dim=1)
    return change / initial.detach().flatten(1).norm(dim=1).clamp_min(1e-12)


def checkerboard_score(images: torch.Tensor) -> torch.Tensor:
    """Fraction of each image's variation that alternates from pixel to pixel, shape ``(N,)``.

    Each 2×2 block of pixels (a, b / c, d) is split by the orthonormal 2×2 Hadamard transform
    into its mean and three alternating parts: left-right (a - b + c - d)/2, top-bottom
    (a + b - c - d)/2 and diagonal (a - b - c + d)/2, the pixel grid's Nyquist frequencies
    (π, 0), (0, π) and (π, π). The score is the alternating parts' energy over the image's total
    energy about its mean: 1 for a pure checkerboard or stripes of period 2, about 0 for a
    smooth image (0 for a constant one), 0.75 for white noise, whose energy is spread evenly.
    Images need even height and width.
    """
    x = images.flatten(0, -3).double()  # (N, H, W)
    if x.shape[-1] % 2 or x.shape[-2] % 2:
        raise ValueError(f"checkerboard_score needs even image sizes, not {tuple(x.shape[-2:])}")
    a, b = x[:, 0::2, 0::2], x[:, 0::2, 1::2]
    c, d = x[:, 1::2, 0::2], x[:, 1::2, 1::2]
    alternating = ((a - b + c - d) ** 2 + (a + b - c - d) ** 2 + (a - b - c + d) ** 2).sum((1, 2)) / 4
    total = (x - x.mean((1, 2), keepdim=True)).pow(2).sum((1, 2))
    return (alternating / total.clamp_min(1e-12)).float()


# Bump when headline_numbers changes what it computes, so numbers cached beside runs are redone.
HEADLINE_VERSION = 1
# Each headline number: its label in tables and the format of its mean and standard deviation.
HEADLINE_NUMBERS = {
    "test_mse": ("test MSE per pixel", ".4f"),
    "psnr": ("PSNR (dB)", ".2f"),
    "noise_mse": ("uniform noise: input-output MSE", ".4f"),
    "noise_correlation": ("uniform noise: input-output correlation", ".3f"),
    "probe_accuracy": ("linear-probe test accuracy", ".1%"),
}


def headline_numbers(
    model: nn.Module,
    train_images: torch.Tensor,
    train_labels: torch.Tensor,
    test_images: torch.Tensor,
    test_labels: torch.Tensor,
    probe_epochs: int = 20,
    seed: int = 0,
) -> dict[str, float]:
    """The numbers the book's comparison reports for one trained model (keys: :data:`HEADLINE_NUMBERS`).

    Test MSE per pixel and its PSNR; how closely uniform noise (one image per test digit) comes
    back out (:func:`copy_quality`); and the test accuracy of a linear probe of ``probe_epochs``
    epochs on the frozen codes of the training images (:func:`linear_probe_accuracy`). Every
    chapter that reports these calls this, so they are computed one way.
    """
    mse = per_image_mse(model, test_images).mean().item()
    noise = copy_quality(model, noise_images("uniform", test_images, seed))
    accuracy = linear_probe_accuracy(
        codes(model, train_images), train_labels, codes(model, test_images), test_labels, probe_epochs, seed
    )
    return {
        "test_mse": mse,
        "psnr": psnr(mse).item(),
        "noise_mse": noise["mse"],
        "noise_correlation": noise["correlation"],
        "probe_accuracy": accuracy,
    }


def headline_text(per_seed: list[dict[str, float]]) -> dict[str, str]:
    """One model's :func:`headline_numbers`, one dict per seed, as ``"mean ± std"`` texts by key."""
    return {key: mean_std([s[key] for s in per_seed], fmt) for key, (_, fmt) in HEADLINE_NUMBERS.items()}
