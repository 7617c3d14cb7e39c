"""The autoencoders' forward pass, computed faster than layer by layer (the default on every device).

The plain layers (``nn.Conv2d`` 17x17, ``MaxPool2d``, upsampling, ``nn.ConvTranspose2d``) spend
most of their time outside the CPU's matrix-multiply units. This module computes the same
function with the same parameters, differently:

* conv1 stays oneDNN's direct convolution (faster here than im2col + one GEMM, measured with
  its weight gradient; the image needs no input gradient), asked to write channels-last output,
  where max-pooling is about 10x faster and everything after it reads rows of channels.
* Pooling runs before the nonlinearity: every allowed nonlinearity is non-decreasing, so
  ``act(max(h)) == max(act(h))``, on a quarter of the values.
* Upsampling by 2 followed by a stride-1 transposed convolution with a kxk kernel is the same as a
  stride-2 transposed convolution of the pooled map: with zero insertion ("zeros") the kernel is
  unchanged; with pixel repetition ("nearest") it is the kxk kernel summed over its 2x2 shifts,
  (k+1)x(k+1). The upsampled map is never built and the decoder does 4x fewer multiply-adds.
* From the first pooling on, maps are kept as rows of channels (N, H, W, C), and every other
  convolution is one GEMM plus a gather or scatter of windows: :class:`_Im2Col` and
  :class:`_Col2Im`, each the other's gradient. PyTorch's own small convolutions, ``F.fold`` and
  ``F.unfold`` were 2-10x slower on these shapes (measured on a 2-core CPU: ``tests`` check
  correctness, ``python -m cae_lib.bench`` the speed).

Only the order of floating-point additions differs from the plain layers; tests compare outputs
and every parameter gradient against them (``tests/test_fastconv.py``). On CUDA the scatter uses
atomic adds, so its sums are not bit-for-bit repeatable there.
"""

from __future__ import annotations

import torch
import torch.nn.functional as F
from torch import nn

# Side of the images the fast path is written for (the study's MNIST digits).
IMAGE_SIDE = 28


def gemm_forward(model: nn.Module, x: torch.Tensor) -> torch.Tensor:
    """``model(x)`` for a :class:`cae_lib.models.CAE`, computed as described in the module docstring."""
    if x.dim() != 4 or tuple(x.shape[1:]) != (1, IMAGE_SIDE, IMAGE_SIDE):
        raise ValueError(f"expected images of shape (N, 1, 28, 28), got {tuple(x.shape)}")
    enc, dec = model.encoder, model.decoder
    mode = dec.up1.mode
    # One-channel images are as much channels-last as not; these strides say "channels-last", so
    # oneDNN writes conv1's output that way itself (a separate conversion cost ~10% of a step).
    image = x.contiguous().as_strided(x.shape, (IMAGE_SIDE * IMAGE_SIDE, 1, IMAGE_SIDE, 1))
    h = F.conv2d(image, enc.conv1.weight, enc.conv1.bias)
    rows = _pool_rows(enc.act1, h)
    if hasattr(enc, "conv2"):
        code = _pool_rows(enc.act2, conv_rows(rows, enc.conv2).permute(0, 3, 1, 2))
        rows = dec.act3(deconv_rows(code, dec.deconv2, mode, rows.shape[1]))
    out = deconv_rows(rows, dec.deconv1, mode, IMAGE_SIDE)  # (N, 28, 28, 1): the same memory as NCHW
    return dec.out(out.permute(0, 3, 1, 2))


def stride2_kernel(weight: torch.Tensor, mode: str) -> torch.Tensor:
    """The stride-2 transposed-conv kernel equal to ``upsample(mode)`` then ``weight`` at stride 1."""
    if mode == "zeros":
        return weight
    # Each pooled value is repeated over a 2x2 block, so its output is the kernel summed over
    # the four shifts of that block: one shift along x, then one along y (faster than four 2-D pads).
    along_x = F.pad(weight, (0, 1)) + F.pad(weight, (1, 0))
    return F.pad(along_x, (0, 0, 0, 1)) + F.pad(along_x, (0, 0, 1, 0))


def conv_rows(rows: torch.Tensor, conv: nn.Conv2d) -> torch.Tensor:
    """A valid, stride-1 ``conv`` of (N, H, W, C) rows, as (N, H', W', C_out) rows: one GEMM."""
    n, side, _, _ = rows.shape
    c_out, c_in, k, _ = conv.weight.shape
    out_side = side - k + 1
    patches = _Im2Col.apply(rows, out_side, k, 1)  # (N, out_side^2 * k * k, C_in)
    weight = conv.weight.permute(0, 2, 3, 1).reshape(c_out, k * k * c_in)  # (ky, kx, c) as in patches
    out = torch.addmm(conv.bias, patches.view(n * out_side * out_side, k * k * c_in), weight.t())
    return out.view(n, out_side, out_side, c_out)


