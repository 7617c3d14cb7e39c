"""A chapter's parameters, checked before the chapter does any work.

papermill only *warns* about a parameter the notebook does not declare and then runs with the
defaults, and it passes values through with whatever type its command line guessed. So every
chapter calls :func:`check_parameters` in the cell right after its ``parameters`` cell: a
misspelt name or a value of the wrong type stops the run there, naming the parameter and what
it accepts. The ranges and combinations of the run settings are then checked by
:func:`cae_lib.config.make_config`, as for the Python API.

Accepted papermill forms (see the README): ``-p epochs 3`` (a whole number), ``-p lr 0.01`` or
``-p lr 1`` (a number), ``-p device cuda`` (text), ``-p epochs None`` (the profile's value) and,
for a list parameter, ``-y 'NAME: [0, 1]'`` (a real list). Rejected with a message saying what
to type instead: ``-p epochs 3.5`` or ``3.0`` (not whole), ``-r epochs 3`` (text, not a
number) and ``-p NAME '[0, 1]'`` (text that only looks like a list).
"""

from __future__ import annotations

import ast
import dataclasses
import difflib
import typing
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from .config import RunConfig

# papermill's injected cell starts with this line (its translators' ``comment="Parameters"``).
INJECTED_HEADER = "# Parameters"


class ParameterError(ValueError):
    """A chapter was given a parameter it does not declare, or a value of the wrong type."""


@dataclass(frozen=True)
class Param:
    """The type a parameter's value must have; ``optional``: ``None`` is allowed too."""

    kind: Any  # int, float, str, bool, or list[...] of one of them
    optional: bool = True  # None means "the profile's value" (or the environment's, for folders)
    minimum: int | None = None  # for whole numbers a chapter uses directly (run settings: make_config)


def _run_setting_params() -> dict[str, Param]:
    # Every RunConfig field may be a chapter parameter; its type comes from the dataclass, so a
    # new run setting needs no entry here. None keeps the profile's value (see make_config).
    hints = typing.get_type_hints(RunConfig)
    return {f.name: Param(hints[f.name]) for f in dataclasses.fields(RunConfig)}


# The type of every parameter any chapter declares. A new chapter parameter gets an entry here
# (a test runs every chapter, and check_parameters rejects a declared name without one).
PARAMETERS: dict[str, Param] = {
    **_run_setting_params(),
    "profile": Param(str),
    "seeds": Param(int, minimum=1),  # seeds per model for mean ± std; None: the profile's count
    "data_dir": Param(str),
    "artifacts_dir": Param(str),
    "probe_images": Param(int, optional=False, minimum=1),
    "n_show": Param(int, optional=False, minimum=1),
    "n_score": Param(int, optional=False, minimum=1),
    "n_per_class": Param(int, optional=False, minimum=1),
    "n_worst": Param(int, optional=False, minimum=1),
    "noise_levels": Param(list[float], optional=False),  # papermill: -y 'noise_levels: [0, 0.1]'
    "probe_epochs": Param(int, optional=False, minimum=1),
    "digit_classes": Param(list[int], optional=False),  # papermill: -y 'digit_classes: [0, 7]'
}


def check_parameters(namespace: Mapping[str, Any], spec: Mapping[str, Param] = PARAMETERS) -> None:
    """Fail on an undeclared papermill parameter or a parameter value of the wrong type.

    ``namespace`` is the notebook's ``globals()``. IPython's input history (``In``) shows
    which cell papermill injected and, just before it, the chapter's ``parameters`` cell, whose
    assignments are the declared names. Outside papermill nothing is injected and only the
    types are checked.
    """
    history = [str(source) for source in namespace.get("In", [])]
    injected_at = _last_injected(history)
    if injected_at is not None and injected_at > 0:
        declared = assigned_names(history[injected_at - 1])
        injected = assigned_names(history[injected_at])
        unknown = [name for name in injected if name not in declared]
        if unknown:
            raise ParameterError(_unknown_message(unknown, declared))
        names = declared
    else:
        names = [name for name in spec if name in namespace]
    for name in names:
        if name not in spec:
            raise ParameterError(
                f"parameter {name!r} has no declared type: add it to cae_lib.params.PARAMETERS"
            )
        check_value(name, namespace.get(name), spec[name])


def check_value(name: str, value: Any, param: Param) -> None:
    """Raise :class:`ParameterError` unless ``value`` has the type ``param`` asks for."""
    if value is None and param.optional:
        return
    if not _matches(value, param.kind):
        raise ParameterError(_type_message(name, value, param))
    if param.minimum is not None and value < param.minimum:
        raise ParameterError(f"parameter {name}={value} is out of range: use a whole number from {param.minimum}")


def assigned_names(source: str) -> list[str]:
    """The names a cell assigns at top level (``x = 1`` and ``x: int = 1``), in order."""
    names: list[str] = []
    for node in ast.parse(source).body:
        targets = node.targets if isinstance(node, ast.Assign) else [getattr(node, "target", None)]
        names += [t.id for t in targets if isinstance(t, ast.Name) and t.id not in names]
    return names


def _last_injected(history: list[str]) -> int | None:
    for i in range(len(history) - 1, -1, -1):
        if history[i].splitlines()[:1] == [INJECTED_HEADER]:
            return i
    return None


def _unknown_message(unknown: list[str], declared: list[str]) -> str:
    parts = []
    for name in unknown:
        close = difflib.get_close_matches(name, declared, n=1)
        parts.append(f"{name!r}" + (f" (did you mean {close[0]!r}?)" if close else ""))
    return (
        f"unknown parameter {', '.join(parts)}: this chapter would ignore it and run with its "
        f"defaults. Its parameters are {', '.join(declared)}."
    )


def _matches(value: Any, kind: Any) -> bool:
    if typing.get_origin(kind) is list:
        (item,) = typing.get_args(kind) or (Any,)
        return isinstance(value, list) and all(item is Any or _matches(v, item) for v in value)
    if kind is float:  # a whole number is a fine learning rate (papermill reads "-p lr 1" as 1)
        return isinstance(value, (int, float)) and not isinstance(value, bool)
    if kind is int:
        return isinstance(value, int) and not isinstance(value, bool)
    return isinstance(value, kind)


def _describe(kind: Any) -> str:
    if typing.get_origin(kind) is list:
        (item,) = typing.get_args(kind) or (Any,)
        return f"a list of {_describe(item).removeprefix('a ')}s" if item is not Any else "a list"
    return {int: "a whole number", float: "a number", str: "text", bool: "True or False"}.get(kind, str(kind))


def _type_message(name: str, value: Any, param: Param) -> str:
    wanted = _describe(param.kind) + (" or None" if param.optional else "")
    message = f"parameter {name}={value!r} is {type(value).__name__}, but must be {wanted}"
    if typing.get_origin(param.kind) is list:
        hint = f"a list needs papermill's -y: -y '{name}: [0, 1]' (-p passes '[0, 1]' as text)"
    elif param.kind in (int, float) and isinstance(value, str):
        hint = f"-r passes text: use -p {name} 3"
    elif param.kind is int and isinstance(value, float):
        hint = f"use a whole number without a decimal point: -p {name} 3"
    elif param.kind is str:
        hint = f"use -r {name} VALUE to pass it as text"
    else:
        hint = f"for example -p {name} VALUE"
    return f"{message}: {hint}."
