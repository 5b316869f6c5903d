"""Progress reports that suit where the output goes.

An interactive terminal or a notebook gets a tqdm bar that redraws in place; a file, a pipe or
a CI log gets no bar (a bar there is one carriage-return frame per step: about 100 KB for the
demo's 12 epochs), and long jobs print one plain line per epoch or stage instead
(``report``). ``LLMREC_PROGRESS=bar`` or ``=lines`` overrides the choice.
"""

from __future__ import annotations

import os
import sys
from typing import Iterable, TypeVar

__all__ = ["interactive", "bar", "report"]

T = TypeVar("T")


def interactive() -> bool:
    """True in a terminal or a Jupyter kernel, False when stderr goes to a file or a pipe."""
    choice = os.environ.get("LLMREC_PROGRESS", "").lower()
    if choice in ("bar", "lines"):
        return choice == "bar"
    if "ipykernel" in sys.modules:  # a notebook: its front end redraws the bar
        return True
    try:
        return sys.stderr.isatty()
    except (AttributeError, ValueError):  # a closed or replaced stream
        return False


def bar(iterable: Iterable[T], desc: str, verbose: bool = True, **tqdm_kwargs) -> Iterable[T]:
    """``iterable`` wrapped in a tqdm bar when ``verbose`` and the output is interactive, else as it is.

    The bar is transient (``leave=False``): what stays on screen is the line ``report`` prints
    when the job (an epoch, a stage) ends."""
    if not (verbose and interactive()):
        return iterable
    from tqdm.auto import tqdm

    return tqdm(iterable, desc=desc, leave=False, **tqdm_kwargs)


def report(line: str, verbose: bool = True) -> None:
    """Print one plain line (the end of an epoch or a stage) when ``verbose``."""
    if verbose:
        print(line, flush=True)
