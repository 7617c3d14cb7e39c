"""The explorer chapter: both models on a test digit blended with noise, as widgets.

Two explorers share one rendering (:func:`case_html`):

- :func:`precomputed_explorer` computes a bounded grid of cases up front (digits x noise kinds x
  noise levels) and switches between them with ``jsdlink``: browser-side links from each control's
  ``index`` to a ``Stack``'s ``selected_index``. The links and every case live in the saved widget
  state, so the explorer also works on the static site, where there is no kernel.
- :func:`live_explorer` recomputes on every change (any test image, any level); it needs a kernel.
"""

from __future__ import annotations

import base64
import io
from dataclasses import dataclass
from html import escape

import ipywidgets as widgets
import numpy as np
import torch
from matplotlib import colormaps
from matplotlib.figure import Figure
from PIL import Image

from .analysis import NOISE_KINDS, noise_images
from .plots import NAMES, image_rows
from .study import Study
from .train import reconstruct

LEVELS = (0.0, 0.25, 0.5, 0.75, 1.0)
PIXELS = 112  # on-screen size of each 28x28 image; the browser upscales without smoothing
# Errors (output - input) in a diverging map: red where a model adds ink, blue where it drops it.
ERROR_PALETTE = colormaps["RdBu_r"](np.linspace(0, 1, 256))[:, :3]


@dataclass
class Case:
    """One input and what each model makes of it."""

    title: str
    input: torch.Tensor  # (1, 28, 28), values in [0, 1]
    outputs: dict[str, torch.Tensor]  # model key -> (1, 28, 28)

    def mse(self, model: str) -> float:
        return (self.outputs[model] - self.input).pow(2).mean().item()


def blend(digits: torch.Tensor, kind: str, level: float, seed: int = 0) -> torch.Tensor:
    """``digits`` mixed with noise of ``kind``: 0 is the clean digit, 1 is pure noise."""
    if not 0.0 <= level <= 1.0:
        raise ValueError(f"noise level {level} is outside [0, 1]: 0 is the clean digit, 1 pure noise")
    return (1 - level) * digits + level * noise_images(kind, digits, seed)


def compute_cases(
    study: Study, digits: torch.Tensor, labels: list[str], kinds=NOISE_KINDS, levels=LEVELS, seed: int = 0
) -> dict[tuple[int, str, float], Case]:
    """Every (digit, kind, level) case, keyed by (position in ``digits``, kind, level).

    All inputs go through each model in one batch, so the whole grid costs two forward passes.
    """
    keys = [(d, kind, level) for d in range(len(digits)) for kind in kinds for level in levels]
    noisy = {kind: [blend(digits, kind, level, seed) for level in levels] for kind in kinds}
    inputs = torch.stack([noisy[kind][levels.index(level)][d] for d, kind, level in keys])
    outputs = {m: reconstruct(run.model, inputs) for m, run in study.runs.items()}
    return {
        key: Case(
            f"{labels[key[0]]}, {key[2]:.0%} {key[1]} noise", inputs[i], {m: o[i] for m, o in outputs.items()}
        )
        for i, key in enumerate(keys)
    }


def _png(values: np.ndarray, palette: np.ndarray | None = None) -> str:
    """A data URI of a 2-D image (values in [0, 1]): grey, or indexed into ``palette`` (256 RGB rows).

    Indexed PNGs keep a colour map's image as small as a grey one, which matters for a page
    that inlines a whole grid of cases.
    """
    image = Image.fromarray((values.clip(0, 1) * 255).round().astype(np.uint8))
    if palette is not None:
        image = image.convert("P")
        image.putpalette((palette * 255).round().astype(np.uint8).flatten().tolist())
    buffer = io.BytesIO()
    image.save(buffer, format="PNG", optimize=True)
    return "data:image/png;base64," + base64.b64encode(buffer.getvalue()).decode()


