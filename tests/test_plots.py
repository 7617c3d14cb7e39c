import matplotlib
import pytest

matplotlib.use("Agg")

from matplotlib.collections import PolyCollection  # noqa: E402

from cae_lib.config import make_config  # noqa: E402
from cae_lib.plots import COLORS, loss_curves  # noqa: E402
from cae_lib.train import History, TrainedRun  # noqa: E402


def fake_run(model, seed, scale):
    history = History([scale * v for v in (0.05, 0.03)], [scale * v for v in (0.1, 0.04, 0.02)], [1.0, 1.0])
    return TrainedRun(make_config("smoke", model=model, seed=seed, epochs=2), None, history, {})


def test_loss_curves_draw_the_mean_and_a_band_over_seeds_in_each_models_colour():
    runs = {"single": [fake_run("single", 0, 1.0), fake_run("single", 1, 2.0)], "two": [fake_run("two", 0, 1.0)]}
    ax = loss_curves(runs, "caption").axes[0]
    (test_mean,) = [line for line in ax.lines if line.get_label().startswith("single-layer CAE: test MSE (mean of 2")]
    assert list(test_mean.get_ydata()) == pytest.approx([0.15, 0.06, 0.03])
    bands = [c for c in ax.collections if isinstance(c, PolyCollection)]
    assert len(bands) == 2  # test and train band for the two-seed model, none for one seed
    assert all(matplotlib.colors.same_color(b.get_facecolor()[0][:3], COLORS["single"]) for b in bands)
