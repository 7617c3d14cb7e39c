import os
import shutil
import socket
import subprocess
import sys
import time

import pytest
import torch

from cae_lib import paths
from cae_lib.data import MNIST_FILES, MNISTUnavailableError, load_mnist, verify_mnist


def snapshot(folder):
    return sorted((p.relative_to(folder), p.stat().st_mtime_ns) for p in folder.rglob("*"))


def test_loads_whole_splits_as_float_tensors_without_writing(data_dir):
    before = snapshot(data_dir)
    x, y = load_mnist(True, data_dir)
    tx, _ = load_mnist(False, data_dir, size=100)
    assert x.shape == (60_000, 1, 28, 28) and x.dtype == torch.float32
    assert y.shape == (60_000,) and set(y.unique().tolist()) == set(range(10))
    assert tx.shape == (100, 1, 28, 28)
    assert x.min() >= 0.0 and x.max() == 1.0
    assert snapshot(data_dir) == before  # nothing written: the shared folder is read-only


def test_relative_data_dir_is_relative_to_the_repo(monkeypatch, tmp_path):
    monkeypatch.chdir(tmp_path)
    monkeypatch.delenv(paths.DATA_ENV, raising=False)
    assert paths.data_dir("some/where") == paths.REPO_ROOT / "some" / "where"
    assert paths.data_dir() == paths.REPO_ROOT / "data"
    monkeypatch.setenv(paths.DATA_ENV, str(tmp_path))
    assert paths.data_dir() == tmp_path


@pytest.fixture
def mnist_copy(data_dir, tmp_path):
    raw = tmp_path / "MNIST" / "raw"
    raw.mkdir(parents=True)
    for name in MNIST_FILES:
        shutil.copy(data_dir / "MNIST" / "raw" / name, raw / name)
    return tmp_path


def test_truncated_file_is_detected(mnist_copy):
    path = mnist_copy / "MNIST" / "raw" / "t10k-labels-idx1-ubyte"
    os.truncate(path, 5_000)
    with pytest.raises(MNISTUnavailableError, match="t10k-labels-idx1-ubyte has 5,000 bytes instead of 10,008"):
        verify_mnist(mnist_copy)


def test_corrupted_file_is_detected(mnist_copy):
    path = mnist_copy / "MNIST" / "raw" / "t10k-labels-idx1-ubyte"
    data = bytearray(path.read_bytes())
    data[100] ^= 0xFF
    path.write_bytes(bytes(data))
    with pytest.raises(MNISTUnavailableError, match="wrong MD5"):
        verify_mnist(mnist_copy)


def no_network(*args, **kwargs):
    raise OSError("network unreachable (blocked by the test)")


@pytest.mark.parametrize("download", [False, True])
def test_missing_data_names_folder_files_and_setting(tmp_path, monkeypatch, download):
    monkeypatch.setattr(socket, "getaddrinfo", no_network)  # as on a machine with no network
    empty = tmp_path / "nothing"
    with pytest.raises(MNISTUnavailableError) as err:
        load_mnist(False, empty, download=download)
    message = str(err.value)
    assert str(empty / "MNIST" / "raw") in message
    assert all(name in message for name in MNIST_FILES)
    assert "CAE_DATA_DIR" in message and "data_dir" in message


def test_missing_data_without_network_fails_within_seconds(tmp_path, monkeypatch):
    monkeypatch.setattr(socket, "getaddrinfo", no_network)
    start = time.monotonic()
    with pytest.raises(MNISTUnavailableError, match="MNIST not found"):
        load_mnist(True, tmp_path / "nothing")
    assert time.monotonic() - start < 10, "no retry loop"


def test_a_network_that_never_answers_does_not_hang_the_download(tmp_path):
    # A proxy that accepts connections and never replies: what a packet-dropping network looks like.
    silent = socket.create_server(("127.0.0.1", 0))
    proxy = f"http://127.0.0.1:{silent.getsockname()[1]}"
    env = {k: v for k, v in os.environ.items() if k.lower() not in ("no_proxy", "http_proxy", "https_proxy")}
    script = (
        "import sys, time; from cae_lib import data; data.DOWNLOAD_TIMEOUT_S = 1; t = time.monotonic()\n"
        "try: data.load_mnist(False, sys.argv[1])\n"
        "except data.MNISTUnavailableError as e: print(round(time.monotonic() - t, 1)); print(e)\n"
    )
    with silent:
        result = subprocess.run(
            [sys.executable, "-c", script, str(tmp_path / "nothing")], capture_output=True, text=True,
            env={**env, "http_proxy": proxy, "https_proxy": proxy}, timeout=120,
        )
    seconds, message = result.stdout.strip().splitlines()[-2:]
    assert "timed out" in message and "CAE_DATA_DIR" in message
    assert float(seconds) < 2 * 1 + 5, "each of the two mirrors gives up after DOWNLOAD_TIMEOUT_S"


def test_a_complete_read_only_folder_loads_and_nothing_is_written(mnist_copy):
    folders = [mnist_copy, mnist_copy / "MNIST", mnist_copy / "MNIST" / "raw"]
    for path in [*folders, *(mnist_copy / "MNIST" / "raw").iterdir()]:
        path.chmod(0o555 if path.is_dir() else 0o444)
    before = snapshot(mnist_copy)
    try:
        x, _ = load_mnist(False, mnist_copy, size=10)  # download=True: present files are only read
        assert x.shape == (10, 1, 28, 28)
        assert snapshot(mnist_copy) == before
    finally:
        for path in folders:
            path.chmod(0o755)
