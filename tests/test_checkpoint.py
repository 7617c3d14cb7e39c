"""Interrupted, diverging, damaged and concurrent runs: each ends in the right result or one message."""

from __future__ import annotations

import dataclasses
import json
import os
import signal
import subprocess
import sys
import time

import pytest
import torch

from cae_lib import cache, checkpoint, train
from cae_lib.checkpoint import CacheWarning
from cae_lib.config import make_config

from .test_train import assert_same_weights

# Small enough for seconds per epoch, with enough epochs to be killed in the middle of.
CFG = make_config("smoke", model="single", train_size=2_000, test_size=100, epochs=6)
# A config whose run the worker script below trains (or loads) through the cache.
WORKER = """
import json, sys
from cae_lib import cache
from cae_lib.config import make_config
real_train = cache.train
def train(*args, **kwargs):
    print("TRAINING", flush=True)
    return real_train(*args, **kwargs)
cache.train = train
run = cache.load_or_train(make_config("smoke", **json.loads(sys.argv[1])), sys.argv[2], progress=False)
print(json.dumps(run.env))
"""
CFG_ARGS = json.dumps({k: getattr(CFG, k) for k in ("model", "train_size", "test_size", "epochs")})


@pytest.fixture(scope="module")
def reference(data_dir):
    """The uninterrupted run every interrupted one must match bit for bit."""
    return train.train(CFG, data_dir, progress=False)


def assert_same_run(run, reference):
    assert_same_weights(run.model, reference.model)
    assert run.history.train_loss == reference.history.train_loss
    assert run.history.test_mse == reference.history.test_mse


def start_worker(artifacts):
    return subprocess.Popen(
        [sys.executable, "-c", WORKER, CFG_ARGS, str(artifacts)],
        stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
    )


@pytest.mark.parametrize("sig", [signal.SIGKILL, signal.SIGINT], ids=["killed", "ctrl-c"])
def test_a_killed_training_process_resumes_to_the_identical_result(tmp_path, reference, sig):
    ckpt = cache.checkpoint_path(CFG, tmp_path)
    worker = start_worker(tmp_path)
    deadline = time.monotonic() + 300
    while not ckpt.exists():  # the first epoch's checkpoint
        assert worker.poll() is None, worker.communicate()
        assert time.monotonic() < deadline, "no checkpoint appeared"
        time.sleep(0.01)
    worker.send_signal(sig)
    worker.communicate(timeout=60)
    assert worker.returncode != 0
    done = torch.load(ckpt, weights_only=True)["epoch"]
    assert 1 <= done < CFG.epochs, "the run finished before it could be interrupted"
    assert not cache.run_dir(CFG, tmp_path).exists()

    run = cache.load_or_train(CFG, tmp_path, progress=False)  # started again, same config
    assert run.env["resumed_after_epoch"] == done
    assert len(run.history.epoch_seconds) == CFG.epochs
    assert_same_run(run, reference)
    assert not ckpt.exists(), "the checkpoint is removed once the run is cached"
    assert_same_run(cache.load_run(CFG, tmp_path), reference)


def test_keyboard_interrupt_mid_epoch_keeps_the_last_epochs_checkpoint(tmp_path, reference, monkeypatch, data_dir):
    real_epoch, calls = train._train_epoch, []

    def interrupted_in_epoch_3(*args):
        calls.append(1)
        loss = real_epoch(*args)  # the model and the shuffling generator have moved on...
        if len(calls) == 3:
            raise KeyboardInterrupt  # ...but this epoch never finished
        return loss

    monkeypatch.setattr(train, "_train_epoch", interrupted_in_epoch_3)
    ckpt = tmp_path / "run.ckpt"
    with pytest.raises(KeyboardInterrupt):
        train.train(CFG, data_dir, progress=False, checkpoint=ckpt)
    monkeypatch.undo()
    assert torch.load(ckpt, weights_only=True)["epoch"] == 2
    run = train.train(CFG, data_dir, progress=False, checkpoint=ckpt)
    assert run.env["resumed_after_epoch"] == 2
    assert_same_run(run, reference)


def test_an_interrupted_checkpoint_write_leaves_the_previous_one_whole(tmp_path, monkeypatch):
    path = tmp_path / "run.ckpt"
    checkpoint.save(path, {"epoch": 1})
    real_save = torch.save

    def half_written(obj, f):
        real_save(obj, f)
        os.truncate(f, 10)
        raise KeyboardInterrupt

    monkeypatch.setattr(torch, "save", half_written)
    with pytest.raises(KeyboardInterrupt):
        checkpoint.save(path, {"epoch": 2})
    monkeypatch.undo()
    assert torch.load(path, weights_only=True) == {"epoch": 1}
    assert [p.name for p in tmp_path.iterdir()] == ["run.ckpt"], "no temporary file is left behind"


@pytest.fixture(scope="module")
def saved_checkpoint(tmp_path_factory, data_dir):
    """A real checkpoint of a 2-epoch run after its last epoch."""
    path = tmp_path_factory.mktemp("ckpt") / "run.ckpt"
    train.train(dataclasses.replace(CFG, epochs=2), data_dir, progress=False, checkpoint=path)
    return torch.load(path, weights_only=True)


