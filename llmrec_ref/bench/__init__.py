"""Benchmarks behind ``python -m llmrec_ref bench TOPIC``: each topic prints a markdown table.

Every topic module (``data``, ``models``, ``encoders``, ``embeddings``, ...) exposes
``run(**options) -> list[dict]``; the rows become the printed table (``llmrec_ref.tables``).
This layer is a leaf: only the command line (``llmrec_ref.__main__``) imports it; what a
chapter or another module needs from a benchmark (settings, measures, tables) lives in the
package proper and the benchmarks import it from there. Speed and quality targets of the
course are measured here, never by timed tests.
"""

from __future__ import annotations

import argparse
import math
import resource
import sys
import time
from contextlib import contextmanager
from typing import Iterator

from llmrec_ref.tables import markdown_table, read_table  # re-exported: the topics print with it

__all__ = ["markdown_table", "peak_memory_mb", "read_table", "timed", "positive_int", "non_negative_int",
           "positive_float", "fraction"]


def _number(kind: type, test, what: str):
    """An argparse ``type=``: the option's text -> ``kind``, or a one-line usage error saying what it must be."""
    def parse(text: str):
        try:
            value = kind(text)
        except ValueError:
            value = None
        if value is None or not (math.isfinite(value) and test(value)):
            raise argparse.ArgumentTypeError(f"must be {what}, got {text!r}")
        return value
    parse.__name__ = what  # argparse names the type in some messages
    return parse


positive_int = _number(int, lambda v: v >= 1, "an int >= 1")
non_negative_int = _number(int, lambda v: v >= 0, "an int >= 0")
positive_float = _number(float, lambda v: v > 0, "a finite number > 0")
fraction = _number(float, lambda v: 0 <= v < 1, "a number in [0, 1)")


def peak_memory_mb() -> float:
    """Peak resident memory of this process so far, in MiB (``ru_maxrss``)."""
    peak = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
    return peak / (1024 * 1024) if sys.platform == "darwin" else peak / 1024


@contextmanager
def timed() -> Iterator[dict]:
    """``with timed() as t: ...`` then ``t["seconds"]`` holds the wall-clock time."""
    out: dict = {}
    start = time.perf_counter()
    try:
        yield out
    finally:
        out["seconds"] = time.perf_counter() - start
