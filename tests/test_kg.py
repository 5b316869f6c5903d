"""TransE against hand computations and autograd; the filtered link-prediction protocol on cases
worked out by hand; the split that keeps a fact and its inverse together."""

from __future__ import annotations

import numpy as np
import pytest
import torch
import torch.nn.functional as F

from llmrec_ref import kg as K


def test_distance_and_margin_loss_by_hand():
    h, r, t = torch.tensor([[1.0, 0.0]]), torch.tensor([[0.0, 1.0]]), torch.tensor([[1.0, 4.0]])
    assert K.transe_distance(h, r, t).item() == pytest.approx(3.0)  # ||(1, 1) - (1, 4)|| = 3
    d_pos, d_neg = torch.tensor([0.5, 2.0, 1.0]), torch.tensor([2.0, 1.0, 1.5])
    # max(0, 1 + 0.5 - 2) = 0, max(0, 1 + 2 - 1) = 2, max(0, 1 + 1 - 1.5) = 0.5 -> mean 2.5 / 3
    assert K.margin_loss(d_pos, d_neg, 1.0).item() == pytest.approx(2.5 / 3)
    with pytest.raises(ValueError, match="one shape"):
        K.margin_loss(d_pos, d_neg[:2])


def test_gradient_of_the_margin_loss_matches_the_formula_in_the_docstring():
    gen = torch.Generator().manual_seed(0)
    h, r, t, t2 = (torch.randn(16, 8, generator=gen, dtype=torch.float64, requires_grad=True) for _ in range(4))
    loss = K.margin_loss(K.transe_distance(h, r, t), K.transe_distance(h, r, t2), margin=2.0)
    loss.backward()
    u, u2 = (h + r - t).detach(), (h + r - t2).detach()
    g, g2 = u / u.norm(dim=1, keepdim=True), u2 / u2.norm(dim=1, keepdim=True)
    active = ((2.0 + u.norm(dim=1) - u2.norm(dim=1)) > 0).double()[:, None] / 16
    assert 0 < active.sum() * 16 < 16  # some pairs active, some not: both branches checked
    torch.testing.assert_close(h.grad, active * (g - g2))
    torch.testing.assert_close(r.grad, active * (g - g2))
    torch.testing.assert_close(t.grad, -active * g)
    torch.testing.assert_close(t2.grad, active * g2)


def test_self_adversarial_loss_by_hand_and_against_logsigmoid():
    d_pos, d_neg = torch.tensor([1.0, 3.0]), torch.tensor([[2.0, 4.0], [6.0, 6.0]])
    # row 0: p = softmax(1 * (2 - [2, 4])) = softmax([0, -2]); row 1: equal distances -> p = (1/2, 1/2)
    p0 = np.exp([0.0, -2.0]) / np.exp([0.0, -2.0]).sum()
    log_sig = lambda x: -np.log1p(np.exp(-x))  # noqa: E731
    row0 = -log_sig(2 - 1.0) - (p0 * log_sig(np.array([2.0, 4.0]) - 2)).sum()
    row1 = -log_sig(2 - 3.0) - log_sig(6.0 - 2)
    assert K.self_adversarial_loss(d_pos, d_neg, gamma=2.0, alpha=1.0).item() == pytest.approx((row0 + row1) / 2)
    # alpha = 0: every negative weighs 1/k (the plain negative-sampling loss of word2vec, chapter 02)
    gen = torch.Generator().manual_seed(0)
    d_pos, d_neg = torch.rand(5, generator=gen) * 8, torch.rand(5, 7, generator=gen) * 8
    plain = (-F.logsigmoid(6 - d_pos) - F.logsigmoid(d_neg - 6).mean(1)).mean()
    torch.testing.assert_close(K.self_adversarial_loss(d_pos, d_neg, gamma=6.0, alpha=0.0), plain)
    for bad, match in (((d_pos, d_neg[:4]), "d_neg must be"), ((d_pos, d_neg[0]), "d_neg must be")):
        with pytest.raises(ValueError, match=match):
            K.self_adversarial_loss(*bad)
    with pytest.raises(ValueError, match="gamma must be > 0 and alpha >= 0"):
        K.self_adversarial_loss(d_pos, d_neg, alpha=-1.0)


