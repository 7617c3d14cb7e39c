"""The study's two convolutional autoencoders, with its exact shapes.

All convolutions are unpadded ("valid"), pooling is 2x2 max-pooling, and the decoder's
"deconv" is a transposed convolution (the study's "full" convolution).

single: 1x28x28 -conv 100@17x17-> 100x12x12 -pool-> 100x6x6 -up-> 100x12x12 -deconv-> 1x28x28
two:    ... 100x6x6 -conv 36@3x3-> 36x4x4 -pool-> 36x2x2 -up-> 36x4x4 -deconv 100@3x3-> 100x6x6
        -up-> 100x12x12 -deconv 1@17x17-> 1x28x28
"""

from __future__ import annotations

from collections import OrderedDict

import torch
from torch import nn

from .config import RunConfig
from .fastconv import gemm_forward

INPUT_SHAPE = (1, 28, 28)


class Upsample2x(nn.Module):
    """Double height and width, by repeating each pixel or by inserting zeros after it."""

    def __init__(self, mode: str) -> None:
        super().__init__()
        self.mode = mode

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        if self.mode == "nearest":
            return nn.functional.interpolate(x, scale_factor=2, mode="nearest")
        n, c, h, w = x.shape
        # Zero-insertion (the study's code): each value lands top-left of its 2x2 block.
        out = x.new_zeros(n, c, h, 2, w, 2)
        out[:, :, :, 0, :, 0] = x
        return out.view(n, c, 2 * h, 2 * w)

    def extra_repr(self) -> str:
        return f"mode={self.mode!r}"


def activation(name: str) -> nn.Module:
    """The nonlinearity called ``name`` in :data:`cae_lib.config.ACTIVATIONS`."""
    return {"relu": nn.ReLU, "sigmoid": nn.Sigmoid, "tanh": nn.Tanh, "identity": nn.Identity}[name]()


class CAE(nn.Module):
    """An encoder and a decoder; ``encode`` gives the code that the decoder reconstructs from.

    ``forward`` computes ``decoder(encoder(x))``, by default through :mod:`cae_lib.fastconv`.
    """

    def __init__(self, encoder: nn.Sequential, decoder: nn.Sequential, conv_impl: str = "gemm") -> None:
        super().__init__()
        self.encoder = encoder
        self.decoder = decoder
        # "gemm": cae_lib.fastconv (same function, a few large matrix multiplies); "native": the
        # layers one by one, as listed. Not part of the weights, so not in the state dict.
        self.conv_impl = conv_impl

    def encode(self, x: torch.Tensor) -> torch.Tensor:
        return self.encoder(x)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        if self.conv_impl == "gemm":
            return gemm_forward(self, x)
        return self.decoder(self.encoder(x))

    @property
    def first_filters(self) -> torch.Tensor:
        """The first layer's 100 filters, shape ``(100, 1, 17, 17)``."""
        return self.encoder.conv1.weight


def build_model(cfg: RunConfig) -> CAE:
    """The autoencoder that ``cfg.model`` names, with ``cfg``'s nonlinearities and upsampling."""
    act, up = cfg.activation, cfg.upsample
    encoder = [("conv1", nn.Conv2d(1, 100, 17)), ("act1", activation(act)), ("pool1", nn.MaxPool2d(2))]
    decoder = [("up1", Upsample2x(up)), ("deconv1", nn.ConvTranspose2d(100, 1, 17))]
    if cfg.model == "two":
        encoder += [("conv2", nn.Conv2d(100, 36, 3)), ("act2", activation(act)), ("pool2", nn.MaxPool2d(2))]
        decoder = [
            ("up2", Upsample2x(up)),
            ("deconv2", nn.ConvTranspose2d(36, 100, 3)),
            ("act3", activation(act)),
            *decoder,
        ]
    decoder.append(("out", activation(cfg.output_activation)))
    return CAE(nn.Sequential(OrderedDict(encoder)), nn.Sequential(OrderedDict(decoder)), cfg.conv_impl)


@torch.no_grad()
def layer_outputs(model: CAE, x: torch.Tensor) -> list[tuple[str, str, torch.Tensor]]:
    """``(layer name, layer type, output)`` for every layer of encoder then decoder, input first."""
    rows = [("input", "", x)]
    for part in (model.encoder, model.decoder):
        for name, layer in part.named_children():
            x = layer(x)
            rows.append((name, type(layer).__name__, x))
    return rows


def layer_shapes(model: CAE) -> list[tuple[str, str, tuple[int, ...]]]:
    """``(layer name, layer type, output shape without batch)`` for every layer, input first."""
    x = torch.zeros(1, *INPUT_SHAPE, device=next(model.parameters()).device)
    return [(name, kind, tuple(out.shape[1:])) for name, kind, out in layer_outputs(model, x)]


def code_shape(model: CAE) -> tuple[int, ...]:
    """Shape of the code (the encoder's output) for one image."""
    return [shape for name, _, shape in layer_shapes(model) if name.startswith("pool")][-1]


def code_size(model: CAE) -> int:
    """Numbers in the code of one image (the product of :func:`code_shape`)."""
    return torch.Size(code_shape(model)).numel()


def parameter_count(model: nn.Module) -> int:
    """Number of trainable weights and biases."""
    return sum(p.numel() for p in model.parameters() if p.requires_grad)


def receptive_field(model: CAE) -> int:
    """Side, in input pixels, of the square that one code unit sees."""
    size, jump = 1, 1
    for layer in model.encoder:
        if isinstance(layer, (nn.Conv2d, nn.MaxPool2d)):
            k = layer.kernel_size if isinstance(layer.kernel_size, int) else layer.kernel_size[0]
            s = layer.stride if isinstance(layer.stride, int) else layer.stride[0]
            size += (k - 1) * jump
            jump *= s
    return size
