"""Checks for exercises/09_multimodal: an InfoNCE loss with several positives per row, a
late-fusion scorer that survives missing modalities, and the receptive field of a CNN.

Both are checked on fresh random cases drawn inside the check, against torch built-ins and
identities the right answer must satisfy (no reference implementation lives here).
"""

from __future__ import annotations

import math

import torch
from torch.nn import functional as F

from llmrec_ref.checks._common import call, expect, passed, require, runs_here
from llmrec_ref.checks._fresh import torch_generator


def _unit(gen: torch.Generator, b: int, d: int) -> torch.Tensor:
    return F.normalize(torch.randn(b, d, generator=gen, dtype=torch.float64), dim=1)


def ex1(ns: dict) -> None:
    """``multi_positive_nce(a, b, labels, tau)``: image -> text InfoNCE where every caption with
    the row's label is a positive: mean_i -log( sum_{j: l_j = l_i} e^{S_ij} / sum_j e^{S_ij} )."""
    name = "Exercise 1"
    fn = require(ns, "multi_positive_nce", name, callable)
    gen = torch_generator()
    B, d = int(torch.randint(5, 12, (), generator=gen)), int(torch.randint(3, 8, (), generator=gen))
    tau = float(torch.empty(()).uniform_(0.05, 0.5, generator=gen))
    a, b = _unit(gen, B, d), _unit(gen, B, d)
    s = a @ b.T / tau

    def run(labels, a_=a, b_=b):
        out = call(fn, name, a_.clone(), b_.clone(), labels.clone(), tau)
        expect(isinstance(out, torch.Tensor) and out.dim() == 0, name,
               "return the loss as a 0-dimensional tensor (a scalar), averaged over the rows.")
        return out.double()

    distinct = torch.randperm(B, generator=gen) + 10  # every label once: plain one-positive InfoNCE
    loss = run(distinct)
    ce_rows = F.cross_entropy(s, torch.arange(B))
    if torch.isclose(loss, 0.5 * (ce_rows + F.cross_entropy(s.T, torch.arange(B)))) and not torch.isclose(loss, ce_rows):
        expect(False, name, "only the image -> text direction is asked for: softmax over each row (the "
               "captions), not the symmetric average with the columns.")
    if torch.isclose(loss, F.cross_entropy(a @ b.T, torch.arange(B))) and not torch.isclose(loss, ce_rows):
        expect(False, name, "divide the similarities by tau before the softmax: S = a b^T / tau.")
    expect(torch.isclose(loss, ce_rows), name,
           "with all labels different, each row has one positive (its diagonal): the loss must equal "
           "F.cross_entropy(S, arange(B)) with S = a @ b.T / tau. Check the softmax axis (over captions j).")
    same = torch.full((B,), 3)
    expect(abs(run(same).item()) < 1e-9, name,
           "when every caption shares the row's label, all of the row's probability is on positives: the "
           "loss must be 0. Sum the probabilities of the positives *inside* the log (log of a sum, not a sum "
           "of logs or a mean of log-probabilities).")
    labels = distinct.clone()
    labels[1] = labels[0]                               # rows 0 and 1 share a caption label
    got = run(labels)
    log_p = s.log_softmax(1)
    two = -torch.logsumexp(log_p[:2, :2], dim=1)        # rows 0, 1: log(p_i0 + p_i1)
    rest = -log_p.diagonal()[2:]
    expect(torch.isclose(got, torch.cat([two, rest]).mean()), name,
           "with two rows sharing a label, each of them has two positives: -log(p_i0 + p_i1) for rows 0 and "
           "1, -log p_ii for the others, then the mean over all rows.")
    perm = torch.randperm(B, generator=gen)
    expect(torch.isclose(run(labels[perm], a[perm], b[perm]), got), name,
           "shuffling the batch (rows of a, b and labels together) must not change the loss.")
    if runs_here(fn):  # under the grader the answer runs in another process: no graph comes back
        a_req = a.clone().requires_grad_()
        try:
            fn(a_req, b.clone(), labels.clone(), tau).backward()
        except RuntimeError:
            pass  # no graph: reported just below
        expect(a_req.grad is not None and torch.isfinite(a_req.grad).all(), name,
               "the loss must be differentiable in a (build it from torch operations, no .item() or numpy).")
    passed(name, f"multi-positive InfoNCE agrees with cross-entropy and its identities on a fresh batch of {B}")


