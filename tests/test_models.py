import pytest
import torch

from cae_lib.config import make_config
from cae_lib.models import (
    Upsample2x,
    build_model,
    code_shape,
    code_size,
    layer_shapes,
    parameter_count,
    receptive_field,
)

SINGLE_SHAPES = [
    ("input", (1, 28, 28)),
    ("conv1", (100, 12, 12)),
    ("act1", (100, 12, 12)),
    ("pool1", (100, 6, 6)),
    ("up1", (100, 12, 12)),
    ("deconv1", (1, 28, 28)),
    ("out", (1, 28, 28)),
]
TWO_SHAPES = [
    ("input", (1, 28, 28)),
    ("conv1", (100, 12, 12)),
    ("act1", (100, 12, 12)),
    ("pool1", (100, 6, 6)),
    ("conv2", (36, 4, 4)),
    ("act2", (36, 4, 4)),
    ("pool2", (36, 2, 2)),
    ("up2", (36, 4, 4)),
    ("deconv2", (100, 6, 6)),
    ("act3", (100, 6, 6)),
    ("up1", (100, 12, 12)),
    ("deconv1", (1, 28, 28)),
    ("out", (1, 28, 28)),
]


def model(name, **kw):
    return build_model(make_config("smoke", model=name, **kw))


@pytest.mark.parametrize("upsample", ["nearest", "zeros"])
@pytest.mark.parametrize(("name", "expected"), [("single", SINGLE_SHAPES), ("two", TWO_SHAPES)])
def test_every_intermediate_shape_is_the_studys(name, expected, upsample):
    assert [(n, s) for n, _, s in layer_shapes(model(name, upsample=upsample))] == expected


def test_parameter_counts_match_a_hand_count():
    conv1 = 100 * 17 * 17 + 100  # 100 filters of 17x17 on one channel, plus biases
    deconv1 = 100 * 17 * 17 + 1  # back to one channel
    conv2 = 36 * 100 * 3 * 3 + 36
    deconv2 = 36 * 100 * 3 * 3 + 100
    assert parameter_count(model("single")) == conv1 + deconv1 == 57_901
    assert parameter_count(model("two")) == conv1 + deconv1 + conv2 + deconv2 == 122_837


def test_code_shapes_and_receptive_fields():
    assert code_shape(model("single")) == (100, 6, 6)
    assert code_shape(model("two")) == (36, 2, 2)
    assert (code_size(model("single")), code_size(model("two"))) == (3_600, 144)
    assert receptive_field(model("single")) == 17 + 1  # a 17x17 filter, then a 2x2 pool
    # then a 3x3 conv and a 2x2 pool, both on a grid whose step is 2 input pixels
    assert receptive_field(model("two")) == 18 + (3 - 1) * 2 + (2 - 1) * 2 == 24


def test_upsampling_modes():
    x = torch.arange(1.0, 5.0).view(1, 1, 2, 2)
    nearest = Upsample2x("nearest")(x)[0, 0]
    zeros = Upsample2x("zeros")(x)[0, 0]
    assert torch.equal(nearest, torch.tensor([[1.0, 1, 2, 2], [1, 1, 2, 2], [3, 3, 4, 4], [3, 3, 4, 4]]))
    assert torch.equal(zeros, torch.tensor([[1.0, 0, 2, 0], [0, 0, 0, 0], [3, 0, 4, 0], [0, 0, 0, 0]]))


@pytest.mark.parametrize(("output", "low", "high"), [("sigmoid", 0.0, 1.0), ("relu", 0.0, float("inf"))])
def test_output_activation_is_configurable(output, low, high):
    out = model("two", output_activation=output)(torch.randn(4, 1, 28, 28))
    assert out.shape == (4, 1, 28, 28)
    assert out.min() >= low and out.max() <= high