def test_self_adversarial_weights_are_constants_in_the_gradient():
    """The weights p_j depend on d_neg but are held constant: dL/dd_i = sigma(d_i - gamma) / B (a true
    triple pulled closer) and dL/dd'_ij = -p_ij sigma(gamma - d'_ij) / B (a corruption pushed away)."""
    gen = torch.Generator().manual_seed(1)
    d_pos = (torch.rand(4, generator=gen, dtype=torch.float64) * 8).requires_grad_()
    d_neg = (torch.rand(4, 6, generator=gen, dtype=torch.float64) * 8).requires_grad_()
    K.self_adversarial_loss(d_pos, d_neg, gamma=5.0, alpha=0.7).backward()
    with torch.no_grad():
        p = torch.softmax(0.7 * (5.0 - d_neg), dim=1)
        torch.testing.assert_close(d_neg.grad, -p * torch.sigmoid(5.0 - d_neg) / 4)
        torch.testing.assert_close(d_pos.grad, torch.sigmoid(d_pos - 5.0) / 4)


def test_corrupted_distances_replace_the_head_or_the_tail_by_each_candidate():
    model = K.TransE(20, 3, dim=6, seed=0, unit_norm=False)
    triples, candidates = torch.tensor([[0, 1, 2], [3, 2, 4], [5, 0, 6]]), torch.tensor([7, 8, 9, 10])
    head = torch.tensor([False, True, False])
    d = model.corrupted(triples, candidates, head)  # (3, 4)
    assert d.shape == (3, 4)
    for i in range(3):
        for j, c in enumerate(candidates.tolist()):
            bad = triples[i].clone()
            bad[0 if head[i] else 2] = c
            torch.testing.assert_close(d[i, j], model(bad[None])[0], atol=1e-5, rtol=1e-5)
    assert not torch.allclose(model.entity.norm(dim=1), torch.ones(20))  # unit_norm=False keeps the raw draw


def test_corrupt_changes_exactly_the_head_or_the_tail():
    triples = torch.tensor([[0, 1, 2], [3, 0, 4]] * 500)
    gen = torch.Generator().manual_seed(0)
    out = K.corrupt(triples, 1000, gen)
    assert torch.equal(out[:, 1], triples[:, 1])
    head_kept, tail_kept = out[:, 0] == triples[:, 0], out[:, 2] == triples[:, 2]
    assert (head_kept | tail_kept).all()
    assert 0.4 < (~head_kept).double().mean() < 0.6  # p_head = 0.5
    per_relation = K.corrupt(triples, 1000, gen, p_head=torch.tensor([1.0, 0.0]))
    assert (per_relation[::2, 0] == 0).all() and (per_relation[1::2, 2] == 4).all()  # r=1: tails, r=0: heads
    # typed: a replacement tail of relation r is a tail r has somewhere (here 2 or 5 for r=1, 4 or 7 for r=0)
    mixed = torch.tensor([[0, 1, 2], [3, 0, 4], [6, 1, 5], [8, 0, 7]] * 100)
    pools = K.typed_pools(mixed)
    typed = K.corrupt(mixed, 1000, gen, p_head=0.0, typed=pools)
    assert set(typed[mixed[:, 1] == 1, 2].tolist()) == {2, 5} and set(typed[mixed[:, 1] == 0, 2].tolist()) == {4, 7}
    typed_heads = K.corrupt(mixed, 1000, gen, p_head=1.0, typed=pools)
    assert set(typed_heads[mixed[:, 1] == 1, 0].tolist()) == {0, 6}


