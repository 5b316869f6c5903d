"""metrics: hand-computed cases, a slow per-user reference loop, ties, bad input."""

from __future__ import annotations

import math

import numpy as np
import pytest
import torch

from llmrec_ref import metrics as M

LOG3 = math.log2(3)
# one user, five items; ranking by score: 0 (0.9), 2 (0.8), 4 (0.5), 3 (0.3), 1 (0.1)
S = torch.tensor([[0.9, 0.1, 0.8, 0.3, 0.5]])


def _truth(ids, n=5):
    t = torch.zeros(1, n, dtype=torch.bool)
    t[0, list(ids)] = True
    return t


def _all(scores, truth, k, exclude=None):
    fns = {"precision": M.precision_at_k, "recall": M.recall_at_k, "f1": M.f1_at_k, "hr": M.hit_rate_at_k,
           "mrr": M.mrr_at_k, "ndcg": M.ndcg_at_k, "map": M.map_at_k}
    return {name: f(scores, truth, k, exclude).item() for name, f in fns.items()}


def test_one_user_hand_computed():
    # top-3 = [0, 2, 4], truth {2, 3}: one hit at rank 2
    got = _all(S, _truth({2, 3}), 3)
    want = {"precision": 1 / 3, "recall": 1 / 2, "f1": 0.4, "hr": 1.0, "mrr": 0.5,
            "ndcg": (1 / LOG3) / (1 + 1 / LOG3), "map": 0.5 * 0.5}
    assert got == pytest.approx(want, abs=1e-6)


def test_several_held_out_items():
    got = _all(S, _truth({0, 2, 4}), 2)  # top-2 = [0, 2], both relevant, |R| = 3
    assert got == pytest.approx({"precision": 1.0, "recall": 2 / 3, "f1": 0.8, "hr": 1.0, "mrr": 1.0,
                                 "ndcg": 1.0, "map": 1.0}, abs=1e-6)
    got = _all(S, _truth({1, 3}), 5)  # hits at ranks 4 and 5
    dcg = 1 / math.log2(5) + 1 / math.log2(6)
    assert got["ndcg"] == pytest.approx(dcg / (1 + 1 / LOG3), abs=1e-6)
    assert got["map"] == pytest.approx((1 / 4 + 2 / 5) / 2, abs=1e-6)
    assert got["mrr"] == pytest.approx(1 / 4, abs=1e-6)


def test_k_larger_than_catalogue():
    scores = torch.tensor([[0.2, 0.9, 0.5]])  # list [1, 2, 0]; the hit is at rank 3
    got = _all(scores, torch.tensor([[True, False, False]]), 10)
    assert got == pytest.approx({"precision": 0.1, "recall": 1.0, "f1": 2 * 0.1 / 1.1, "hr": 1.0,
                                 "mrr": 1 / 3, "ndcg": 0.5, "map": 1 / 3}, abs=1e-6)
    items, valid = M.topk_items(scores, 10)
    assert items.tolist() == [[1, 2, 0]] and valid.all()


def test_excluded_items_are_skipped():
    # exclude item 0: list [2, 4, 3]; truth {2, 3}: hits at ranks 1 and 3
    got = _all(S, _truth({2, 3}), 3, exclude=_truth({0}))
    assert got == pytest.approx({"precision": 2 / 3, "recall": 1.0, "f1": 0.8, "hr": 1.0, "mrr": 1.0,
                                 "ndcg": 1.5 / (1 + 1 / LOG3), "map": (1 + 2 / 3) / 2}, abs=1e-6)
    # only two items can be recommended: the third slot is not a real recommendation
    items, valid = M.topk_items(S, 3, exclude=_truth({0, 2, 4}))
    assert items[0, :2].tolist() == [3, 1] and valid.tolist() == [[True, True, False]]
    # an excluded relevant item still counts in |R| but can never be hit
    assert M.recall_at_k(S, _truth({0, 3}), 5, exclude=_truth({0})).item() == pytest.approx(0.5)


def test_ties_lower_index_wins():
    items, _ = M.topk_items(torch.tensor([[0.5, 0.9, 0.5, 0.9, 0.1]]), 3)
    assert items.tolist() == [[1, 3, 0]]
    flat = torch.ones(1, 4)
    assert M.mrr_at_k(flat, _truth({1}, 4), 2).item() == pytest.approx(0.5)
    assert M.hit_rate_at_k(flat, _truth({3}, 4), 2).item() == 0.0
    assert M.ndcg_at_k(flat, _truth({1}, 4), 2).item() == pytest.approx(1 / LOG3)


def test_topk_matches_stable_full_sort_with_many_ties():
    gen = torch.Generator().manual_seed(1)
    scores = torch.randint(0, 4, (50, 30), generator=gen).float()  # heavy ties
    exclude = torch.rand(50, 30, generator=gen) < 0.3
    masked = scores.masked_fill(exclude, float("-inf"))
    ref = torch.sort(masked, dim=1, descending=True, stable=True).indices
    for k in (1, 5, 29, 30, 40):
        items, valid = M.topk_items(scores, k, exclude)
        assert torch.equal(items, ref[:, : min(k, 30)])
        assert torch.equal(valid, ~exclude.gather(1, items))


