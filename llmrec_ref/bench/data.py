"""``python -m llmrec_ref bench data``: how fast the data layer is (chapter 01's targets).

Rows: loading MovieLens-100k from the cache into the three frames (< 1 s), preprocessing +
leave-one-out split (< 1 s), the synthetic shop at its default size (< 2 s) and at
100,000 users x 100,000 items (must finish; time and peak memory reported). Each step runs in
a fresh subprocess, so its peak memory is its own and nothing is cached between steps.
"""

from __future__ import annotations

import argparse
import json
import subprocess
import sys

from llmrec_ref.bench import positive_int

__all__ = ["add_arguments", "run"]

STEPS = {
    "load ML-100k from cache": (
        "from llmrec_ref.datasets import load_movielens_100k\n"
        "with timed() as t:\n    ml = load_movielens_100k(download=False)\n"
        "size = f'{len(ml.ratings):,} ratings'"
    ),
    "preprocess + leave-one-out (ML-100k)": (
        "from llmrec_ref.datasets import load_movielens_100k\n"
        "from llmrec_ref.preprocess import preprocess\nfrom llmrec_ref.split import leave_one_out\n"
        "ml = load_movielens_100k(download=False)\n"
        "with timed() as t:\n"
        "    df = preprocess(ml.ratings, rating_range=(1, 5), context=True).interactions\n"
        "    split = leave_one_out(df)\n"
        "size = f'{len(split.train):,} / {len(split.valid):,} / {len(split.test):,}'"
    ),
    "synthetic shop 1,000 x 10,000": (
        "from llmrec_ref.datasets import make_synthetic_shop\n"
        "with timed() as t:\n    shop = make_synthetic_shop(seed=0)\n"
        "size = f'{len(shop.interactions):,} interactions'"
    ),
    "synthetic shop 100,000 x 100,000": (
        "from llmrec_ref.datasets import make_synthetic_shop\n"
        "with timed() as t:\n    shop = make_synthetic_shop(n_users=100_000, n_items=100_000, seed=0)\n"
        "size = f'{len(shop.interactions):,} interactions'"
    ),
}
TARGETS = {"load ML-100k from cache": "< 1 s", "preprocess + leave-one-out (ML-100k)": "< 1 s",
           "synthetic shop 1,000 x 10,000": "< 2 s", "synthetic shop 100,000 x 100,000": "finishes"}

_WRAPPER = """
import json
from llmrec_ref.bench import peak_memory_mb, timed
{body}
print(json.dumps({{"seconds": t["seconds"], "size": size, "peak_mb": peak_memory_mb()}}))
"""


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--skip-large", action="store_true", help="skip the 100,000 x 100,000 shop")
    parser.add_argument("--repeats", type=positive_int, default=3, help="runs per step; the best time is reported")


def run(skip_large: bool = False, repeats: int = 3) -> list[dict]:
    """One row per step: best wall-clock seconds of ``repeats`` fresh processes, peak memory."""
    if repeats < 1:
        raise ValueError(f"repeats must be >= 1, got {repeats}")
    rows = []
    for name, body in STEPS.items():
        if skip_large and "100,000" in name:
            continue
        results = []
        for _ in range(1 if "100,000" in name else repeats):
            proc = subprocess.run([sys.executable, "-c", _WRAPPER.format(body=body)],
                                  capture_output=True, text=True)
            if proc.returncode != 0:
                raise RuntimeError(f"bench step {name!r} failed:\n{proc.stderr[-2000:]}")
            results.append(json.loads(proc.stdout.strip().splitlines()[-1]))
        best = min(results, key=lambda r: r["seconds"])
        rows.append({"step": name, "seconds": round(best["seconds"], 3), "target": TARGETS[name],
                     "output": best["size"], "peak MB (process)": round(max(r["peak_mb"] for r in results))})
    return rows


if __name__ == "__main__":
    from llmrec_ref.bench import markdown_table

    print(markdown_table(run()))
