"""The recommender contract (llmrec_ref.conformance) on every model of the course, and on broken models
that it must catch."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest
import torch

from llmrec_ref.baselines import EASE, ItemKNN, Popularity, RandomScorer
from llmrec_ref.coldstart import AttributePopularity, TextOnly
from llmrec_ref.conformance import check_recommender
from llmrec_ref.evaluation import request_context
from llmrec_ref.mf import MF
from llmrec_ref.models import ContextRec, ContextRecConfig
from llmrec_ref.split import leave_one_out

N_ITEMS = 24
pytestmark = pytest.mark.usefixtures("one_thread")


@pytest.fixture(scope="module")
def split():
    rng = np.random.default_rng(0)
    rows = []
    for u in range(1, 41):
        item = int(rng.integers(1, N_ITEMS + 1))
        for t in range(8):
            rows.append((u, item, 1_700_000_000 + 3600 * t + u, ["browse", "cart"][t % 2],
                         ["mobile", "desktop"][int(rng.random() < 0.5)], float(rng.integers(1, 6))))
            item = item % N_ITEMS + 1 if rng.random() < 0.8 else int(rng.integers(1, N_ITEMS + 1))
    log = pd.DataFrame(rows, columns=["user_id", "item_id", "timestamp", "behavior", "device", "rating"])
    return leave_one_out(log.drop_duplicates(["user_id", "item_id"]))


ITEMS = pd.DataFrame({"item_id": range(1, N_ITEMS + 1), "genres": [["a", "b"][i % 2:] for i in range(N_ITEMS)]})
VECTORS = torch.cat([torch.zeros(1, 8), torch.randn(N_ITEMS, 8, generator=torch.Generator().manual_seed(0))])
SMALL = dict(n_items=N_ITEMS, d_model=8, n_heads=2, max_len=6, epochs=2, verbose=False)
MODELS = {
    "ContextRec transformer": lambda: ContextRec(**SMALL),
    "ContextRec gru + target attention": lambda: ContextRec(**SMALL, encoder="gru", target_attention=True),
    "ContextRec request context, sampled softmax": lambda: ContextRec(ContextRecConfig(**SMALL), request_context=True,
                                                                      loss="sampled_softmax", n_negatives=5),
    "ContextRec text table": lambda: ContextRec(**SMALL, item_repr="text", features=[]).set_item_text(VECTORS),
    "MF": lambda: MF(d_model=4, epochs=2, verbose=False),
    "RandomScorer": lambda: RandomScorer(n_items=N_ITEMS),
    "Popularity": lambda: Popularity(),
    "ItemKNN (grid)": lambda: ItemKNN(k=5, grid={"k": (3, 10)}),
    "EASE (grid, refit)": lambda: EASE(grid={"lam": (1.0, 50.0)}, refit=True),
    "AttributePopularity": lambda: AttributePopularity(ITEMS),
    "TextOnly": lambda: TextOnly(VECTORS, steps=20, eval_every=10, verbose=False),
}


@pytest.mark.parametrize("name", list(MODELS))
def test_every_model_keeps_the_contract(name, split):
    query = request_context(split.valid)
    done = check_recommender(MODELS[name], split.train, split.valid, query=query)
    assert len(done) >= 5


def test_fit_on_valid_selects_and_refit_is_explicit(split):
    search = EASE(grid={"lam": (1.0, 50.0, 500.0)}).fit(split.train, split.valid)
    assert [r["lam"] for r in search.train_log_] == [1.0, 50.0, 500.0] and search.lam == 400.0  # settings kept
    chosen = search.hyperparameters()["lam"]
    assert chosen == max(search.train_log_, key=lambda r: r["valid_ndcg@10"])["lam"]
    on_train = EASE(lam=chosen).fit(split.train)
    assert torch.equal(search.B_, on_train.B_)  # by default the final fit uses train only
    refit = EASE(grid={"lam": (1.0, 50.0, 500.0)}, refit=True).fit(split.train, split.valid)
    assert not torch.equal(refit.B_, on_train.B_)
    both = pd.concat([split.train, split.valid])
    assert torch.equal(refit.B_, EASE(lam=chosen, n_items=refit.n_items_).fit(both).B_)


class Broken:
    """A minimal model; each test breaks one rule of the contract."""

    uses_query = False

    def __init__(self, k: int = 1):
        self.k = k

    def fit(self, train, valid=None):
        self.n_items_, self.train_log_ = int(train["item_id"].max()), []
        return self

    def score(self, users, history, query=None):
        if not hasattr(self, "n_items_"):
            raise ValueError("call fit first")
        s = torch.zeros(len(users), self.n_items_ + 1)
        s[:, 0] = float("-inf")
        return s


def test_the_check_passes_a_minimal_model_and_catches_each_broken_rule(split):
    assert check_recommender(Broken, split.train, split.valid)

    class ChangesSettings(Broken):
        def fit(self, train, valid=None):
            self.k = 2
            return super().fit(train, valid)

    class NoPadding(Broken):
        def score(self, users, history, query=None):
            return super().score(users, history).nan_to_num(neginf=0.0)

    class NotSelf(Broken):
        def fit(self, train, valid=None):
            super().fit(train, valid)

    class Unseeded(Broken):
        def score(self, users, history, query=None):
            return super().score(users, history) + torch.cat([torch.zeros(len(users), 1),
                                                              torch.rand(len(users), self.n_items_)], 1)

    class NoFitCheck(Broken):
        def score(self, users, history, query=None):
            self.n_items_ = getattr(self, "n_items_", 3)
            return super().score(users, history)

    class ReadsEveryone(Broken):  # scores from the whole log's popularity, not the user's own rows
        def score(self, users, history, query=None):
            s = super().score(users, history)
            counts = torch.bincount(torch.tensor(history["item_id"].to_numpy()), minlength=s.shape[1])
            return s + counts[None, :s.shape[1]].float()

    for cls, match in [(ChangesSettings, "changed its settings \\['k'\\]"), (NoPadding, "column 0"),
                       (NotSelf, "return self"), (Unseeded, "bitwise the same"), (NoFitCheck, "before fit"),
                       (ReadsEveryone, "only on that user's rows")]:
        with pytest.raises(AssertionError, match=match):
            check_recommender(cls, split.train, split.valid)