def case_html(case: Case) -> str:
    """The case as an HTML table: input, each model's output, each model's error, with MSEs.

    The 28x28 images are inlined at their own size and scaled by the browser, which keeps a
    precomputed grid of cases to a few kilobytes each.
    """
    grey = case.input[0].numpy()
    cells = [("input", _png(grey), case.title)]
    cells += [(f"{NAMES[m]}: output", _png(o[0].numpy()), "") for m, o in case.outputs.items()]
    for m, o in case.outputs.items():
        error = ((o - case.input)[0].numpy() + 1) / 2  # [-1, 1] -> [0, 1], 0.5 = no error
        cells.append((f"{NAMES[m]}: error", _png(error, ERROR_PALETTE), f"MSE {case.mse(m):.4f}"))
    style = f"width:{PIXELS}px;height:{PIXELS}px;image-rendering:pixelated;border:1px solid #ccc"
    head = "".join(f"<th style='font-size:80%;padding:2px 6px'>{escape(label)}</th>" for label, _, _ in cells)
    imgs = "".join(
        f"<td style='padding:2px 6px'><img src='{src}' alt='{escape(label)}' style='{style}'></td>"
        for label, src, _ in cells
    )
    notes = "".join(f"<td style='font-size:80%;padding:2px 6px'>{escape(note)}</td>" for _, _, note in cells)
    return f"<table class='cae-explorer-case'><tr>{head}</tr><tr>{imgs}</tr><tr>{notes}</tr></table>"


def precomputed_explorer(
    cases: dict[tuple[int, str, float], Case], labels: list[str], kinds=NOISE_KINDS, levels=LEVELS
) -> widgets.VBox:
    """Controls for digit, noise kind and level over nested ``Stack``s of every case, linked in the browser.

    Stacks nest digit -> kind -> level, and each control drives its level of the nesting with a
    ``jsdlink`` to every stack there; no Python runs when a control moves.
    """
    digit = widgets.ToggleButtons(options=labels, description="digit")
    kind = widgets.ToggleButtons(options=list(kinds), description="noise")
    level = widgets.SelectionSlider(
        options=[f"{x:.0%}" for x in levels], description="noise level", continuous_update=True
    )
    kind_stacks = []
    for d in range(len(labels)):
        level_stacks = [
            widgets.Stack([widgets.HTML(case_html(cases[d, k, x])) for x in levels], selected_index=0)
            for k in kinds
        ]
        for stack in level_stacks:
            widgets.jsdlink((level, "index"), (stack, "selected_index"))
        kind_stacks.append(widgets.Stack(level_stacks, selected_index=0))
        widgets.jsdlink((kind, "index"), (kind_stacks[-1], "selected_index"))
    digits = widgets.Stack(kind_stacks, selected_index=0)
    widgets.jsdlink((digit, "index"), (digits, "selected_index"))
    return widgets.VBox([digit, kind, level, digits])


def live_explorer(study: Study, test_x: torch.Tensor, kinds=NOISE_KINDS, seed: int = 0) -> widgets.VBox:
    """Any test image, any noise level: recomputed by the kernel on every change."""
    index = widgets.BoundedIntText(value=0, min=0, max=len(test_x) - 1, description="test image")
    kind = widgets.Dropdown(options=list(kinds), description="noise")
    level = widgets.FloatSlider(value=0.0, min=0.0, max=1.0, step=0.01, description="noise level")
    view = widgets.HTML()

    def update(_=None) -> None:
        digit = test_x[index.value : index.value + 1]
        x = blend(digit, kind.value, level.value, seed)
        outputs = {m: reconstruct(run.model, x)[0] for m, run in study.runs.items()}
        title = f"test image {index.value}, {level.value:.0%} {kind.value} noise"
        view.value = case_html(Case(title, x[0], outputs))

    for control in (index, kind, level):
        control.observe(update, "value")
    update()
    return widgets.VBox([widgets.HBox([index, kind]), level, view])


def level_figure(
    cases: dict[tuple[int, str, float], Case], digit: int, kind: str, levels=LEVELS, caption: str = ""
) -> Figure:
    """A static view of one digit across noise levels: the inputs, then each model's outputs."""
    rows = {"input": torch.stack([cases[digit, kind, x].input for x in levels])}
    for m in cases[digit, kind, levels[0]].outputs:
        rows[NAMES[m]] = torch.stack([cases[digit, kind, x].outputs[m] for x in levels])
    levels_text = ", ".join(f"{x:.0%}" for x in levels)
    return image_rows(rows, f"{kind} noise blended into one test digit (levels {levels_text})\n{caption}")
