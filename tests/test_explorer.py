import base64
import io
import re

import ipywidgets as widgets
import pytest
import torch
from PIL import Image

from cae_lib import explorer
from cae_lib.analysis import NOISE_KINDS
from cae_lib.config import MODELS, make_config
from cae_lib.study import Study
from cae_lib.train import History, TrainedRun, initial_model


@pytest.fixture(scope="module")
def study(tmp_path_factory):
    """Both models untrained: enough to check shapes and wiring, no training needed."""
    runs = {}
    for m in MODELS:
        cfg = make_config("smoke", model=m)
        runs[m] = TrainedRun(cfg, initial_model(cfg), History(), {})
    return Study("smoke", runs, tmp_path_factory.mktemp("data"))


def test_blend_runs_from_the_digit_to_pure_noise():
    digits = torch.rand(4, 1, 28, 28)
    assert torch.equal(explorer.blend(digits, "uniform", 0.0), digits)
    pure = explorer.blend(digits, "uniform", 1.0)
    assert not torch.equal(pure, digits) and pure.min() >= 0 and pure.max() <= 1
    with pytest.raises(ValueError, match="outside"):
        explorer.blend(digits, "uniform", 1.5)


def test_every_case_is_computed_and_rendered_with_inline_images(study):
    digits = torch.rand(2, 1, 28, 28)
    cases = explorer.compute_cases(study, digits, ["a", "b"], kinds=("uniform", "shuffled"), levels=(0.0, 1.0))
    assert len(cases) == 2 * 2 * 2
    case = cases[1, "shuffled", 0.0]
    assert torch.equal(case.input, digits[1]) and set(case.outputs) == set(MODELS)
    html = explorer.case_html(case)
    srcs = re.findall(r"src='data:image/png;base64,([^']*)'", html)
    assert len(srcs) == 1 + 2 * len(MODELS)  # input, each output, each error
    assert all(Image.open(io.BytesIO(base64.b64decode(s))).size == (28, 28) for s in srcs)
    assert f"MSE {case.mse('two'):.4f}" in html


def test_the_precomputed_explorer_switches_cases_with_browser_side_links_only(study, monkeypatch):
    links = []
    jsdlink = widgets.jsdlink

    def recording_jsdlink(source, target):
        links.append((source, target))
        return jsdlink(source, target)

    monkeypatch.setattr(widgets, "jsdlink", recording_jsdlink)
    levels = (0.0, 0.5, 1.0)
    cases = explorer.compute_cases(study, torch.rand(2, 1, 28, 28), ["a", "b"], levels=levels)
    box = explorer.precomputed_explorer(cases, ["a", "b"], levels=levels)
    digit, kind, level, stack = box.children
    assert len(stack.children) == 2 and all(len(s.children) == 3 for s in stack.children)
    pairs = {(id(source), id(target)) for (source, _), (target, _) in links}
    assert (id(digit), id(stack)) in pairs
    for kind_stack in stack.children:
        assert (id(kind), id(kind_stack)) in pairs
        assert all((id(level), id(level_stack)) in pairs for level_stack in kind_stack.children)
    # Every link is from a control's index to a stack's selected_index, and every stack is linked.
    assert {(s[1], t[1]) for s, t in links} == {("index", "selected_index")}
    assert len(links) == 1 + 2 + 2 * len(NOISE_KINDS)  # digit; kind per digit; level per digit and kind