def test_split_keeps_a_fact_and_its_inverse_together_and_drops_unseen_entities():
    rng = np.random.default_rng(0)
    heads, tails = rng.integers(0, 60, 400), rng.integers(60, 100, 400)
    facts = np.stack([heads, np.zeros(400, dtype=np.int64), tails], 1)
    triples = np.concatenate([facts, facts[:, ::-1] + np.array([0, 1, 0])])  # each fact and its inverse (r=1)
    train, valid, test = K.split_triples(triples, 0.1, seed=0)
    assert len(valid) and len(test)
    train_pairs = {frozenset((a, c)) for a, _, c in train.tolist()}
    for part in (valid, test):
        assert not any(frozenset((a, c)) in train_pairs for a, _, c in part.tolist())
        seen = set(train[:, 0]) | set(train[:, 2])
        assert set(part[:, 0]) <= seen and set(part[:, 2]) <= seen
    again = K.split_triples(triples, 0.1, seed=0)
    assert all(np.array_equal(a, b) for a, b in zip((train, valid, test), again, strict=True))
    with pytest.raises(ValueError, match="frac must lie in"):
        K.split_triples(triples, 0.6)
    with pytest.raises(ValueError, match=r"\(N, 3\) integer array"):
        K.split_triples(np.zeros((3, 2), dtype=np.int64))


def test_scores_of_all_entities_equal_minus_the_distance():
    model = K.TransE(30, 4, dim=8, seed=0)
    anchors, rels = torch.tensor([0, 5, 29]), torch.tensor([1, 3, 0])
    all_tails = torch.arange(30)
    for side in ("tail", "head"):
        s = model.scores(anchors, rels, side)  # (3, 30)
        for b in range(3):
            trip = torch.stack([anchors[b].expand(30), rels[b].expand(30), all_tails], 1)
            if side == "head":
                trip = trip[:, [2, 1, 0]]
            torch.testing.assert_close(s[b], -model(trip).detach(), atol=1e-4, rtol=1e-4)
    torch.testing.assert_close(model.entity.norm(dim=1), torch.ones(30))


def test_filtered_ranks_by_hand():
    scores = torch.tensor([[0.9, 0.5, 0.7, 0.5, 0.1],
                           [0.3, 0.3, 0.3, 0.3, 0.3]])
    target = torch.tensor([1, 4])
    # row 0: 0.9 and 0.7 above, one tie (col 3) -> 1 + 2 + 0.5; filtering col 0 (another true answer) -> 2.5
    assert K.filtered_ranks(scores, target).tolist() == [3.5, 3.0]  # row 1: 4 ties -> 1 + 2
    known = torch.tensor([[True, True, False, False, False], [False] * 5])  # its own answer may be in known
    assert K.filtered_ranks(scores, target, known).tolist() == [2.5, 3.0]


def test_link_prediction_of_a_perfect_and_of_a_constant_scorer():
    triples = torch.tensor([[0, 0, 1], [0, 0, 2], [3, 0, 4], [5, 1, 6]])

    def perfect(anchors, relations, side):
        s = torch.zeros(len(anchors), 7)
        for b, (a, r) in enumerate(zip(anchors.tolist(), relations.tolist(), strict=True)):
            for h, rr, t in triples.tolist():
                if rr == r and (h if side == "tail" else t) == a:
                    s[b, t if side == "tail" else h] = 1.0
        return s

    res = K.link_prediction(perfect, triples, triples)
    assert res["mrr"] == pytest.approx(1.0) and res["hits@1"] == 1.0 and res["queries"] == 8
    constant = K.link_prediction(lambda a, r, side: torch.zeros(len(a), 7), triples, triples, ks=(1,))
    assert constant["hits@1"] == 0.0  # ties are split: a constant scorer gets rank ~ half the catalogue
    degree = K.degree_scores(triples, 7, 2)
    assert degree(torch.tensor([0]), torch.tensor([0]), "tail").tolist() == [[0, 1, 1, 0, 1, 0, 0]]
    assert degree(torch.tensor([0]), torch.tensor([0]), "head").tolist() == [[2, 0, 0, 1, 0, 0, 0]]