def damage(path, how, state):
    if how == "truncated":
        torch.save(state, path)
        os.truncate(path, path.stat().st_size // 2)
    elif how == "not a checkpoint":
        path.write_bytes(b"\x00garbage" * 100)
    elif how == "another config":
        torch.save({**state, "cache_key": "0123456789ab"}, path)
    elif how == "wrong shapes":
        model = dict(state["model"])
        model[next(iter(model))] = torch.zeros(3, 3)
        torch.save({**state, "cache_key": CFG.cache_key(), "model": model}, path)


@pytest.mark.parametrize(
    ("how", "message"),
    [
        ("truncated", "cannot be read"),
        ("not a checkpoint", "cannot be read"),
        ("another config", "belongs to another config"),
        ("wrong shapes", "does not fit this model"),
    ],
)
def test_a_damaged_checkpoint_is_set_aside_and_training_starts_over(tmp_path, saved_checkpoint, how, message):
    path = tmp_path / "run.ckpt"
    damage(path, how, saved_checkpoint)
    original = path.read_bytes()
    with pytest.warns(CacheWarning, match=message):
        assert train._resume(CFG, path, torch.device("cpu")) is None
    aside = list(tmp_path.glob("run.ckpt.corrupt-*"))
    assert not path.exists() and len(aside) == 1
    assert aside[0].read_bytes() == original, "set aside, not deleted"


def test_a_checkpoint_written_on_a_gpu_continues_on_a_cpu(tmp_path, saved_checkpoint, monkeypatch, data_dir):
    path = tmp_path / "run.ckpt"
    cfg2 = dataclasses.replace(CFG, epochs=2)
    state = saved_checkpoint
    # Record every tensor as living on cuda:0, exactly as torch.save does on a GPU machine.
    monkeypatch.setattr(torch.serialization, "location_tag", lambda storage: "cuda:0")
    torch.save(state, path)
    monkeypatch.undo()
    if not torch.cuda.is_available():
        with pytest.raises(RuntimeError, match="CUDA"):
            torch.load(path, weights_only=True)  # what a load without map_location would do
    run = train.train(cfg2, data_dir, progress=False, checkpoint=path)
    assert run.env["resumed_after_epoch"] == 2 and run.env["device"] == "cpu"
    assert run.history.test_mse == state["history"]["test_mse"]


def test_divergence_stops_with_the_message_and_caches_nothing(tmp_path):
    cfg = make_config("smoke", model="single", train_size=200, test_size=100, epochs=3,
                      loss="sse", lr=5.0, output_activation="identity")
    with pytest.raises(train.DivergedError, match="lower the learning rate"):
        cache.load_or_train(cfg, tmp_path, progress=False)
    assert sorted(p.name for p in (tmp_path / "runs").iterdir()) == [cache.run_dir(cfg, tmp_path).name + ".lock"]


def corrupt_run(folder, how, other):
    meta_path, weights = folder / cache.META, folder / cache.WEIGHTS
    meta = json.loads(meta_path.read_text())
    if how == "truncated weights":
        os.truncate(weights, weights.stat().st_size // 2)
    elif how == "another run's weights":
        torch.save(other.model.state_dict(), weights)
    elif how == "truncated run.json":
        meta_path.write_text(meta_path.read_text()[:200])
    elif how == "another config in run.json":
        meta["config"]["seed"] = 7
        meta_path.write_text(json.dumps(meta))
    elif how == "no run.json":
        meta_path.unlink()


@pytest.mark.parametrize(
    ("how", "message"),
    [
        ("truncated weights", "does not match the checksum"),
        ("another run's weights", "does not match the checksum"),
        ("truncated run.json", "JSONDecodeError"),
        ("another config in run.json", "another config"),
        ("no run.json", "FileNotFoundError"),
    ],
)
def test_a_damaged_cached_run_is_reported_set_aside_and_retrained(tmp_path, reference, how, message, monkeypatch):
    folder = cache.save_run(reference, tmp_path)
    other = dataclasses.replace(reference, model=train.initial_model(CFG))
    corrupt_run(folder, how, other)
    retrained = []
    monkeypatch.setattr(cache, "train", lambda cfg, *a, **k: retrained.append(cfg) or reference)
    with pytest.warns(CacheWarning, match=message):
        run = cache.load_or_train(CFG, tmp_path, progress=False)
    assert retrained == [CFG]
    assert_same_run(run, reference)
    assert len(list(tmp_path.glob("runs/*.corrupt-*"))) == 1, "the damaged folder is kept aside"
    assert_same_run(cache.load_run(CFG, tmp_path), reference)  # and the new one is whole


def test_device_auto_records_the_cpu_and_cuda_without_a_gpu_fails_even_when_cached(tmp_path, reference):
    if torch.cuda.is_available():
        pytest.skip("this machine has a GPU")
    meta = json.loads((cache.save_run(reference, tmp_path) / cache.META).read_text())
    assert (meta["config"]["device"], meta["env"]["device"]) == ("auto", "cpu")
    with pytest.raises(RuntimeError, match="device='cuda' but this machine has no usable CUDA GPU"):
        cache.load_or_train(dataclasses.replace(CFG, device="cuda"), tmp_path)


def test_two_builds_sharing_an_artifacts_folder_train_once_and_agree(tmp_path, reference):
    workers = [start_worker(tmp_path) for _ in range(2)]
    outputs = [w.communicate(timeout=600) for w in workers]
    assert all(w.returncode == 0 for w in workers), outputs
    stdouts = [out.splitlines() for out, _ in outputs]
    assert sum(lines[0] == "TRAINING" for lines in stdouts) == 1, "exactly one process trains"
    envs = [json.loads(lines[-1]) for lines in stdouts]
    assert envs[0] == envs[1], "the other process loaded the same run"
    name = cache.run_dir(CFG, tmp_path).name
    assert sorted(p.name for p in (tmp_path / "runs").iterdir()) == [name, f"{name}.lock"], "no debris"
    assert_same_run(cache.load_run(CFG, tmp_path), reference)
