"""The chapter 05 exercise checks accept right answers and explain typical wrong ones."""

from __future__ import annotations

import pandas as pd
import pytest
import torch

from llmrec_ref.checks import ExerciseFailed, ch05


def bpr_grad(pos, neg):
    w = torch.sigmoid(neg - pos) / len(pos)
    return -w, w


def bpr_grad_wrong_sigma(pos, neg):
    w = torch.sigmoid(pos - neg) / len(pos)
    return -w, w


def bpr_grad_no_mean(pos, neg):
    w = torch.sigmoid(neg - pos)
    return -w, w


def top_k_unseen(scores, k, seen):
    return scores.masked_fill(seen, float("-inf")).sort(dim=1, descending=True, stable=True).indices[:, :k]


def top_k_forgets_seen(scores, k, seen):
    return scores.sort(dim=1, descending=True, stable=True).indices[:, :k]


def history_for_test(train, valid, test):
    return pd.concat([train, valid], ignore_index=True)


def history_leaky(train, valid, test):
    return pd.concat([train, valid, test], ignore_index=True)


def softmax_grad(logits, target):
    return (logits.softmax(1) - torch.nn.functional.one_hot(target, logits.shape[1])) / len(target)


def softmax_grad_no_onehot(logits, target):
    return logits.softmax(1) / len(target)


@pytest.mark.parametrize("check, name, answer", [
    (ch05.ex1, "bpr_grad", bpr_grad), (ch05.ex2, "top_k_unseen", top_k_unseen),
    (ch05.ex3, "history_for_test", history_for_test), (ch05.ex4, "softmax_grad", softmax_grad),
])
def test_right_answers_pass_and_missing_names_fail(check, name, answer, capsys):
    check({name: answer})
    assert "passed" in capsys.readouterr().out
    with pytest.raises(ExerciseFailed, match="not defined yet"):
        check({})


@pytest.mark.parametrize("check, name, wrong, hint", [
    (ch05.ex1, "bpr_grad", bpr_grad_wrong_sigma, "sigma\\(neg - pos\\)"),
    (ch05.ex1, "bpr_grad", bpr_grad_no_mean, "mean over the pairs"),
    (ch05.ex1, "bpr_grad", lambda p, n: tuple(-g for g in bpr_grad(p, n)), "signs are flipped"),
    (ch05.ex2, "top_k_unseen", top_k_forgets_seen, "already seen"),
    (ch05.ex2, "top_k_unseen", lambda s, k, seen: s.masked_fill(seen, float("-inf")).topk(k).indices.flip(1),
     "best first|lower index"),
    (ch05.ex3, "history_for_test", history_leaky, "contains the test interactions"),
    (ch05.ex3, "history_for_test", lambda tr, va, te: tr, "train \\*and\\* validation"),
    (ch05.ex4, "softmax_grad", softmax_grad_no_onehot, "one-hot"),
    (ch05.ex4, "softmax_grad", lambda z, y: softmax_grad(z, y) * len(y), "divide by N"),
])
def test_typical_wrong_answers_fail_with_their_hint(check, name, wrong, hint):
    with pytest.raises(ExerciseFailed, match=hint):
        check({name: wrong})


def test_an_answer_that_raises_is_reported_not_crashed():
    def broken(pos, neg):
        raise NotImplementedError

    with pytest.raises(ExerciseFailed, match="not implemented"):
        ch05.ex1({"bpr_grad": broken})