def test_training_separates_true_triples_and_is_reproducible(one_thread):
    """Two families of films: relation 0 links each film to its family's genre, relation 1 to its
    director. After training, true triples are closer than corrupted ones."""
    rng = np.random.default_rng(0)
    films = np.arange(40)
    triples = np.concatenate([np.stack([films, np.zeros(40, int), 40 + films % 2], 1),
                              np.stack([films, np.ones(40, int), 42 + rng.integers(0, 4, 40)], 1)]).astype(np.int64)
    model, log = K.train_transe(triples, 46, 2, dim=16, epochs=60, batch_size=16, lr=0.02, typed=False, seed=0,
                                log_every=20)
    assert [r["epoch"] for r in log] == [20, 40, 60] and log[-1]["loss"] < log[0]["loss"]
    res = K.link_prediction(model.scores, triples[:40], triples, ks=(1,))
    degree = K.link_prediction(K.degree_scores(triples, 46, 2), triples[:40], triples, ks=(1,))
    # a film's genre is learned (tails: hits@1 = 1 on those 40 of the 80 queries; a genre's film among
    # 20 true ones is harder); the degree baseline ties the two genres, so its hits@1 is 0
    assert res["hits@1"] >= 0.5 and degree["hits@1"] == 0.0 and res["mrr"] > degree["mrr"] + 0.2
    again, _ = K.train_transe(triples, 46, 2, dim=16, epochs=60, batch_size=16, lr=0.02, typed=False, seed=0)
    assert torch.equal(model.entity, again.entity)
    with pytest.raises(ValueError, match="triple codes must lie"):
        K.train_transe(triples, 10, 2)


def test_self_adversarial_training_beats_degree_and_is_reproducible(one_thread):
    """The same two families as above, trained with the self-adversarial loss (shared negatives,
    unnormalised vectors, cosine-decayed learning rate)."""
    rng = np.random.default_rng(0)
    films = np.arange(40)
    triples = np.concatenate([np.stack([films, np.zeros(40, int), 40 + films % 2], 1),
                              np.stack([films, np.ones(40, int), 42 + rng.integers(0, 4, 40)], 1)]).astype(np.int64)
    kw = dict(dim=16, epochs=60, batch_size=16, lr=0.05, loss="self_adversarial", negatives=8, seed=0)
    model, log = K.train_transe(triples, 46, 2, log_every=20, **kw)
    assert log[-1]["loss"] < log[0]["loss"]
    res = K.link_prediction(model.scores, triples[:40], triples, ks=(1,))
    degree = K.link_prediction(K.degree_scores(triples, 46, 2), triples[:40], triples, ks=(1,))
    assert res["hits@1"] >= 0.5 and res["mrr"] > degree["mrr"] + 0.2
    again, _ = K.train_transe(triples, 46, 2, **kw)
    assert torch.equal(model.entity, again.entity)
    for bad, match in (({"loss": "hinge"}, "loss must be"), ({"negatives": 0}, "negatives must be"),
                       ({"lr_decay": "step"}, "lr_decay must be"), ({"alpha": -1.0}, "alpha must be")):
        with pytest.raises(ValueError, match=match):
            K.train_transe(triples, 46, 2, **bad)


def test_kg_py_copies_alone(tmp_path):
    """kg.py needs only numpy and torch: copied into an empty folder it trains and evaluates."""
    import shutil
    import subprocess
    import sys
    from pathlib import Path

    shutil.copy(Path(K.__file__), tmp_path / "kg.py")
    code = ("import numpy as np, kg\n"
            "t = np.array([[0, 0, 1], [2, 0, 1], [3, 1, 4]])\n"
            "m, log = kg.train_transe(t, 5, 2, dim=4, epochs=2, batch_size=2)\n"
            "print(kg.link_prediction(m.scores, t, t)['queries'])\n")
    out = subprocess.run([sys.executable, "-c", code], cwd=tmp_path, capture_output=True, text=True,
                         env={"PATH": "/usr/bin:/bin", "PYTHONPATH": str(tmp_path)})
    assert out.returncode == 0, out.stderr
    assert out.stdout.strip() == "6"