def _case(gen: torch.Generator) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor, torch.Tensor]:
    U, n = int(torch.randint(2, 5, (), generator=gen)), int(torch.randint(8, 15, (), generator=gen))
    s_text = torch.randn(U, n, generator=gen, dtype=torch.float64) * 3 + 1
    s_image = torch.randn(U, n, generator=gen, dtype=torch.float64) * 0.2 - 4
    has_text = torch.rand(n, generator=gen) < 0.85
    has_image = torch.rand(n, generator=gen) < 0.6
    has_text[:3], has_image[:3] = True, True          # enough items of each kind to standardise
    has_text[3], has_image[3] = True, False           # an item without an image
    has_text[4], has_image[4] = False, True           # an item without a text
    has_text[5], has_image[5] = False, False          # an item with nothing
    return s_text, s_image, has_text, has_image


def ex2(ns: dict) -> None:
    """``late_fusion(scores, present, weights)``: per-modality standardised scores, averaged with
    weights over the modalities each item has; -inf for an item with none."""
    name = "Exercise 2"
    fn = require(ns, "late_fusion", name, callable)
    gen = torch_generator()
    s_t, s_v, has_t, has_v = _case(gen)
    w_t, w_v = float(torch.empty(()).uniform_(0.5, 2.0, generator=gen)), float(torch.empty(()).uniform_(0.5, 2.0, generator=gen))

    def run(scores, present, weights):
        out = call(fn, name, {k: v.clone() for k, v in scores.items()}, {k: v.clone() for k, v in present.items()},
                   dict(weights))
        out = torch.as_tensor(out).double()
        expect(out.shape == s_t.shape, name, f"return a (n_users, n_items) = {tuple(s_t.shape)} tensor, got "
               f"{tuple(out.shape)}.")
        return out

    only_t = run({"text": s_t}, {"text": has_t}, {"text": w_t})
    z = only_t[:, has_t]
    expect(torch.isfinite(z).all() and torch.isinf(only_t[:, ~has_t]).all() and (only_t[:, ~has_t] < 0).all(), name,
           "an item without any of the given modalities gets -inf (it cannot be ranked); every other item a "
           "finite score.")
    expect(torch.allclose(z.mean(1), torch.zeros(len(z), dtype=torch.float64), atol=1e-9), name,
           "standardise each user's scores of a modality over the items that *have* it: subtract their mean "
           "(per user, over items), so the fused score does not depend on each modality's offset.")
    sd_pop, sd = z.std(1, unbiased=False), z.std(1)
    expect(torch.allclose(sd_pop, torch.ones_like(sd_pop)) or torch.allclose(sd, torch.ones_like(sd)), name,
           "divide by each user's standard deviation over the items that have the modality, so that a "
           "modality with large raw scores does not drown the others.")
    both = run({"text": s_t, "image": s_v}, {"text": has_t, "image": has_v}, {"text": w_t, "image": w_v})
    only_v = run({"image": s_v}, {"image": has_v}, {"image": w_v})
    all_both = has_t & has_v
    expect(torch.allclose(both[:, all_both], (w_t * only_t[:, all_both] + w_v * only_v[:, all_both]) / (w_t + w_v)),
           name, "for an item with both modalities the fused score is (w_t z_t + w_v z_v) / (w_t + w_v).")
    t_only = has_t & ~has_v
    expect(torch.allclose(both[:, t_only], only_t[:, t_only]), name,
           "an item without an image must get its text score alone (divide by the weights of the modalities "
           "the item has, not by all of them; and leave missing items out of the image standardisation).")
    v_only = ~has_t & has_v
    expect(torch.allclose(both[:, v_only], only_v[:, v_only]), name,
           "an item without a text must get its image score alone.")
    garbage = s_v.clone()
    garbage[:, ~has_v] = 1e6                            # whatever sits in a missing item's column is ignored
    expect(torch.allclose(run({"text": s_t, "image": garbage}, {"text": has_t, "image": has_v},
                              {"text": w_t, "image": w_v}), both), name,
           "the scores of items that lack a modality must not matter (not in the mean, not in the standard "
           "deviation, not in the sum).")
    scale = torch.rand(len(s_t), 1, generator=gen, dtype=torch.float64) * 5 + 0.5
    moved = run({"text": s_t * scale + 7.0, "image": s_v}, {"text": has_t, "image": has_v},
                {"text": w_t, "image": w_v})
    expect(torch.allclose(moved[torch.isfinite(moved)], both[torch.isfinite(both)]), name,
           "scaling or shifting one modality's scores (per user) must not change the result: standardise first.")
    expect(math.isclose(float(torch.isinf(both).sum()), float((~(has_t | has_v)).sum()) * len(s_t)), name,
           "only items with no modality at all get -inf.")
    passed(name, "late fusion is standardised, weighted, and ignores what an item lacks")


