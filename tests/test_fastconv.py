"""The fast path (cae_lib.fastconv) against the plain PyTorch layers, and the FLOP count by hand."""

import dataclasses

import pytest
import torch

from cae_lib.bench import format_table, training_flops
from cae_lib.config import make_config
from cae_lib.fastconv import stride2_kernel
from cae_lib.models import Upsample2x, build_model
from cae_lib.train import training_forward


def twin_models(model, upsample, **kw):
    cfg = make_config("smoke", model=model, upsample=upsample, **kw)
    torch.manual_seed(0)
    fast = build_model(cfg)
    plain = build_model(dataclasses.replace(cfg, conv_impl="native"))
    plain.load_state_dict(fast.state_dict())
    return fast, plain


@pytest.mark.parametrize("activation", ["relu", "tanh"])
@pytest.mark.parametrize("upsample", ["nearest", "zeros"])
@pytest.mark.parametrize("model", ["single", "two"])
def test_fast_path_matches_plain_layers_outputs_and_every_gradient(model, upsample, activation):
    fast, plain = twin_models(model, upsample, activation=activation)
    x = torch.rand(6, 1, 28, 28)
    x[0] = 0.0  # a blank image: every pooling window ties, as in MNIST's background
    outs = []
    for net in (fast, plain):
        out = net(x)
        (out - x).pow(2).mean().backward()
        outs.append(out)
    assert fast.conv_impl == "gemm" and plain.conv_impl == "native"
    torch.testing.assert_close(outs[0], outs[1], rtol=1e-5, atol=1e-6)
    for (name, pf), (_, pp) in zip(fast.named_parameters(), plain.named_parameters(), strict=True):
        assert pf.grad is not None, name
        torch.testing.assert_close(pf.grad, pp.grad, rtol=1e-4, atol=1e-6, msg=name)


@pytest.mark.parametrize("mode", ["nearest", "zeros"])
def test_stride2_kernel_equals_upsampling_then_deconvolution(mode):
    torch.manual_seed(1)
    weight, p = torch.randn(3, 2, 5, 5), torch.randn(2, 3, 4, 4)
    plain = torch.nn.functional.conv_transpose2d(Upsample2x(mode)(p), weight)
    kernel = stride2_kernel(weight, mode)
    pad = plain.shape[-1] - ((4 - 1) * 2 + kernel.shape[-1])
    fast = torch.nn.functional.conv_transpose2d(p, kernel, stride=2, output_padding=pad)
    torch.testing.assert_close(fast, plain)


def test_fast_path_rejects_other_image_shapes():
    fast, _ = twin_models("single", "nearest")
    with pytest.raises(ValueError, match=r"\(N, 1, 28, 28\)"):
        fast(torch.rand(2, 1, 32, 32))


def test_training_flops_match_a_hand_count():
    mac = 144 * 100 * 17 * 17  # conv1: 144 outputs x 100 filters x 289 taps; deconv1 the same
    # conv1: forward and weight gradient (the image needs no gradient); deconv1: all three.
    assert training_flops("single", "nearest", "native") == 2 * (2 + 3) * mac == 41_616_000
    small = 16 * 100 * 36 * 9  # conv2 (4x4 outputs) and deconv2 (4x4 upsampled inputs)
    assert training_flops("two", "zeros", "native") == 2 * (5 * mac + 6 * small)
    # The fast decoder: stride 2 on the 6x6 (2x2) pooled map, 18x18 (4x4) kernels for "nearest".
    assert training_flops("single", "zeros", "gemm") == 2 * (2 * mac + 3 * 36 * 100 * 289)
    assert training_flops("two", "nearest", "gemm") == 2 * (
        2 * mac + 3 * 36 * 100 * 324 + 3 * 16 * 100 * 36 * 9 + 3 * 4 * 36 * 100 * 16
    )


def test_speed_options_leave_the_cache_key_alone_but_precision_does_not():
    base = make_config("smoke")
    for change in ({"conv_impl": "native"}, {"compile": "none"}):
        assert dataclasses.replace(base, **change).cache_key() == base.cache_key()
    assert dataclasses.replace(base, precision="bf16").cache_key() != base.cache_key()


def test_cpu_trains_eagerly_and_a_failing_compiler_falls_back(monkeypatch):
    cpu = torch.device("cpu")
    model = build_model(make_config("smoke"))
    assert training_forward(model, make_config("smoke"), cpu) is model  # compile="auto": eager on CPU

    def broken(*args, **kwargs):
        raise RuntimeError("no C compiler")

    monkeypatch.setattr(torch, "compile", broken)
    net = training_forward(model, make_config("smoke", compile="default"), cpu)
    x = torch.rand(2, 1, 28, 28)
    with pytest.warns(UserWarning, match="failed, training eagerly"):
        out = net(x)
    torch.testing.assert_close(out, model(x))


def test_steady_rate_ignores_warm_up_and_bursts_of_load():
    from cae_lib.bench import steady_rate

    # warm-up 5 s, then 1 s chunks of 200 images with two 10x bursts from a neighbour
    assert steady_rate([5.0, 1.0, 10.0, 1.0, 1.0, 10.0, 1.0, 1.0], 200) == 200.0


def test_benchmark_table_has_both_models():
    figures = {"matmul_peak_gflops": 2.0, "images_per_s": 1.0, "tutorial_images_per_s": 1.0, "speedup": 1.0,
               "plain_layers_images_per_s": 1.0, "speedup_over_plain_layers": 1.0, "gflops": 1.0,
               "peak_fraction": 0.5, "tutorial_peak_fraction": 0.4, "effective_gflops": 1.0,
               "eval_images_per_s": 1.0, "peak_memory_mib": 1.0, "test_mse": 0.1, "plain_test_mse": 0.1,
               "within_1_percent": True, "regression_setup": "x"}
    result = {"device": "cpu", "threads": 2, "torch": "t", "date": "d",
              "single": figures, "two": figures}
    table = format_table(result)
    assert "speedup" in table and "50%" in table and "single" in table and "two" in table
