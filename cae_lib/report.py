"""Tables for the chapters, rendered as Markdown by myst-nb."""

from __future__ import annotations

from collections.abc import Sequence

from IPython.display import Markdown


def markdown_table(header: Sequence[str], rows: Sequence[Sequence[object]]) -> Markdown:
    """A pipe table; cells are formatted with ``str`` (format numbers before passing them)."""
    lines = ["| " + " | ".join(header) + " |", "|" + "---|" * len(header)]
    lines += ["| " + " | ".join(str(cell) for cell in row) + " |" for row in rows]
    return Markdown("\n".join(lines))