def deconv_rows(code: torch.Tensor, deconv: nn.ConvTranspose2d, mode: str, out_side: int) -> torch.Tensor:
    """Upsample-then-``deconv`` of (N, s, s, C) rows, as (N, out_side, out_side, C_out): GEMM + scatter.

    Each code position's channels times the stride-2 kernel gives a kxk block of output
    ("columns"); :class:`_Col2Im` adds the blocks into place, 2 pixels apart.
    """
    n, side, _, c_in = code.shape
    kernel = stride2_kernel(deconv.weight, mode)  # (C_in, C_out, k, k)
    c_out, k = kernel.shape[1], kernel.shape[-1]
    cols = code.reshape(n * side * side, c_in) @ kernel.permute(0, 2, 3, 1).reshape(c_in, k * k * c_out)
    out = _Col2Im.apply(cols.view(n, side * side * k * k, c_out), out_side, side, k, 2)
    return (out + deconv.bias).view(n, out_side, out_side, c_out)


def _pool_rows(act: nn.Module, h: torch.Tensor) -> torch.Tensor:
    """``act(max_pool2d(h, 2))`` of a channels-last (N, C, H, W) map, returned as (N, H/2, W/2, C) rows."""
    return act(F.max_pool2d(h, 2)).permute(0, 2, 3, 1)


def _window_index(image_side: int, positions: int, k: int, stride: int, device: torch.device) -> torch.Tensor:
    """Flat pixel index of every window pixel: windows at ``positions`` x ``positions`` places, kxk each."""
    pixels = torch.arange(image_side * image_side, device=device).view(image_side, image_side)
    return pixels.as_strided((positions, positions, k, k), (stride * image_side, stride, image_side, 1)).reshape(-1)


def _gather_windows(image: torch.Tensor, image_side: int, positions: int, k: int, stride: int) -> torch.Tensor:
    """(N, image_side^2, C) or (N, side, side, C) -> (N, positions^2 * k * k, C): every window, copied."""
    n, c = image.shape[0], image.shape[-1]
    row = image_side * c
    windows = image.contiguous().as_strided(
        (n, positions, positions, k, k, c), (image_side * row, stride * row, stride * c, row, c, 1)
    )
    return windows.reshape(n, positions * positions * k * k, c)


def _scatter_windows(cols: torch.Tensor, image_side: int, positions: int, k: int, stride: int) -> torch.Tensor:
    """(N, positions^2 * k * k, C) -> (N, image_side^2, C): every window added into place."""
    index = _window_index(image_side, positions, k, stride, cols.device)
    n, c = cols.shape[0], cols.shape[-1]
    if c == 1:  # index_add_ of single numbers is ~4x faster along a 2-D tensor's rows
        return cols.new_zeros(n, image_side * image_side).index_add_(1, index, cols.view(n, -1)).unsqueeze(-1)
    return cols.new_zeros(n, image_side * image_side, c).index_add_(1, index, cols)


class _Im2Col(torch.autograd.Function):
    """Windows of (N, side, side, C) rows at stride ``stride``; the gradient adds them back (col2im)."""

    @staticmethod
    def forward(ctx, image: torch.Tensor, positions: int, k: int, stride: int) -> torch.Tensor:  # type: ignore[override]
        ctx.geometry = (image.shape[1], positions, k, stride)
        ctx.shape = image.shape
        return _gather_windows(image, *ctx.geometry)

    @staticmethod
    def backward(ctx, grad: torch.Tensor) -> tuple[torch.Tensor, None, None, None]:  # type: ignore[override]
        return _scatter_windows(grad, *ctx.geometry).view(ctx.shape), None, None, None


class _Col2Im(torch.autograd.Function):
    """kxk blocks added into an (N, side^2, C) image at stride ``stride``; the gradient gathers them (im2col)."""

    @staticmethod
    def forward(ctx, cols: torch.Tensor, image_side: int, positions: int, k: int, stride: int) -> torch.Tensor:  # type: ignore[override]
        ctx.geometry = (image_side, positions, k, stride)
        return _scatter_windows(cols, *ctx.geometry)

    @staticmethod
    def backward(ctx, grad: torch.Tensor) -> tuple[torch.Tensor, None, None, None, None]:  # type: ignore[override]
        return _gather_windows(grad, *ctx.geometry), None, None, None, None
