import pytest
import torch
from torch import nn

from cae_lib import analysis


def test_pca_reconstructs_a_rank_k_matrix_exactly():
    g = torch.Generator().manual_seed(0)
    data = torch.randn(300, 3, generator=g) @ torch.randn(3, 16, generator=g) + 0.5
    x = data.view(300, 1, 4, 4)
    assert analysis.pca_mse(x, x, components=3) < 1e-12
    assert analysis.pca_mse(x, x, components=2) > 1e-3


def test_mean_image_baseline():
    train = torch.stack([torch.zeros(1, 2, 2), torch.ones(1, 2, 2)])
    test = torch.ones(3, 1, 2, 2)
    assert analysis.mean_image_mse(train, test) == pytest.approx(0.25)


def test_correlation_of_identity_and_of_a_negated_copy():
    x = torch.rand(5, 1, 8, 8)
    assert torch.allclose(analysis.correlation(x, x), torch.ones(5))
    assert torch.allclose(analysis.correlation(x, 3 * x + 1), torch.ones(5))
    assert torch.allclose(analysis.correlation(x, -x), -torch.ones(5))


def test_an_identity_model_copies_noise_perfectly():
    x = analysis.noise_images("uniform", torch.rand(20, 1, 28, 28))
    q = analysis.copy_quality(nn.Identity(), x)
    assert q["mse"] == 0.0 and q["correlation"] == pytest.approx(1.0)


@pytest.mark.parametrize("kind", analysis.NOISE_KINDS)
def test_noise_images_have_the_digits_shape_and_range(kind):
    digits = torch.rand(10, 1, 28, 28) ** 4
    noise = analysis.noise_images(kind, digits, seed=3)
    assert noise.shape == digits.shape and noise.min() >= 0 and noise.max() <= 1
    assert torch.equal(noise, analysis.noise_images(kind, digits, seed=3))


def test_shuffled_noise_keeps_each_digits_pixel_values():
    digits = torch.rand(4, 1, 28, 28)
    shuffled = analysis.noise_images("shuffled", digits)
    assert torch.equal(shuffled.flatten(1).sort(1).values, digits.flatten(1).sort(1).values)
    assert not torch.equal(shuffled, digits)


def test_filter_smoothness_tells_noise_from_smooth_filters():
    noise = torch.randn(50, 1, 17, 17, generator=torch.Generator().manual_seed(0))
    ramp = torch.linspace(0, 1, 17).expand(50, 1, 17, 17) + 0.01 * noise
    assert analysis.filter_smoothness(noise).abs().mean() < 0.1
    assert analysis.filter_smoothness(ramp).mean() > 0.9


def test_unknown_noise_kind_is_rejected():
    with pytest.raises(ValueError, match="unknown noise kind 'pink'"):
        analysis.noise_images("pink", torch.rand(2, 1, 28, 28))
