"""The autoencoders' forward pass as a few large matrix multiplies (the default on every device).

The plain layers (``nn.Conv2d`` 17x17, ``MaxPool2d``, upsampling, ``nn.ConvTranspose2d``) spend
most of their time outside the CPU's matrix-multiply units. This module computes the same
function with the same parameters, differently:

* conv1 is one GEMM, ``(batch*144, 289) @ (289, 100)``, on patches gathered once (im2col) from
  the input; its result is already channels-last, so pooling and the decoder need no transposes.
  Autograd then computes conv1's weight gradient as one GEMM too, and never the input's gradient.
* Pooling runs before the nonlinearity: every allowed nonlinearity is non-decreasing, so
  ``act(max(h)) == max(act(h))``, on a quarter of the values.
* Upsampling by 2 followed by a stride-1 transposed convolution with a kxk kernel is the same as a
  stride-2 transposed convolution of the pooled map: with zero insertion ("zeros") the kernel is
  unchanged; with pixel repetition ("nearest") it is the kxk kernel summed over its 2x2 shifts,
  (k+1)x(k+1). The 12x12 upsampled map is never built and the decoder does 4x fewer
  multiply-adds. The big decoder layer is then one GEMM plus a col2im (``F.fold``).

Only the order of floating-point additions differs from the plain layers; tests compare outputs
and every parameter gradient against them (``tests/test_fastconv.py``).
"""

from __future__ import annotations

import torch
import torch.nn.functional as F
from torch import nn

# Output side of the decoder and spatial sizes the fast path is written for (the study's shapes).
IMAGE_SIDE = 28


def gemm_forward(model: nn.Module, x: torch.Tensor) -> torch.Tensor:
    """``model(x)`` for a :class:`cae_lib.models.CAE`, computed as described in the module docstring."""
    if x.dim() != 4 or tuple(x.shape[1:]) != (1, IMAGE_SIDE, IMAGE_SIDE):
        raise ValueError(f"expected images of shape (N, 1, 28, 28), got {tuple(x.shape)}")
    enc, dec = model.encoder, model.decoder
    mode = dec.up1.mode
    h = _conv1_channels_last(x.contiguous(), enc.conv1)
    # The NCHW view of a channels-last tensor: max_pool2d keeps that memory layout.
    p = enc.act1(F.max_pool2d(h.permute(0, 3, 1, 2), 2))
    if hasattr(enc, "conv2"):
        h2 = F.conv2d(p, enc.conv2.weight, enc.conv2.bias)
        p2 = enc.act2(F.max_pool2d(h2, 2))
        k2 = stride2_kernel(dec.deconv2.weight, mode)
        pad = 2 * p2.shape[-1] + dec.deconv2.weight.shape[-1] - 1 - ((p2.shape[-1] - 1) * 2 + k2.shape[-1])
        p = dec.act3(F.conv_transpose2d(p2, k2, dec.deconv2.bias, stride=2, output_padding=pad))
    return dec.out(_deconv1_gemm(p, dec.deconv1, mode))


def stride2_kernel(weight: torch.Tensor, mode: str) -> torch.Tensor:
    """The stride-2 transposed-conv kernel equal to ``upsample(mode)`` then ``weight`` at stride 1."""
    if mode == "zeros":
        return weight
    # Each pooled value is repeated over a 2x2 block, so its output is the kernel summed over
    # the four shifts of that block.
    return (
        F.pad(weight, (0, 1, 0, 1))
        + F.pad(weight, (1, 0, 0, 1))
        + F.pad(weight, (0, 1, 1, 0))
        + F.pad(weight, (1, 0, 1, 0))
    )


def _conv1_channels_last(x: torch.Tensor, conv: nn.Conv2d) -> torch.Tensor:
    """conv1 as one GEMM on im2col patches; returns ``(N, H', W', C)`` (channels-last)."""
    n, _, side, _ = x.shape
    k = conv.kernel_size[0]
    out = side - k + 1
    # Each output pixel's kxk patch, gathered by one strided copy: (N*out*out, k*k).
    s = x.stride()
    cols = x.as_strided((n, out, out, k, k), (s[0], s[2], s[3], s[2], s[3])).reshape(n * out * out, k * k)
    h = torch.addmm(conv.bias, cols, conv.weight.view(conv.out_channels, k * k).t())
    return h.view(n, out, out, conv.out_channels)


def _deconv1_gemm(p: torch.Tensor, deconv: nn.ConvTranspose2d, mode: str) -> torch.Tensor:
    """Upsample-then-deconv of ``p`` (N, C, 6, 6) as one GEMM and a stride-2 col2im."""
    n, c, side, _ = p.shape
    kernel = stride2_kernel(deconv.weight, mode)  # (C, C_out, k, k)
    c_out, k = kernel.shape[1], kernel.shape[-1]
    rows = p.permute(0, 2, 3, 1).reshape(n * side * side, c)  # free when p is channels-last
    cols = rows @ kernel.reshape(c, c_out * k * k)
    cols = cols.view(n, side * side, c_out * k * k).transpose(1, 2)
    out = F.fold(cols, (IMAGE_SIDE, IMAGE_SIDE), k, stride=2)
    return out + deconv.bias.view(1, -1, 1, 1)
