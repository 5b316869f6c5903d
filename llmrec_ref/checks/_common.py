"""The three verbs every exercise check is written with: require, expect, passed."""

from __future__ import annotations

from typing import Any, Callable


class ExerciseFailed(AssertionError):
    """An exercise's answer is missing or wrong; the message is the hint."""


def require(ns: dict, name: str, exercise: str, kind: type | None = None) -> Any:
    """Return ``ns[name]``, or fail with a hint saying where to define it.

    ``ns`` is the notebook's ``globals()``; ``exercise`` names the exercise in
    the message (e.g. ``"Exercise 1"``). With ``kind=callable`` (the builtin)
    the object must also be callable.
    """
    if name not in ns:
        raise ExerciseFailed(
            f"{exercise}: `{name}` is not defined yet. Write it in the cell above "
            "(replace '# your code here') and run that cell first."
        )
    obj = ns[name]
    if kind is callable and not callable(obj):
        raise ExerciseFailed(f"{exercise}: `{name}` should be a function, got {type(obj).__name__}.")
    if kind is not None and kind is not callable and not isinstance(obj, kind):
        raise ExerciseFailed(
            f"{exercise}: `{name}` should be a {kind.__name__}, got {type(obj).__name__}."
        )
    return obj


def expect(condition: bool, exercise: str, hint: str) -> None:
    """Fail with ``"<exercise>: <hint>"`` unless ``condition`` holds."""
    if not condition:
        raise ExerciseFailed(f"{exercise}: {hint}")


def call(fn: Callable, exercise: str, *args: Any, **kwargs: Any) -> Any:
    """Call a learner's function; turn any exception into a hint that names it."""
    try:
        return fn(*args, **kwargs)
    except NotImplementedError as err:
        raise ExerciseFailed(f"{exercise}: `{fn.__name__}` is not implemented yet.") from err
    except Exception as err:  # noqa: BLE001 - we report whatever the learner's code raised
        raise ExerciseFailed(
            f"{exercise}: calling `{getattr(fn, '__name__', fn)}` raised "
            f"{type(err).__name__}: {err}"
        ) from err


def passed(exercise: str, what: str) -> None:
    """Print the line a learner (and the grader) reads when a check passes."""
    print(f"{exercise} passed: {what}")


def runs_here(fn: Callable) -> bool:
    """False when ``fn`` runs in the learner's kernel while the check runs in the grader
    (``llmrec_ref.graderemote``): values cross that wire, autograd graphs do not, so a check
    that needs ``backward`` through the learner's code can only do it locally."""
    from llmrec_ref.graderemote import RemoteObject

    return not isinstance(fn, RemoteObject)
