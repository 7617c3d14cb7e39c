"""Tables for the chapters, rendered as Markdown by myst-nb."""

from __future__ import annotations

import statistics
from collections.abc import Sequence

from IPython.display import Markdown


def markdown_table(header: Sequence[str], rows: Sequence[Sequence[object]]) -> Markdown:
    """A pipe table; cells are formatted with ``str`` (format numbers before passing them)."""
    lines = ["| " + " | ".join(header) + " |", "|" + "---|" * len(header)]
    lines += ["| " + " | ".join(str(cell) for cell in row) + " |" for row in rows]
    return Markdown("\n".join(lines))


def format_duration(seconds: float) -> str:
    """``"42 s"``, ``"3.5 min"`` or ``"1.2 h"``: a wall time at the precision a reader needs."""
    if seconds < 90:
        return f"{seconds:.0f} s"
    if seconds < 5400:
        return f"{seconds / 60:.1f} min"
    return f"{seconds / 3600:.1f} h"


def plural(count: int, noun: str) -> str:
    """``"1 epoch"``, ``"6 epochs"``."""
    return f"{count:,} {noun}" + ("" if count == 1 else "s")


def mean_std(values: Sequence[float], fmt: str = ".4f") -> str:
    """``"0.0123 ± 0.0004"``: the mean and sample standard deviation of ``values`` (one per seed).

    One value has no spread to report, so it is written alone with ``"(1 seed)"``; ``fmt`` is a
    format spec applied to both numbers (``".1%"`` for accuracies, ``".2f"`` for decibels).
    """
    values = [float(v) for v in values]
    if not values:
        raise ValueError("mean_std needs at least one value")
    if len(values) == 1:
        return f"{values[0]:{fmt}} (1 seed)"
    return f"{statistics.fmean(values):{fmt}} ± {statistics.stdev(values):{fmt}}"
