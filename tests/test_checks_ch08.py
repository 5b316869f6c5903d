"""The chapter 08 exercise checks accept right answers and explain typical wrong ones."""

from __future__ import annotations

import numpy as np
import torch
from check_contract import (  # noqa: F401 - the generic tests, run on RIGHT / WRONG below
    test_missing_answer_fails_with_a_hint,
    test_right_answer_passes,
    test_typical_wrong_answer_fails_with_its_hint,
)

from llmrec_ref.checks import ch08

# ----------------------------------------------------------------------------- exercise 1


def distmult_score(h, r, t):
    return (h * r * t).sum(-1)


# ----------------------------------------------------------------------------- exercise 2


def _grads(h, r, t, h_bad, gamma, scale=1.0, sign=1.0, tail_style=False):
    u, u_bad = h + r - t, h_bad + r - t
    n, n_bad = u.norm(dim=1, keepdim=True), u_bad.norm(dim=1, keepdim=True)
    active = ((gamma + n - n_bad) > 0).to(u.dtype) / len(u) * scale
    g, g_bad = sign * active * u / n, sign * active * u_bad / n_bad
    if tail_style:  # the chapter's formulas for a corrupted *tail*, pasted: e_t gets -g only
        return g - g_bad, g - g_bad, -g, -g_bad
    return g, g - g_bad, -g + g_bad, -g_bad


def transe_head_grads(h, r, t, h_bad, gamma):
    return _grads(h, r, t, h_bad, gamma)


# ----------------------------------------------------------------------------- exercise 3


def _tails(triples, item_entity, relation):
    of_entity: dict[int, set] = {}
    for head, rel, tail in triples.tolist():
        if rel == relation:
            of_entity.setdefault(head, set()).add(tail)
    return [of_entity.get(int(e), set()) if e >= 0 else set() for e in item_entity]


def shared_counts_one_item_per_entity(triples, item_entity, relation, liked):
    film_of = {int(e): i for i, e in enumerate(item_entity) if e >= 0}  # a film listed twice keeps one id
    tails = [set() for _ in item_entity]
    for head, rel, tail in triples.tolist():
        if rel == relation and head in film_of:
            tails[film_of[head]].add(tail)
    return np.array([sum(1 for j in set(liked) if j != i and tails[i] & tails[j]) for i in range(len(tails))])


def shared_counts(triples, item_entity, relation, liked):
    tails = _tails(triples, item_entity, relation)
    return np.array([sum(1 for j in set(liked) if j != i and tails[i] & tails[j]) for i in range(len(tails))])


def shared_counts_with_self(triples, item_entity, relation, liked):
    tails = _tails(triples, item_entity, relation)
    return np.array([sum(1 for j in set(liked) if tails[i] & tails[j]) for i in range(len(tails))])


def shared_counts_tails(triples, item_entity, relation, liked):
    tails = _tails(triples, item_entity, relation)
    return np.array([sum(len(tails[i] & tails[j]) for j in set(liked) if j != i) for i in range(len(tails))])


RIGHT = {
    ch08.ex1: {"distmult_score": distmult_score},
    ch08.ex2: {"transe_head_grads": transe_head_grads},
    ch08.ex3: {"shared_counts": shared_counts},
}

WRONG = [
    (ch08.ex1, {"distmult_score": lambda h, r, t: h * r * t}, "Sum over the last axis"),
    (ch08.ex1, {"distmult_score": lambda h, r, t: -(h + r - t).norm(dim=-1)}, "TransE's distance"),
    (ch08.ex1, {"distmult_score": lambda h, r, t: (h * t).sum(-1)}, "relation vector is missing"),
    (ch08.ex1, {"distmult_score": lambda h, r, t: (h * r * t).sum(-1) if r.dim() == 2 else (h * t).sum(-1)},
     "must broadcast"),
    (ch08.ex1, {"distmult_score": lambda h, r, t: (h * r * t.abs()).sum(-1)}, "sum_k h_k \\* r_k \\* t_k"),
    (ch08.ex2, {"transe_head_grads": lambda *a: _grads(*a, scale=len(a[0]))}, "divide by B"),
    (ch08.ex2, {"transe_head_grads": lambda *a: _grads(*a, sign=-1.0)}, "wrong sign"),
    (ch08.ex2, {"transe_head_grads": lambda *a: _grads(*a, tail_style=True)}, "differs from autograd|dL/dr"),
    (ch08.ex2, {"transe_head_grads": lambda *a: _grads(*a)[:3]}, "tuple of four gradients"),
    (ch08.ex2, {"transe_head_grads": lambda h, r, t, hb, gamma: _grads(h, r, t, hb, 1e9)}, "hinge is flat"),
    (ch08.ex3, {"shared_counts": shared_counts_with_self}, "shares its director with itself"),
    (ch08.ex3, {"shared_counts": shared_counts_tails}, "count liked \\*films\\*, not shared tails"),
    (ch08.ex3, {"shared_counts": shared_counts_one_item_per_entity}, "two item ids can share one entity"),
    (ch08.ex3, {"shared_counts": lambda tr, ie, rel, liked: shared_counts(tr, ie, rel, liked)[1:]}, "one count per item"),
    (ch08.ex3, {"shared_counts": lambda tr, ie, rel, liked: shared_counts(tr, ie, 0, liked)}, "counts differ"),
]


def test_checks_draw_fresh_cases_each_run(capsys):
    """Two runs of a check see different inputs (the global generator moves), and both pass."""
    seen = []

    def spy(h, r, t):
        seen.append(h.clone())
        return distmult_score(h, r, t)

    torch.manual_seed(0)
    ch08.ex1({"distmult_score": spy})
    ch08.ex1({"distmult_score": spy})
    assert not torch.equal(seen[0], seen[-1])
