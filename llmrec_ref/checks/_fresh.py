"""Helpers for checks that draw fresh cases: a random generator no learner can predict, and the
fingerprint of an input that an answer was told not to modify."""

from __future__ import annotations

import hashlib
import secrets

import numpy as np
import pandas as pd


def fresh_rng() -> np.random.Generator:
    """A generator seeded from the OS: every run of a check draws different cases, so an answer
    that hard-codes the visible example (or a value a hint once showed) fails."""
    return np.random.default_rng(secrets.randbits(63))


def fingerprint(value) -> str:
    """A hash of a frame's (or an array's) values, dtypes, columns and index: equal before and after
    a call exactly when the call left the input as it was."""
    h = hashlib.sha256()
    if isinstance(value, pd.DataFrame):
        h.update(repr((list(value.columns), [str(t) for t in value.dtypes], value.shape)).encode())
        h.update(pd.util.hash_pandas_object(value, index=True).to_numpy().tobytes())
    else:
        arr = np.asarray(value)
        h.update(repr((arr.shape, str(arr.dtype))).encode())
        h.update(np.ascontiguousarray(arr).tobytes())
    return h.hexdigest()


def torch_generator():
    """A torch generator seeded like :func:`fresh_rng`."""
    import torch

    return torch.Generator().manual_seed(int(fresh_rng().integers(2**62)))


def one_letter(ns: dict, name: str, exercise: str, letters: str = "abcd") -> str:
    """The multiple-choice answer ``ns[name]`` as one lower-case letter among ``letters``
    ("b", "B", "(b)" all read as "b"), or a failure saying how to answer."""
    from llmrec_ref.checks._common import expect, require

    letter = require(ns, name, exercise, str).strip().lower().strip("()")
    expect(len(letter) == 1 and letter in letters, exercise,
           f"answer with one letter among {', '.join(letters)}.")
    return letter
