"""ScoreMix keeps the recommender contract and mixes z-scores as its docstring says."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest
import torch

from llmrec_ref.baselines import Popularity, RandomScorer
from llmrec_ref.conformance import check_recommender
from llmrec_ref.fusion import ScoreMix
from llmrec_ref.split import leave_one_out


@pytest.fixture(scope="module")
def split():
    rng = np.random.default_rng(0)
    rows = [(u, int(i), 1_700_000_000 + t) for u in range(1, 31) for t, i in enumerate(rng.choice(np.arange(1, 21), 6,
                                                                                                    replace=False))]
    return leave_one_out(pd.DataFrame(rows, columns=["user_id", "item_id", "timestamp"]))


def test_contract(split):
    make = lambda: ScoreMix(Popularity(n_items=20), RandomScorer(n_items=20, seed=1), 0.3)  # noqa: E731
    assert len(check_recommender(make, split.train, split.valid)) >= 5


def test_mix_is_the_weighted_sum_of_z_scores(split):
    a, b = Popularity(n_items=20).fit(split.train), RandomScorer(n_items=20, seed=1).fit(split.train)
    users = torch.tensor([1, 2, 3])
    sa, sb = a.score(users, split.train)[:, 1:], b.score(users, split.train)[:, 1:]
    z = lambda s: (s - s.mean(1, keepdim=True)) / s.std(1, unbiased=False, keepdim=True)  # noqa: E731
    mixed = ScoreMix(a, b, 0.25, refit=False).fit(split.train).score(users, split.train)
    torch.testing.assert_close(mixed[:, 1:], 0.75 * z(sa) + 0.25 * z(sb), atol=1e-5, rtol=1e-5)
    assert torch.isinf(mixed[:, 0]).all()
    with pytest.raises(ValueError, match="weight must lie in"):
        ScoreMix(a, b, 1.5)
    with pytest.raises(ValueError, match="same catalogue"):
        ScoreMix(a, Popularity(n_items=30).fit(split.train), refit=False).fit(split.train)
