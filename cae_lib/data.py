"""MNIST as whole tensors, read once through torchvision and checked before use.

Training slices batches out of one ``(N, 1, 28, 28)`` float tensor that already sits on the
training device: no ``DataLoader``, no per-image transform in the hot loop.
"""

from __future__ import annotations

import functools
import hashlib
import os
import socket
from pathlib import Path

import torch
from torchvision.datasets import MNIST

from . import paths

# The four canonical files, as torchvision's MNIST(download=False) expects them under MNIST/raw.
MNIST_FILES: dict[str, tuple[int, str]] = {
    "train-images-idx3-ubyte": (47_040_016, "6bbc9ace898e44ae57da46a324031adb"),
    "train-labels-idx1-ubyte": (60_008, "a25bea736e30d166cdddb491f175f624"),
    "t10k-images-idx3-ubyte": (7_840_016, "2646ac647ad5339dbf082846283269ea"),
    "t10k-labels-idx1-ubyte": (10_008, "27ae3e4e09519cfbb04c329615203637"),
}
# Seconds without a byte from a mirror before the download gives up (per connection, not in total).
DOWNLOAD_TIMEOUT_S = 10


class MNISTUnavailableError(RuntimeError):
    """MNIST is missing or damaged and could not be downloaded."""


def load_mnist(
    train: bool,
    data_dir: str | os.PathLike | None = None,
    size: int | None = None,
    device: str | torch.device = "cpu",
    download: bool = True,
) -> tuple[torch.Tensor, torch.Tensor]:
    """The first ``size`` images of a split as floats in [0, 1], shape ``(N, 1, 28, 28)``, and labels.

    ``data_dir`` is resolved by :func:`cae_lib.paths.data_dir`. Files already present are
    only read (the folder may be read-only); missing ones are downloaded if ``download``.
    """
    images, labels = _load_split(str(paths.data_dir(data_dir)), train, download)
    images, labels = images[:size], labels[:size]
    return images.to(device).float().div_(255.0).unsqueeze(1), labels.to(device)


@functools.cache
def _load_split(root: str, train: bool, download: bool) -> tuple[torch.Tensor, torch.Tensor]:
    root_path = Path(root)
    if not _files_present(root_path) and download:
        _download(root_path)
    verify_mnist(root_path)
    dataset = MNIST(root, train=train, download=False)
    return dataset.data, dataset.targets


def _files_present(root: Path) -> bool:
    return all((root / "MNIST" / "raw" / name).is_file() for name in MNIST_FILES)


def _download(root: Path) -> None:
    # torchvision's download has no timeout: on a network that drops packets it would wait
    # forever. With one, each of its two mirrors gives up after DOWNLOAD_TIMEOUT_S of silence.
    previous = socket.getdefaulttimeout()
    socket.setdefaulttimeout(DOWNLOAD_TIMEOUT_S)
    try:
        MNIST(str(root), train=True, download=True)
        MNIST(str(root), train=False, download=True)
    except Exception as err:  # offline, read-only folder, mirror down: all end the same way
        raise MNISTUnavailableError(_missing_message(root, err)) from err
    finally:
        socket.setdefaulttimeout(previous)


def verify_mnist(root: str | os.PathLike) -> None:
    """Raise :class:`MNISTUnavailableError` unless all four files have their canonical size and MD5."""
    raw = Path(root) / "MNIST" / "raw"
    for name, (size, md5) in MNIST_FILES.items():
        path = raw / name
        if not path.is_file():
            raise MNISTUnavailableError(_missing_message(Path(root)))
        actual = path.stat().st_size
        if actual != size:
            raise MNISTUnavailableError(
                f"{path} has {actual:,} bytes instead of {size:,}: the file is truncated or is "
                "not MNIST. Delete it (and download again) or replace it with the canonical file."
            )
        if _md5(path) != md5:
            raise MNISTUnavailableError(
                f"{path} has the right size but the wrong MD5 checksum (expected {md5}): "
                "it is corrupted. Replace it with the canonical file."
            )


@functools.cache
def _md5(path: Path) -> str:
    return hashlib.md5(path.read_bytes()).hexdigest()


def _missing_message(root: Path, err: Exception | None = None) -> str:
    files = ", ".join(MNIST_FILES)
    reason = f" (download failed: {err})" if err else ""
    return (
        f"MNIST not found in {root / 'MNIST' / 'raw'}{reason}. Put the four uncompressed files "
        f"there ({files}), or point the notebook parameter data_dir or the environment variable "
        f"{paths.DATA_ENV} at a folder that holds MNIST/raw/ with them."
    )
