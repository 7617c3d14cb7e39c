import dataclasses

import pytest

from cae_lib.config import PROFILES, RunConfig, make_config


def test_defaults_are_the_studys_optimiser_settings():
    cfg = RunConfig()
    assert (cfg.batch_size, cfg.lr, cfg.momentum) == (50, 0.005, 0.9)


@pytest.mark.parametrize("name", list(PROFILES))
def test_every_profile_builds_a_valid_config(name):
    cfg = make_config(name)
    for field, value in PROFILES[name].items():
        assert getattr(cfg, field) == value


def test_profiles_have_the_promised_sizes():
    assert make_config("smoke").train_size < 5_000 and make_config("smoke").epochs <= 2
    assert make_config("standard").train_size == 60_000
    assert make_config("paper").epochs == 400


def test_any_field_can_be_overridden_and_none_keeps_the_profile():
    cfg = make_config("smoke", epochs=2, lr=0.01, upsample="zeros", seed=None)
    assert (cfg.epochs, cfg.lr, cfg.upsample, cfg.seed) == (2, 0.01, "zeros", 0)


@pytest.mark.parametrize(
    ("overrides", "error", "message"),
    [
        ({"model": "three"}, ValueError, "model='three'.*single, two"),
        ({"epochs": 0}, ValueError, "epochs=0 is out of range"),
        ({"epochs": -3}, ValueError, "epochs=-3"),
        ({"epochs": 3.5}, TypeError, "epochs=3.5.*whole number"),
        ({"epochs": "3"}, TypeError, "epochs='3'"),
        ({"lr": 0}, ValueError, "lr=0 must be greater than 0"),
        ({"lr": float("nan")}, TypeError, "lr=nan"),
        ({"lr": "0.1"}, TypeError, "lr='0.1'"),
        ({"batch_size": 3_000}, ValueError, "batch_size=3000 is out of range.*to 2000"),
        ({"train_size": 70_000}, ValueError, "train_size=70000 is out of range.*to 60000"),
        ({"upsample": "bilinear"}, ValueError, "upsample='bilinear'.*nearest, zeros"),
        ({"device": "gpu"}, ValueError, "device='gpu'"),
        ({"lerning_rate": 0.1}, ValueError, "unknown run setting.*'lerning_rate'"),
    ],
)
def test_bad_settings_fail_with_a_message_naming_them(overrides, error, message):
    with pytest.raises(error, match=message):
        make_config("smoke", **overrides)


def test_unknown_profile_lists_the_known_ones():
    with pytest.raises(ValueError, match="unknown profile 'fast'.*smoke, standard, paper"):
        make_config("fast")


def test_cache_key_ignores_device_but_not_training_settings():
    base = make_config("smoke")
    assert base.cache_key() == dataclasses.replace(base, device="cpu").cache_key()
    assert base.cache_key() != dataclasses.replace(base, seed=1).cache_key()
    assert base.cache_key() != dataclasses.replace(base, model="two").cache_key()
