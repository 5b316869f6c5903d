"""The chapter 09 exercise checks accept right answers and explain typical wrong ones."""

from __future__ import annotations

import torch
from check_contract import (  # noqa: F401 - the generic tests, run on RIGHT / WRONG below
    test_missing_answer_fails_with_a_hint,
    test_right_answer_passes,
    test_typical_wrong_answer_fails_with_its_hint,
)

from llmrec_ref.checks import ch09

# ----------------------------------------------------------------------------- exercise 1


def multi_positive_nce(a, b, labels, tau):
    log_p = (a @ b.T / tau).log_softmax(dim=1)
    positive = labels[:, None] == labels[None, :]
    return -torch.logsumexp(log_p.masked_fill(~positive, float("-inf")), dim=1).mean()


def nce_symmetric(a, b, labels, tau):
    s = a @ b.T / tau
    t = torch.arange(len(a))
    return 0.5 * (torch.nn.functional.cross_entropy(s, t) + torch.nn.functional.cross_entropy(s.T, t))


def nce_no_tau(a, b, labels, tau):
    return multi_positive_nce(a, b, labels, 1.0)


def nce_mean_of_logs(a, b, labels, tau):
    log_p = (a @ b.T / tau).log_softmax(dim=1)
    positive = (labels[:, None] == labels[None, :]).double()
    return -((log_p * positive).sum(1) / positive.sum(1)).mean()


def nce_diagonal_only(a, b, labels, tau):
    return torch.nn.functional.cross_entropy(a @ b.T / tau, torch.arange(len(a)))


def nce_wrong_axis(a, b, labels, tau):
    return multi_positive_nce(b, a, labels, tau)


def nce_float(a, b, labels, tau):
    return torch.tensor(float(multi_positive_nce(a, b, labels, tau).detach()))  # the graph is cut

# ----------------------------------------------------------------------------- exercise 2


def late_fusion(scores, present, weights):
    total, weight = 0.0, 0.0
    for m, s in scores.items():
        has = present[m]
        mu, sd = s[:, has].mean(1, keepdim=True), s[:, has].std(1, keepdim=True)
        total = total + weights[m] * ((s - mu) / sd).masked_fill(~has, 0.0)
        weight = weight + weights[m] * has.double()
    return (total / weight.clamp(min=1e-12)).masked_fill(weight == 0, float("-inf"))


def fusion_raw(scores, present, weights):
    total, weight = 0.0, 0.0
    for m, s in scores.items():
        has = present[m]
        total = total + weights[m] * s.masked_fill(~has, 0.0)
        weight = weight + weights[m] * has.double()
    return (total / weight.clamp(min=1e-12)).masked_fill(weight == 0, float("-inf"))


def fusion_all_weights(scores, present, weights):
    out = late_fusion(scores, present, weights)
    weight = sum(weights[m] * present[m].double() for m in scores)
    return torch.where(torch.isinf(out), out, out * weight / sum(weights.values()))


def fusion_stats_over_all_items(scores, present, weights):
    total, weight = 0.0, 0.0
    for m, s in scores.items():
        has = present[m]
        z = (s - s.mean(1, keepdim=True)) / s.std(1, keepdim=True)
        total = total + weights[m] * z.masked_fill(~has, 0.0)
        weight = weight + weights[m] * has.double()
    return (total / weight.clamp(min=1e-12)).masked_fill(weight == 0, float("-inf"))


def fusion_zero_for_nothing(scores, present, weights):
    return torch.nan_to_num(late_fusion(scores, present, weights), neginf=0.0)


def fusion_centre_only(scores, present, weights):
    total, weight = 0.0, 0.0
    for m, s in scores.items():
        has = present[m]
        total = total + weights[m] * (s - s[:, has].mean(1, keepdim=True)).masked_fill(~has, 0.0)
        weight = weight + weights[m] * has.double()
    return (total / weight.clamp(min=1e-12)).masked_fill(weight == 0, float("-inf"))


# ----------------------------------------------------------------------------- exercise 3


def receptive_field(layers):
    field, jump = 1, 1
    for kernel, stride in layers:
        field, jump = field + (kernel - 1) * jump, jump * stride
    return field


def field_ignores_strides(layers):
    return 1 + sum(k - 1 for k, _ in layers)


def field_product(layers):
    out = 1
    for k, _ in layers:
        out *= k
    return out


RIGHT = {ch09.ex1: {"multi_positive_nce": multi_positive_nce}, ch09.ex2: {"late_fusion": late_fusion},
         ch09.ex3: {"receptive_field": receptive_field}}
WRONG = [
    (ch09.ex1, {"multi_positive_nce": nce_symmetric}, "image -> text direction"),
    (ch09.ex1, {"multi_positive_nce": nce_no_tau}, "divide the similarities by tau"),
    (ch09.ex1, {"multi_positive_nce": nce_mean_of_logs}, "inside\\* the log|log of a sum"),
    (ch09.ex1, {"multi_positive_nce": nce_diagonal_only}, "loss must be 0"),
    (ch09.ex1, {"multi_positive_nce": nce_wrong_axis}, "two rows sharing a label|softmax axis|shuffling"),
    (ch09.ex1, {"multi_positive_nce": nce_float}, "differentiable"),
    (ch09.ex2, {"late_fusion": fusion_raw}, "subtract their mean"),
    (ch09.ex2, {"late_fusion": fusion_centre_only}, "standard deviation"),
    (ch09.ex2, {"late_fusion": fusion_all_weights}, "divide by the weights of the modalities"),
    (ch09.ex2, {"late_fusion": fusion_stats_over_all_items}, "over the items that \\*have\\* it|must not matter"),
    (ch09.ex2, {"late_fusion": fusion_zero_for_nothing}, "-inf"),
    (ch09.ex3, {"receptive_field": field_ignores_strides}, "product of the strides \\*before\\*"),
    (ch09.ex3, {"receptive_field": field_product}, "start from 1 pixel"),
]


def test_checks_draw_fresh_cases_each_time(capsys):
    for _ in range(5):  # fresh random batches: a right answer passes every time
        ch09.ex1(RIGHT[ch09.ex1])
        ch09.ex2(RIGHT[ch09.ex2])
        ch09.ex3(RIGHT[ch09.ex3])
    assert capsys.readouterr().out.count("passed") == 15
