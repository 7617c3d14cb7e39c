"""Studies: every seed and both upsampling modes of each model, and the numbers reported over seeds."""

from __future__ import annotations

import pytest

from cae_lib import cache, train_all
from cae_lib.config import PROFILE_SEEDS, PROFILES, profile_seeds
from cae_lib.report import mean_std
from cae_lib.study import load_study

TINY = {"train_size": 200, "test_size": 100, "epochs": 1}


def test_every_profile_has_a_seed_count_and_standard_trains_three():
    assert set(PROFILE_SEEDS) == set(PROFILES)
    assert profile_seeds("smoke") == (0,)
    assert profile_seeds("standard") == (0, 1, 2)
    assert profile_seeds("standard", 2, first=5) == (5, 6)


@pytest.mark.parametrize(("seeds", "error"), [(0, ValueError), (1.5, TypeError), ("2", TypeError)])
def test_bad_seed_counts_are_rejected(seeds, error):
    with pytest.raises(error, match="seeds"):
        profile_seeds("smoke", seeds)


def test_mean_std_formats_a_mean_and_the_sample_standard_deviation():
    assert mean_std([1.0, 2.0, 3.0], ".2f") == "2.00 ± 1.00"
    assert mean_std([0.5], ".1%") == "50.0% (1 seed)"
    with pytest.raises(ValueError):
        mean_std([])


@pytest.fixture(scope="module")
def study(tmp_path_factory, data_dir):
    return load_study("smoke", data_dir, tmp_path_factory.mktemp("artifacts"), progress=False, seeds=2, **TINY)


def test_a_study_holds_every_seed_and_both_upsampling_modes(study):
    assert study.seeds == (0, 1)
    for model, runs in study.seed_runs.items():
        assert [r.config.seed for r in runs] == [0, 1]
        assert study.runs[model] is runs[0]
        assert study.upsample_runs["nearest"][model] is runs[0]
        zeros = study.upsample_runs["zeros"][model].config
        assert (zeros.upsample, zeros.seed, zeros.epochs) == ("zeros", 0, 1)
    assert len(study.all_runs()) == 6  # 2 models x (2 seeds + 1 ablation run)
    assert "2 seeds (0, 1)" in study.seeds_caption and "seed 0" in study.caption


def test_headline_numbers_are_computed_once_and_cached_beside_each_run(study, monkeypatch):
    numbers = study.headline(probe_epochs=1)
    assert [len(v) for v in numbers.values()] == [2, 2]
    assert numbers["single"][0] != numbers["single"][1]  # another seed, other numbers

    def fail(*args, **kwargs):
        raise AssertionError("recomputed instead of read from the cache")

    monkeypatch.setattr("cae_lib.analysis.headline_numbers", fail)
    assert study.headline(probe_epochs=1) == numbers
    folder = cache.run_dir(study.runs["two"].config, study.artifacts_dir)
    assert len(list(folder.glob("headline-*.json"))) == 1


def test_train_all_trains_every_run_a_build_loads(tmp_path, data_dir, capsys):
    args = ["--profile", "smoke", "--seeds", "2", "--artifacts-dir", str(tmp_path), "--data-dir", str(data_dir)]
    assert train_all.main(args) == 0
    out = capsys.readouterr().out
    assert out.count("seed 1, upsample nearest") == 2 and out.count("upsample zeros") == 2
    study = load_study("smoke", data_dir, tmp_path, progress=False, seeds=2)
    for run in study.all_runs():
        assert cache.load_run(run.config, tmp_path) is not None
    for runs in study.seed_runs.values():  # scored too, so the book build finds the numbers cached
        for run in runs:
            assert len(list(cache.run_dir(run.config, tmp_path).glob("headline-*.json"))) == 1
    assert "make book PROFILE=smoke" in out
