"""Benchmarks behind ``python -m llmrec_ref bench TOPIC``: each topic prints a markdown table.

Every topic module (``data``, ``models``, ``encoders``, ``embeddings``, ...) exposes
``run(**options) -> list[dict]``; the rows become the printed table (``llmrec_ref.tables``).
This layer is a leaf: only the command line (``llmrec_ref.__main__``) imports it; what a
chapter or another module needs from a benchmark (settings, measures, tables) lives in the
package proper and the benchmarks import it from there. Speed and quality targets of the
course are measured here, never by timed tests.
"""

from __future__ import annotations

import resource
import sys
import time
from contextlib import contextmanager
from typing import Iterator

from llmrec_ref.tables import markdown_table, read_table  # re-exported: the topics print with it

__all__ = ["markdown_table", "peak_memory_mb", "read_table", "timed"]


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
