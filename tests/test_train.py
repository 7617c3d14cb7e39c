import pytest
import torch

from cae_lib import cache
from cae_lib.config import make_config
from cae_lib.train import DivergedError, resolve_device, train


def assert_same_weights(a, b):
    sa, sb = a.state_dict(), b.state_dict()
    assert sa.keys() == sb.keys()
    assert all(torch.equal(sa[k], sb[k]) for k in sa)


TINY = {"train_size": 1_000, "test_size": 200, "epochs": 2}


@pytest.fixture(scope="module")
def tiny_run(data_dir):
    return train(make_config("smoke", model="single", **TINY), data_dir, progress=False)


def test_history_has_one_entry_per_epoch_and_learning_happens(tiny_run):
    h = tiny_run.history
    assert len(h.train_loss) == len(h.epoch_seconds) == 2
    assert len(h.test_mse) == 3  # the untrained model, then each epoch
    assert h.test_mse[0] > h.test_mse[1] > h.test_mse[2]
    assert h.test_mse[-1] < 0.6 * h.test_mse[0]
    assert all(s > 0 for s in h.epoch_seconds)
    assert tiny_run.env["device"] == "cpu"


def test_training_is_deterministic_on_cpu_for_a_seed(data_dir, tiny_run):
    again = train(tiny_run.config, data_dir, progress=False)
    assert_same_weights(tiny_run.model, again.model)
    other_seed = train(make_config("smoke", model="single", seed=1, **TINY), data_dir, progress=False)
    assert not torch.equal(other_seed.model.first_filters, tiny_run.model.first_filters)


def test_divergence_stops_the_run_and_suggests_a_lower_learning_rate(data_dir):
    cfg = make_config("smoke", model="single", loss="sse", lr=5.0, output_activation="identity", **TINY)
    with pytest.raises(DivergedError, match="lower the learning rate"):
        train(cfg, data_dir, progress=False)


def test_cache_round_trip_and_reuse(tmp_path, data_dir, tiny_run, monkeypatch):
    folder = cache.save_run(tiny_run, tmp_path)
    assert folder == cache.run_dir(tiny_run.config, tmp_path)
    assert {p.name for p in folder.iterdir()} == {cache.WEIGHTS, cache.META}
    monkeypatch.setattr(cache, "train", lambda *a, **k: pytest.fail("a cached run was retrained"))
    loaded = cache.load_or_train(tiny_run.config, tmp_path, data_dir)
    assert loaded.history == tiny_run.history and loaded.env == tiny_run.env
    assert_same_weights(tiny_run.model, loaded.model)


def test_cache_misses_for_another_config(tmp_path, tiny_run):
    cache.save_run(tiny_run, tmp_path)
    assert cache.load_run(make_config("smoke", model="single", seed=7, **TINY), tmp_path) is None


def test_device_auto_falls_back_to_cpu_and_cuda_without_gpu_is_an_error():
    if torch.cuda.is_available():
        pytest.skip("this machine has a GPU")
    assert resolve_device("auto") == torch.device("cpu")
    with pytest.raises(RuntimeError, match="no usable CUDA GPU.*'auto' or 'cpu'"):
        resolve_device("cuda")
