"""Chapter parameters: a misspelt name or a value of the wrong type stops the chapter at once."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import nbformat
import pytest

from cae_lib.params import PARAMETERS, Param, ParameterError, assigned_names, check_parameters

from .conftest import CHAPTERS, REPO

BOOK = REPO / "book"
DECLARED = 'profile = None\nepochs = None  # None: the profile\'s\nlr = None\ndevice = "auto"\nn_show = 8\n'
DEFAULTS = {"profile": None, "epochs": None, "lr": None, "device": "auto", "n_show": 8}


def run_after_papermill(injected: str, **values) -> None:
    """check_parameters as a chapter's second cell sees it after papermill injected ``injected``."""
    history = ["", DECLARED, "# Parameters\n" + injected, "check_parameters(globals())"]
    check_parameters({"In": history, **DEFAULTS, **values})


@pytest.mark.parametrize(
    ("injected", "values"),
    [
        ("epochs = 3\n", {"epochs": 3}),  # -p epochs 3
        ("lr = 1\n", {"lr": 1}),  # -p lr 1: a whole number is a fine number
        ("lr = 0.01\n", {"lr": 0.01}),
        ('device = "cuda"\n', {"device": "cuda"}),
        ("epochs = None\n", {"epochs": None}),  # -p epochs None: the profile's value
    ],
)
def test_accepted_papermill_forms(injected, values):
    run_after_papermill(injected, **values)


@pytest.mark.parametrize(
    ("injected", "values", "message"),
    [
        ("epochs = 3.5\n", {"epochs": 3.5}, r"epochs=3.5 is float, but must be a whole number or None: .*-p epochs 3"),
        ("epochs = 3.0\n", {"epochs": 3.0}, r"epochs=3.0 is float.*whole number"),
        ('epochs = "3"\n', {"epochs": "3"}, r"epochs='3' is str.*-r passes text: use -p epochs 3"),
        ('lr = "0.1"\n', {"lr": "0.1"}, r"lr='0.1' is str, but must be a number or None"),
        ("profile = 3\n", {"profile": 3}, r"profile=3 is int, but must be text or None.*-r profile"),
        ("n_show = None\n", {"n_show": None}, r"n_show=None is NoneType, but must be a whole number:"),
        ("n_show = 0\n", {"n_show": 0}, r"n_show=0 is out of range: use a whole number from 1"),
        ("epochs = True\n", {"epochs": True}, r"epochs=True is bool"),
    ],
)
def test_wrong_types_are_rejected_with_what_to_type_instead(injected, values, message):
    with pytest.raises(ParameterError, match=message):
        run_after_papermill(injected, **values)


def test_an_undeclared_parameter_fails_and_names_the_declared_ones():
    declared = "profile, epochs, lr, device, n_show"
    with pytest.raises(ParameterError, match=rf"unknown parameter 'lerning_rate': .*{declared}"):
        run_after_papermill("lerning_rate = 0.1\n", lerning_rate=0.1)
    with pytest.raises(ParameterError, match=r"'epoch' \(did you mean 'epochs'\?\)"):
        run_after_papermill("epoch = 3\n", epoch=3)


def test_a_list_parameter_takes_a_real_list_not_text_that_looks_like_one():
    spec = {"seeds": Param(list[int], optional=False)}
    check_parameters({"seeds": [0, 1]}, spec)  # -y 'seeds: [0, 1]'
    wanted = r"seeds='\[0, 1\]' is str, but must be a list of whole numbers: .*-y 'seeds: \[0, 1\]'"
    with pytest.raises(ParameterError, match=wanted):
        check_parameters({"seeds": "[0, 1]"}, spec)  # -p seeds '[0, 1]'
    with pytest.raises(ParameterError, match="must be a list of whole numbers"):
        check_parameters({"seeds": [0, 1.5]}, spec)


def test_the_numbers_chapters_noise_levels_take_a_list_given_with_y():
    spec = {"noise_levels": PARAMETERS["noise_levels"]}
    check_parameters({"noise_levels": [0, 0.1, 0.5]}, spec)  # -y 'noise_levels: [0, 0.1, 0.5]'
    with pytest.raises(ParameterError, match=r"must be a list of numbers: .*-y 'noise_levels: \[0, 1\]'"):
        check_parameters({"noise_levels": "[0, 0.1]"}, spec)  # -p noise_levels '[0, 0.1]'


def test_without_papermill_only_the_types_are_checked():
    check_parameters({"In": ["", DECLARED, "check_parameters(globals())"], **DEFAULTS})  # Jupyter Book
    with pytest.raises(ParameterError, match="epochs=2.5"):
        check_parameters({**DEFAULTS, "epochs": 2.5})  # no IPython history at all


def test_assigned_names_reads_plain_and_annotated_assignments():
    assert assigned_names("a = 1\nb: int = 2  # note\nc.d = 3\nprint(a)\na = 4\n") == ["a", "b"]


def first_code_cells(chapter: str) -> list[str]:
    nb = nbformat.read(BOOK / f"{chapter}.ipynb", as_version=4)
    return [c.source for c in nb.cells if c.cell_type == "code"][:2]


def test_every_chapter_checks_its_parameters_right_after_declaring_them():
    checks = set()
    for chapter in CHAPTERS:
        parameters, second = first_code_cells(chapter)
        for name in assigned_names(parameters):
            assert name in PARAMETERS, f"{chapter}: add {name!r} to cae_lib.params.PARAMETERS"
        check_parameters({"In": ["", parameters, second]} | _defaults(parameters))
        checks.add(second)
    assert len(checks) == 1 and "check_parameters(globals())" in checks.pop(), "the same check in every chapter"


def _defaults(source: str) -> dict:
    namespace: dict = {}
    exec(source, namespace)
    return namespace


def papermill_cli(*args: str, cwd: Path = REPO) -> subprocess.CompletedProcess:
    cmd = [str(Path(sys.executable).with_name("papermill")), *args]
    return subprocess.run(cmd, capture_output=True, text=True, cwd=cwd, timeout=600)


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (["-p", "lerning_rate", "0.1"], "unknown parameter 'lerning_rate'"),
        (["-p", "epochs", "3.5"], "epochs=3.5 is float, but must be a whole number"),
        (["-r", "epochs", "3"], "epochs='3' is str"),
    ],
)
def test_papermill_runs_with_a_bad_parameter_fail_before_any_work(tmp_path, args, message):
    out = tmp_path / "out.ipynb"
    result = papermill_cli(str(BOOK / "architecture.ipynb"), str(out), "-p", "profile", "smoke", *args)
    assert result.returncode != 0
    assert message in result.stderr
    executed = [c for c in nbformat.read(out, as_version=4).cells if c.cell_type == "code"]
    assert "check_parameters(globals())" in executed[2].source  # after parameters and papermill's cell
    assert any(o.get("ename") == "ParameterError" for o in executed[2].outputs)
    assert all(c.execution_count is None for c in executed[3:]), "nothing after the check ran"
