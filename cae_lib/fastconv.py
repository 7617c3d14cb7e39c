"""The autoencoders' forward pass, computed faster than layer by layer (the default on every device).

The plain layers (``nn.Conv2d`` 17x17, ``MaxPool2d``, upsampling, ``nn.ConvTranspose2d``) spend
most of their time outside the CPU's matrix-multiply units. This module computes the same
function with the same parameters, differently:

* conv1 stays oneDNN's direct convolution (faster here than im2col + one GEMM, measured with
  its weight gradient; the image needs no input gradient), but its output is made channels-last,
  where max-pooling is about 4x faster and the decoder's GEMM reads it without a transpose.
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
    # oneDNN's direct convolution beat im2col + one GEMM here (measured); it needs no input
    # gradient since the image needs none. Channels-last from here on: pooling on it is ~4x
    # faster than on NCHW, and the decoder's GEMM reads it without a transpose.
    h = F.conv2d(x, enc.conv1.weight, enc.conv1.bias).contiguous(memory_format=torch.channels_last)
    p = enc.act1(F.max_pool2d(h, 2))
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