def test_neg_inf_scores_rank_before_excluded_items():
    scores = torch.tensor([[float("-inf"), 1.0, float("-inf")]])
    items, valid = M.topk_items(scores, 3, exclude=torch.tensor([[True, False, False]]))
    assert items.tolist() == [[1, 2, 0]] and valid.tolist() == [[True, True, False]]


def test_auc_hand_and_brute_force():
    assert M.auc(S, _truth({2, 3})).item() == pytest.approx(0.5)  # 3 of 6 pairs won
    assert M.auc(torch.tensor([[1.0, 1.0, 0.0]]), torch.tensor([[True, False, False]])).item() == pytest.approx(0.75)
    gen = torch.Generator().manual_seed(2)
    scores = torch.randint(0, 5, (20, 12), generator=gen).float()
    truth = torch.rand(20, 12, generator=gen) < 0.3
    exclude = (torch.rand(20, 12, generator=gen) < 0.2) & ~truth
    got = M.auc(scores, truth, exclude)
    for u in range(20):
        cand = ~exclude[u]
        pos, neg = scores[u][truth[u] & cand], scores[u][~truth[u] & cand]
        if len(pos) == 0 or len(neg) == 0:
            assert torch.isnan(got[u])
            continue
        d = pos[:, None] - neg[None, :]
        want = ((d > 0).float() + 0.5 * (d == 0).float()).mean().item()
        assert got[u].item() == pytest.approx(want, abs=1e-6)


def test_accuracy_rmse_coverage_novelty():
    assert M.accuracy(torch.tensor([0.9, 0.2, 0.6, 0.4]), torch.tensor([1, 0, 0, 1])) == 0.5
    assert M.accuracy(torch.tensor([0.9, 0.2]), torch.tensor([True, True]), threshold=0.1) == 1.0
    assert M.rmse(torch.tensor([3.0, 4.0]), torch.tensor([1.0, 4.0])) == pytest.approx(math.sqrt(2))
    scores = torch.tensor([[0.9, 0.1, 0.8, 0.3], [0.9, 0.8, 0.1, 0.3]])
    assert M.coverage(scores, 2) == 0.75  # items 0, 1, 2 of 4
    assert M.coverage(scores, 1, exclude=torch.tensor([[True, False, False, False]] * 2)) == 0.5
    p = torch.tensor([0.5, 0.25, 0.125, 1.0])
    assert M.novelty(scores, 2, p).tolist() == pytest.approx([(1 + 3) / 2, (1 + 2) / 2])


def _slow_reference(scores, truth, exclude, k):
    """Per-user python loop straight from the definitions (ties: lower index first)."""
    out = {n: [] for n in M.RANKING_METRICS}
    for u in range(scores.shape[0]):
        rel = set(np.flatnonzero(truth[u]).tolist())
        if not rel:
            continue
        order = sorted((i for i in range(scores.shape[1]) if not exclude[u, i]), key=lambda i: (-scores[u, i], i))
        top = order[:k]
        h = [1.0 if i in rel else 0.0 for i in top]
        p, r = sum(h) / k, sum(h) / len(rel)
        first = next((j + 1 for j, x in enumerate(h) if x), None)
        idcg = sum(1 / math.log2(j + 2) for j in range(min(len(rel), k)))
        out["precision"].append(p)
        out["recall"].append(r)
        out["f1"].append(2 * p * r / (p + r) if p + r else 0.0)
        out["hr"].append(float(first is not None))
        out["mrr"].append(1 / first if first else 0.0)
        out["ndcg"].append(sum(x / math.log2(j + 2) for j, x in enumerate(h)) / idcg)
        out["map"].append(sum(sum(h[: j + 1]) / (j + 1) for j, x in enumerate(h) if x) / min(len(rel), k))
    return {n: np.mean(v) for n, v in out.items()}


def test_evaluate_equals_slow_loop():
    rng = np.random.default_rng(0)
    scores = np.round(rng.random((40, 25)), 1).astype(np.float32)  # ties
    exclude = rng.random((40, 25)) < 0.2
    truth = (rng.random((40, 25)) < 0.15) & ~exclude
    truth[3:, 24] = ~exclude[3:, 24]
    truth[:3] = False  # three users without held-out items
    n_eval = int(truth.any(1).sum())
    res = M.evaluate(torch.tensor(scores), torch.tensor(truth), torch.tensor(exclude), ks=(1, 5, 10), n_boot=200)
    assert res.n_users == n_eval and res.n_skipped == 40 - n_eval >= 3 and res.message is None
    for k in (1, 5, 10):
        ref = _slow_reference(scores, truth, exclude, k)
        for name in M.RANKING_METRICS:
            m = res[f"{name}@{k}"]
            assert m.mean == pytest.approx(ref[name], abs=1e-6), f"{name}@{k}"
            assert m.low <= m.mean <= m.high
            assert res.per_user[f"{name}@{k}"].shape == (n_eval,)