def _measured_field(layers: list[tuple[int, int]]) -> int:
    """The input span one output unit of stacked 1-D convolutions depends on, read off autograd."""
    net = torch.nn.Sequential(*[torch.nn.Conv1d(1, 1, k, stride=s, bias=False) for k, s in layers])
    for conv in net:
        torch.nn.init.constant_(conv.weight, 1.0)
    stride = math.prod(s for _, s in layers)
    length = 4 * stride * sum(k for k, _ in layers) + 64    # long enough for several output positions
    x = torch.ones(1, 1, length, dtype=torch.float64, requires_grad=True)
    y = net.double()(x)
    y[0, 0, y.shape[-1] // 2].backward()
    touched = torch.nonzero(x.grad[0, 0]).squeeze(1)
    return int(touched.max() - touched.min() + 1)


def ex3(ns: dict) -> None:
    """``receptive_field(layers)``: input pixels one output unit sees, for (kernel, stride) layers."""
    name = "Exercise 3"
    fn = require(ns, "receptive_field", name, callable)
    gen = torch_generator()
    cases = [[(3, 1)], [(3, 1), (2, 2)], [(3, 1), (2, 2), (3, 1), (2, 2), (3, 1), (2, 2)]]  # the chapter's CNN
    for _ in range(4):
        n = int(torch.randint(1, 5, (), generator=gen))
        cases.append([(int(torch.randint(1, 6, (), generator=gen)), int(torch.randint(1, 4, (), generator=gen)))
                      for _ in range(n)])
    for layers in cases:
        got = call(fn, name, list(layers))
        want = _measured_field(layers)
        expect(isinstance(got, (int,)) or (hasattr(got, "__int__") and float(got) == int(got)), name,
               f"return a whole number of input pixels, got {got!r}.")
        if int(got) != want:
            plain = 1 + sum(k - 1 for k, _ in layers)
            hint = ("each layer widens the field by (k - 1) times the product of the strides *before* it: a "
                    "stride spreads the next layer's taps apart." if int(got) == plain else
                    "start from 1 pixel and add (k_l - 1) x (product of the strides of the layers below l) "
                    "for each layer l, bottom to top.")
            expect(False, name, f"for layers {layers} your field is {int(got)} pixels, which autograd "
                   f"does not confirm; {hint}")
    passed(name, f"receptive fields confirmed by autograd on {len(cases)} stacks, the chapter's CNN included")
