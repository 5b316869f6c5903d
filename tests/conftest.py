"""Shared fixtures: MovieLens-100k from the cache, or a skip that says how to get it."""

from __future__ import annotations

import pytest
import torch

from llmrec_ref.datasets import MovieLens, load_movielens_100k


@pytest.fixture(scope="session")
def movielens() -> MovieLens:
    """The real data set; tests that need it are skipped (not failed) when it is not cached."""
    try:
        return load_movielens_100k(download=False)
    except FileNotFoundError:
        pytest.skip("MovieLens-100k is not in the cache: run `python -m llmrec_ref data fetch ml-100k`")


@pytest.fixture
def one_thread():
    """Tiny models: a second thread only adds synchronisation (and a busy machine makes it worse)."""
    before = torch.get_num_threads()
    torch.set_num_threads(1)
    yield
    torch.set_num_threads(before)