def test_evaluate_matches_single_metric_functions_and_id_lists():
    gen = torch.Generator().manual_seed(3)
    scores = torch.randn(30, 40, generator=gen)
    truth_ids = [torch.randperm(40, generator=gen)[: 1 + u % 4].tolist() for u in range(30)]
    res = M.evaluate(scores, truth_ids, ks=(10,), n_boot=0, with_auc=True)
    assert res["ndcg@10"].low is None
    truth = torch.zeros(30, 40, dtype=torch.bool)
    for u, ids in enumerate(truth_ids):
        truth[u, ids] = True
    assert torch.allclose(res.per_user["ndcg@10"], M.ndcg_at_k(scores, truth, 10))
    assert torch.allclose(res.per_user["map@10"], M.map_at_k(scores, truth_ids, 10))
    assert torch.allclose(res.per_user["auc"], M.auc(scores, truth))
    assert res["coverage@10"].mean == M.coverage(scores, 10)


def test_bootstrap_is_seeded_and_equals_direct_resampling():
    gen = torch.Generator().manual_seed(4)
    values = torch.rand(50, 3, generator=gen)
    low, high = M._bootstrap(values, 300, seed=7)
    idx = torch.randint(50, (300, 50), generator=torch.Generator().manual_seed(7))
    direct = values.double()[idx].mean(1)  # (300, 3)
    assert torch.allclose(low, direct.quantile(0.025, dim=0)) and torch.allclose(high, direct.quantile(0.975, dim=0))
    scores, truth = torch.randn(50, 20, generator=gen), torch.rand(50, 20, generator=gen) < 0.2
    truth[:, 0] = True
    a, b = M.evaluate(scores, truth, seed=1), M.evaluate(scores, truth, seed=1)
    assert a.metrics == b.metrics
    assert M.evaluate(scores, truth, seed=2)["ndcg@10"] != a["ndcg@10"]


def test_all_empty_truth_says_so():
    res = M.evaluate(torch.randn(4, 6), torch.zeros(4, 6, dtype=torch.bool))
    assert res.n_users == 0 and res.n_skipped == 4
    assert res.metrics == {} and "no user has held-out items" in res.message
    assert torch.isnan(M.ndcg_at_k(torch.randn(2, 3), torch.zeros(2, 3, dtype=torch.bool), 2)).all()


@pytest.mark.parametrize("k", [0, -1, 2.5, True])
def test_bad_k(k):
    with pytest.raises(ValueError, match="k must be a positive int"):
        M.ndcg_at_k(S, _truth({1}), k)


def test_bad_inputs_name_the_argument():
    with pytest.raises(ValueError, match="truth must have the shape"):
        M.recall_at_k(S, torch.zeros(1, 4, dtype=torch.bool), 2)
    with pytest.raises(ValueError, match="exclude must have the shape"):
        M.recall_at_k(S, _truth({1}), 2, exclude=torch.zeros(2, 5, dtype=torch.bool))
    with pytest.raises(ValueError, match="scores contains NaN"):
        M.evaluate(torch.tensor([[0.1, float("nan"), 0.3, 0.2, 0.0]]), _truth({1}))
    with pytest.raises(ValueError, match="scores must be a 2-D float"):
        M.precision_at_k(torch.tensor([0.1, 0.2]), torch.tensor([True, False]), 1)
    with pytest.raises(ValueError, match=r"truth\[0\] holds item ids out of range"):
        M.evaluate(S, [[1, 7]])
    with pytest.raises(ValueError, match="truth has 2 id lists"):
        M.evaluate(S, [[1], [2]])
    with pytest.raises(ValueError, match="truth must be boolean"):
        M.hit_rate_at_k(S, torch.tensor([[0, 2, 0, 0, 0]]), 2)
    with pytest.raises(ValueError, match="ks must hold"):
        M.evaluate(S, _truth({1}), ks=())
    with pytest.raises(ValueError, match="popularity must be"):
        M.novelty(S, 2, torch.zeros(5))
    with pytest.raises(ValueError, match="pred and target"):
        M.rmse(torch.ones(3), torch.ones(2))


def test_result_reads_as_a_flat_table():
    gen = torch.Generator().manual_seed(3)
    res = M.evaluate(torch.randn(20, 15, generator=gen), torch.rand(20, 15, generator=gen) < 0.2, ks=(5, 10),
                     n_boot=50, with_auc=True)
    m = res["ndcg@10"]
    assert isinstance(m, M.Metric) and m.low <= m.mean <= m.high and res.ndcg[10] == m and res.ndcg[5] == res["ndcg@5"]
    assert set(res.ndcg) == {5, 10} and res.auc == res["auc"] and "hr@5" in res and "hr@50" not in res
    assert res.means()["ndcg@10"] == m.mean and str(m) == f"{m.mean:.3f} [{m.low:.3f}, {m.high:.3f}]"
    with pytest.raises(KeyError, match="no metric 'ndcg@20'.*'ndcg@10'"):
        res["ndcg@20"]
    with pytest.raises(AttributeError, match="no field or metric 'nope'"):
        res.nope  # noqa: B018
    assert repr(res).startswith(f"Result(n_users={res.n_users}, precision@5=")
