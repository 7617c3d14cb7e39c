import functools

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


def test_psnr_of_identical_images_is_infinite_and_of_known_errors_exact():
    assert analysis.psnr(0.0) == float("inf")
    assert analysis.psnr(0.01).item() == pytest.approx(20.0)
    assert analysis.psnr(0.04, peak=2.0).item() == pytest.approx(20.0)


def test_per_class_mean():
    values = torch.tensor([1.0, 3.0, 10.0, 0.0])
    labels = torch.tensor([0, 0, 2, 2])
    assert analysis.per_class_mean(values, labels, classes=3).tolist() == [2.0, 0.0, 5.0]


def test_pca_components_for_parameters():
    assert analysis.pca_components_for_parameters(784 * 11) == 10  # 10 basis images + the mean image
    assert analysis.pca_components_for_parameters(57_901) == 72


def test_epochs_to_converge():
    assert analysis.epochs_to_converge([1.0, 0.5, 0.2, 0.101, 0.1]) == 3
    assert analysis.epochs_to_converge([0.3, 0.2]) == 1


def test_gaussian_corruption_is_clipped_seeded_and_zero_sigma_is_identity():
    x = torch.rand(3, 1, 28, 28)
    noisy = analysis.gaussian_corruption(x, 0.5, seed=1)
    assert noisy.min() >= 0 and noisy.max() <= 1
    assert torch.equal(noisy, analysis.gaussian_corruption(x, 0.5, seed=1))
    assert torch.equal(analysis.gaussian_corruption(x, 0.0), x)


def test_linear_probe_separates_separable_classes_and_not_random_labels():
    g = torch.Generator().manual_seed(0)
    centres = 3 * torch.randn(4, 20, generator=g)
    labels = torch.arange(400) % 4
    features = centres[labels] + torch.randn(400, 20, generator=g)
    probe = functools.partial(analysis.linear_probe_accuracy, epochs=100)  # 2 steps an epoch here
    assert probe(features[:300], labels[:300], features[300:], labels[300:]) > 0.95
    shuffled = labels[torch.randperm(400, generator=g)]
    assert probe(features[:300], shuffled[:300], features[300:], shuffled[300:]) < 0.5


def test_filter_statistics_on_a_model_with_known_filters():
    from cae_lib.config import make_config
    from cae_lib.models import build_model

    model = build_model(make_config("smoke"))
    with torch.no_grad():
        model.encoder.conv1.weight.abs_()  # positive filters on positive inputs: every unit fires
        model.encoder.conv1.weight[:50] = model.encoder.conv1.weight[50:]  # 50 exact duplicate pairs
        model.encoder.conv1.bias[:] = 0
        model.encoder.conv1.bias[0] = -1e6  # but unit 0 never does
    activity = analysis.filter_activity(model, torch.rand(8, 1, 28, 28))
    assert activity.shape == (100,) and activity[0] == 0 and (activity[1:] > 0).all()
    assert analysis.near_duplicate_pairs(model.first_filters) == 50
    assert analysis.codes(model, torch.rand(5, 1, 28, 28)).shape == (5, 3600)


def test_checkerboard_score_of_a_checkerboard_stripes_noise_and_smooth_images():
    i = torch.arange(28)
    checkerboard = (-1.0) ** (i[:, None] + i[None, :])
    stripes = ((-1.0) ** i).expand(28, 28)  # alternating columns: the (0, π) frequency alone
    ramp = torch.linspace(0, 1, 28).expand(28, 28)
    images = torch.stack([checkerboard, stripes, stripes.T, ramp, torch.full((28, 28), 0.3)]).unsqueeze(1)
    score = analysis.checkerboard_score(images)
    assert score[:3].tolist() == pytest.approx([1.0, 1.0, 1.0])
    assert score[3] < 0.01 and score[4] == 0.0
    noise = torch.rand(200, 1, 28, 28, generator=torch.Generator().manual_seed(0))
    assert analysis.checkerboard_score(noise).mean() == pytest.approx(0.75, abs=0.01)


def test_checkerboard_score_needs_even_sizes():
    with pytest.raises(ValueError, match="even"):
        analysis.checkerboard_score(torch.rand(1, 1, 27, 28))


def test_freshly_initialised_filters_are_unstructured_and_smooth_or_checkered_ones_are_not():
    from cae_lib.config import make_config
    from cae_lib.train import initial_model

    for seed in range(3):
        fresh = initial_model(make_config("smoke", seed=seed)).first_filters
        assert analysis.unstructured_filters(fresh).all()
    i = torch.arange(17.0)
    vertical_ramp = i[:, None].expand(17, 17)  # smooth down the columns, constant along rows
    checkerboard = (-1.0) ** (i[:, None] + i[None, :])
    structured = torch.stack([vertical_ramp, checkerboard, vertical_ramp.T]).unsqueeze(1)
    assert not analysis.unstructured_filters(structured + 0.01 * torch.randn(3, 1, 17, 17)).any()


def test_headline_numbers_of_an_identity_model():
    class Identity(nn.Module):
        def forward(self, x):
            return x

        def encode(self, x):
            return x

    g = torch.Generator().manual_seed(0)
    labels = torch.arange(40) % 2
    images = torch.rand(40, 1, 4, 4, generator=g) * 0.1 + labels.view(-1, 1, 1, 1) * 0.8  # two bright levels
    numbers = analysis.headline_numbers(Identity(), images, labels, images, labels, probe_epochs=30)
    assert set(numbers) == set(analysis.HEADLINE_NUMBERS)
    assert numbers["test_mse"] == 0 and numbers["psnr"] == float("inf")
    assert numbers["noise_mse"] == 0 and numbers["noise_correlation"] == pytest.approx(1.0)
    assert numbers["probe_accuracy"] == 1.0


def test_headline_text_gives_every_number_as_mean_and_std_over_seeds():
    per_seed = [dict.fromkeys(analysis.HEADLINE_NUMBERS, 0.5), dict.fromkeys(analysis.HEADLINE_NUMBERS, 0.7)]
    text = analysis.headline_text(per_seed)
    assert text["test_mse"] == "0.6000 ± 0.1414" and text["probe_accuracy"] == "60.0% ± 14.1%"
    assert set(text) == set(analysis.HEADLINE_NUMBERS)


def test_relative_change_of_filters():
    initial = torch.ones(2, 1, 3, 3)
    trained = torch.stack([torch.ones(1, 3, 3), 1.5 * torch.ones(1, 3, 3)])
    assert analysis.relative_change(trained, initial).tolist() == pytest.approx([0.0, 0.5])
