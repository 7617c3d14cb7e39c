"""Every chapter: paired, parameterised, executable under papermill, and buildable as a book."""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
from pathlib import Path

import jupytext
import nbformat
import papermill
import pytest
import yaml

from cae_lib import cache
from cae_lib.study import study_configs

from .conftest import CHAPTERS, REPO, jupyter_book

BOOK = REPO / "book"
# The training chapter first, so the smoke models are trained once and the others load them.
RUN_ORDER = ["training"] + [c for c in CHAPTERS if c != "training"]


def cells(notebook):
    return [(c.cell_type, c.source.strip(), sorted(c.metadata.get("tags", []))) for c in notebook.cells]


def test_the_toc_lists_exactly_the_chapters():
    toc = yaml.safe_load((REPO / "_toc.yml").read_text())
    files = [toc["root"]] + [entry["file"] for entry in toc["chapters"]]
    assert files == [f"book/{c}" for c in CHAPTERS] + ["book/references"]
    assert sorted(p.stem for p in BOOK.glob("*.md")) == sorted(CHAPTERS)


@pytest.mark.parametrize("chapter", CHAPTERS)
def test_pair_is_in_sync(chapter):
    md = jupytext.read(BOOK / f"{chapter}.md")
    ipynb = nbformat.read(BOOK / f"{chapter}.ipynb", as_version=4)
    assert cells(md) == cells(ipynb), f"run `jupytext --sync book/{chapter}.md` and commit both files"
    assert ipynb.metadata["jupytext"]["formats"] == "ipynb,md:myst"


@pytest.mark.parametrize("chapter", CHAPTERS)
def test_committed_notebook_is_clean_with_a_plain_kernel_and_a_parameters_cell(chapter):
    nb = nbformat.read(BOOK / f"{chapter}.ipynb", as_version=4)
    assert nb.metadata["kernelspec"]["name"] == "python3"
    code = [c for c in nb.cells if c.cell_type == "code"]
    assert "parameters" in code[0].metadata.get("tags", []), "the first code cell must be tagged parameters"
    for name in ("profile", "data_dir", "artifacts_dir", "device", "seed"):
        assert f"\n{name} = " in "\n" + code[0].source
    assert all(not c.get("outputs") and c.get("execution_count") is None for c in code), "commit without outputs"


@pytest.mark.parametrize("chapter", RUN_ORDER)
def test_chapter_runs_under_papermill_with_the_smoke_profile(chapter, artifacts, tmp_path):
    out = tmp_path / f"{chapter}.ipynb"
    before = (BOOK / f"{chapter}.ipynb").read_bytes()
    # From another working directory, to prove paths do not depend on it.
    papermill.execute_notebook(
        str(BOOK / f"{chapter}.ipynb"), str(out), parameters={"profile": "smoke"}, cwd=str(tmp_path),
        kernel_name="python3", progress_bar=False,
    )
    executed = nbformat.read(out, as_version=4)
    errors = [o for c in executed.cells for o in c.get("outputs", []) if o.output_type == "error"]
    assert not errors
    assert (BOOK / f"{chapter}.ipynb").read_bytes() == before, "executing must not touch the committed notebook"
    if chapter != "architecture":
        assert "profile smoke" in out.read_text()  # the run's label is printed on the page


@pytest.mark.parametrize("where", ["repo root", "book"])
def test_papermill_cli_from_another_folder_resolves_relative_paths_from_the_repo(where, artifacts, data_dir, tmp_path):
    # The runs from the repo root and from book/ without --cwd; the test above covers --cwd and
    # the book build below Jupyter Book's own execution (which runs each notebook in book/).
    cwd = REPO if where == "repo root" else BOOK
    before = sorted(p.name for p in cwd.iterdir())
    relative = {"data_dir": os.path.relpath(data_dir, REPO), "artifacts_dir": os.path.relpath(artifacts, REPO)}
    args = [a for name, value in relative.items() for a in ("-p", name, value)]
    notebook = os.path.relpath(BOOK / "intro.ipynb", cwd)
    papermill_cli = str(Path(sys.executable).with_name("papermill"))
    result = subprocess.run(
        [papermill_cli, notebook, str(tmp_path / "out.ipynb"), "-p", "profile", "smoke", *args],
        capture_output=True, text=True, cwd=cwd, timeout=1200,
    )
    assert result.returncode == 0, result.stderr[-3000:]
    assert "profile smoke" in (tmp_path / "out.ipynb").read_text()
    assert sorted(p.name for p in cwd.iterdir()) == before, "nothing is created where papermill runs"
    for cfg in study_configs("smoke").values():
        assert cache.run_dir(cfg, artifacts).is_dir()


def test_smoke_book_builds_without_warnings_and_every_page_has_outputs(smoke_book):
    html = smoke_book.require_success()
    assert (html / "index.html").is_file()
    for chapter in CHAPTERS:
        page = (html / "book" / f"{chapter}.html").read_text()
        assert "Traceback" not in page
        if chapter != "architecture":
            assert "profile smoke" in page
        if chapter not in ("intro", "architecture"):
            assert "<img" in page, f"{chapter} has no figure"


def test_a_failing_chapter_fails_the_book_build(tmp_path):
    src = tmp_path / "src"
    (src / "book").mkdir(parents=True)
    shutil.copy(REPO / "_config.yml", src)
    (src / "_toc.yml").write_text("format: jb-book\nroot: book/intro\n")
    nb = nbformat.read(BOOK / "intro.ipynb", as_version=4)
    nb.cells.insert(1, nbformat.v4.new_code_cell("raise RuntimeError('chapter broke')"))
    nbformat.write(nb, src / "book" / "intro.ipynb")
    result = jupyter_book(src, tmp_path / "out")
    assert result.returncode != 0
    assert "chapter broke" in result.stdout + result.stderr
    assert not (tmp_path / "out" / "_build" / "html" / "book" / "intro.html").exists()
